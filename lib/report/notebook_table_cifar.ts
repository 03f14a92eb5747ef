/**
 * The notebooks `table1_cifar100` and `table2_cifar10`: the paper's Table 1 or 2, and our numbers
 * for a dataset beside it once results exist (a function of dataset and preset, so Table 2 can
 * show CIFAR-10 and the CIFAR-10 (JPEG q75 copy) runs alike). These notebooks never train.
 */
import type { DatasetName } from "../data/dataset.ts";
import { datasetSpec } from "../data/registry.ts";
import { type EvalColumn, evalColumns, PAPER_COLUMNS } from "../experiments/columns.ts";
import { type GridPlan, planGrid, shownPath } from "../experiments/plan.ts";
import { DEFAULT_PRESET, PRESETS } from "../experiments/presets.ts";
import { planTable } from "../experiments/table.ts";
import {
  checkClaims,
  type ClaimCheck,
  costRatios,
  formatPct,
  PAPER_STD_BOUND,
  paperSummaries,
  type RowSummary,
  summarize,
} from "../analysis/summary.ts";
import { claimsMarkdown, costStatements } from "./claim_text.ts";
import { cifarMissingMarkdown, noiseMarkdown, presetMarkdown } from "./report_text.ts";
import { costChart, robustVsEpsChart, tradeoffChart } from "./charts.ts";
import type { Chart } from "./notebook.ts";

/** Our results for one dataset: the first of its presets (paper, then cpu, ...) that has any. */
export interface Ours {
  dataset: DatasetName;
  title: string;
  /** The plan whose results were found, or undefined when none of ours exist. */
  found?: GridPlan;
  /** Every preset's plan, in the order looked at. */
  plans: GridPlan[];
  columns: EvalColumn[];
  summaries: RowSummary[];
  claims: ClaimCheck[];
}

/** The presets looked at: the paper's protocol first, then the others (cpu, ...). */
function presetOrder(dataset: DatasetName): string[] {
  const names = Object.keys(PRESETS[dataset]);
  return [...names.filter((n) => n === "paper"), ...names.filter((n) => n !== "paper")];
}

export function ours(dataset: DatasetName, preset?: string): Ours {
  const names = preset ? [preset] : presetOrder(dataset);
  const plans = names.map((name) => planGrid({ dataset, preset: name }));
  const found = plans.find((p) => p.existing.size > 0);
  const columns = found ? evalColumns(found.preset.evals) : [...PAPER_COLUMNS];
  const summaries = found ? summarize(planTable(found), columns) : [];
  return {
    dataset,
    title: datasetSpec(dataset).title,
    found,
    plans,
    columns,
    summaries,
    claims: found ? checkClaims(summaries, columns) : [],
  };
}

/** Where our numbers come from, or plainly that none exist yet and how to produce them. */
export function oursMarkdown(o: Ours, notebook: string): string {
  if (o.found) {
    const f = o.found;
    return `**Ours, ${o.title}:** ${f.existing.size} of ${f.runs.length} runs of preset \`${f.preset.name}\` in \`${
      shownPath(f.resultsPath)
    }\`.\n\n${presetMarkdown(f.preset)}`;
  }
  const plan = o.plans.find((p) => p.preset.name === DEFAULT_PRESET[o.dataset]) ?? o.plans[0];
  return cifarMissingMarkdown(o.dataset, plan.datasetAbsent ?? null, plan, notebook);
}

export function paperTable(dataset: "cifar10" | "cifar100") {
  return paperSummaries(dataset).map((s) => ({
    row: s.row.label,
    ...Object.fromEntries(PAPER_COLUMNS.map((c) => [c.label, formatPct(s.metrics[c.key])])),
  }));
}

/** Ours beside the paper's, with Δ = ours − paper in points; [] when none of ours exist. */
export function besidePaper(o: Ours, paperDataset: "cifar10" | "cifar100") {
  const paper = paperSummaries(paperDataset);
  return o.summaries.map((s) => {
    const p = paper.find((q) => q.row.id === s.row.id);
    const rec: Record<string, string> = { row: s.row.label, seeds: String(s.seeds.length) };
    for (const c of PAPER_COLUMNS) {
      const mine = s.metrics[c.key];
      rec[`${c.label} (paper)`] = p ? (100 * p.metrics[c.key].mean).toFixed(1) : "–";
      rec[`${c.label} (ours)`] = formatPct(mine);
      rec[`${c.label} Δ`] = p && mine && Number.isFinite(mine.mean)
        ? (100 * (mine.mean - p.metrics[c.key].mean)).toFixed(1)
        : "–";
    }
    return rec;
  });
}

export function besidePaperMarkdown(o: Ours): string {
  return o.found
    ? `**${o.title}, preset \`${o.found.preset.name}\`** (paper = the paper's Table; ours = this project's runs).\n\n` +
      noiseMarkdown(o.summaries, o.columns)
    : `**${o.title}:** no numbers of ours exist yet, so there is nothing to put beside the paper's.`;
}

export function oursClaimsMarkdown(o: Ours): string {
  return o.found
    ? claimsMarkdown(o.claims, o.columns, `ours, ${o.title}, preset ${o.found.preset.name}`)
    : `**${o.title}:** no numbers of ours exist yet, so no claim is checked on ours.`;
}

export function oursCost(o: Ours): { markdown: string; chart?: Chart } {
  if (!o.found) {
    return {
      markdown:
        `**${o.title}:** no numbers of ours exist yet, so no cost is measured. The paper says SAM ≈ 2x and 10-step PGD AT ≈ 10x ST.`,
    };
  }
  const ratios = costRatios(o.summaries);
  return {
    markdown: costStatements(ratios).map((s) => `- ${s}`).join("\n") ||
      "No ST row: no cost ratios.",
    chart: ratios.length
      ? costChart(ratios, `Training time per epoch relative to ST (${o.title}, ours)`)
      : undefined,
  };
}

/** The paper's charts, then ours when they exist. */
export function charts(o: readonly Ours[], paperDataset: "cifar10" | "cifar100"): Chart[] {
  const paper = paperSummaries(paperDataset);
  const title = datasetSpec(paperDataset).title;
  const robust = PAPER_COLUMNS.filter((c) => c.key !== "clean");
  const out = [
    tradeoffChart(paper, robust, `Clean vs robust accuracy: the paper's ${title} numbers`),
    robustVsEpsChart(
      paper,
      PAPER_COLUMNS,
      `Accuracy under PGD-10 against the radius: the paper's ${title} numbers`,
    ),
  ];
  for (const x of o.filter((x) => x.found)) {
    const name = `${x.title}, preset ${x.found!.preset.name}`;
    out.push(
      tradeoffChart(
        x.summaries,
        robust,
        `Clean vs robust accuracy: ours (${name}; error bars: std over seeds)`,
      ),
      robustVsEpsChart(
        x.summaries,
        x.columns,
        `Accuracy under PGD-10 against the radius: ours (${name})`,
      ),
    );
  }
  return out;
}

/** The paper's claims checked on its own numbers (std: its stated bound). */
export function paperClaims(dataset: "cifar10" | "cifar100"): ClaimCheck[] {
  return checkClaims(paperSummaries(dataset), PAPER_COLUMNS, PAPER_STD_BOUND);
}
