/**
 * One-time migration of a first-version results CSV (one wide row per run, robust columns named
 * by radius only, e.g. "linf_8_255", all measured with PGD-10) to the runs + evaluations files,
 * so the finished runs are never retrained. Each old row is matched to the planned run of the
 * same row id and seed, and every setting it recorded must equal that run's config; a mismatch
 * is refused with the first differing setting named.
 */
import { threatKey } from "../attacks/attack.ts";
import { methodColumns } from "../training/method.ts";
import { ExperimentError } from "./grid.ts";
import type { GridPlan } from "./plan.ts";
import { runConfig } from "./plan.ts";
import { type ResultRow, RUN_COLUMNS } from "./results.ts";

/** Old robust column -> [norm, eps]. */
function parseOldColumn(col: string): ["linf" | "l2", number] | null {
  const m = /^(linf|l2)_(\d+)_255$/.exec(col);
  return m ? [m[1] as "linf" | "l2", Number(m[2]) / 255] : null;
}

const same = (a: unknown, b: unknown) =>
  (a ?? null) === (b ?? null) ||
  (typeof a === "number" && typeof b === "number" &&
    Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)));

export interface Migrated {
  runs: ResultRow[];
  evals: ResultRow[];
}

export function migrateV1(oldRows: readonly ResultRow[], plan: GridPlan): Migrated {
  const runs: ResultRow[] = [];
  const evals: ResultRow[] = [];
  for (const old of oldRows) {
    const where = `old results row ${old.run_id}`;
    const run = plan.runs.find((r) => r.row.id === old.row_id && r.seed === old.seed);
    if (!run) {
      throw new ExperimentError(
        `${where}: no planned run has row ${old.row_id} and seed ${old.seed}.`,
      );
    }
    const c = runConfig(plan.preset, run.row, run.seed);
    const expected: Record<string, unknown> = {
      dataset: plan.preset.dataset,
      preset: plan.preset.name,
      arch: c.arch,
      width: c.width,
      epochs: c.epochs,
      batch_size: c.batchSize,
      lr: c.lr,
      momentum: c.momentum,
      weight_decay: c.weightDecay,
      running_stats: c.runningStats,
      test_size: plan.testSize,
      subset_seed: plan.preset.subsetSeed,
      eval_steps: 10,
      ...Object.fromEntries(
        ["method", "rho", "norm", "eps", "alpha", "steps"].map((
          k,
        ) => [k, methodColumns(c.method)[k]]),
      ),
    };
    for (const [k, v] of Object.entries(expected)) {
      if (!same(old[k], v)) {
        throw new ExperimentError(
          `${where}: its ${k} is ${JSON.stringify(old[k])} but the preset's run has ${
            JSON.stringify(v)
          }; it is not this run.`,
        );
      }
    }
    const row: ResultRow = {};
    for (const k of RUN_COLUMNS) row[k] = old[k] ?? null;
    Object.assign(row, methodColumns(c.method), {
      run_id: run.runId,
      run_key: run.runKey,
      model_file: null,
    });
    runs.push(row);
    for (const [col, value] of Object.entries(old)) {
      const threat = parseOldColumn(col);
      if (!threat || typeof value !== "number") continue;
      const [norm, eps] = threat;
      evals.push({
        run_key: run.runKey,
        eval_key: `pgd10_${threatKey(norm, eps)}`,
        attack: "pgd",
        norm,
        eps,
        options: JSON.stringify({ steps: 10, alpha: eps / 4, randomStart: true }),
        n: old.test_size,
        accuracy: value,
        stages: null,
        robust_flags: null, // the first version kept no per-example flags
        seconds: null,
        seed: old.seed,
        backend: old.backend,
        finished_at: old.finished_at,
      });
    }
  }
  return { runs, evals };
}
