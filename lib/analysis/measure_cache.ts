/**
 * The cache of the mechanism measures, one CSV beside a results file:
 *   results/<name>.csv  ->  results/<name>.sharpness.csv
 * One row per (run, measure, variant), long format:
 *   run_key, run_id, row_id, seed, group, measure, variant, settings_key, value, se, extra,
 *   seconds, backend, load_avg_1m, finished_at
 * `group` is the unit that is computed together ("sharpness", "hessian", "input", "equivalence",
 * "landscape"); `settings_key` hashes the group's settings (and the shared data settings), so a
 * changed setting recomputes only its group and old rows stay for comparison. `extra` is JSON
 * (trajectories, histories, curves, landscape grids). Appends go through appendRow (temp file +
 * rename, under a lock), as the results files do.
 */
import { appendRow, readResults, type ResultRow } from "../experiments/results.ts";

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

/** The cache rows of a results file ([] when there is no cache yet). */
export function readCache(resultsPath: string): CacheRow[] {
  return readResults(cachePathFor(resultsPath)).map((r: ResultRow) => {
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
  });
}

/** Append rows (one atomic rewrite each). */
export function appendCacheRows(resultsPath: string, rows: readonly CacheRow[]): void {
  const path = cachePathFor(resultsPath);
  for (const r of rows) {
    appendRow(path, CACHE_COLUMNS, {
      ...r,
      se: r.se ?? null,
      extra: JSON.stringify(r.extra),
    });
  }
}

/** Whether the cache has `group` for this run under this settings key. */
export function hasGroup(
  rows: readonly CacheRow[],
  runKey: string,
  group: MeasureGroup,
  settingsKey: string,
): boolean {
  return rows.some((r) =>
    r.run_key === runKey && r.group === group && r.settings_key === settingsKey
  );
}
