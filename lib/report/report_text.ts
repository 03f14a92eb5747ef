/**
 * The Markdown paragraphs of the table notebooks, built from presets, plans and results so that
 * every number in them is computed, never typed: a preset's settings beside the paper's, the
 * sampling-noise paragraph (claim sentences: claim_text.ts), and what to do when CIFAR results are missing.
 */
import { type EvalColumn, evalColumns } from "../experiments/columns.ts";
import { RHO_NOTE } from "../experiments/grid.ts";
import { formatEstimate, type GridPlan } from "../experiments/plan.ts";
import { type Preset, PRESETS } from "../experiments/presets.ts";
import { datasetSpec } from "../data/registry.ts";
import { describeAugment } from "../data/augment.ts";
import type { DatasetName } from "../data/dataset.ts";
import type { RowSummary } from "../analysis/summary.ts";

const PAPER = PRESETS.cifar10.paper;

function size(v: number | "all", full: number): string {
  return v === "all" ? `all ${full}` : `${v} of ${full}`;
}

/** The preset's settings beside the paper's, and its notes as a list. */
export function presetMarkdown(p: Preset, run?: { seeds: string; rows: string }): string {
  const spec = datasetSpec(p.dataset);
  const full = { train: spec.trainSize, test: spec.testSize };
  const t = p.train;
  const attacks = (q: Preset) =>
    evalColumns(q.evals).slice(1).map((c) => c.label.replace(" (ours)", "")).join(", ");
  const rows: [string, string, string][] = [
    ["dataset", p.dataset, "CIFAR-10 / CIFAR-100"],
    ["model", `${t.arch} width ${t.width}`, `${PAPER.train.arch} width ${PAPER.train.width}`],
    ["training images", size(p.trainSize, full.train), "all 50000"],
    ["test images (every evaluation)", size(p.testSize, full.test), "all 10000"],
    ["epochs", String(t.epochs), String(PAPER.train.epochs)],
    [
      "learning rate",
      `${t.lr}, x0.1 at 75% and 90% of the epochs`,
      `${PAPER.train.lr}, x0.1 at 75% and 90%`,
    ],
    [
      "momentum / weight decay / batch",
      `${t.momentum} / ${t.weightDecay} / ${t.batchSize}`,
      `${PAPER.train.momentum} / ${PAPER.train.weightDecay} / ${PAPER.train.batchSize}`,
    ],
    [
      "augmentation",
      t.augment === "auto"
        ? `${describeAugment(spec.augment)} (the dataset's default)`
        : describeAugment(t.augment),
      "random crop (4 px padding, reflect) + horizontal flip",
    ],
    ["seeds", p.seeds.join(", "), "3 runs"],
    ["evaluation", attacks(p), attacks(PAPER)],
  ];
  const notes = p.notes.split(/(?<=\.)\s+(?=[A-Z])/).map((s) => `- ${s}`);
  const reduced = run && (run.seeds !== p.seeds.join(",") || run.rows !== "all")
    ? `\n\n**Reduced run:** seeds ${run.seeds}, rows ${run.rows} (set by SAM_AT_SEEDS / SAM_AT_ROWS), not the preset's full grid.`
    : "";
  return [
    `**Preset \`${p.dataset}/${p.name}\`** — our settings beside the paper's:`,
    "",
    "| setting | this preset | the paper |",
    "|---|---|---|",
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
    "**What differs from the paper** (the preset's notes):",
    "",
    ...notes,
    "",
    `*${RHO_NOTE}*${reduced}`,
  ].join("\n");
}

/** The size of test-sampling noise at the accuracies observed, and the spread over seeds. */
export function noiseMarkdown(
  summaries: readonly RowSummary[],
  columns: readonly EvalColumn[],
): string {
  if (summaries.length === 0) return "No results to assess.";
  const n = Math.min(...summaries.map((s) => s.testSize));
  const accs = summaries.flatMap((s) => columns.map((c) => s.metrics[c.key]?.mean)).filter((
    v,
  ): v is number => Number.isFinite(v));
  const se = (a: number) => 100 * Math.sqrt((a * (1 - a)) / n);
  const maxSe = Math.max(...accs.map(se));
  const minSe = Math.min(...accs.map(se));
  const stds = summaries.flatMap((s) => columns.map((c) => s.metrics[c.key]?.std)).filter((
    v,
  ): v is number => Number.isFinite(v)).map((v) => 100 * v);
  const medStd = stds.length ? [...stds].sort((a, b) => a - b)[Math.floor(stds.length / 2)] : NaN;
  const seeds = Math.max(...summaries.map((s) => s.seeds.length));
  return [
    `**Uncertainty.** Every accuracy here is measured on the same ${n} test images. At the accuracies observed, the binomial`,
    `sampling error of one accuracy is ${minSe.toFixed(1)}–${
      maxSe.toFixed(1)
    } points (sqrt(a(1−a)/${n})).`,
    Number.isFinite(medStd)
      ? `Across the ${seeds} seeds the median std of a cell is ${medStd.toFixed(1)} points.`
      : `With one seed per row there is no seed-to-seed spread: differences below carry only the test-sampling error.`,
    `A difference of two rows is given as ± one standard error, sqrt(s_a²/n_a + s_b²/n_b + (a(1−a) + b(1−b))/N),`,
    `which treats the shared test images as independent (conservative). ✓ = beyond 2 SE in the paper's direction,`,
    `≈ = within 2 SE, ✗ = beyond 2 SE the other way.`,
  ].join(" ");
}

/** What is missing for a CIFAR table, and the exact commands to produce it. */
export function cifarMissingMarkdown(
  dataset: DatasetName,
  dataProblem: string | null,
  plan: GridPlan,
  notebook: string,
): string {
  const left = plan.runs.filter((r) => r.status !== "done");
  const estimate = formatEstimate(left.reduce((s, r) => s + r.estimatedSeconds, 0));
  const p = plan.preset;
  const title = datasetSpec(dataset).title;
  const downloadable = dataset === "cifar10" || dataset === "cifar100";
  const lines = [
    `**No numbers of ours for ${title} exist yet** (looked for ${
      Object.keys(PRESETS[dataset]).map((n) => `\`results/${dataset}-${n}.csv\``).join(" and ")
    }).`,
    "",
    dataProblem
      ? `The dataset is not on this machine: ${dataProblem}`
      : `The dataset is present; only the training runs are missing.`,
    "",
    "To produce our numbers:",
    "",
    "```bash",
    ...(dataProblem && downloadable
      ? [
        `bin/deno run -A scripts/dataset.ts download ${dataset}   # needs network; verifies size, MD5, SHA-256`,
      ]
      : []),
    `bin/deno task experiment --dataset ${dataset} --preset ${p.name} --dry-run   # lists the runs and the estimated time`,
    `bin/deno task experiment --dataset ${dataset} --preset ${p.name}             # estimated ${estimate} (h:mm:ss) on ${p.cost.measuredOn}`,
    `bin/deno task report notebooks/${notebook}`,
    "```",
    "",
    `The \`${p.name}\` preset: ${p.notes}`,
    "",
    "For the paper's full protocol (a GPU: `SAM_AT_GPU=1 bash scripts/setup.sh`, then `--backend tensorflow-gpu`) use `--preset paper`.",
    "Runs are resumable: an interrupted run continues from its last finished epoch.",
  ];
  return lines.join("\n");
}

/** Whether the timings were taken on a busy machine (1-minute load average above cores + 1). */
export function loadMarkdown(summaries: readonly RowSummary[], cores: number): string {
  const loads = summaries.map((s) => s.loadAvg.mean).filter(Number.isFinite);
  if (loads.length === 0) return "The load of the machine was not recorded for these runs.";
  const busy = summaries.filter((s) => s.loadAvg.mean > cores + 1);
  const range = `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`;
  return busy.length === 0
    ? `The 1-minute load average stayed at ${range} on ${cores} cores during these runs: the timings are from an otherwise quiet machine.`
    : `**Caution:** the 1-minute load average was ${range} on ${cores} cores; for ${busy.length} of ${summaries.length} rows (${
      busy.map((s) => s.row.id).join(", ")
    }) it exceeded ${
      cores + 1
    }, so other processes competed and those timings (and the ratios) are unreliable.`;
}
