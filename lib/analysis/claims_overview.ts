/**
 * The paper's three claims, checked for every dataset and preset the report covers: the claim
 * values (summary.ts's checkClaims) of our results files and of the paper's own tables, and, where
 * no numbers of ours exist, that plainly. The report's index renders this (lib/report/index_claims.ts).
 */
import type { DatasetName } from "../data/dataset.ts";
import { datasetSpec } from "../data/registry.ts";
import { evalColumns, PAPER_COLUMNS } from "../experiments/columns.ts";
import { planGrid } from "../experiments/plan.ts";
import { PRESETS } from "../experiments/presets.ts";
import { planTable } from "../experiments/table.ts";
import { tableColumns } from "./autoattack_view.ts";
import {
  checkClaims,
  type ClaimCheck,
  costChecks,
  costRatios,
  PAPER_STD_BOUND,
  paperSummaries,
  summarize,
} from "./summary.ts";

/** The paper's three claims, each decided by the claim checks named in `checks`. */
export const PAPER_CLAIMS = [
  {
    id: 1,
    text:
      "SAM alone, with no adversarial examples, raises adversarial robustness above standard training (ST).",
    checks: ["1a"],
  },
  {
    id: 2,
    text: "SAM keeps clean accuracy, where adversarial training (AT) loses it.",
    checks: ["1b", "2b"],
  },
  {
    id: 3,
    text:
      "AT gives far more robustness than SAM, at a far higher cost (10-step PGD AT about 10x ST per epoch, SAM about 2x).",
    checks: ["2a", "cost"],
  },
] as const;

/** The cost claim over both families: measured ratios to ST, and whether both are within ±30%. */
export interface CostSummary {
  sam?: number;
  at10?: number;
  holds: boolean;
}

export interface ClaimSource {
  /** "fashion-mnist/default (ours)", "cifar10 Table 2 (the paper's)", ... */
  title: string;
  whose: "ours" | "paper";
  dataset: DatasetName;
  preset?: string;
  /** The notebook (page) that shows the numbers, without extension. */
  notebook: string;
  /** Undefined when no numbers of ours exist for this dataset and preset. */
  claims?: ClaimCheck[];
  cost?: CostSummary;
  /** Runs found of those planned (ours). */
  runs?: { found: number; planned: number };
}

function costSummary(summaries: ReturnType<typeof summarize>): CostSummary | undefined {
  const checks = costChecks(costRatios(summaries));
  if (checks.length === 0) return undefined;
  return {
    sam: checks.find((c) => c.claim === 2)?.mean,
    at10: checks.find((c) => c.claim === 10)?.mean,
    holds: checks.every((c) => c.holds),
  };
}

const NOTEBOOK: Record<DatasetName, string> = {
  "fashion-mnist": "table_fashion_mnist",
  cifar10: "table2_cifar10",
  "cifar10-jpeg": "table2_cifar10",
  cifar100: "table1_cifar100",
};

/** Our results for one dataset and preset (PGD-10 columns). */
export function oursSource(dataset: DatasetName, preset: string): ClaimSource {
  const plan = planGrid({ dataset, preset });
  const title = `${datasetSpec(dataset).title}, preset ${preset} (ours)`;
  const notebook = dataset === "fashion-mnist" && preset === "full"
    ? "table_fashion_mnist_full"
    : NOTEBOOK[dataset];
  const base = { title, whose: "ours" as const, dataset, preset, notebook };
  if (plan.existing.size === 0) return { ...base, runs: { found: 0, planned: plan.runs.length } };
  const all = evalColumns(plan.preset.evals);
  const summaries = summarize(planTable(plan), all);
  const cols = tableColumns(all).filter((c) => c.attack !== "autoattack");
  return {
    ...base,
    claims: checkClaims(summaries, cols),
    cost: costSummary(summaries),
    runs: { found: plan.existing.size, planned: plan.runs.length },
  };
}

export function paperSource(dataset: "cifar10" | "cifar100"): ClaimSource {
  return {
    title: `${datasetSpec(dataset).title}, Table ${dataset === "cifar10" ? 2 : 1} (the paper's)`,
    whose: "paper",
    dataset,
    notebook: NOTEBOOK[dataset],
    claims: checkClaims(paperSummaries(dataset), PAPER_COLUMNS, PAPER_STD_BOUND),
  };
}

/**
 * Every source the report covers: the paper's two tables, then ours for each dataset and preset
 * (Fashion-MNIST's default and full; each CIFAR dataset's presets), with or without results.
 */
export function claimsOverview(): ClaimSource[] {
  const ours: ClaimSource[] = [
    oursSource("fashion-mnist", "default"),
    oursSource("fashion-mnist", "full"),
  ];
  for (const ds of ["cifar10", "cifar10-jpeg", "cifar100"] as const) {
    for (const preset of Object.keys(PRESETS[ds])) ours.push(oursSource(ds, preset));
  }
  return [paperSource("cifar10"), paperSource("cifar100"), ...ours];
}
