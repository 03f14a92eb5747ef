/**
 * The one function that runs an experiment: runGrid plans the (row, seed) runs the options ask
 * for and hands those with work left to the job engine (lib/jobs/) as training runs
 * (run_job.ts: train or resume, save the model, append the runs row, run the evaluations the
 * evaluations file lacks). The CLI and the notebooks call it.
 *
 * Several processes may run the same grid into the same results file: each run is worked on
 * under its own lock (<checkpoint dir>.lock); a run another live process holds is skipped with a
 * line saying so, and a run is re-read from the files once its lock is taken, so nothing
 * finished elsewhere is trained again. Every option is checked once, before any work
 * (checkGridOptions: the edge); inside, the checked values are used as they are. Temp files of
 * killed writers are removed at the start. With `workers` the grid runs in that many
 * single-threaded child processes (lib/jobs/workers.ts) on this same locking, and this process
 * only plans, streams and collects.
 */
import { basename, dirname, join } from "node:path";
import { backendFromEnv, parseBackend } from "../backend/backend.ts";
import { cpuHasBf16 } from "../backend/bf16_convs.ts";
import { defaultEngine } from "../backend/speed_settings.ts";
import { checkDataDir } from "../data/registry.ts";
import { runJobs } from "../jobs/run_jobs.ts";
import { resolveWorkers, type Workers, workInProcesses } from "../jobs/workers.ts";
import { STEP_ENGINES, type StepEngine, type TrainOptions } from "../training/train.ts";
import { removeStaleTemps, replaceProblem } from "../util/atomic_write.ts";
import { checkChoice } from "../util/validate.ts";
import { formatDuration, type ProgressStyle } from "../util/progress.ts";
import { ExperimentError } from "./grid.ts";
import {
  formatEstimate,
  type GridPlan,
  type GridSpec,
  type PlannedRun,
  type PlanOptions,
  readPlan,
  resolveGrid,
  runComplete,
  shownPath,
} from "./plan.ts";
import { recordOf, trainingRuns } from "./run_job.ts";
import { workersEstimate, workerSpec } from "./workers.ts";
import { auditResults, checkResultsTarget, type ResultRow } from "./results.ts";

export interface GridOptions extends PlanOptions {
  /** TensorFlow.js backend (default: SAM_AT_BACKEND or tensorflow). */
  backend?: string;
  /** Train and eval progress bars (default "auto"). */
  progress?: ProgressStyle;
  /** Where grid-level lines go (default console.log). */
  log?: (line: string) => void;
  /** Keep each run's checkpoint after its results row is written (default: delete it). */
  keepCheckpoints?: boolean;
  /** Passed to train(); tests use it to simulate an interrupted run. */
  onEpochEnd?: TrainOptions["onEpochEnd"];
  /**
   * 1 (default): run here, with TensorFlow's default threads. n > 1 or "auto" (one per core):
   * in that many child processes with one TensorFlow thread each (lib/jobs/workers.ts).
   */
  workers?: Workers;
  /** Set in a worker process: how many workers share the grid (ETA, longest-first order). */
  workerShare?: number;
  /**
   * "graph": each run's training steps and attack iterations run as checked libtensorflow graphs
   * (train()'s stepEngine, evaluate()'s engine; tensorflow backend; bit for bit the eager
   * engine's results). Rows with graph steps say "+graph-steps" in their backend column. Default:
   * "graph" on the tensorflow backend, else "eager" (lib/backend/speed_settings.ts).
   */
  stepEngine?: StepEngine;
}

/** A grid's options, every one checked (checkGridOptions): what runGrid works from. */
export interface CheckedGrid {
  readonly checked: "grid";
  /** The options as given (worker processes get them, to check again at their own edge). */
  options: GridOptions;
  spec: GridSpec;
  /** The worker processes to use (1: this process). */
  workers: number;
}

export interface GridResult {
  plan: GridPlan;
  /** One runs row per planned run that has finished training (existing or new), in plan order. */
  rows: ResultRow[];
  /** Evaluation rows of the planned runs, by run key then eval key (existing and new). */
  evals: Map<string, Map<string, ResultRow>>;
  trained: number;
  evaluated: number;
  skipped: number;
  /** Runs left to another live process that held their lock. */
  heldElsewhere: number;
  seconds: number;
}

const isChecked = (o: GridOptions | CheckedGrid): o is CheckedGrid =>
  (o as CheckedGrid).checked === "grid";

/**
 * The edge: check what can be checked without work, once: preset, rows, seeds (resolveGrid),
 * backend (SAM_AT_BACKEND included), step engine, workers, that the results path is absent or
 * this project's results CSV in a writable folder, and that a given dataDir holds the dataset.
 * Throws one sentence; returns the checked grid, which runGrid takes as it is.
 */
export function checkGridOptions(o: GridOptions | CheckedGrid = {}): CheckedGrid {
  if (isChecked(o)) return o;
  const spec = resolveGrid(o);
  const { preset } = spec;
  const backend = o.backend !== undefined ? parseBackend(o.backend) : backendFromEnv();
  if (preset.train.convPrecision === "bf16" && backend !== "tensorflow") {
    throw new ExperimentError(
      `--conv-precision bf16 needs the tensorflow backend (the CPU), not ${backend}; drop it or use --backend tensorflow.`,
    );
  }
  if (preset.train.convPrecision === "bf16" && cpuHasBf16() === false) {
    throw new ExperimentError(
      "--conv-precision bf16 needs a CPU with AVX512-BF16 or AMX-BF16; this one has neither, so libtensorflow would emulate bfloat16 (measured ~11x slower than fp32 on PreActResNet-18); drop --conv-precision bf16.",
    );
  }
  const engine = checkChoice("--step-engine", o.stepEngine ?? defaultEngine(backend), STEP_ENGINES);
  if (engine === "graph" && backend !== "tensorflow") {
    throw new ExperimentError(
      `--step-engine graph needs the tensorflow backend (libtensorflow's graph executor), not ${backend}; drop it or use --backend tensorflow.`,
    );
  }
  // In a worker, the grid's own processes: this one works here.
  const workers = o.workerShare !== undefined ? 1 : resolveWorkers(o.workers, backend);
  checkResultsTarget(spec.resultsPath);
  // A data path given by hand must hold the data: said now, not after a plan that reads as runnable.
  if (o.dataDir !== undefined && !o.data) checkDataDir(preset.dataset, o.dataDir);
  return { checked: "grid", options: o, spec, workers };
}

/** Before any work: the model file a run will write must not be read-only or another user's. */
function checkModelTargets(plan: GridPlan): void {
  for (const r of plan.runs.filter((r) => r.status !== "done")) {
    const refused = replaceProblem(r.modelPath);
    if (refused) {
      throw new ExperimentError(
        `Model file ${shownPath(r.modelPath)} ${refused.why}; ${refused.fix} results path.`,
      );
    }
  }
}

/** Remove temp files that killed writers left beside the results, models and checkpoints. */
function removeLeftovers(plan: GridPlan): string[] {
  const stem = basename(plan.resultsPath).replace(/\.csv$/i, "");
  const checkpoints = join(plan.runsDir, "checkpoints");
  const dirs = [plan.modelsDir, checkpoints];
  try {
    for (const e of Deno.readDirSync(checkpoints)) {
      if (e.isDirectory) dirs.push(join(checkpoints, e.name));
    }
  } catch { /* no checkpoints yet */ }
  return [
    ...removeStaleTemps(dirname(plan.resultsPath), `${stem}.`),
    ...dirs.flatMap((d) => removeStaleTemps(d)),
  ];
}

/**
 * Run (or resume) whatever the plan lacks: training of runs without a runs row, and evaluations
 * missing from the evaluations file. Loads the dataset and the backend only when something has
 * to run. Returns every planned run's rows. Takes options (checked here, once) or a grid that
 * checkGridOptions checked already.
 */
export async function runGrid(given: GridOptions | CheckedGrid = {}): Promise<GridResult> {
  const start = performance.now();
  const grid = checkGridOptions(given);
  const o = grid.options;
  const log = o.log ?? ((line: string) => console.log(line));
  const plan = readPlan(grid.spec);
  const { preset } = plan;
  checkModelTargets(plan);
  const leftovers = removeLeftovers(plan);
  if (leftovers.length) {
    log(
      `removed ${leftovers.length} temp file(s) left by killed writers: ${
        leftovers.map(shownPath).join(", ")
      }`,
    );
  }
  for (
    const note of auditResults(
      plan.resultsPath,
      new Set(plan.runs.map((r) => r.runKey)),
      shownPath,
    )
  ) {
    log(note);
  }
  const inWorker = o.workerShare !== undefined;
  // Runs to train first, then runs that only lack evaluations (the kind's phases).
  const todo = [
    ...plan.runs.filter((r) => r.status !== "done"),
    ...plan.runs.filter((r) => r.status === "done" && !runComplete(r)),
  ];
  const estimate = workersEstimate(
    todo.reduce((s, r) => s + r.estimatedSeconds, 0),
    todo.length,
    grid.workers,
  );
  if (!inWorker) {
    log(
      `${preset.dataset} / ${preset.name}: ${plan.runs.length} run(s); ${
        plan.runs.length - todo.length
      } complete in ${shownPath(plan.resultsPath)}; ${todo.length} with work left` +
        (todo.length ? ` (estimated ${formatEstimate(estimate)}).` : "."),
    );
  }
  if (grid.workers > 1 && todo.length > 0) {
    return await runInWorkers(o, plan, todo, grid.workers, log, start);
  }
  const record = recordOf(plan);
  const kind = trainingRuns(plan, { ...o, log }, record);
  const done = await runJobs(kind, todo, { log, workerShare: o.workerShare });
  const out = plan.runs.map((r) => record.rows.get(r.runKey)).filter((r): r is ResultRow => !!r);
  const seconds = (performance.now() - start) / 1000;
  if (done.heldElsewhere && !inWorker) {
    log(
      `${done.heldElsewhere} run(s) skipped: another live process holds them and finishes them; rerun afterwards to have every result here.`,
    );
  }
  if (inWorker) {
    log(`worker done: ${done.worked} run(s) worked on here in ${formatDuration(seconds)}`);
  } else if (todo.length) {
    log(
      `grid finished: ${todo.length} run(s) in ${formatDuration(seconds)}; results in ${
        shownPath(plan.resultsPath)
      }`,
    );
  }
  return {
    plan,
    rows: out,
    evals: record.evals,
    trained: record.trained,
    evaluated: record.evaluated,
    skipped: plan.runs.length - todo.length,
    heldElsewhere: done.heldElsewhere,
    seconds,
  };
}

/**
 * runGrid's work done by `n` single-threaded child processes (lib/jobs/workers.ts): start
 * them, wait, then read what they wrote. Counts come from the files (rows added since the plan).
 */
async function runInWorkers(
  o: GridOptions,
  plan: GridPlan,
  todo: PlannedRun[],
  n: number,
  log: (line: string) => void,
  start: number,
): Promise<GridResult> {
  const count = Math.min(n, todo.length);
  const spec = workerSpec(o, plan, count);
  log(
    `${count} worker process(es) with one TensorFlow thread each (workers: ${o.workers}; lib/jobs/workers.ts).`,
  );
  await workInProcesses(
    "scripts/grid_worker.ts",
    spec,
    count,
    log,
    `every finished run is kept in ${shownPath(plan.resultsPath)}`,
  );
  const after = readPlan(plan.spec);
  const rows = after.runs.map((r) => after.existing.get(r.runKey)).filter((r): r is ResultRow =>
    !!r
  );
  const evalsAdded = after.runs.reduce(
    (s, r) => s + (after.evals.get(r.runKey)?.size ?? 0) - (plan.evals.get(r.runKey)?.size ?? 0),
    0,
  );
  const left = after.runs.filter((r) => !runComplete(r)).length;
  const seconds = (performance.now() - start) / 1000;
  if (left) {
    log(
      `${left} run(s) not finished: another live process holds them and finishes them; rerun afterwards to have every result here.`,
    );
  }
  log(
    `grid finished: ${todo.length - left} run(s) in ${
      formatDuration(seconds)
    } with ${count} worker${count === 1 ? "" : "s"}; results in ${shownPath(plan.resultsPath)}`,
  );
  return {
    plan: after,
    rows,
    evals: after.evals,
    trained: rows.filter((r) => !plan.existing.has(String(r.run_key))).length,
    evaluated: evalsAdded,
    skipped: plan.runs.length - todo.length,
    heldElsewhere: left,
    seconds,
  };
}
