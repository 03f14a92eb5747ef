/**
 * The cache of the mechanism measures, one CSV beside a results file:
 *   results/<name>.csv  ->  results/<name>.sharpness.csv
 * One row per (run, measure, variant), long format:
 *   run_key, run_id, row_id, seed, group, measure, variant, settings_key, value, se, extra,
 *   seconds, backend, load_avg_1m, finished_at
 * `group` is the unit that is computed together ("sharpness", "hessian", "input", "equivalence",
 * "landscape"); `settings_key` hashes the group's settings (and the shared data settings), so a
 * changed setting recomputes only its group and old rows stay for comparison. `extra` is JSON
 * (trajectories, histories, curves, landscape grids). Each group's rows are appended in one
 * write (temp file + rename, under a lock), as the results files are, and a group counts as
 * cached only when all of its measures are there with finite values (hasGroup).
 */
import {
  appendRows,
  readOwnTable,
  type ResultRow,
  ResultsFileError,
} from "../experiments/results.ts";
import type { LineProblem } from "../experiments/csv_rows.ts";

export const CACHE_COLUMNS = [
  "run_key",
  "run_id",
  "row_id",
  "seed",
  "group",
  "measure",
  "variant",
  "settings_key",
  "value",
  "se",
  "extra",
  "seconds",
  "backend",
  "load_avg_1m",
  "finished_at",
] as const;

export type MeasureGroup = "sharpness" | "hessian" | "input" | "equivalence" | "landscape";
export const MEASURE_GROUPS: readonly MeasureGroup[] = [
  "sharpness",
  "hessian",
  "input",
  "equivalence",
  "landscape",
];

export interface CacheRow {
  run_key: string;
  run_id: string;
  row_id: string;
  seed: number;
  group: MeasureGroup;
  measure: string;
  variant: string;
  settings_key: string;
  value: number;
  se: number | null;
  extra: Record<string, unknown>;
  seconds: number;
  backend: string;
  load_avg_1m: number | null;
  finished_at: string;
}

/** results/x.csv -> results/x.sharpness.csv */
export function cachePathFor(resultsPath: string): string {
  return resultsPath.replace(/(\.csv)?$/i, ".sharpness.csv");
}

function num(v: unknown): number {
  return typeof v === "number" ? v : v === null || v === undefined ? NaN : Number(v);
}

function cacheRow(r: ResultRow): CacheRow {
  let extra: Record<string, unknown> = {};
  try {
    extra = r.extra ? JSON.parse(String(r.extra)) : {};
  } catch {
    extra = {};
  }
  return {
    run_key: String(r.run_key),
    run_id: String(r.run_id),
    row_id: String(r.row_id),
    seed: num(r.seed),
    group: String(r.group) as MeasureGroup,
    measure: String(r.measure),
    variant: r.variant === null ? "" : String(r.variant),
    settings_key: String(r.settings_key),
    value: num(r.value),
    se: r.se === null ? null : num(r.se),
    extra,
    seconds: num(r.seconds),
    backend: String(r.backend ?? ""),
    load_avg_1m: r.load_avg_1m === null ? null : num(r.load_avg_1m),
    finished_at: String(r.finished_at ?? ""),
  };
}

/**
 * The cache of a results file, read strictly: its rows and the lines set aside (a cut or
 * malformed line; csv_rows.ts). A cache whose header is cut or not a cache's is refused: it is
 * derived data, so the fix is to delete it.
 */
export function readCacheTable(resultsPath: string): { rows: CacheRow[]; problems: LineProblem[] } {
  const path = cachePathFor(resultsPath);
  const table = readOwnTable(path, CACHE_COLUMNS);
  if (table === null) return { rows: [], problems: [] };
  if (table.damage) {
    throw new ResultsFileError(
      `Measure cache ${path} ${table.damage}; delete it and the measures are computed again.`,
    );
  }
  return { rows: table.rows.map(cacheRow), problems: table.problems };
}

/** The well-formed cache rows of a results file ([] when there is no cache yet). */
export function readCache(resultsPath: string): CacheRow[] {
  return readCacheTable(resultsPath).rows;
}

/** Append one group's rows in one atomic write: a kill leaves all of them or none. */
export function appendCacheRows(resultsPath: string, rows: readonly CacheRow[]): void {
  appendRows(
    cachePathFor(resultsPath),
    CACHE_COLUMNS,
    rows.map((r) => ({ ...r, se: r.se ?? null, extra: JSON.stringify(r.extra) })),
  );
}

/** "measure|variant": a row's place in its group (expectedMeasures in measure_run.ts). */
export const measureId = (r: Pick<CacheRow, "measure" | "variant">) => `${r.measure}|${r.variant}`;

/** The rows of one run's group under a settings key: the last row of each measure wins. */
export function groupRows(
  rows: readonly CacheRow[],
  runKey: string,
  group: MeasureGroup,
  settingsKey: string,
): Map<string, CacheRow> {
  const out = new Map<string, CacheRow>();
  for (const r of rows) {
    if (r.run_key === runKey && r.group === group && r.settings_key === settingsKey) {
      out.set(measureId(r), r);
    }
  }
  return out;
}

/**
 * Whether the cache has `group` for this run under this settings key, whole: every expected
 * measure ("measure|variant") with a finite value.
 */
export function hasGroup(
  rows: readonly CacheRow[],
  runKey: string,
  group: MeasureGroup,
  settingsKey: string,
  expected: readonly string[],
): boolean {
  const have = groupRows(rows, runKey, group, settingsKey);
  return expected.every((id) => Number.isFinite(have.get(id)?.value));
}
