/**
 * The training runs' results shards (the engine's shards: lib/jobs/shards.ts): a run trained
 * apart from the results file (one Slurm array task) writes its rows to a results file of its
 * own, <runs dir>/shards/<row>-seed<seed>-<run key>.csv (and .evals.csv beside it). The merge
 * takes runs by run key and evaluations by run key, evaluation key and test-point count.
 */
import { join } from "node:path";
import { existsSync as exists } from "../data/files.ts";
import {
  listShardFiles,
  mergeShards as mergeTables,
  type ShardProblem,
  type ShardTable,
} from "../jobs/shards.ts";
import { ExperimentError } from "./grid.ts";
import { type PlannedRun, readPlan, runsDirFor, shownPath } from "./plan.ts";
import {
  appendEval,
  appendRun,
  checkResultsTarget,
  EVAL_COLUMNS,
  evalsPathFor,
  isFinishedEval,
  isFinishedRun,
  readEvals,
  readOwnTable,
  readResults,
  type ResultRow,
  RUN_COLUMNS,
} from "./results.ts";
import { tryLock } from "../util/lock.ts";
import { checkGridOptions, type GridOptions, type GridResult, runGrid } from "./runner.ts";

export type { ShardProblem };

/** Where the shards of a results file live (git-ignored, beside its checkpoints). */
export function shardsDirFor(resultsPath: string): string {
  return join(runsDirFor(resultsPath), "shards");
}

/** The shard of one planned run: named like its checkpoint, so settings never share a shard. */
export function shardPathFor(resultsPath: string, run: PlannedRun): string {
  return join(shardsDirFor(resultsPath), `${run.row.id}-seed${run.seed}-${run.runKey}.csv`);
}

const runComplete = isFinishedRun;
const evalComplete = isFinishedEval;
/** The identity of an evaluation row, as planGrid matches it. */
const evalId = (r: ResultRow) => `${r.run_key}|${r.eval_key}@${r.n}`;

/**
 * Train exactly one planned run into its shard (what an array task runs). Checkpoints and the
 * saved model go where a local run puts them, so a requeued task resumes and a local run later
 * finds the model. A new shard first receives the results file's rows of this run (a run trained
 * earlier that only lacks evaluations is then evaluated, not retrained).
 */
export async function runShard(o: GridOptions): Promise<GridResult & { shardPath: string }> {
  // Checked once; the shard is the same grid with another results file (its runs' files stay).
  const grid = checkGridOptions({ ...o, workers: 1 });
  const plan = readPlan(grid.spec);
  if (plan.runs.length !== 1) {
    throw new ExperimentError(
      `A results shard holds exactly one run, but --rows/--seeds give ${plan.runs.length}: pass one row id with --rows and one seed with --seeds.`,
    );
  }
  const run = plan.runs[0];
  const shardPath = shardPathFor(plan.resultsPath, run);
  checkResultsTarget(shardPath);
  releaseRequeuedLock(`${run.checkpointDir}.lock`, o.log ?? console.log);
  if (!exists(shardPath) && !exists(evalsPathFor(shardPath))) {
    for (const r of readResults(plan.resultsPath)) {
      if (r.run_key === run.runKey && runComplete(r)) appendRun(shardPath, r);
    }
    for (const r of readEvals(plan.resultsPath)) {
      if (r.run_key === run.runKey && evalComplete(r)) appendEval(shardPath, r);
    }
  }
  // One run in the task's own allocation: here, with TensorFlow's threads (--cpus-per-task).
  const result = await runGrid({ ...grid, spec: { ...grid.spec, resultsPath: shardPath } });
  return { ...result, shardPath };
}

/**
 * A requeued array task may land on another node than the one that was killed; the run's lock
 * left there names that host, whose processes this node cannot check, so the runner would skip
 * the run for good. Slurm runs one instance of an array task at a time and each run has one task,
 * so inside an array task such a lock is stale: remove it.
 */
function releaseRequeuedLock(lockPath: string, log: (line: string) => void): void {
  if (!Deno.env.get("SLURM_ARRAY_JOB_ID")) return;
  const got = tryLock(lockPath);
  if (!("held" in got)) return got.release();
  if (got.owner && got.owner.host !== Deno.hostname()) {
    log(
      `removing ${
        shownPath(lockPath)
      } left by pid ${got.owner.pid} on ${got.owner.host} (this array task was requeued).`,
    );
    Deno.removeSync(lockPath);
  }
}

/**
 * The complete rows of one shard file, and what is wrong with the rest: read strictly (a cut or
 * malformed line, a header cut short or not the kind's, are named; csv_rows.ts).
 */
export function readShardFile(
  path: string,
  columns: readonly string[],
  complete: (r: ResultRow) => boolean,
): { rows: ResultRow[]; problem?: string } {
  const table = readOwnTable(path, columns);
  if (table === null) return { rows: [] };
  if (table.damage) return { rows: [], problem: table.damage };
  const bad = table.problems.map((p) => `row ${p.line - 1} ${p.why}`);
  const rows = table.rows.filter(complete);
  if (rows.length < table.rows.length) {
    bad.push(`${table.rows.length - rows.length} row(s) lack their key or result`);
  }
  return { rows, problem: bad.length ? `is damaged: ${bad.join("; ")}` : undefined };
}

export interface MergeResult {
  /** Shard files read (runs files; their evaluation files come with them). */
  shards: string[];
  runsAdded: number;
  evalsAdded: number;
  /** Shard rows the results file already had. */
  duplicates: number;
  /** Shard files with rows that could not be merged (their complete rows were). */
  problems: ShardProblem[];
}

/** The runs files among the shards of a results file, in name order. */
export function listShards(resultsPath: string): string[] {
  return listShardFiles(
    shardsDirFor(resultsPath),
    (name) => name.endsWith(".csv") && !name.endsWith(".evals.csv"),
  );
}

/** The row id and seed a shard file belongs to, read off its name. */
export function shardRun(path: string): { row: string; seed: number } | null {
  const m = /([^/]+)-seed(\d+)-k[0-9a-f]{8}(\.evals)?\.csv$/.exec(path);
  return m ? { row: m[1], seed: Number(m[2]) } : null;
}

/** A run's tables as the merge sees them: its runs row, then its evaluation rows. */
const TABLES: ShardTable<ResultRow>[] = [
  {
    pathOf: (base) => base,
    existing: (base) => readResults(base).filter(runComplete),
    readShard: (path) => readShardFile(path, RUN_COLUMNS, runComplete),
    id: (r) => String(r.run_key),
    append: appendRun,
  },
  {
    pathOf: evalsPathFor,
    existing: (base) => readEvals(base).filter(evalComplete),
    readShard: (path) => readShardFile(path, EVAL_COLUMNS, evalComplete),
    id: evalId,
    append: appendEval,
    owner: (r) => String(r.run_key),
    orphans: (count, key) =>
      `has ${count} evaluation row(s) of run ${key}, whose run row is in neither the results file nor its runs shard; they were not merged`,
  },
];

/**
 * Merge every shard of a results file into it: each complete row it lacks is appended once, the
 * runs rows of every shard first. An evaluation row whose run has no runs row (in the results
 * file or a shard) is held back and named: a reader never sees an evaluation without its run.
 * Never throws for a damaged shard (the caller reports `problems`); the results file is only
 * ever appended to.
 */
export function mergeShards(resultsPath: string): MergeResult {
  const m = mergeTables(resultsPath, listShards(resultsPath), TABLES);
  return {
    shards: m.shards,
    runsAdded: m.added[0],
    evalsAdded: m.added[1],
    duplicates: m.duplicates,
    problems: m.problems,
  };
}

/** One sentence per damaged shard, naming the fix; `rerun` is the command that redoes a run. */
export function describeProblems(
  problems: readonly ShardProblem[],
  rerun: (row: string, seed: number) => string,
): string {
  return problems.map((p) => {
    const run = shardRun(p.path);
    const how = run ? `\`${rerun(run.row, run.seed)}\`` : "the run's array task";
    return `Results shard ${
      shownPath(p.path)
    } ${p.message}; its complete rows were merged. Delete it (and its .evals.csv) and re-run ${how} (it resumes from what was merged and from its checkpoint), then merge again.`;
  }).join("\n");
}
