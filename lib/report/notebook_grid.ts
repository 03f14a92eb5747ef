/**
 * One of our grids as a page: what the cells of `table_fashion_mnist` (preset default: trains what
 * is missing), `table_fashion_mnist_full` (preset full: reads only) and the CIFAR-10 (JPEG q75
 * copy) section of `table2_cifar10` (preset cifar10-jpeg/cpu: reads only) call, and README's
 * generated findings. Every number it shows is ours, except paperClaimsMarkdown's, which are the
 * paper's CIFAR numbers (said there).
 */
import { threatLabel } from "../attacks/attack.ts";
import type { DatasetName } from "../data/dataset.ts";
import { datasetSpec } from "../data/registry.ts";
import { type EvalColumn, evalColumns, PAPER_COLUMNS } from "../experiments/columns.ts";
import { planGrid, shownPath } from "../experiments/plan.ts";
import { getPreset, type Preset } from "../experiments/presets.ts";
import { readEvals, readResults, type ResultRow } from "../experiments/results.ts";
import { runGrid } from "../experiments/runner.ts";
import { planTable, wideRows } from "../experiments/table.ts";
import {
  type AttackGap,
  attackGaps,
  autoattackColumns,
  autoattackSummaries,
  gapRecords,
  gapsByFamily,
  tableColumns,
} from "../analysis/autoattack_view.ts";
import { detectableEffects } from "../analysis/detectable.ts";
import { maskingChecksOfResults } from "../analysis/masking.ts";
import {
  checkClaims,
  type ClaimCheck,
  costRatios,
  formatPct,
  PAPER_STD_BOUND,
  paperSummaries,
  type RowSummary,
  summarize,
  tableRecords,
} from "../analysis/summary.ts";
import { claimsMarkdown, claimStatement, costStatements } from "./claim_text.ts";
import { costChart, robustVsEpsChart, tradeoffChart } from "./charts.ts";
import type { Chart } from "./notebook.ts";
import { noiseMarkdown } from "./report_text.ts";

const env = (k: string) => Deno.env.get(k) || undefined;
const pgdOnly = (cols: readonly EvalColumn[]) => cols.filter((c) => c.attack !== "autoattack");

/** The preset and the knobs read from the environment (SAM_AT_SEEDS, SAM_AT_ROWS, ...). */
export interface Settings {
  preset: Preset;
  /** Unset: each row's own seeds (the full preset runs some rows on seed 0 only). */
  seeds?: string;
  rows: string;
  resultsPath?: string;
  workers: string;
  allColumns: EvalColumn[];
  columns: EvalColumn[];
}

/** The preset's settings; with `fromEnv` (the notebooks) the knobs narrow the grid. */
export function settings(
  presetName: string,
  fromEnv = true,
  dataset: DatasetName = "fashion-mnist",
): Settings {
  const preset = getPreset(dataset, presetName);
  const allColumns = evalColumns(preset.evals);
  const get = (k: string) => (fromEnv ? env(k) : undefined);
  return {
    preset,
    seeds: get("SAM_AT_SEEDS"),
    rows: get("SAM_AT_ROWS") ?? "all",
    resultsPath: get("SAM_AT_RESULTS"),
    workers: get("SAM_AT_WORKERS") ?? "auto",
    allColumns,
    columns: tableColumns(allColumns),
  };
}

export interface Loaded {
  plan: ReturnType<typeof planGrid>;
  rows: ResultRow[];
  evals: Map<string, Map<string, ResultRow>>;
  /** One line on what was trained or read, and what is left. */
  markdown: string;
}

function gridOptions(s: Settings) {
  return {
    dataset: s.preset.dataset,
    preset: s.preset.name,
    rows: s.rows,
    seeds: s.seeds,
    resultsPath: s.resultsPath,
  };
}

/** Read what is finished (trains nothing), and say what is left. */
export function load(s: Settings): Loaded {
  const plan = planGrid(gridOptions(s));
  const rows = plan.runs.map((r) => plan.existing.get(r.runKey)).filter((r): r is ResultRow => !!r);
  const pending = plan.runs.filter((r) => r.status !== "done" || r.missingEvals.length);
  const head = `${rows.length} of ${plan.runs.length} planned runs are trained (\`${
    shownPath(plan.resultsPath)
  }\`); `;
  const markdown = pending.length === 0
    ? head + "none has work left."
    : head + `${pending.length} ${pending.length === 1 ? "has" : "have"} work left:\n\n` +
      pending.map((r) =>
        `- ${r.row.id} seed ${r.seed}: ${
          r.status === "done"
            ? `evaluate ${r.missingEvals.map((e) => e.eval.key).join(", ")}`
            : r.status
        }`
      ).join("\n");
  return { plan, rows, evals: plan.evals, markdown };
}

/** The default preset trains what is missing; the full preset (hours) only reads. */
export async function runOrLoad(s: Settings): Promise<Loaded> {
  if (s.preset.name !== "default") return load(s);
  const g = await runGrid({ ...gridOptions(s), workers: s.workers as "auto" });
  return {
    plan: g.plan,
    rows: g.rows,
    evals: g.evals,
    markdown:
      `${g.rows.length} of ${g.plan.runs.length} planned runs have results: ${g.trained} trained now, ${g.skipped} loaded from \`${
        shownPath(g.plan.resultsPath)
      }\`.`,
  };
}

/** Everything the page computes from the loaded results. */
export interface Page {
  s: Settings;
  loaded: Loaded;
  summaries: RowSummary[];
  finishedRuns: ResultRow[];
  evalsCsv: ResultRow[];
  gaps: AttackGap[];
  pgdClaims: ClaimCheck[];
  aaClaims: ClaimCheck[];
  aaColumns: EvalColumn[];
}

export function page(s: Settings, loaded: Loaded): Page {
  const summaries = summarize(wideRows(loaded.rows, loaded.evals), s.allColumns);
  const runsCsv = readResults(loaded.plan.resultsPath);
  const evalsCsv = readEvals(loaded.plan.resultsPath);
  const finishedRuns = runsCsv.filter((r) => loaded.rows.some((g) => g.run_key === r.run_key));
  const gaps = attackGaps(finishedRuns, evalsCsv);
  const aaCols = autoattackColumns(s.allColumns);
  const aaClaims = aaCols.length && gaps.length
    ? checkClaims(autoattackSummaries(summaries, s.allColumns), [
      ...s.allColumns.filter((c) => c.key === "clean"),
      ...aaCols,
    ]).filter((c) => c.id === "1a" || c.id === "2a")
    : [];
  return {
    s,
    loaded,
    summaries,
    finishedRuns,
    evalsCsv,
    gaps,
    pgdClaims: checkClaims(summaries, pgdOnly(s.columns)),
    aaClaims,
    aaColumns: aaCols,
  };
}

/**
 * The main table: mean ± std per row; beside each AutoAttack column, PGD-10 at the same threat on
 * AutoAttack's own points and seed (else AutoAttack on 200 points sits beside PGD-10 on all of
 * them, and a lucky subset can put AutoAttack above PGD-10).
 */
export function mainTable(p: Page): Record<string, string>[] {
  const recs = tableRecords(p.summaries, p.s.columns);
  return recs.map((rec, i) => {
    const s = p.summaries[i];
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(rec)) {
      const col = p.s.columns.find((c) => c.label === k);
      if (col?.attack === "autoattack" && col.norm && col.eps !== undefined) {
        const threat = threatLabel(col.norm, col.eps);
        const g = p.gaps.find((x) => x.rowId === s.row.id && x.threat === threat);
        out[`PGD-10 ${threat} [same ${g?.n ?? col.limit ?? "?"} pts, seed ${g?.seed ?? 0}]`] = g
          ? (100 * g.pgd10).toFixed(1)
          : "–";
      }
      out[k] = v;
    }
    return out;
  });
}

export function detectableTable(p: Page) {
  return detectableEffects(p.summaries, p.s.columns).map((d) => ({
    column: d.label,
    seeds: d.seeds,
    test_points: d.testSize,
    "min. detectable (points)": (100 * d.mde).toFixed(1),
  }));
}

/** "Fashion-MNIST, ours" — the page's data, for claim sentences and chart titles. */
const where = (p: Page) => `${datasetSpec(p.s.preset.dataset).title}, ours`;

/** The columns the PGD-10 claims are checked on (clean and PGD-10). */
export function pgdColumns(p: Page): EvalColumn[] {
  return pgdOnly(p.s.columns);
}

/** The sampling-noise paragraph for the PGD-10 columns. */
export function noiseText(p: Page): string {
  return noiseMarkdown(p.summaries, pgdOnly(p.s.columns));
}

export function pgdClaimsMarkdown(p: Page): string {
  return claimsMarkdown(p.pgdClaims, pgdOnly(p.s.columns), `${where(p)}, PGD-10`);
}

export function gapTable(p: Page) {
  const labelOf = (id: string) => p.summaries.find((s) => s.row.id === id)?.row.label ?? id;
  return gapRecords(p.gaps, labelOf);
}

export function gapMarkdown(p: Page): string {
  if (!p.gaps.length) return "No AutoAttack results yet: no gaps to summarise.";
  return [...gapsByFamily(p.gaps, p.summaries)].map(([f, v]) =>
    `- **${f}**: PGD-10 − AutoAttack is ${
      (100 * v.reduce((a, b) => a + b, 0) / v.length).toFixed(1)
    } points on average (${v.length} run × threat; range ${(100 * Math.min(...v)).toFixed(1)} to ${
      (100 * Math.max(...v)).toFixed(1)
    }).`
  ).join("\n");
}

export function masking(p: Page) {
  const checks = maskingChecksOfResults(p.finishedRuns, p.evalsCsv, p.summaries[0]?.testSize ?? 0);
  const runOf = (k: string) => p.finishedRuns.find((r) => r.run_key === k);
  const failed = checks.flatMap((c) =>
    c.checks.filter((k) => !k.passed).map((k) => ({
      run: runOf(c.runKey)?.run_id,
      threat: c.threat,
      check: k.name,
      detail: k.detail,
    }))
  );
  const total = checks.reduce((s, c) => s + c.checks.length, 0);
  const markdown = checks.length
    ? `${checks.length} AutoAttack evaluations, ${total} checks: **${failed.length} failed**.` +
      (failed.length
        ? " The failures are listed below; a failed check means that column's robustness may be overstated."
        : " No sign of gradient masking in any run; each evaluation's checks are below.")
    : "No AutoAttack evaluations yet: no checks.";
  const rows = failed.length ? failed : checks.map((c) => ({
    run: runOf(c.runKey)?.row_id,
    threat: c.threat,
    points: c.n,
    ...Object.fromEntries(c.checks.map((k) => [k.name, k.passed ? "pass" : "FAIL"])),
  }));
  return { markdown, rows };
}

export function aaClaimsMarkdown(p: Page): string {
  return p.aaClaims.length
    ? claimsMarkdown(p.aaClaims, p.aaColumns, `${where(p)}, AutoAttack`)
    : "No AutoAttack results yet: the claims are checked under PGD-10 only.";
}

export function cost(p: Page) {
  const ratios = costRatios(p.summaries);
  return {
    markdown: ratios.length
      ? costStatements(ratios).map((s) => `- ${s}`).join("\n")
      : "No ST row: no cost ratios.",
    rows: ratios.map((r) => ({
      row: r.row,
      seconds_per_epoch: r.epochSeconds.mean.toFixed(2) +
        (Number.isFinite(r.epochSeconds.std) ? ` ± ${r.epochSeconds.std.toFixed(2)}` : ""),
      relative_to_ST: r.ratio.toFixed(2),
      passes_per_step: r.passes,
      paper_says: r.paperClaim ? `≈ ${r.paperClaim}x` : "not stated",
      load_avg_1m: (p.summaries.find((s) => s.row.id === r.row)?.loadAvg.mean ?? NaN).toFixed(2),
    })),
    chart: costChart(ratios, `Training time per epoch relative to ST (${where(p)})`),
  };
}

export function charts(p: Page): Chart[] {
  const wanted = ["pgd10_linf_2_255", "pgd10_linf_8_255", "pgd10_l2_32_255", "pgd10_l2_128_255"];
  const panels = wanted.map((k) => p.s.columns.find((c) => c.key === k)).filter((
    c,
  ): c is EvalColumn => !!c);
  const pgd = p.s.columns.filter((c) => c.key === "clean" || c.key.startsWith("pgd10_"));
  return [
    tradeoffChart(
      p.summaries,
      panels,
      `Clean vs robust accuracy under PGD-10 (${where(p)}; error bars: std over seeds)`,
    ),
    robustVsEpsChart(
      p.summaries,
      pgd,
      `Accuracy under PGD-10 against the radius (${where(p)})`,
    ),
  ];
}

/** The full preset beside the default one: same rows, both ours. */
export function besideDefault(p: Page) {
  const defPlan = planGrid({ dataset: "fashion-mnist", preset: "default" });
  const defAll = evalColumns(defPlan.preset.evals);
  const defSummaries = summarize(planTable(defPlan), defAll);
  const side = ["clean", "pgd10_linf_8_255", "pgd10_l2_128_255"];
  const rows = p.summaries.filter((s) => defSummaries.some((d) => d.row.id === s.row.id)).map(
    (s) => {
      const d = defSummaries.find((x) => x.row.id === s.row.id)!;
      const rec: Record<string, string> = { row: s.row.label };
      for (const k of side) {
        const label = p.s.columns.find((c) => c.key === k)?.label ?? k;
        rec[`${label} default`] = formatPct(d.metrics[k]);
        rec[`${label} full`] = formatPct(s.metrics[k]);
      }
      return rec;
    },
  );
  const defCols = pgdOnly(tableColumns(defAll));
  const defClaims = checkClaims(defSummaries, defCols);
  const markdown = (["1a", "1b", "2a", "2b"] as const).map((id) => {
    const d = defClaims.find((c) => c.id === id), f = p.pgdClaims.find((c) => c.id === id);
    return `- **${id}** — default: ${d ? claimStatement(d, defCols) : "not checked"} — **full**: ${
      f ? claimStatement(f, pgdOnly(p.s.columns)) : "not checked"
    }`;
  }).join("\n");
  return { rows, markdown };
}

/** The claims checked on the paper's own CIFAR numbers (the paper's, not ours). */
export function paperClaimsMarkdown(): string {
  return (["cifar10", "cifar100"] as const).map((ds) =>
    claimsMarkdown(
      checkClaims(paperSummaries(ds), PAPER_COLUMNS, PAPER_STD_BOUND),
      PAPER_COLUMNS,
      `the paper's ${ds === "cifar10" ? "CIFAR-10, Table 2" : "CIFAR-100, Table 1"}`,
    )
  ).join("\n\n");
}
