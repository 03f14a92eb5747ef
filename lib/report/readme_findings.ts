/**
 * README's findings, generated from the committed results (`bin/deno task findings --write`): per
 * Fashion-MNIST preset the table and one bullet per claim, and the mechanism paragraph. Each
 * bullet is rendered from a claim or finding value; tests/readme_findings_test.ts fails when
 * README's blocks differ from what the results give. Trains and measures nothing.
 */
import { threatLabel } from "../attacks/attack.ts";
import type { EvalColumn } from "../experiments/columns.ts";
import { readEvals } from "../experiments/results.ts";
import { gapsByFamily } from "../analysis/autoattack_view.ts";
import { maskingChecksOfResults } from "../analysis/masking.ts";
import { type ClaimCheck, costRatios, formatPct } from "../analysis/summary.ts";
import { costStatements } from "./claim_text.ts";
import { readMechanism } from "../analysis/mechanism_data.ts";
import { correlations } from "../analysis/mechanism_correlations.ts";
import { equivalenceRows } from "../analysis/mechanism_section3.ts";
import {
  correlationOf,
  INPUT_MEASURE,
  type MechanismFindings,
  mechanismFindings,
  ownColumn,
  sameSpearman,
} from "../analysis/mechanism_findings.ts";
import { robustLabelOf, robustLabelsOf } from "../analysis/robust_column.ts";
import type { CorrelationRow } from "../analysis/mechanism_correlations.ts";
import { load, type Page, page, settings } from "./notebook_grid.ts";
import type { DatasetName } from "../data/dataset.ts";
import { shownPath } from "../experiments/plan.ts";

const p1 = (x: number) => (100 * x).toFixed(1);
const signed = (x: number) => `${x < 0 ? "−" : ""}${Math.abs(100 * x).toFixed(1)}`;
const range = (xs: number[], f = p1) =>
  xs.length === 0
    ? "n/a"
    : Math.min(...xs) === Math.max(...xs)
    ? f(Math.min(...xs))
    : `${f(Math.min(...xs))} to ${f(Math.max(...xs))}`;

/** The README table: clean, four PGD-10 columns, and per AutoAttack column PGD-10 on its points. */
function table(p: Page, rowIds?: readonly string[]): string {
  const want = [
    "clean",
    "pgd10_linf_2_255",
    "pgd10_l2_32_255",
    "pgd10_linf_8_255",
    "pgd10_l2_128_255",
  ];
  const cols = want.map((k) => p.s.columns.find((c) => c.key === k)).filter((c): c is EvalColumn =>
    !!c
  );
  const short = (c: EvalColumn) =>
    c.key === "clean" ? "clean" : `PGD-10 ${threatLabel(c.norm!, c.eps!)}`;
  const aa = p.aaColumns;
  const head = [
    "row",
    "seeds",
    ...cols.map(short),
    ...aa.flatMap((c) => {
      const t = threatLabel(c.norm!, c.eps!);
      return [`PGD-10 ${t} on AA's points`, `AA ${t}`];
    }),
  ];
  const rows = p.summaries.filter((s) => !rowIds || rowIds.includes(s.row.id)).map((s) => {
    const cells = [
      s.row.label,
      String(s.seeds.length),
      ...cols.map((c) => formatPct(s.metrics[c.key])),
    ];
    for (const c of aa) {
      const g = p.gaps.find((x) =>
        x.rowId === s.row.id && x.threat === threatLabel(c.norm!, c.eps!)
      );
      cells.push(g ? p1(g.pgd10) : "–", formatPct(s.metrics[c.key]));
    }
    return `| ${cells.join(" | ")} |`;
  });
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows].join("\n");
}

const claim = (cs: readonly ClaimCheck[], id: string) => cs.find((c) => c.id === id);

function claimBullets(p: Page): string[] {
  const out: string[] = [];
  const c1a = claim(p.pgdClaims, "1a"), a1a = claim(p.aaClaims, "1a");
  if (c1a) {
    out.push(
      `- **Claim 1a, SAM alone raises robust accuracy above ST: ${c1a.outcome}.** Under PGD-10, ${c1a.holds} of ${c1a.total} SAM − ST comparisons clear 2 standard errors, ${c1a.opposite} go the other way beyond 2 SE, and the point estimate favours SAM in ${c1a.claimedSide}.` +
        (a1a
          ? ` Under AutoAttack (seed 0, its points): ${a1a.outcome}, ${a1a.holds} of ${a1a.total} beyond 2 SE, SAM above ST in ${a1a.claimedSide} of ${a1a.total} (SAM − ST ${
            range(a1a.cells.map((x) => x.diff.diff), signed)
          } points).`
          : ""),
    );
  }
  const c1b = claim(p.pgdClaims, "1b");
  if (c1b) {
    const lost = c1b.cells.filter((x) => x.verdict === "opposite");
    out.push(
      `- **Claim 1b, SAM keeps or improves clean accuracy: ${c1b.outcome}.** Of ${c1b.total} SAM rows, ${lost.length} ${
        lost.length === 1 ? "loses" : "lose"
      } clean accuracy beyond 2 SE${
        lost.length
          ? ` (${
            lost.map((x) => `${x.row}: ${signed(x.diff.diff)} ± ${p1(x.diff.se)}`).join(", ")
          } points)`
          : ""
      }, ${c1b.withinNoise} within noise, ${c1b.holds} ${
        c1b.holds === 1 ? "improves" : "improve"
      } it; SAM − ST clean ${range(c1b.cells.map((x) => x.diff.diff), signed)} points.`,
    );
  }
  const a2a = claim(p.aaClaims, "2a") ?? claim(p.pgdClaims, "2a");
  if (a2a) {
    const under = claim(p.aaClaims, "2a") ? "AutoAttack" : "PGD-10";
    out.push(
      `- **Claim 2a, AT more robust than SAM (against the most robust SAM row, ${a2a.against}), under ${under}: ${a2a.outcome}.** AT above it in ${a2a.claimedSide} of ${a2a.total} comparisons, ${a2a.holds} beyond 2 SE, margins ${
        range(a2a.cells.map((x) => x.diff.diff), signed)
      } points.`,
    );
  }
  const c2b = claim(p.pgdClaims, "2b");
  if (c2b) {
    out.push(
      `- **Claim 2b, AT loses clean accuracy: ${c2b.outcome}.** ${c2b.holds} of ${c2b.total} AT rows lose it beyond 2 SE (AT − ST clean ${
        range(c2b.cells.map((x) => x.diff.diff), signed)
      } points).`,
    );
  }
  if (p.gaps.length) {
    const fam = [...gapsByFamily(p.gaps, p.summaries)].map(([f, v]) =>
      `${f} ${p1(v.reduce((a, b) => a + b, 0) / v.length)} (${range(v)})`
    );
    const checks = maskingChecksOfResults(
      p.finishedRuns,
      p.evalsCsv,
      p.summaries[0]?.testSize ?? 0,
    );
    const failed = checks.reduce((n, c) => n + c.checks.filter((k) => !k.passed).length, 0);
    out.push(
      `- **PGD-10 − AutoAttack on the same points** (mean and range over runs × threats, points): ${
        fam.join(", ")
      }. ${checks.length} AutoAttack evaluations, ${failed} failed gradient-masking check${
        failed === 1 ? "" : "s"
      }.`,
    );
  }
  const cost = costStatements(costRatios(p.summaries));
  if (cost.length) out.push(`- **Cost:** ${cost.join(" ")}`);
  return out;
}

function computeBullet(p: Page): string {
  const train = p.finishedRuns.reduce((s, r) => s + (Number(r.train_seconds) || 0), 0);
  const keys = new Set(p.finishedRuns.map((r) => String(r.run_key)));
  const evals = readEvals(p.loaded.plan.resultsPath).filter((e) => keys.has(String(e.run_key)))
    .reduce((s, e) => s + (Number(e.seconds) || 0), 0);
  const n = p.finishedRuns.length;
  return `- **Compute:** ${n === 1 ? "the 1 run's" : `the ${n} runs'`} training took ${
    (train / 3600).toFixed(1)
  } h and ${n === 1 ? "its" : "their"} evaluations ${
    (evals / 3600).toFixed(1)
  } h (sums of the results files' seconds).`;
}

/** The generated block of one of our grids (a Fashion-MNIST preset, or cifar10-jpeg/cpu). */
export function presetBlock(preset: string, dataset: DatasetName = "fashion-mnist"): string {
  const s = settings(preset, false, dataset);
  const p = page(s, load(s));
  if (p.finishedRuns.length === 0) {
    return `No finished runs yet: 0 of ${p.loaded.plan.runs.length} planned runs of \`${dataset}/${preset}\` are in \`${
      shownPath(p.loaded.plan.resultsPath)
    }\` (the grid runs in the background and resumes across sessions).`;
  }
  const rows = dataset === "fashion-mnist" && preset === "default"
    ? ["ST", "SAM-0.05", "SAM-0.1", "SAM-0.2", "AT-linf-8", "AT-l2-128"]
    : undefined;
  return [
    table(p, rows),
    "",
    ...claimBullets(p),
    ...(preset === "default" ? [] : [computeBullet(p)]),
  ].join("\n");
}

/** Per file, the measure's Spearman with the file's own robust column, or why it has none. */
function perFile(
  corr: readonly CorrelationRow[],
  files: readonly string[],
  subset: string,
  measure: string,
): string {
  return files.map((f) => {
    const c = correlationOf(corr, f, subset, measure);
    const name = f.replace(/^fashion-mnist-/, "");
    if (!c) return `none for ${name} (fewer than 3 runs)`;
    return Number.isFinite(c.spearman)
      ? `${c.spearman.toFixed(2)} ${name}`
      : `undefined for ${name} (${c.undefinedWhy ?? "no ranks to correlate"})`;
  }).join(", ");
}

/**
 * Per file: is the input-gradient norm the strongest correlate over all runs, alone or tied with
 * other measures (a few runs can order many measures alike)?
 */
function inputLeads(corr: readonly CorrelationRow[], files: readonly string[]): string {
  const leads: string[] = [], tied: string[] = [];
  for (const f of files) {
    const all = corr.filter((c) =>
      c.file === f && c.subsetName === "all runs" && ownColumn(c) && Number.isFinite(c.spearman)
    );
    const input = all.find((c) => c.measure === INPUT_MEASURE);
    if (
      !input ||
      all.some((c) => c.spearman < input.spearman && !sameSpearman(c.spearman, input.spearman))
    ) {
      continue;
    }
    const ties = all.filter((c) => c !== input && sameSpearman(c.spearman, input.spearman));
    if (ties.length === 0) leads.push(f);
    else tied.push(`with ${ties.length} other measures in ${f}`);
  }
  return `the strongest of all measures in ${leads.length} of ${files.length} results files` +
    (tied.length ? `, tied for the strongest ${tied.join(" and ")}` : "");
}

export function mechanismBlock(
  f?: MechanismFindings,
  corr?: readonly CorrelationRow[],
): string {
  if (!f || !corr) {
    const records = readMechanism();
    corr = correlations(records);
    f = mechanismFindings(records, corr, equivalenceRows(records));
  }
  const parts: string[] = [];
  const flat = f.fileFlatness.map((x) => {
    const s0 = x.bySeed[0];
    return `${x.flatter} of ${x.comparisons} same-seed comparisons in ${x.file}` +
      (s0
        ? ` (λ_max ${s0.st.lambdaMax.toFixed(2)} → ${
          s0.sam.lambdaMax.toFixed(2)
        } from ST to SAM ρ=0.2, seed ${s0.seed})`
        : "");
  });
  parts.push(`SAM's minima are flatter than ST's in ${flat.join(" and ")}.`);
  const a = f.acrossMethods;
  if (a.moreRobust > 0) {
    const ex = a.separations.find((s) => s.at.row.startsWith("AT L∞ ε=8/255")) ?? a.separations[0];
    // The comparison README quotes: SAM rho=0.2 where it is among the flatter runs.
    const other = ex?.flatterSams.find((p) => p.row.startsWith("SAM ρ=0.2")) ?? ex?.flatterSams[0];
    parts.push(
      a.answer === "no"
        ? `Flatness does not explain AT's robustness: ${a.separations.length} of the ${a.moreRobust} AT runs more than 5 points more robust than every SAM/ASAM run of their seed are no flatter than one of those runs` +
          (ex && other
            ? ` (e.g. ${ex.at.row}, ${ex.at.file}, seed ${ex.at.seed}: λ_max ${
              ex.at.lambdaMax.toFixed(2)
            } and sharpness ${ex.at.sharpness.toPrecision(3)} against ${other.row}'s ${
              other.lambdaMax.toFixed(2)
            } and ${other.sharpness.toPrecision(3)}, yet ${
              (100 * (ex.at.robust - other.robust)).toFixed(1)
            } points more robust under ${robustLabelOf(ex.at.dataset)}).`
            : ".")
        : `The AT runs are also the flattest here (${a.moreRobust} of ${a.moreRobust}), so flatness and robustness are not separated by these runs.`,
    );
  }
  const files = f.fileFlatness.map((x) => x.file);
  parts.push(
    `Across all runs the input-gradient norm's Spearman correlation with robust accuracy (${
      robustLabelsOf(f.datasets)
    }) is ${perFile(corr, files, "all runs", INPUT_MEASURE)} (${
      inputLeads(corr, files)
    }); among ST and SAM alone weight sharpness ρ=0.1 gives ${
      perFile(corr, files, "ST + SAM only", "sharpness ρ=0.1")
    } and λ_max ${
      perFile(corr, files, "ST + SAM only", "λ_max of the Hessian")
    } (among these runs SAM's ρ moves the measures and the robustness together).`,
  );
  const s = f.section3;
  if (s) {
    const size =
      { all: "more than", some: "in some models more than", none: "less than" }[s.weaker];
    parts.push(
      `Section 3 at the first layer (${s.n} SAM models at their own ρ): AT's input perturbation changes the features ${size} SAM's weight perturbation does (L∞ 8/255: ${
        s.linfRatio.min.toFixed(2)
      }–${s.linfRatio.max.toFixed(2)}×, L2 128/255: ${s.l2Ratio.min.toFixed(2)}–${
        s.l2Ratio.max.toFixed(2)
      }×), but SAM's is ${
        s.inputPerturbation === "no" ? "not an input perturbation" : "partly an input perturbation"
      } (the best input change reproduces ${(1 - s.medianResidual).toFixed(2)} of it, median).`,
    );
  }
  return parts.join(" ");
}

export const BLOCKS = ["default", "full", "cifar10-jpeg", "mechanism"] as const;
export type BlockName = typeof BLOCKS[number];

export function generatedBlocks(): Record<BlockName, string> {
  return {
    default: presetBlock("default"),
    full: presetBlock("full"),
    "cifar10-jpeg": presetBlock("cpu", "cifar10-jpeg"),
    mechanism: mechanismBlock(),
  };
}

const START = (name: string) =>
  `<!-- findings:${name} (generated: bin/deno task findings --write) -->`;
const END = (name: string) => `<!-- /findings:${name} -->`;

/** README's current block of that name, or undefined when its markers are missing. */
export function readmeBlock(readme: string, name: string): string | undefined {
  const a = readme.indexOf(START(name)), b = readme.indexOf(END(name));
  if (a < 0 || b < a) return undefined;
  return readme.slice(a + START(name).length, b).trim();
}

/** README with every block replaced by its generated text (markers must exist). */
export function withBlocks(readme: string, blocks: Record<string, string>): string {
  let out = readme;
  for (const [name, text] of Object.entries(blocks)) {
    const a = out.indexOf(START(name)), b = out.indexOf(END(name));
    if (a < 0 || b < a) {
      throw new Error(`README.md has no ${START(name)} ... ${END(name)} markers.`);
    }
    out = out.slice(0, a) + `${START(name)}\n${text}\n` + out.slice(b);
  }
  return out;
}
