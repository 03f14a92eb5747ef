/**
 * Worker processes: a kind's jobs done by n child processes, each with single-threaded
 * TensorFlow, that share the jobs through the jobs' locks (run_jobs.ts: the same mechanism as two
 * people starting the same work at once). Each child gets the same spec and plans the same jobs;
 * the parent loads no backend: it starts them, streams their lines and waits.
 *
 * Why single-threaded children: a small CNN's ops are too small for TensorFlow's intra-op
 * threads (measured in lib/experiments/workers.ts). Floating-point sums depend on the thread
 * count, so "auto" means one single-threaded child per core whenever the machine has 2 or more
 * cores, however few jobs are left: a rerun of one job uses the thread count of the others.
 */
import { join } from "node:path";
import { jupyterAvailable } from "../util/jupyter.ts";
import { writeRawStderr } from "../util/progress.ts";
import { REPO_ROOT } from "../util/repo_root.ts";
import { JobError } from "./job_error.ts";

/** A worker count, or "auto"; strings as the command line and notebooks give them ("2"). */
export type Workers = number | string;

/** Environment of a worker: one TensorFlow (Eigen and oneDNN) thread. */
export const WORKER_ENV: Readonly<Record<string, string>> = Object.freeze({
  TF_NUM_INTRAOP_THREADS: "1",
  TF_NUM_INTEROP_THREADS: "1",
  OMP_NUM_THREADS: "1",
});

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
    throw new JobError(
      `--workers must be a positive whole number or auto, not ${
        JSON.stringify(w)
      }; e.g. --workers 2.`,
    );
  }
  return n;
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
 * their work.
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

/** What every worker of one piece of work is given: the spec, and how many share it. */
export type SharedSpec<S> = S & { share: number };

/**
 * The jobs of one spec done by `count` workers of `script` (each plans the same jobs and takes
 * them by their locks); waits for all. Throws one sentence naming the first worker that failed
 * and its own error; `kept` says where the finished work is.
 */
export async function workInProcesses<S extends object>(
  script: string,
  spec: S,
  count: number,
  log: (line: string) => void,
  kept: string,
  label = "Worker",
): Promise<void> {
  const shared: SharedSpec<S> = { ...spec, share: count };
  const exits = await startWorkers(script, new Array(count).fill(shared), log);
  const failed = exits.find((e) => e.code !== 0);
  if (failed) throw new JobError(workerFailure(failed, count, kept, label));
}
