/**
 * The notebook `mechanism_sharpness_vs_robustness` (the paper's RQ1, measured): loads or computes
 * the measure cache of every results file with saved models (measure_run.ts), joins it with the
 * runs' clean and robust accuracies, and builds the tables, charts, correlations and the plain
 * statements the notebook shows. Every number here is ours: the paper reports none of them.
 */
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { ALL_ROWS, type GridRow, rowById } from "../experiments/grid.ts";
import { readEvals, readResults, type ResultRow } from "../experiments/results.ts";
import { rowColor } from "../report/charts.ts";
import { axis, chart } from "../report/chart_parts.ts";
import type { Chart, PlotlyLayout, PlotlyTrace } from "../report/notebook.ts";
import { bootstrapInterval, type Interval, permutationPValue, spearman } from "./correlation.ts";
import type { CacheRow } from "./measure_cache.ts";
import {
  computeMeasureCache,
  DEFAULT_SETTINGS,
  LANDSCAPE_ROWS,
  measurableRuns,
  type MeasureSettings,
} from "./measure_run.ts";
import type { EquivalenceResult } from "./first_layer_equivalence.ts";
import type { ProgressStyle } from "../util/progress.ts";
import type { Workers } from "../experiments/workers.ts";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The results files looked at by default (those without a saved model are skipped). */
export const DEFAULT_RESULTS = [
  "results/fashion-mnist-full.csv",
  "results/fashion-mnist-default.csv",
];

export interface RunMeasures {
  /** Results file name without .csv, e.g. "fashion-mnist-full". */
  results: string;
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

/** Compute what the caches lack (for every results file with saved models) and join. */
export async function loadMechanism(
  paths: readonly string[] = DEFAULT_RESULTS,
  options: { progress?: ProgressStyle; log?: (line: string) => void; workers?: Workers } = {},
): Promise<MechanismData> {
  const files: MechanismData["files"] = [];
  const records: RunMeasures[] = [];
  for (const p of paths) {
    const path = p.startsWith("/") ? p : join(REPO_ROOT, p);
    if (measurableRuns(path).length === 0) continue;
    const r = await computeMeasureCache({
      resultsPath: path,
      progress: options.progress,
      log: options.log,
      workers: options.workers,
    });
    const name = basename(path).replace(/\.csv$/i, "");
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

// ---------------------------------------------------------------------------------------------
// Tables

const sig = (x: number | undefined, d = 3) =>
  x === undefined || !Number.isFinite(x) ? null : Number(x.toPrecision(d));
const pct = (
  x: number | undefined,
) => (x === undefined || !Number.isFinite(x) ? null : +(100 * x).toFixed(1));

/** Robust columns present for every record, PGD-10 L-inf 8/255 and L2 128/255 first, AutoAttack after. */
export function robustKeys(records: readonly RunMeasures[], minRuns = records.length): string[] {
  const all = new Set(records.flatMap((r) => Object.keys(r.robust)));
  const wanted = ["pgd10_linf_8_255", "pgd10_l2_128_255"];
  const aa = [...all].filter((k) => k.startsWith("aa_")).sort();
  return [...wanted, ...aa].filter((k) =>
    records.length > 0 && records.filter((r) => k in r.robust).length >= Math.max(1, minRuns)
  );
}

export function robustLabel(key: string): string {
  const m = key.match(/^(pgd10|aa)_(linf|l2)_(\d+)_255$/);
  if (!m) return key;
  return `${m[1] === "aa" ? "AutoAttack" : "PGD-10"} ${m[2] === "linf" ? "L∞" : "L2"} ${m[3]}/255`;
}

/** One row per run: accuracies (%) and every measure. */
export function measuresTable(records: readonly RunMeasures[]): Record<string, unknown>[] {
  const rk = robustKeys(records, 1);
  return records.map((r) => ({
    results: r.results,
    row: r.row.label,
    seed: r.seed,
    clean_pct: pct(r.clean),
    ...Object.fromEntries(rk.map((k) => [`${k}_pct`, pct(r.robust[k])])),
    train_loss: sig(r.rows["sharpness_0.05"]?.extra.baseLoss as number),
    ...Object.fromEntries(
      ["0.02", "0.05", "0.1", "0.2"].map((
        rho,
      ) => [`sharp_${rho}`, sig(r.values[`sharpness_${rho}`])]),
    ),
    m_sharp_0_1: sig(r.values["m_sharpness_0.1"]),
    asam_0_5: sig(r.values["asam_sharpness_0.5"]),
    lambda_max: sig(r.values.lambda_max),
    lambda_min: sig(r.values.lambda_min),
    trace: sig(r.values.hessian_trace),
    trace_se: sig(r.values.trace_se, 2),
    grad_l1: sig(r.values.grad_l1),
    grad_l2: sig(r.values.grad_l2),
    test_loss: sig(r.values.test_loss),
    pgd_loss_8_255: sig(r.values.pgd_loss),
  }));
}

/** The Lanczos and Hutchinson diagnostics per run (convergence, scale sensitivity). */
export function curvatureDiagnostics(records: readonly RunMeasures[]): Record<string, unknown>[] {
  return records.map((r) => {
    const e = r.rows.lambda_max?.extra ?? {};
    const sc = e.scaleCheck as { steps: number[]; quotients: number[] } | null | undefined;
    return {
      results: r.results,
      row: r.row.label,
      seed: r.seed,
      lambda_max: sig(r.values.lambda_max),
      lanczos_iterations: e.iterations ?? null,
      residual_bound: sig(e.residual as number, 2),
      [`at_h/3`]: sc ? sig(sc.quotients[0]) : null,
      [`at_3h`]: sc ? sig(sc.quotients[1]) : null,
      lambda_min: sig(r.values.lambda_min),
      trace: sig(r.values.hessian_trace),
      trace_se: sig(r.values.trace_se, 2),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Correlations

export interface CorrelationRow {
  subset: string;
  robust: string;
  measure: string;
  n: number;
  spearman: number;
  ci: Interval;
  p: number;
}

export const SUBSETS: readonly { name: string; keep: (r: RunMeasures) => boolean }[] = [
  { name: "all runs", keep: () => true },
  { name: "ST + SAM only", keep: (r) => r.row.group === "ST" || r.row.group === "SAM" },
];

/** Spearman of every measure with every robust column, per subset and results file. */
export function correlations(records: readonly RunMeasures[]): CorrelationRow[] {
  const out: CorrelationRow[] = [];
  const files = [...new Set(records.map((r) => r.results))];
  for (const file of files) {
    const mine = records.filter((r) => r.results === file);
    for (const sub of SUBSETS) {
      const rs = mine.filter(sub.keep);
      for (const rk of robustKeys(rs, 3)) {
        for (const m of MEASURES) {
          const pts = rs.filter((r) =>
            Number.isFinite(r.values[m.key]) && Number.isFinite(r.robust[rk])
          );
          if (pts.length < 3) continue;
          const x = pts.map((r) => r.values[m.key]), y = pts.map((r) => r.robust[rk]);
          out.push({
            subset: `${file}: ${sub.name}`,
            robust: robustLabel(rk),
            measure: m.label,
            n: pts.length,
            spearman: spearman(x, y),
            ci: bootstrapInterval(x, y, { resamples: 2000, seed: 0 }),
            p: permutationPValue(x, y),
          });
        }
      }
    }
  }
  return out;
}

export function correlationTable(rows: readonly CorrelationRow[]): Record<string, unknown>[] {
  return rows.map((c) => ({
    subset: c.subset,
    robust: c.robust,
    measure: c.measure,
    n: c.n,
    spearman: sig(c.spearman, 2),
    ci95_lo: sig(c.ci.lo, 2),
    ci95_hi: sig(c.ci.hi, 2),
    bootstrap_dropped: c.ci.dropped,
    permutation_p: sig(c.p, 2),
  }));
}

// ---------------------------------------------------------------------------------------------
// Charts

function colorOf(r: RunMeasures, all: readonly RunMeasures[]): string {
  const same = [...new Set(all.filter((x) => x.row.group === r.row.group).map((x) => x.row.id))];
  return rowColor(r.row, Math.max(0, same.indexOf(r.row.id)));
}

const SYMBOL: Record<string, string> = {
  ST: "square",
  SAM: "circle",
  "AT-linf": "diamond",
  "AT-l2": "triangle-up",
};

/** Sharpness against rho, one line per run. */
export function sharpnessVsRhoChart(records: readonly RunMeasures[], title: string): Chart {
  const rhos = [0.02, 0.05, 0.1, 0.2];
  return chart(
    records.map((r) => ({
      type: "scatter",
      mode: "lines+markers",
      name: `${r.row.label} s${r.seed}`,
      x: rhos,
      y: rhos.map((rho) => r.values[`sharpness_${rho}`] ?? null),
      line: { color: colorOf(r, records), dash: r.seed === 0 ? "solid" : "dot" },
      marker: { symbol: SYMBOL[r.row.group] ?? "circle" },
    })),
    title,
    "ρ (L2 radius in weight space)",
    "max L(w+δ) − L(w) over ‖δ‖ ≤ ρ",
    { xaxis: { type: "log" }, yaxis: { type: "log" } },
  );
}

/** One panel per measure: the measure (x) against robust accuracy (y), one marker per run. */
export function scatterChart(
  records: readonly RunMeasures[],
  robust: string,
  corr: readonly CorrelationRow[],
  title: string,
): Chart {
  const cols = 3, rows = Math.ceil(MEASURES.length / cols);
  const data: PlotlyTrace[] = [];
  const seen = new Set<string>();
  MEASURES.forEach((m, p) => {
    const k = p === 0 ? "" : String(p + 1);
    for (const r of records) {
      const first = !seen.has(r.row.id);
      seen.add(r.row.id);
      data.push({
        type: "scatter",
        mode: "markers",
        name: r.row.label,
        legendgroup: r.row.id,
        showlegend: first && p === 0 ? true : first,
        x: [r.values[m.key] ?? null],
        y: [pct(r.robust[robust])],
        marker: { color: colorOf(r, records), size: 9, symbol: SYMBOL[r.row.group] ?? "circle" },
        xaxis: `x${k}`,
        yaxis: `y${k}`,
        hovertemplate:
          `${r.row.label} seed ${r.seed}<br>${m.label} %{x:.3g}<br>%{y:.1f}%<extra></extra>`,
      });
    }
  });
  const label = robustLabel(robust);
  const layout: PlotlyLayout = {
    title: { text: title },
    grid: { rows, columns: cols, pattern: "independent", ygap: 0.45, xgap: 0.1 },
    height: 300 * rows + 80,
    annotations: MEASURES.map((m, p) => {
      const c = corr.find((x) =>
        x.measure === m.label && x.robust === label && x.subset.endsWith("all runs")
      );
      const k = p === 0 ? "" : String(p + 1);
      return {
        text: `${m.label}${c ? ` (ρ_s = ${c.spearman.toFixed(2)})` : ""}`,
        showarrow: false,
        xref: `x${k} domain`,
        yref: `y${k} domain`,
        x: 0.5,
        y: 1.15,
        font: { size: 12 },
      };
    }),
  };
  MEASURES.forEach((m, p) => {
    const k = p === 0 ? "" : String(p + 1);
    layout[`xaxis${k}`] = axis(
      m.label,
      m.key.startsWith("grad") || m.key === "hessian_trace" ? {} : { type: "log" },
    );
    layout[`yaxis${k}`] = axis(p % cols === 0 ? `${label} (%)` : "");
  });
  return { data, layout };
}

/** The runs that have landscapes, one seed (the first that has all of LANDSCAPE_ROWS, else any). */
export function landscapeRuns(records: readonly RunMeasures[]): RunMeasures[] {
  const have = records.filter((r) => r.rows.landscape_1d);
  const seeds = [...new Set(have.map((r) => `${r.results}|${r.seed}`))];
  const full =
    seeds.find((s) =>
      LANDSCAPE_ROWS.every((id) =>
        have.some((r) => `${r.results}|${r.seed}` === s && r.row.id === id)
      )
    ) ?? seeds[0];
  return have.filter((r) => `${r.results}|${r.seed}` === full);
}

export function landscape1dChart(records: readonly RunMeasures[], title: string): Chart {
  return chart(
    records.map((r) => {
      const e = r.rows.landscape_1d.extra as { alphas: number[]; losses: number[] };
      return {
        type: "scatter",
        mode: "lines",
        name: `${r.row.label} (seed ${r.seed})`,
        x: e.alphas,
        y: e.losses,
        line: { color: colorOf(r, records), width: 2 },
      };
    }),
    title,
    "α (step along one filter-normalised direction d; α = 1 moves each filter by its own norm)",
    "training loss L(w + α d)",
    { yaxis: { type: "log" } },
  );
}

export function landscape2dChart(records: readonly RunMeasures[], title: string): Chart {
  const n = records.length;
  const all = records.flatMap((r) => (r.rows.landscape_2d.extra.losses as number[][]).flat());
  const zmin = Math.log10(Math.min(...all)), zmax = Math.log10(Math.max(...all));
  const data: PlotlyTrace[] = records.map((r, i) => {
    const e = r.rows.landscape_2d.extra as {
      alphas: number[];
      betas: number[];
      losses: number[][];
    };
    const k = i === 0 ? "" : String(i + 1);
    return {
      type: "contour",
      x: e.alphas,
      y: e.betas,
      z: e.losses.map((row) => row.map((v) => Math.log10(v))),
      zmin,
      zmax,
      colorscale: "Viridis",
      showscale: i === n - 1,
      colorbar: { title: { text: "log₁₀ loss" } },
      contours: { coloring: "heatmap", showlabels: true, labelfont: { size: 9, color: "white" } },
      xaxis: `x${k}`,
      yaxis: `y${k}`,
      name: r.row.label,
      hovertemplate:
        `${r.row.label}<br>α %{x:.2f}, β %{y:.2f}<br>log₁₀ loss %{z:.2f}<extra></extra>`,
    };
  });
  const layout: PlotlyLayout = {
    title: { text: title },
    grid: { rows: 1, columns: n, pattern: "independent", xgap: 0.08 },
    height: 420,
    annotations: records.map((r, i) => ({
      text: `${r.row.label} (seed ${r.seed})`,
      showarrow: false,
      xref: `x${i === 0 ? "" : i + 1} domain`,
      yref: `y${i === 0 ? "" : i + 1} domain`,
      x: 0.5,
      y: 1.1,
    })),
  };
  records.forEach((_, i) => {
    const k = i === 0 ? "" : String(i + 1);
    layout[`xaxis${k}`] = axis("α (direction d₁)");
    layout[`yaxis${k}`] = axis(i === 0 ? "β (direction d₂)" : "", { scaleanchor: `x${k}` });
  });
  return { data, layout };
}

/** Test loss along each run's PGD L-inf direction (solid) and a random sign direction (dotted). */
export function pgdLineChart(records: readonly RunMeasures[], title: string): Chart {
  const data: PlotlyTrace[] = [];
  for (const r of records) {
    const e = r.rows.pgd_loss?.extra as
      | { radii: number[]; pgdLoss: number[]; randomLoss: number[] }
      | undefined;
    if (!e) continue;
    const x = e.radii.map((v) => +(v * 255).toFixed(3));
    const color = colorOf(r, records);
    data.push(
      {
        type: "scatter",
        mode: "lines+markers",
        name: `${r.row.label} s${r.seed}: PGD`,
        legendgroup: r.runId,
        x,
        y: e.pgdLoss,
        line: { color },
      },
      {
        type: "scatter",
        mode: "lines",
        name: `${r.row.label} s${r.seed}: random`,
        legendgroup: r.runId,
        x,
        y: e.randomLoss,
        line: { color, dash: "dot" },
        showlegend: false,
      },
    );
  }
  return chart(
    data,
    title,
    "ε (×1/255): x + (ε/8·255)·δ_PGD, clipped to [0, 1]",
    "mean test cross-entropy",
    {
      yaxis: { type: "log" },
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Section 3: SAM's first-layer perturbation against AT's input perturbation

export interface EquivalenceRow {
  results: string;
  row: string;
  seed: number;
  rho: number;
  share: number;
  featureChange: number;
  residual: number;
  lsL2_255: number;
  lsLinf_255: number;
  minRadiusL2_255: number;
  randomRadiusL2_255: number;
  atLinf8FeatureChange: number;
  atL2_128FeatureChange: number;
  atLinf8OverSam: number;
  atL2_128OverSam: number;
}

/**
 * For each run and each rho (the SAM rows' own rho; every rho of 0.05/0.1/0.2 for the others): the
 * first-layer numbers scaled to rho (they are linear in rho), radii in 1/255 pixel units.
 */
export function equivalenceRows(records: readonly RunMeasures[]): EquivalenceRow[] {
  const out: EquivalenceRow[] = [];
  for (const r of records) {
    const e = r.rows.first_layer?.extra as unknown as EquivalenceResult | undefined;
    if (!e) continue;
    const own = r.row.group === "SAM" && r.row.method?.optimizer
      ? r.row.method.optimizer.rho
      : undefined;
    const rhos = typeof own === "number" ? [own] : [0.05, 0.1, 0.2];
    const at = (norm: string, eps: number) =>
      e.atFeatureChange.find((a) => a.norm === norm && Math.abs(a.eps - eps) < 1e-9)?.median ?? NaN;
    const atLinf = at("linf", 8 / 255), atL2 = at("l2", 128 / 255);
    for (const rho of rhos) {
      const f = rho * e.unit.featureChange;
      out.push({
        results: r.results,
        row: r.row.label,
        seed: r.seed,
        rho,
        share: e.share,
        featureChange: f,
        residual: e.residual,
        lsL2_255: 255 * rho * e.unit.lsL2,
        lsLinf_255: 255 * rho * e.unit.lsLinf,
        minRadiusL2_255: 255 * rho * e.unit.minRadiusL2,
        randomRadiusL2_255: 255 * rho * e.unit.randomRadiusL2,
        atLinf8FeatureChange: atLinf,
        atL2_128FeatureChange: atL2,
        atLinf8OverSam: atLinf / f,
        atL2_128OverSam: atL2 / f,
      });
    }
  }
  return out;
}

export function equivalenceTable(rows: readonly EquivalenceRow[]): Record<string, unknown>[] {
  return rows.map((r) => ({
    results: r.results,
    row: r.row,
    seed: r.seed,
    rho: r.rho,
    layer1_share_of_e: sig(r.share, 2),
    feature_change: sig(r.featureChange),
    ls_residual: sig(r.residual, 2),
    "ls_dx_L2_(/255)": sig(r.lsL2_255),
    "ls_dx_Linf_(/255)": sig(r.lsLinf_255),
    "min_L2_radius_(/255)": sig(r.minRadiusL2_255),
    "random_dir_L2_radius_(/255)": sig(r.randomRadiusL2_255),
    "AT_Linf8_feature_change": sig(r.atLinf8FeatureChange),
    "AT_L2_128_feature_change": sig(r.atL2_128FeatureChange),
    "AT_Linf8_/_SAM": sig(r.atLinf8OverSam),
    "AT_L2_128_/_SAM": sig(r.atL2_128OverSam),
  }));
}

// ---------------------------------------------------------------------------------------------
// Statements (computed from the numbers)

const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
/** A p-value: two decimals, or one significant digit below 0.01. */
const fp = (
  p: number,
) => (!Number.isFinite(p) ? "n/a" : p < 0.01 ? p.toPrecision(1) : p.toFixed(2));
const g3 = (x: number) => (Number.isFinite(x) ? x.toPrecision(3) : "n/a");

function bySeed(records: readonly RunMeasures[], id: string, seed: number, results: string) {
  return records.find((r) => r.row.id === id && r.seed === seed && r.results === results);
}

/** What the numbers show, one bullet each; `where` names the results file(s). */
export function findingsMarkdown(
  records: readonly RunMeasures[],
  corr: readonly CorrelationRow[],
  eq: readonly EquivalenceRow[],
): string {
  const lines: string[] = [];
  const files = [...new Set(records.map((r) => r.results))];
  for (const file of files) {
    const mine = records.filter((r) => r.results === file);
    const seeds = [...new Set(mine.map((r) => r.seed))].sort();
    lines.push("", `**${file}** (${mine.length} runs, seeds ${seeds.join(", ")}):`, "");
    // 1. SAM vs ST in weight space
    const cmp: string[] = [];
    let flatter = 0, total = 0;
    for (const seed of seeds) {
      const st = bySeed(mine, "ST", seed, file);
      if (!st) continue;
      for (const sam of mine.filter((r) => r.row.group === "SAM" && r.seed === seed)) {
        for (const k of ["sharpness_0.1", "m_sharpness_0.1", "lambda_max"]) {
          if (!Number.isFinite(sam.values[k]) || !Number.isFinite(st.values[k])) continue;
          total++;
          if (sam.values[k] < st.values[k]) flatter++;
        }
      }
      const s02 = bySeed(mine, "SAM-0.2", seed, file);
      if (s02) {
        cmp.push(
          `seed ${seed}: sharpness at ρ=0.1 ST ${g3(st.values["sharpness_0.1"])} vs SAM ρ=0.2 ${
            g3(s02.values["sharpness_0.1"])
          }; λ_max ${g3(st.values.lambda_max)} vs ${g3(s02.values.lambda_max)}`,
        );
      }
    }
    if (total > 0) {
      lines.push(
        `- **SAM against ST in weight space:** in ${flatter} of ${total} comparisons (each SAM row against ST of its seed; ` +
          `sharpness ρ=0.1, m-sharpness ρ=0.1, λ_max) the SAM model is flatter. ${cmp.join("; ")}.`,
      );
    }
    // 2. AT in weight space
    const atRows = mine.filter((r) => r.row.group === "AT-linf" || r.row.group === "AT-l2");
    for (const at of atRows) {
      const st = bySeed(mine, "ST", at.seed, file);
      const sam = bySeed(mine, "SAM-0.2", at.seed, file);
      if (!st) continue;
      const k = "sharpness_0.1";
      const acc = (
        r: RunMeasures | undefined,
      ) => (r ? `${pct(r.robust.pgd10_linf_8_255) ?? "n/a"}%` : "n/a");
      lines.push(
        `- **${at.row.label} (seed ${at.seed})**: PGD-10 L∞ 8/255 accuracy ${acc(at)} (ST ${
          acc(st)
        }${sam ? `, SAM ρ=0.2 ${acc(sam)}` : ""}); sharpness ρ=0.1 ${g3(at.values[k])} ` +
          `(ST ${g3(st.values[k])}${sam ? `, SAM ρ=0.2 ${g3(sam.values[k])}` : ""}), λ_max ${
            g3(at.values.lambda_max)
          } ` +
          `(ST ${g3(st.values.lambda_max)}${
            sam ? `, SAM ρ=0.2 ${g3(sam.values.lambda_max)}` : ""
          }) and mean ‖∇ₓL‖₁ ` +
          `${g3(at.values.grad_l1)} (ST ${g3(st.values.grad_l1)}${
            sam ? `, SAM ρ=0.2 ${g3(sam.values.grad_l1)}` : ""
          }).`,
      );
    }
    // 3. correlations
    const c = (subset: string, measure: string, robust = "PGD-10 L∞ 8/255") =>
      corr.find((x) =>
        x.subset === `${file}: ${subset}` && x.measure === measure && x.robust === robust
      );
    for (const subset of ["all runs", "ST + SAM only"]) {
      const parts = ["sharpness ρ=0.1", "λ_max of the Hessian", "Hessian trace", "mean ‖∇ₓL‖₁"].map(
        (m) => {
          const x = c(subset, m);
          return x
            ? `${m}: ${f2(x.spearman)} [${f2(x.ci.lo)}, ${f2(x.ci.hi)}], p = ${
              fp(x.p)
            } (n = ${x.n})`
            : null;
        },
      ).filter((s) => s !== null);
      if (parts.length) {
        lines.push(
          `- **Spearman with PGD-10 L∞ 8/255 robust accuracy, ${subset}** (95% bootstrap interval, exact permutation p): ${
            parts.join("; ")
          }.`,
        );
      }
    }
  }
  // 4. Section 3
  const own = eq.filter((e) => e.row.startsWith("SAM"));
  if (own.length) {
    const minRatio = Math.min(...own.map((e) => e.atLinf8OverSam));
    const maxRatio = Math.max(...own.map((e) => e.atLinf8OverSam));
    const res = own.map((e) => e.residual);
    const ls = own.map((e) => e.lsLinf_255);
    lines.push(
      `\n**All files:**\n\n- **Section 3, the first layer:** for the SAM models at their own ρ, AT's L∞ 8/255 PGD perturbation changes the first layer's ` +
        `pre-activations ${f2(minRatio)}–${
          f2(maxRatio)
        }× as much (in L2 norm, median over images) as SAM's weight perturbation does ` +
        `(its first-layer share is ${f2(Math.min(...own.map((e) => e.share)))}–${
          f2(Math.max(...own.map((e) => e.share)))
        } of ‖e‖). ` +
        `The best input perturbation reproducing SAM's feature change leaves ${
          f2(Math.min(...res))
        }–${f2(Math.max(...res))} of it unexplained ` +
        `(relative residual), and the part it does explain is an input change of L∞ size ${
          f2(Math.min(...ls))
        }–${f2(Math.max(...ls))}/255.`,
    );
  }
  return lines.join("\n").trim();
}

export { LANDSCAPE_ROWS };

/** The method and settings of every measure, as the notebook states them. */
export function settingsMarkdown(s: MeasureSettings): string {
  const rhos = s.rhos.join(", ");
  return [
    `| measure | how | settings |`,
    `|---|---|---|`,
    `| data | each run's own training subset (train_size, subset_seed of its results row); from it a fixed class-stratified subset, the same images for every run of a file | ${s.trainImages} training images (seed ${s.seed}) in chunks of ${s.batchSize}; weight-space losses in **${s.mode}** mode (batch statistics, as SAM's two passes see the loss; running statistics untouched); input-space measures on the first test images in eval mode |`,
    `| worst-case sharpness | max over ‖δ‖₂ ≤ ρ of L(w+δ) − L(w): SAM's step ρ g/‖g‖, then ${
      s.steps - 1
    } projected normalised ascent steps of ρ/2; the best iterate (a lower bound of the maximum) | ρ ∈ {${rhos}} over all ${s.trainImages} images with one δ |`,
    `| m-sharpness | the same per chunk (own δ per batch of m, as SAM during training), averaged | m = ${s.batchSize}, ρ ∈ {${
      s.mRhos.join(", ")
    }} |`,
    `| adaptive sharpness (ASAM) | δ = \\|w\\| ⊙ u, ‖u‖₂ ≤ ρ | ρ ∈ {${
      s.adaptiveRhos.join(", ")
    }} |`,
    `| λ_max, λ_min | Lanczos (full reorthogonalisation) on Hessian-vector products by central finite differences of gradients, Hv ≈ (g(w+hv) − g(w−hv))/2h | ${s.hessianImages} images, h = ${s.fdStep}, at most ${s.powerIters} iterations, stop at relative residual bound < ${s.powerTol}; the Rayleigh quotient of the top vector is re-measured at h/3 and 3h |`,
    `| Hessian trace | Hutchinson: mean of zᵀHz over Rademacher probes z, ± its standard error | ${s.probes} probes, same h and images |`,
    `| input gradients | mean over test images of ‖∇ₓ l(x, y)‖₁ and ‖∇ₓ l(x, y)‖₂ of each image's own loss (pixel units) | ${s.testImages} test images, eval mode |`,
    `| loss along the PGD direction | δ = PGD-10 L∞ ${
      Math.round(s.lineEps * 255)
    }/255 (step ε/4, random start) per image; mean loss at x + (ε'/ε)δ for ε' from 0 to 2ε, clipped to [0, 1]; the same along a random sign direction | ${s.pgdImages} test images |`,
    `| Section 3 at the first layer | SAM's perturbation e from one training batch's gradient (train mode); its first-layer part e₁; feature change a = conv(z, e₁); least-squares input perturbation reproducing a (conjugate gradients, 40 iterations); AT's PGD-10 L∞ 8/255 and L2 128/255 perturbations' feature change conv(δₓ/std, W) on the same images | ${s.equivalenceImages} training images |`,
    `| landscapes | L(w + αd₁ + βd₂) along filter-normalised Gaussian directions (Li et al. 2018; BatchNorm and bias directions zero) | ${s.landscapeImages} images, ${s.landscapePoints1d} points for 1-D, ${s.landscapePoints2d}×${s.landscapePoints2d} for 2-D, α, β ∈ [−${s.landscapeSpan}, ${s.landscapeSpan}]; for ${
      LANDSCAPE_ROWS.join(", ")
    } |`,
  ].join("\n");
}

/** How each results file was measured now (computed or read from its cache). */
export function filesMarkdown(data: MechanismData): string {
  if (data.files.length === 0) {
    return "No results file has saved models yet (results/models/<name>/*.safetensors): nothing to measure. Run `bin/deno task experiment` first.";
  }
  return data.files.map((f) =>
    `- \`${f.path}\`: ${f.runs} run(s) with a model file; ${f.computed} measure group(s) computed now, ${f.read} read from \`${
      f.path.replace(/\.csv$/, ".sharpness.csv")
    }\` (${f.seconds.toFixed(0)} s).`
  ).join("\n");
}

function medianOf(a: number[]): number {
  const s = a.filter(Number.isFinite).sort((x, y) => x - y);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Among ST and SAM only: do the weight-space and input-space measures order the runs alike? */
function stSamSentence(corr: readonly CorrelationRow[]): string {
  const rows = corr.filter((c) =>
    c.subset.endsWith(": ST + SAM only") && c.robust === "PGD-10 L∞ 8/255"
  );
  const files = [...new Set(rows.map((c) => c.subset.split(":")[0]))];
  const parts = files.map((file) => {
    const mine = rows.filter((c) => c.subset.startsWith(`${file}:`));
    const pick = (m: string) => mine.find((c) => c.measure === m);
    const shown = ["sharpness ρ=0.1", "λ_max of the Hessian", "mean ‖∇ₓL‖₁"].map(pick).filter((c) =>
      c
    );
    const n = mine[0]?.n ?? 0;
    let fact = 1;
    for (let k = 2; k <= n; k++) fact *= k;
    const same = shown.every((c) => c!.spearman === shown[0]!.spearman);
    return `${file} (n = ${n}, smallest possible exact p ${n <= 8 ? fp(2 / fact) : "< 0.001"}): ` +
      shown.map((c) => `${c!.measure} ${f2(c!.spearman)} (p = ${fp(c!.p)})`).join(", ") +
      (same ? " — the same ordering, so these runs cannot tell the measures apart" : "");
  });
  return parts.length
    ? `Among ST and SAM only (SAM's ρ moves every measure and the robustness together): ${
      parts.join("; ")
    }.`
    : "";
}

/**
 * The plain reading of the numbers against the paper's explanation, one paragraph per question;
 * every sentence is chosen by the numbers (thresholds stated in the text).
 */
export function verdictMarkdown(
  records: readonly RunMeasures[],
  corr: readonly CorrelationRow[],
  eq: readonly EquivalenceRow[],
): string {
  if (records.length === 0) return "No measured runs: nothing to conclude.";
  const out: string[] = [];
  const isAt = (r: RunMeasures) => r.row.group === "AT-linf" || r.row.group === "AT-l2";
  // 1. SAM flatter than ST, and more so with rho?
  let flatter = 0, pairs = 0, monotone = 0, chains = 0;
  for (const file of new Set(records.map((r) => r.results))) {
    for (const seed of new Set(records.filter((r) => r.results === file).map((r) => r.seed))) {
      const st = bySeed(records, "ST", seed, file);
      const sams = ["SAM-0.05", "SAM-0.1", "SAM-0.2"].map((id) => bySeed(records, id, seed, file));
      if (!st) continue;
      for (const s of sams) {
        if (!s) continue;
        pairs++;
        if (
          s.values["sharpness_0.1"] < st.values["sharpness_0.1"] &&
          s.values.lambda_max < st.values.lambda_max
        ) flatter++;
      }
      if (sams.every((s) => s)) {
        chains++;
        const seq = [st, ...sams].map((r) => r!.values["sharpness_0.1"]);
        if (seq.every((v, i) => i === 0 || v < seq[i - 1])) monotone++;
      }
    }
  }
  if (pairs > 0) {
    out.push(
      `**1. Is SAM flatter than ST?** ${
        flatter === pairs ? "Yes" : flatter > pairs / 2 ? "Mostly" : "No"
      }: ` +
        `${flatter} of ${pairs} SAM models have both a smaller worst-case sharpness (ρ = 0.1) and a smaller λ_max than ST of their seed` +
        (chains
          ? `, and in ${monotone} of ${chains} seed(s) the sharpness falls with every step ST → ρ 0.05 → 0.1 → 0.2, while robust accuracy rises along the same steps.`
          : ".") +
        " This is what SAM optimises, so it confirms the measures work more than it explains robustness.",
    );
  }
  // 2. Does flatness explain AT's much larger robustness?
  const rk = "pgd10_linf_8_255";
  const ats = records.filter((r) => isAt(r) && Number.isFinite(r.robust[rk]));
  const notFlatter: string[] = [];
  for (const at of ats) {
    const sam = records.filter((r) =>
      r.results === at.results && r.seed === at.seed &&
      (r.row.group === "SAM" || r.row.group === "ASAM")
    );
    const flattest = sam.filter((s) =>
      s.values.lambda_max <= at.values.lambda_max ||
      s.values["sharpness_0.1"] <= at.values["sharpness_0.1"]
    );
    const moreRobustThanAll = sam.length > 0 &&
      sam.every((s) => at.robust[rk] > s.robust[rk] + 0.05);
    if (flattest.length && moreRobustThanAll) {
      notFlatter.push(
        `${at.row.label} (${at.results}, seed ${at.seed}: ${
          pct(at.robust[rk])
        }% at L∞ 8/255, λ_max ${g3(at.values.lambda_max)}, sharpness ${
          g3(at.values["sharpness_0.1"])
        }) against ${
          flattest.map((s) =>
            `${s.row.label} (${pct(s.robust[rk])}%, λ_max ${g3(s.values.lambda_max)}, sharpness ${
              g3(s.values["sharpness_0.1"])
            })`
          ).join(", ")
        }`,
      );
    }
  }
  if (ats.length) {
    out.push(
      `**2. Does weight-space flatness explain robustness across methods?** ` +
        (notFlatter.length
          ? `No. AT models more than 5 points more robust than every SAM/ASAM model of their seed (PGD-10 L∞ 8/255) are not flatter than some of those models: ${
            notFlatter.join("; ")
          }. ` +
            `Whatever makes AT robust is not weight-space flatness of the clean training loss, and flatness alone cannot be why SAM is robust either, unless it works differently for SAM than for AT.`
          : `Within these runs the AT models are also the flattest, so flatness and robustness are not separated here.`),
    );
  }
  // 3. Input gradients
  const weightMeasures = MEASURES.filter((m) => m.space === "weight").map((m) => m.label);
  const allRuns = corr.filter((c) =>
    c.subset.endsWith(": all runs") && c.robust === "PGD-10 L∞ 8/255"
  );
  const best = [...allRuns].sort((a, b) => a.spearman - b.spearman)[0];
  const input = allRuns.filter((c) => c.measure === "mean ‖∇ₓL‖₁");
  const weightBest =
    allRuns.filter((c) => weightMeasures.includes(c.measure)).sort((a, b) =>
      a.spearman - b.spearman
    )[0];
  if (best) {
    const bestIsInput = best.measure === "mean ‖∇ₓL‖₁";
    out.push(
      `**3. What does track robustness?** Over all runs of a file the strongest rank correlation with PGD-10 L∞ 8/255 accuracy is ${best.measure} ` +
        `(${f2(best.spearman)} [${f2(best.ci.lo)}, ${f2(best.ci.hi)}], p = ${
          fp(best.p)
        }, n = ${best.n}, ${best.subset.split(":")[0]}). ` +
        (input.length && !(bestIsInput && input.length === 1)
          ? `The input-gradient norm ‖∇ₓL‖₁: ${
            input.map((c) =>
              `${f2(c.spearman)} (p = ${fp(c.p)}, n = ${c.n}, ${c.subset.split(":")[0]})`
            ).join("; ")
          }. `
          : "") +
        (weightBest
          ? `The best weight-space measure: ${weightBest.measure}, ${f2(weightBest.spearman)} [${
            f2(weightBest.ci.lo)
          }, ${f2(weightBest.ci.hi)}], p = ${fp(weightBest.p)} (${
            weightBest.subset.split(":")[0]
          }). `
          : "") +
        `Input-space steepness is what a first-order attack reads (the loss rises by about ε‖∇ₓL‖₁ at L∞ radius ε), so its correlation is expected; ` +
        `the open question is whether SAM lowers it through weight-space flatness. ` +
        stSamSentence(corr),
    );
  }
  // How many pairs of models does the Hutchinson trace separate (difference beyond 2 combined SE)?
  const tr = records.filter((r) =>
    Number.isFinite(r.values.hessian_trace) && Number.isFinite(r.values.trace_se)
  );
  let separated = 0, trPairs = 0;
  for (let i = 0; i < tr.length; i++) {
    for (let j = i + 1; j < tr.length; j++) {
      if (tr[i].results !== tr[j].results) continue;
      trPairs++;
      const d = Math.abs(tr[i].values.hessian_trace - tr[j].values.hessian_trace);
      if (d > 2 * Math.hypot(tr[i].values.trace_se, tr[j].values.trace_se)) separated++;
    }
  }
  if (trPairs > 0) {
    const rel = medianOf(tr.map((r) => r.values.trace_se / Math.abs(r.values.hessian_trace)));
    out.push(
      `**The Hessian trace** (Hutchinson, ${DEFAULT_SETTINGS.probes} Rademacher probes) separates ${separated} of ${trPairs} pairs of models of the same file ` +
        `by more than 2 combined standard errors (median relative standard error ${f2(rel)}); ` +
        (separated < trPairs / 2
          ? "most of its differences between models are probe noise, so its correlations are not evidence either way."
          : `the other ${trPairs - separated} pairs are within probe noise.`),
    );
  }
  // 4. Section 3
  const own = eq.filter((e) => e.row.startsWith("SAM"));
  if (own.length) {
    const res = medianOf(own.map((e) => e.residual));
    const ratio = own.map((e) => e.atLinf8OverSam);
    const l2ratio = own.map((e) => e.atL2_128OverSam);
    const weaker = Math.min(...ratio) > 1 && Math.min(...l2ratio) > 1;
    out.push(
      `**4. Section 3: is SAM's perturbation a weaker input perturbation?** Weaker, yes: at the first layer, AT's PGD perturbations at its training radii change the ` +
        `pre-activations ${f2(Math.min(...ratio))}–${f2(Math.max(...ratio))}× (L∞ 8/255) and ${
          f2(Math.min(...l2ratio))
        }–${f2(Math.max(...l2ratio))}× (L2 128/255) as much as ` +
        `SAM's weight perturbation at the SAM rows' own ρ` +
        (weaker ? "" : " (not in every case: see the table)") + `. ` +
        `But an input perturbation, no: the best input change reproduces ${
          f2(1 - res)
        } of SAM's feature change (median relative residual ${f2(res)}); ` +
        `the first layer has more output channels than input pixels, so (W + δ_W) z = W (z + δ_z) has no solution for almost every δ_W. ` +
        (res > 0.9
          ? "The paper's picture of SAM as an implicit input-space augmentation is, at the one layer where it can be tested exactly, almost entirely not one: SAM perturbs features in directions no input perturbation reaches. Its being weaker than AT in size does match the paper's claim, and the ordering of robustness (AT ≫ SAM > ST)."
          : "A substantial part of SAM's feature perturbation is an input perturbation, as the paper's picture has it."),
    );
  }
  return out.join("\n\n");
}
