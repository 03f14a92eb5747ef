/**
 * Local parallel workers: runGrid({ workers: n }) hands the grid to n child processes, each with
 * single-threaded TensorFlow, that share the runs through the runner's per-run locks (the same
 * mechanism as two people starting the grid at once), and waits for them. The parent process
 * loads no backend: it plans, streams the children's lines, and reads the results at the end.
 *
 * Why: a small CNN's ops are too small for TensorFlow's intra-op threads. Measured on 2 cores
 * (AMD EPYC, small CNN width 8, two default-preset SAM runs with their evaluations): one process
 * at 2 threads took 143.7 s (145% CPU), two single-threaded workers 94.0 s (188% CPU), 1.53x.
 *
 * Reproducibility: floating-point sums depend on the thread count, so a run trained at 1 thread
 * differs in the last bits from the same run at 2 (measured: clean accuracy 78.1% vs 78.4%,
 * within the seed-to-seed spread); with the same worker setting (and CPU) runs are identical.
 * "auto" therefore means one single-threaded child per core whenever the machine has 2 or more
 * cores, however few runs are left, so a rerun of one run uses the thread count of the others.
 */
import { join, resolve } from "node:path";
import type { GridOptions } from "./runner.ts";
import { ExperimentError } from "./grid.ts";
import type { GridPlan } from "./plan.ts";
import { writeRawStderr } from "../util/progress.ts";
import { jupyterAvailable } from "../util/jupyter.ts";
import { REPO_ROOT } from "../util/repo_root.ts";

/** A worker count, or "auto"; strings as the command line and notebooks give them ("2"). */
export type Workers = number | string;

/** Environment of a worker: one TensorFlow (Eigen and oneDNN) thread. */
export const WORKER_ENV: Readonly<Record<string, string>> = Object.freeze({
  TF_NUM_INTRAOP_THREADS: "1",
  TF_NUM_INTEROP_THREADS: "1",
  OMP_NUM_THREADS: "1",
});

/**
 * Wall time of a run in a worker relative to the preset's cost model (which is calibrated on one
 * 2-thread process): the whole default grid in 2 workers summed 30:18 of per-run time against the
 * model's 23:11 (scripts/cost_check.ts, 2026-12-03, after the eval-mode conv-BN fold; 33:48 and
 * 1.46 before it). With workers a grid's estimate is sum * WORKER_SLOWDOWN / workers (there:
 * 15:11, measured 15:17). The fold also made one 2-thread process's evaluations faster, so the
 * model now overestimates those (not re-measured).
 */
export const WORKER_SLOWDOWN = 1.31;

/** Estimated wall seconds of `runs` planned runs summing to `seconds` (one-process model) in `n` workers. */
export function workersEstimate(seconds: number, runs: number, n: number): number {
  return n > 1 ? seconds * WORKER_SLOWDOWN / Math.min(n, runs) : seconds;
}


function cores(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/**
 * How many worker processes: 1 means in this process (TensorFlow's default threads). "auto" is
 * the number of cores, or 1 on a GPU backend (one device) and on a 1-core machine. Throws one
 * sentence on anything else than a positive integer or "auto".
 */
export function resolveWorkers(w: Workers | undefined, backend?: string): number {
  if (w === undefined) return 1;
  if (w === "auto") return backend === "tensorflow-gpu" ? 1 : cores();
  const n = typeof w === "number" ? w : /^\d+$/.test(w) ? Number(w) : NaN;
  if (!Number.isInteger(n) || n < 1) {
    throw new ExperimentError(
      `--workers must be a positive whole number or auto, not ${
        JSON.stringify(w)
      }; e.g. --workers 2.`,
    );
  }
  return n;
}

/**
 * `items` in `n` shares of about equal total cost: longest first, each to the least loaded share
 * (the LPT rule: within 4/3 of the best split).
 */
export function balancedShares<T>(items: readonly T[], n: number, cost: (t: T) => number): T[][] {
  const shares: T[][] = Array.from({ length: n }, () => []);
  const load = new Array<number>(n).fill(0);
  for (const t of [...items].sort((p, q) => cost(q) - cost(p))) {
    const w = load.indexOf(Math.min(...load));
    shares[w].push(t);
    load[w] += cost(t);
  }
  return shares.filter((s) => s.length > 0);
}

/** What a worker needs to plan the same grid: every option that can cross a process boundary. */
export interface WorkerSpec {
  dataset?: string;
  preset?: GridOptions["preset"];
  rows?: GridOptions["rows"];
  seeds?: GridOptions["seeds"];
  resultsPath: string;
  runsDir: string;
  modelsDir: string;
  backend?: string;
  convPrecision?: GridOptions["convPrecision"];
  stepEngine?: GridOptions["stepEngine"];
  keepCheckpoints?: boolean;
  progress?: GridOptions["progress"];
  /** Absolute: the workers start in the repository, not in the user's folder. */
  dataDir?: string;
  /** How many workers share the grid (for each worker's ETA and its longest-first order). */
  share: number;
}

/** The worker spec of a grid, or one sentence on an option that cannot reach a child process. */
export function workerSpec(o: GridOptions, plan: GridPlan, n: number): WorkerSpec {
  const local = [["data", o.data], ["onEpochEnd", o.onEpochEnd]]
    .filter(([, v]) => v !== undefined).map(([k]) => k);
  if (local.length) {
    throw new ExperimentError(
      `workers: ${n} runs the grid in child processes, which cannot receive ${
        local.join(", ")
      }; use workers: 1 with ${local.length > 1 ? "these options" : "this option"}.`,
    );
  }
  return {
    dataset: o.dataset,
    preset: o.preset,
    rows: o.rows,
    seeds: o.seeds,
    resultsPath: plan.resultsPath,
    runsDir: plan.runsDir,
    modelsDir: plan.modelsDir,
    backend: o.backend,
    convPrecision: o.convPrecision,
    stepEngine: o.stepEngine,
    keepCheckpoints: o.keepCheckpoints,
    dataDir: o.dataDir === undefined ? undefined : resolve(o.dataDir),
    // A child's stderr is a pipe: plain lines (a bar redrawn with "\r" would arrive as a flood).
    progress: o.progress === "none" ? "none" : "lines",
    share: n,
  };
}

/** Calls `line` for each complete line of a byte stream (and the unterminated rest at the end). */
async function eachLine(stream: ReadableStream<Uint8Array>, line: (s: string) => void) {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split(/\r?\n|\r/);
    rest = parts.pop() ?? "";
    for (const p of parts) if (p.trim()) line(p);
  }
  if (rest.trim()) line(rest);
}

export interface WorkerExit {
  worker: number;
  code: number;
  /** The last line the worker wrote to stderr (its error sentence when it failed). */
  lastError: string;
}

/**
 * Why a worker stopped, as one sentence: its own error sentence when it wrote one (exit 1 or 2),
 * else its exit code. `kept` says where the finished work is, e.g. "every finished run is kept in X".
 */
export function workerFailure(
  e: WorkerExit,
  count: number,
  kept: string,
  label = "Worker",
): string {
  const why = (e.code === 2 || e.code === 1) && e.lastError
    ? e.lastError.replace(/\.$/, "")
    : `it ended with exit code ${e.code}${
      e.code === 137 ? " (killed, perhaps out of memory)" : ""
    }`;
  return `${label} ${e.worker} of ${count} stopped: ${why} (${kept}; rerun to go on).`;
}

/**
 * Start one worker per spec (`script`, relative to the repository, gets its spec as a JSON
 * argument) and wait for all of them. Their stdout lines (the work's lines) go to `log`, their
 * stderr lines (progress) to the terminal, each prefixed with the worker's number; in a Jupyter
 * kernel the progress lines go to the kernel's own stderr (the terminal of a headless report),
 * not into the notebook. Interrupting a notebook cell does not stop the workers: they finish
 * their work (or: pkill -f scripts/grid_worker.ts).
 */
export async function startWorkers(
  script: string,
  specs: readonly unknown[],
  log: (line: string) => void,
): Promise<WorkerExit[]> {
  const toStderr = jupyterAvailable()
    ? (s: string) => writeRawStderr(`${s}\n`)
    : (s: string) => console.error(s);
  const count = specs.length;
  const children = specs.map((spec, i) => {
    const tag = `[worker ${i + 1}/${count}]`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", join(REPO_ROOT, script), JSON.stringify(spec)],
      cwd: REPO_ROOT,
      env: { ...WORKER_ENV },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let lastError = "";
    const out = eachLine(child.stdout, (s) => log(`${tag} ${s}`));
    const err = eachLine(child.stderr, (s) => {
      lastError = s;
      toStderr(`${tag} ${s}`);
    });
    return Promise.all([child.status, out, err]).then(([status]) => ({
      worker: i + 1,
      code: status.code,
      lastError,
    }));
  });
  return await Promise.all(children);
}
