/**
 * Every mechanism measure for every finished run of a results file that has a saved model, cached
 * in results/<name>.sharpness.csv (measure_cache.ts): what `bin/deno task sharpness` and the
 * notebook `mechanism_sharpness_vs_robustness` call. Only (run, group, settings) combinations the
 * cache lacks are computed, so a second call is a read. The settings are resolved once, here;
 * the runs with groups left are jobs of the job engine (lib/jobs/; the kind: measure_job.ts,
 * the measures themselves: measure_groups.ts), in this process or in worker processes.
 */
import { basename, dirname, resolve } from "node:path";
import { readResults, type ResultRow } from "../experiments/results.ts";
import { describeLineProblem, ResultsFileError } from "../experiments/results.ts";
import { shownPath } from "../experiments/plan.ts";
import { isFileSync } from "../data/files.ts";
import { runJobs } from "../jobs/run_jobs.ts";
import { resolveWorkers, type Workers, workInProcesses } from "../jobs/workers.ts";
import { realPathOf, removeStaleTemps, replaceProblem } from "../util/atomic_write.ts";
import { clearStaleLock } from "../util/lock.ts";
import { formatDuration, type ProgressStyle } from "../util/progress.ts";
import {
  cachePathFor,
  type CacheRow,
  groupRows,
  MEASURE_GROUPS,
  type MeasureGroup,
  readCache,
  readCacheTable,
} from "./measure_cache.ts";
import {
  type Computed,
  type MeasureJob,
  measureJobs,
  missingGroups,
  resolveModelPath,
} from "./measure_job.ts";
import {
  LANDSCAPE_ROWS,
  type MeasureSettings,
  resolveSettings,
  settingsKey,
} from "./measure_settings.ts";

export {
  DEFAULT_SETTINGS,
  expectedMeasures,
  groupSettings,
  LANDSCAPE_ROWS,
  type MeasureSettings,
  resolveSettings,
  settingsKey,
} from "./measure_settings.ts";
export { computeGroup, type GroupOutput, type RunData, runData } from "./measure_groups.ts";

/** Runs of a results file that have a saved model on disk. */
export function measurableRuns(resultsPath: string): ResultRow[] {
  return readResults(resultsPath).filter((r) =>
    typeof r.model_file === "string" && r.model_file !== "" &&
    isFileSync(resolveModelPath(r.model_file))
  );
}

export interface CacheOptions {
  /** The results CSV (its .sharpness.csv is the cache). */
  resultsPath: string;
  settings?: Partial<MeasureSettings>;
  /** Only these row ids (default all with a model file). */
  rows?: readonly string[];
  seeds?: readonly number[];
  /** Groups to compute (default all). */
  groups?: readonly MeasureGroup[];
  /** Rows that get landscapes (default LANDSCAPE_ROWS). */
  landscapeRows?: readonly string[];
  backend?: string;
  progress?: ProgressStyle;
  log?: (line: string) => void;
  /**
   * 1 (default): compute here. n > 1 or "auto" (one per core): in that many single-threaded
   * child processes that share the runs by their locks (lib/jobs/workers.ts).
   */
  workers?: Workers;
  /** Set in a worker process: how many workers share the runs (lib/jobs/workers.ts). */
  workerShare?: number;
  /** Where the runs' dataset is (--data-dir; default: the dataset's own place). */
  dataDir?: string;
}

export interface CacheResult {
  settings: MeasureSettings;
  /** Every cache row of the file for the selected runs and current settings. */
  rows: CacheRow[];
  runs: ResultRow[];
  computed: { run_id: string; group: MeasureGroup; seconds: number }[];
  skipped: number;
  seconds: number;
}

/**
 * Before any work: refuse a cache this user may not replace (read-only, another user's), remove
 * the temp files and the lock a killed writer left beside it, and name the cache lines set aside and the measures of the selected runs that are not finite (their
 * groups are computed again). One sentence each.
 */
function cacheNotes(resultsPath: string, runs: readonly ResultRow[], s: MeasureSettings): string[] {
  const path = cachePathFor(resultsPath);
  const refused = replaceProblem(path);
  if (refused) {
    throw new ResultsFileError(
      `Measure cache ${
        shownPath(path)
      } ${refused.why}; ${refused.fix} results file with --results.`,
    );
  }
  const removed = removeStaleTemps(dirname(path), `${basename(path)}.`);
  if (clearStaleLock(`${path}.lock`)) removed.push(`${path}.lock`);
  const notes = removed.length
    ? [
      `removed ${removed.length} file(s) left by killed writers: ${
        removed.map(shownPath).join(", ")
      }`,
    ]
    : [];
  const { rows, problems } = readCacheTable(resultsPath);
  notes.push(...problems.map((p) => describeLineProblem(shownPath(path), p)));
  const keys = new Set(runs.map((r) => String(r.run_key)));
  for (const g of MEASURE_GROUPS) {
    for (const k of keys) {
      for (const r of groupRows(rows, k, g, settingsKey(s, g)).values()) {
        if (Number.isFinite(r.value)) continue;
        notes.push(
          `${
            shownPath(path)
          }: ${r.measure} of run ${r.run_id} is ${r.value}; its group is computed again.`,
        );
      }
    }
  }
  return notes;
}
/** Compute what the cache lacks for the selected runs; return the cache rows. */
export async function computeMeasureCache(options: CacheOptions): Promise<CacheResult> {
  // Resolved once: the cache and its lock beside the real results file (a symlink followed).
  const o = { ...options, resultsPath: realPathOf(options.resultsPath) };
  const start = performance.now();
  const s = resolveSettings(o.settings);
  const log = o.log ?? ((line: string) => console.log(line));
  const groups = o.groups ?? MEASURE_GROUPS;
  const landscapeRows = o.landscapeRows ?? LANDSCAPE_ROWS;
  const inWorker = o.workerShare !== undefined;
  const runs = measurableRuns(o.resultsPath).filter((r) =>
    (!o.rows || o.rows.includes(String(r.row_id))) &&
    (!o.seeds || o.seeds.includes(Number(r.seed)))
  );
  if (!inWorker) { for (const note of cacheNotes(o.resultsPath, runs, s)) log(note); }
  const wantedOf = (r: ResultRow) =>
    groups.filter((g) => g !== "landscape" || landscapeRows.includes(String(r.row_id)));
  let cache = readCache(o.resultsPath);
  const todo: MeasureJob[] = runs.map((r) => ({
    run: r,
    groups: missingGroups(cache, r, wantedOf(r), s),
  })).filter((t) => t.groups.length > 0);
  const wanted = runs.reduce((n, r) => n + wantedOf(r).length, 0);
  const computed: Computed[] = [];
  const workers = inWorker ? 1 : Math.min(resolveWorkers(o.workers, o.backend), todo.length);
  let worked = 0;
  if (workers > 1) {
    const { log: _log, ...shared } = o;
    await workInProcesses(
      "scripts/measure_worker.ts",
      {
        ...shared,
        workers: 1,
        // The workers start in the repository, not in the caller's folder.
        dataDir: o.dataDir === undefined ? undefined : resolve(o.dataDir),
        progress: o.progress === "none" ? "none" : "lines",
      },
      workers,
      log,
      `the measures already computed are kept in ${cachePathFor(o.resultsPath)}`,
      "Measure worker",
    );
    cache = readCache(o.resultsPath);
    for (const t of todo) {
      const runKey = String(t.run.run_key);
      for (const g of t.groups.filter((g) => missingGroups(cache, t.run, [g], s).length === 0)) {
        const [r] = groupRows(cache, runKey, g, settingsKey(s, g)).values();
        computed.push({ run_id: String(t.run.run_id), group: g, seconds: r.seconds });
      }
    }
  } else if (todo.length > 0) {
    const kind = measureJobs({ ...o, settings: s }, computed);
    worked = (await runJobs(kind, todo, { log, workerShare: o.workerShare })).worked;
    cache = readCache(o.resultsPath);
  }
  const keys = new Map(MEASURE_GROUPS.map((g) => [g, settingsKey(s, g)]));
  const runKeys = new Set(runs.map((r) => String(r.run_key)));
  // One row per measure (the last written), of the runs asked for, under the current settings.
  const rows = [...runKeys].flatMap((k) =>
    MEASURE_GROUPS.flatMap((g) => [...groupRows(cache, k, g, keys.get(g)!).values()])
  );
  const result: CacheResult = {
    settings: s,
    rows,
    runs,
    computed,
    skipped: wanted - computed.length,
    seconds: (performance.now() - start) / 1000,
  };
  log(
    inWorker
      ? `worker done: ${computed.length} measure group(s) of ${worked} run(s) computed here in ${
        formatDuration(result.seconds)
      }.`
      : `${runs.length} run(s) with a model file; ${computed.length} measure group(s) computed, ` +
        `${result.skipped} read from the cache, in ${formatDuration(result.seconds)}.`,
  );
  return result;
}
