/**
 * The training grid in worker processes (lib/jobs/workers.ts runs them): what a worker is told
 * about the grid, and how long a grid takes in workers.
 *
 * Why workers: a small CNN's ops are too small for TensorFlow's intra-op threads. Measured on 2
 * cores (AMD EPYC, small CNN width 8, two default-preset SAM runs with their evaluations): one
 * process at 2 threads took 143.7 s (145% CPU), two single-threaded workers 94.0 s (188% CPU),
 * 1.53x.
 *
 * Reproducibility: floating-point sums depend on the thread count, so a run trained at 1 thread
 * differs in the last bits from the same run at 2 (measured: clean accuracy 78.1% vs 78.4%,
 * within the seed-to-seed spread); with the same worker setting (and CPU) runs are identical.
 */
import { resolve } from "node:path";
import type { GridOptions } from "./runner.ts";
import { ExperimentError } from "./grid.ts";
import type { GridPlan } from "./plan.ts";

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

/**
 * What a worker needs to plan the same grid: every option that can cross a process boundary
 * (the engine adds how many workers share it).
 */
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
  };
}
