/**
 * The mechanism measures of every saved model, joined with its accuracies: loads or computes the
 * measure cache of every results file (measure_run.ts) and gives one record per run. Every number
 * here is ours: the paper reports no sharpness or curvature.
 */
import { basename, join } from "node:path";
import { ALL_ROWS, type GridRow, rowById } from "../experiments/grid.ts";
import { readEvals, readResults, type ResultRow } from "../experiments/results.ts";
import { type CacheRow, MEASURE_GROUPS, readCache } from "./measure_cache.ts";
import {
  computeMeasureCache,
  DEFAULT_SETTINGS,
  measurableRuns,
  type MeasureSettings,
  settingsKey,
} from "./measure_run.ts";
import type { ProgressStyle } from "../util/progress.ts";
import type { Workers } from "../jobs/workers.ts";
import { REPO_ROOT } from "../util/repo_root.ts";
import type { DatasetName } from "../data/dataset.ts";
import { isDatasetName } from "../data/registry.ts";
import { robustKeyOf } from "./robust_column.ts";

export { robustLabel } from "./robust_column.ts";

/** The results files looked at by default (those without a saved model are skipped). */
export const DEFAULT_RESULTS = [
  "results/fashion-mnist-full.csv",
  "results/fashion-mnist-default.csv",
  "results/cifar10-jpeg-cpu.csv",
];

/**
 * Results files whose measures a notebook only reads from the cache: PreActResNet-18's measures
 * take minutes per model on 2 CPU cores, so `bin/deno task sharpness --results <file>` fills
 * their cache beside the grid, and the report never starts that work itself.
 */
export const READ_ONLY_RESULTS = ["results/cifar10-jpeg-cpu.csv"];

export interface RunMeasures {
  /** Results file name without .csv, e.g. "fashion-mnist-full". */
  results: string;
  /** The runs CSV's dataset: it fixes the robust column the findings read (robust_column.ts). */
  dataset: DatasetName;
  runKey: string;
  runId: string;
  row: GridRow;
  seed: number;
  width: number;
  clean: number;
  /** Robust accuracy by eval key ("pgd10_linf_8_255", "aa_linf_8_255", ...). */
  robust: Record<string, number>;
  /** Measure values by key (MEASURES keys, plus "lambda_min", "trace_se", "test_loss", ...). */
  values: Record<string, number>;
  /** The cache row of each measure key (for its extra JSON). */
  rows: Record<string, CacheRow>;
}

/** The measures the scatter plots and correlations use, in display order. */
export const MEASURES: readonly { key: string; label: string; space: "weight" | "input" }[] = [
  { key: "sharpness_0.05", label: "sharpness ρ=0.05", space: "weight" },
  { key: "sharpness_0.1", label: "sharpness ρ=0.1", space: "weight" },
  { key: "sharpness_0.2", label: "sharpness ρ=0.2", space: "weight" },
  { key: "m_sharpness_0.1", label: "m-sharpness ρ=0.1 (m=128)", space: "weight" },
  { key: "asam_sharpness_0.5", label: "adaptive sharpness ρ=0.5", space: "weight" },
  { key: "lambda_max", label: "λ_max of the Hessian", space: "weight" },
  { key: "hessian_trace", label: "Hessian trace", space: "weight" },
  { key: "grad_l1", label: "mean ‖∇ₓL‖₁", space: "input" },
  { key: "grad_l2", label: "mean ‖∇ₓL‖₂", space: "input" },
];

function measureKey(r: CacheRow): string {
  const rho = r.extra.rho;
  if (r.measure === "sharpness" || r.measure === "asam_sharpness" || r.measure === "m_sharpness") {
    return `${r.measure}_${rho}`;
  }
  if (r.measure === "pgd_line") return "pgd_loss";
  return r.measure;
}

/** Join cache rows with the runs' accuracies: one record per run that has cache rows. */
export function runMeasures(
  resultsName: string,
  runs: readonly ResultRow[],
  evals: readonly ResultRow[],
  cache: readonly CacheRow[],
): RunMeasures[] {
  const out: RunMeasures[] = [];
  for (const run of runs) {
    const key = String(run.run_key);
    const mine = cache.filter((c) => c.run_key === key);
    if (mine.length === 0) continue;
    const row = rowById(String(run.row_id)) ?? {
      id: String(run.row_id),
      group: "ST",
      method: undefined as never,
      paper: false,
      label: String(run.row_id),
    } as GridRow;
    const robust: Record<string, number> = {};
    for (const e of evals) {
      if (String(e.run_key) === key && typeof e.accuracy === "number") {
        robust[String(e.eval_key)] = e.accuracy;
      }
    }
    const dataset = String(run.dataset);
    if (!isDatasetName(dataset)) {
      throw new Error(`${resultsName}: run ${key} has unknown dataset ${JSON.stringify(dataset)}.`);
    }
    const values: Record<string, number> = {};
    const rows: Record<string, CacheRow> = {};
    for (const c of mine) {
      const k = measureKey(c);
      values[k] = c.value;
      rows[k] = c;
      if (c.measure === "hessian_trace" && c.se !== null) values.trace_se = c.se;
    }
    out.push({
      results: resultsName,
      dataset,
      runKey: key,
      runId: String(run.run_id),
      row,
      seed: Number(run.seed),
      width: Number(run.width),
      clean: Number(run.clean),
      robust,
      values,
      rows,
    });
  }
  const order = (r: RunMeasures) => ALL_ROWS.findIndex((g) => g.id === r.row.id);
  return out.sort((a, b) =>
    a.results.localeCompare(b.results) || order(a) - order(b) || a.seed - b.seed
  );
}

export interface MechanismData {
  settings: MeasureSettings;
  /** Per results file: its name, runs measured, groups computed now, seconds. */
  files: {
    name: string;
    path: string;
    runs: number;
    computed: number;
    read: number;
    seconds: number;
  }[];
  records: RunMeasures[];
}

/**
 * Compute what the caches lack (for every results file with saved models) and join; the files in
 * `readOnly` are only read from their cache (their unmeasured runs are counted, not computed).
 */
export async function loadMechanism(
  paths: readonly string[] = DEFAULT_RESULTS,
  options: {
    progress?: ProgressStyle;
    log?: (line: string) => void;
    workers?: Workers;
    readOnly?: readonly string[];
  } = {},
): Promise<MechanismData> {
  const files: MechanismData["files"] = [];
  const records: RunMeasures[] = [];
  const readOnly = new Set(options.readOnly ?? READ_ONLY_RESULTS);
  for (const p of paths) {
    const path = p.startsWith("/") ? p : join(REPO_ROOT, p);
    const runs = measurableRuns(path);
    if (runs.length === 0) continue;
    const name = basename(path).replace(/\.csv$/i, "");
    if (readOnly.has(p)) {
      const found = readMechanism([path]);
      files.push({ name, path: p, runs: runs.length, computed: 0, read: found.length, seconds: 0 });
      records.push(...found);
      continue;
    }
    const r = await computeMeasureCache({
      resultsPath: path,
      progress: options.progress,
      log: options.log,
      workers: options.workers,
    });
    files.push({
      name,
      path: p,
      runs: r.runs.length,
      computed: r.computed.length,
      read: r.skipped,
      seconds: r.seconds,
    });
    records.push(...runMeasures(name, readResults(path), readEvals(path), r.rows));
  }
  return { settings: { ...DEFAULT_SETTINGS } as MeasureSettings, files, records };
}

/** The records of the committed caches only (computes nothing): for README's generated findings. */
export function readMechanism(paths: readonly string[] = DEFAULT_RESULTS): RunMeasures[] {
  return paths.flatMap((p) => {
    const path = p.startsWith("/") ? p : join(REPO_ROOT, p);
    const name = basename(path).replace(/\.csv$/i, "");
    const keys = new Map(MEASURE_GROUPS.map((g) => [g, settingsKey(DEFAULT_SETTINGS, g)]));
    try {
      const cache = readCache(path).filter((r) => keys.get(r.group) === r.settings_key);
      return runMeasures(name, readResults(path), readEvals(path), cache);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return [];
      throw err;
    }
  });
}

/**
 * Robust columns present for at least minRuns records: the findings' own column of their datasets
 * (robust_column.ts), then PGD-10 L-inf 8/255 and L2 128/255, then AutoAttack.
 */
export function robustKeys(records: readonly RunMeasures[], minRuns = records.length): string[] {
  const all = new Set(records.flatMap((r) => Object.keys(r.robust)));
  const own = records.map((r) => robustKeyOf(r.dataset));
  const wanted = [...new Set([...own, "pgd10_linf_8_255", "pgd10_l2_128_255"])];
  const aa = [...all].filter((k) => k.startsWith("aa_")).sort();
  return [...wanted, ...aa].filter((k) =>
    records.length > 0 && records.filter((r) => k in r.robust).length >= Math.max(1, minRuns)
  );
}
