/**
 * Results shards: a run trained apart from the results file (one Slurm array task) writes its rows
 * to a results file of its own, <runs dir>/shards/<row>-seed<seed>-<run key>.csv (and .evals.csv
 * beside it), so no two processes ever append to one file. Merging copies every complete shard
 * row the results file lacks into it (runs by run key, evaluations by run key, evaluation key and
 * test-point count), so merging twice changes nothing. A damaged shard keeps its complete rows:
 * they are merged, the cut one is named, and nothing already merged is touched.
 */
import { join } from "node:path";
import { ExperimentError } from "./grid.ts";
import { planGrid, type PlannedRun, runsDirFor, shownPath } from "./plan.ts";
import {
  appendEval,
  appendRun,
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
import { type GridOptions, type GridResult, runGrid } from "./runner.ts";

/** Where the shards of a results file live (git-ignored, beside its checkpoints). */
export function shardsDirFor(resultsPath: string): string {
  return join(runsDirFor(resultsPath), "shards");
}

/** The shard of one planned run: named like its checkpoint, so settings never share a shard. */
export function shardPathFor(resultsPath: string, run: PlannedRun): string {
  return join(shardsDirFor(resultsPath), `${run.row.id}-seed${run.seed}-${run.runKey}.csv`);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
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
  const plan = planGrid(o);
  if (plan.runs.length !== 1) {
    throw new ExperimentError(
      `A results shard holds exactly one run, but --rows/--seeds give ${plan.runs.length}: pass one row id with --rows and one seed with --seeds.`,
    );
  }
  const run = plan.runs[0];
  const shardPath = shardPathFor(plan.resultsPath, run);
  releaseRequeuedLock(`${run.checkpointDir}.lock`, o.log ?? console.log);
  if (!exists(shardPath) && !exists(evalsPathFor(shardPath))) {
    for (const r of readResults(plan.resultsPath)) {
      if (r.run_key === run.runKey && runComplete(r)) appendRun(shardPath, r);
    }
    for (const r of readEvals(plan.resultsPath)) {
      if (r.run_key === run.runKey && evalComplete(r)) appendEval(shardPath, r);
    }
  }
  const result = await runGrid({
    ...o,
    // One run in the task's own allocation: here, with TensorFlow's threads (--cpus-per-task).
    workers: 1,
    resultsPath: shardPath,
    runsDir: plan.runsDir,
    modelsDir: plan.modelsDir,
  });
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

export interface ShardProblem {
  path: string;
  message: string;
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
  const dir = shardsDirFor(resultsPath);
  const names: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isFile && e.name.endsWith(".csv") && !e.name.endsWith(".evals.csv")) names.push(e.name);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names.sort().map((n) => join(dir, n));
}

/** The row id and seed a shard file belongs to, read off its name. */
export function shardRun(path: string): { row: string; seed: number } | null {
  const m = /([^/]+)-seed(\d+)-k[0-9a-f]{8}(\.evals)?\.csv$/.exec(path);
  return m ? { row: m[1], seed: Number(m[2]) } : null;
}

/**
 * Merge every shard of a results file into it: each complete row it lacks is appended once, the
 * runs rows of every shard first. An evaluation row whose run has no runs row (in the results
 * file or a shard) is held back and named: a reader never sees an evaluation without its run.
 * Never throws for a damaged shard (the caller reports `problems`); the results file is only
 * ever appended to.
 */
export function mergeShards(resultsPath: string): MergeResult {
  const haveRuns = new Set(readResults(resultsPath).filter(runComplete).map((r) => r.run_key));
  const haveEvals = new Set(readEvals(resultsPath).filter(evalComplete).map(evalId));
  const out: MergeResult = { shards: [], runsAdded: 0, evalsAdded: 0, duplicates: 0, problems: [] };
  const shards = listShards(resultsPath);
  out.shards.push(...shards);
  for (const shard of shards) {
    const { rows, problem } = readShardFile(shard, RUN_COLUMNS, runComplete);
    if (problem) out.problems.push({ path: shard, message: problem });
    for (const r of rows) {
      if (haveRuns.has(r.run_key)) out.duplicates++;
      else if (appendRun(resultsPath, r)) {
        haveRuns.add(r.run_key);
        out.runsAdded++;
      }
    }
  }
  for (const shard of shards) {
    const path = evalsPathFor(shard);
    const { rows, problem } = readShardFile(path, EVAL_COLUMNS, evalComplete);
    if (problem) out.problems.push({ path, message: problem });
    const orphans = new Map<string, number>();
    for (const r of rows) {
      if (!haveRuns.has(r.run_key)) {
        orphans.set(String(r.run_key), (orphans.get(String(r.run_key)) ?? 0) + 1);
      } else if (haveEvals.has(evalId(r))) out.duplicates++;
      else if (appendEval(resultsPath, r)) {
        haveEvals.add(evalId(r));
        out.evalsAdded++;
      }
    }
    for (const [key, count] of orphans) {
      out.problems.push({
        path,
        message:
          `has ${count} evaluation row(s) of run ${key}, whose run row is in neither the results file nor its runs shard; they were not merged`,
      });
    }
  }
  return out;
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
