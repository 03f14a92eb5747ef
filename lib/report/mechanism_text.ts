/**
 * The mechanism notebook's prose, rendered from the finding values of
 * lib/analysis/mechanism_findings.ts: every "yes", direction and ordering below is chosen by a
 * field of a value, never typed. The per-run detail goes into tables, the text summarises.
 */
import type { CorrelationRow } from "../analysis/mechanism_correlations.ts";
import {
  AT_MARGIN,
  type AtComparison,
  correlationOf,
  type FileFlatness,
  INPUT_MEASURE,
  type MechanismFindings,
  NOT_INPUT_RESIDUAL,
  type RunPoint,
  type Separation,
} from "../analysis/mechanism_findings.ts";
import { robustLabelOf, robustLabelsOf } from "../analysis/robust_column.ts";
import { DEFAULT_SETTINGS } from "../analysis/measure_run.ts";

export const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
/** A p-value: two decimals, or one significant digit below 0.01. */
export const fp = (p: number) =>
  !Number.isFinite(p) ? "n/a" : p < 0.01 ? p.toPrecision(1) : p.toFixed(2);
const g3 = (x: number) => (Number.isFinite(x) ? x.toPrecision(3) : "n/a");
const pct = (x: number) => (Number.isFinite(x) ? (100 * x).toFixed(1) : "n/a");
const range = (r: { min: number; max: number }) => `${f2(r.min)}–${f2(r.max)}`;
const of = (k: number, n: number) => `${k} of ${n}`;

/** Why a Spearman is NaN, in words (never "NaN" in the prose). */
const undefinedText = (c: CorrelationRow) =>
  `undefined (${c.undefinedWhy ?? "no ranks to correlate"})`;

function samVsSt(f: FileFlatness): string {
  const seeds = f.bySeed.map((s) =>
    `seed ${s.seed}: sharpness ρ=0.1 ST ${g3(s.st.sharpness)} vs SAM ρ=0.2 ${
      g3(s.sam.sharpness)
    }, λ_max ${g3(s.st.lambdaMax)} vs ${g3(s.sam.lambdaMax)}`
  );
  return `- **SAM against ST in weight space:** the SAM model is flatter in ${
    of(f.flatter, f.comparisons)
  } comparisons (each SAM run against ST of its seed; sharpness ρ=0.1, m-sharpness ρ=0.1, λ_max)` +
    (seeds.length ? `. ${seeds.join("; ")}.` : ".");
}

function atSentence(cmp: readonly AtComparison[]): string {
  if (cmp.length === 0) return "";
  const withSam = cmp.filter((c) => c.sam);
  const lowerSt = cmp.filter((c) => c.at.lambdaMax < c.st.lambdaMax).length;
  const lowerSam = withSam.filter((c) => c.at.lambdaMax < c.sam!.lambdaMax).length;
  const grad = withSam.filter((c) => c.at.gradL1 < c.st.gradL1 && c.at.gradL1 < c.sam!.gradL1)
    .length;
  return `- **AT in weight and input space** (every AT run in the table below): λ_max is below ST's in ${
    of(lowerSt, cmp.length)
  } AT runs` +
    (withSam.length
      ? ` and below SAM ρ=0.2's in ${
        of(lowerSam, withSam.length)
      }; the input-gradient norm ‖∇ₓL‖₁ is the smallest of the three in ${
        of(grad, withSam.length)
      }.`
      : ".");
}

function correlationBullets(corr: readonly CorrelationRow[], file: string): string[] {
  return ["all runs", "ST + SAM only"].flatMap((subset) => {
    const rows = ["sharpness ρ=0.1", "λ_max of the Hessian", "Hessian trace", "mean ‖∇ₓL‖₁"]
      .map((m) => correlationOf(corr, file, subset, m))
      .filter((x): x is CorrelationRow => x !== undefined);
    const parts = rows.map((x) =>
      Number.isFinite(x.spearman)
        ? `${x.measure}: ${f2(x.spearman)} [${f2(x.ci.lo)}, ${f2(x.ci.hi)}], p = ${
          fp(x.p)
        } (n = ${x.n})`
        : `${x.measure}: ${undefinedText(x)} (n = ${x.n})`
    );
    return rows.length
      ? [
        `- **Spearman with ${
          rows[0].robust
        } robust accuracy, ${subset}** (95% bootstrap interval, exact permutation p): ${
          parts.join("; ")
        }.`,
      ]
      : [];
  });
}

/** What the numbers show, per results file, then Section 3 over all files. */
export function findingsMarkdown(f: MechanismFindings, corr: readonly CorrelationRow[]): string {
  const lines: string[] = [];
  for (const ff of f.fileFlatness) {
    lines.push("", `**${ff.file}** (${ff.runs} runs, seeds ${ff.seeds.join(", ")}):`, "");
    if (ff.comparisons > 0) lines.push(samVsSt(ff));
    const at = atSentence(f.atComparisons.filter((c) => c.at.file === ff.file));
    if (at) lines.push(at);
    lines.push(...correlationBullets(corr, ff.file));
  }
  const s = f.section3;
  if (s) {
    lines.push(
      "",
      `**All files:**`,
      "",
      `- **Section 3, the first layer:** for the ${s.n} SAM models at their own ρ, AT's L∞ 8/255 PGD perturbation changes the first layer's pre-activations ${
        range(s.linfRatio)
      }× as much (in L2 norm, median over images) as SAM's weight perturbation does, L2 128/255 ${
        range(s.l2Ratio)
      }× (the first layer's share of SAM's perturbation is ${
        range(s.share)
      } of ‖e‖). The best input perturbation reproducing SAM's feature change leaves ${
        range(s.residual)
      } of it unexplained (relative residual), and the part it does explain is an input change of L∞ size ${
        range(s.lsLinf255)
      }/255.`,
    );
  }
  return lines.join("\n").trim() || "No measured runs: nothing to report.";
}

const runName = (p: RunPoint) => `${p.row}, seed ${p.seed}`;

/** Each AT run beside ST and SAM rho 0.2 of its seed (the detail behind atSentence). */
export function atComparisonTable(cmp: readonly AtComparison[]): Record<string, unknown>[] {
  return cmp.map((c) => ({
    results: c.at.file,
    "AT row": c.at.row,
    seed: c.at.seed,
    "robust column": robustLabelOf(c.at.dataset),
    "robust % AT / ST / SAM 0.2": [c.at, c.st, c.sam].map((p) => (p ? pct(p.robust) : "–"))
      .join(" / "),
    "sharpness ρ=0.1 AT / ST / SAM 0.2": [c.at, c.st, c.sam].map((p) => (p ? g3(p.sharpness) : "–"))
      .join(" / "),
    "λ_max AT / ST / SAM 0.2": [c.at, c.st, c.sam].map((p) => (p ? g3(p.lambdaMax) : "–"))
      .join(" / "),
    "‖∇ₓL‖₁ AT / ST / SAM 0.2": [c.at, c.st, c.sam].map((p) => (p ? g3(p.gradL1) : "–"))
      .join(" / "),
  }));
}

/** Verdict 2's detail: each AT run that separates flatness from robustness. */
export function separationTable(seps: readonly Separation[]): Record<string, unknown>[] {
  return seps.map((s) => ({
    results: s.at.file,
    "AT run": runName(s.at),
    "robust column": robustLabelOf(s.at.dataset),
    "AT robust %": pct(s.at.robust),
    "AT λ_max": g3(s.at.lambdaMax),
    "AT sharpness ρ=0.1": g3(s.at.sharpness),
    "as flat or flatter, less robust": s.flatterSams.map((p) =>
      `${p.row} (${pct(p.robust)}%, λ_max ${g3(p.lambdaMax)}, sharpness ${g3(p.sharpness)})`
    ).join("; "),
  }));
}

function verdict1(f: MechanismFindings): string | null {
  const v = f.samFlatness;
  if (v.pairs === 0) return null;
  const word = { yes: "Yes", mostly: "Mostly", no: "No" }[v.answer];
  const chain = v.chains
    ? ` Along the chain ST → ρ 0.05 → 0.1 → 0.2 (per seed), the sharpness falls at every step in ${
      of(v.sharpnessFalls, v.chains)
    } chains and robust accuracy (${robustLabelsOf(f.datasets)}) rises at every step in ${
      of(v.robustRises, v.chains)
    }` +
      (v.sharpnessFalls > 0 && v.robustRises > 0
        ? ` (both together in ${of(v.both, v.chains)}).`
        : ".")
    : "";
  return `**1. Is SAM flatter than ST?** ${word}: ${
    of(v.flatter, v.pairs)
  } SAM models have both a smaller worst-case sharpness (ρ = 0.1) and a smaller λ_max than ST of their seed.${chain}` +
    (v.answer === "no"
      ? " SAM optimises flatness, so this says the measures disagree with SAM's own objective here."
      : " This is what SAM optimises, so it confirms the measures work more than it explains robustness.");
}

function verdict2(f: MechanismFindings): string | null {
  const v = f.acrossMethods;
  if (v.atRuns === 0) return null;
  const head = `**2. Does weight-space flatness explain robustness across methods?** `;
  const margin = Math.round(100 * AT_MARGIN);
  if (v.moreRobust === 0) {
    return head +
      `Not testable here: no AT run is more than ${margin} points more robust (${
        robustLabelsOf(f.datasets)
      }) than every SAM/ASAM run of its seed.`;
  }
  return head +
    (v.answer === "no"
      ? `No. ${of(v.moreRobust, v.atRuns)} AT runs are more than ${margin} points more robust (${
        robustLabelsOf(f.datasets)
      }) than every SAM/ASAM run of their seed, and ${
        of(v.separations.length, v.moreRobust)
      } of those are no flatter than at least one of those SAM/ASAM runs (λ_max or sharpness ρ = 0.1; each in the table below). ` +
        `Whatever makes AT robust is not weight-space flatness of the clean training loss, and flatness alone cannot be why SAM is robust either, unless it works differently for SAM than for AT.`
      : `Not separated: each of the ${v.moreRobust} AT runs more than ${margin} points more robust than every SAM/ASAM run of its seed is also flatter than all of them, so flatness and robustness are not told apart by these runs.`);
}

function verdict3(f: MechanismFindings): string | null {
  const t = f.trackers;
  if (!t) return null;
  const fileOf = (c: CorrelationRow) => c.file;
  const stSam = t.stSam.filter((s) => s.shown.length).map((s) =>
    `${s.file} (n = ${s.n}, smallest possible exact p ${
      Number.isFinite(s.smallestP) ? fp(s.smallestP) : "< 0.001"
    }): ` + s.shown.map((c) =>
      Number.isFinite(c.spearman)
        ? `${c.measure} ${f2(c.spearman)} (p = ${fp(c.p)})`
        : `${c.measure} ${undefinedText(c)}`
    ).join(", ") +
    (s.sameOrdering ? " — the same ordering, so these runs cannot tell the measures apart" : "")
  );
  return `**3. What does track robustness?** Over all runs of a file the strongest rank correlation with robust accuracy (${
    robustLabelsOf(f.datasets)
  }) is ${t.best.measure} ` +
    `(${f2(t.best.spearman)} [${f2(t.best.ci.lo)}, ${f2(t.best.ci.hi)}], p = ${
      fp(t.best.p)
    }, n = ${t.best.n}, ${fileOf(t.best)}` +
    (t.tied.length
      ? `; its ${t.best.n} runs order ${t.tied.length} other measure${
        t.tied.length === 1 ? "" : "s"
      } alike: ${t.tied.map((c) => c.measure).join(", ")}`
      : "") +
    "). " +
    (t.input.length && !(t.best.measure === INPUT_MEASURE && t.input.length === 1)
      ? `The input-gradient norm ‖∇ₓL‖₁: ${
        t.input.map((c) => `${f2(c.spearman)} (p = ${fp(c.p)}, n = ${c.n}, ${fileOf(c)})`).join(
          "; ",
        )
      }. `
      : "") +
    (t.weightBest
      ? `The best weight-space measure: ${t.weightBest.measure}, ${f2(t.weightBest.spearman)} [${
        f2(t.weightBest.ci.lo)
      }, ${f2(t.weightBest.ci.hi)}], p = ${fp(t.weightBest.p)} (${fileOf(t.weightBest)}). `
      : "") +
    (t.lead === "tie"
      ? `Input-space steepness and weight-space flatness tie for the strongest there, so these correlations do not say which of them tracks robustness. `
      : t.lead === "input"
      ? `Input-space steepness is what a first-order attack reads (the loss rises by about ε‖∇ₓL‖₁ at L∞ radius ε), so its leading is expected; the open question is whether SAM lowers it through weight-space flatness. `
      : `A weight-space measure leads, not the input-gradient norm a first-order attack reads. `) +
    (stSam.length
      ? `Among ST and SAM only (SAM's ρ moves every measure and the robustness together): ${
        stSam.join("; ")
      }.`
      : "");
}

function traceVerdict(f: MechanismFindings): string | null {
  const v = f.traceNoise;
  if (v.pairs === 0) return null;
  return `**The Hessian trace** (Hutchinson, ${DEFAULT_SETTINGS.probes} Rademacher probes) separates ${
    of(v.separated, v.pairs)
  } pairs of models of the same file by more than 2 combined standard errors (median relative standard error ${
    f2(v.medianRelativeSe)
  }); ` +
    (v.answer === "noise"
      ? "most of its differences between models are probe noise, so its correlations are not evidence either way."
      : `the other ${v.pairs - v.separated} pairs are within probe noise.`);
}

function verdict4(f: MechanismFindings): string | null {
  const s = f.section3;
  if (!s) return null;
  const weaker = {
    all: `Weaker, yes, in all ${s.n} SAM models`,
    some: `Weaker in ${of(s.weakerBoth, s.n)} SAM models only (see the table)`,
    none: `Not weaker: in none of the ${s.n} SAM models`,
  }[s.weaker];
  const order = f.ordering;
  const holding = order.filter((o) => o.holds);
  const orderText = order.length
    ? ` Robust accuracy (${robustLabelsOf(f.datasets)}, mean over runs) orders AT > SAM > ST in ${
      of(holding.length, order.length)
    } results files (` +
      order.map((o) =>
        `${o.file}: ${o.order.join(" > ")}, AT ${pct(o.at)}%, SAM ${pct(o.sam)}%, ST ${pct(o.st)}%`
      ).join("; ") + ")."
    : "";
  const input = s.inputPerturbation === "no"
    ? `The paper's picture of SAM as an implicit input-space augmentation is, at the one layer where it can be tested exactly, almost entirely not one (median residual above ${NOT_INPUT_RESIDUAL}): SAM perturbs features in directions no input perturbation reaches.`
    : `A substantial part of SAM's feature perturbation is an input perturbation (median residual at most ${NOT_INPUT_RESIDUAL}), as the paper's picture has it.`;
  const sizeMatches = s.weaker === "all" && holding.length === order.length && order.length > 0
    ? " Its being weaker than AT in size matches the paper's claim, and so does the ordering of robustness."
    : s.weaker === "all"
    ? " Its being weaker than AT in size matches the paper's claim; the ordering of robustness does not hold in every file."
    : "";
  return `**4. Section 3: is SAM's perturbation a weaker input perturbation?** ${weaker}: at the first layer, AT's PGD perturbations at its training radii change the ` +
    `pre-activations ${range(s.linfRatio)}× (L∞ 8/255) and ${
      range(s.l2Ratio)
    }× (L2 128/255) as much as SAM's weight perturbation at the SAM rows' own ρ.` +
    ` But an input perturbation, ${
      s.inputPerturbation === "no" ? "no" : "in part"
    }: the best input change reproduces ${
      f2(1 - s.medianResidual)
    } of SAM's feature change (median relative residual ${f2(s.medianResidual)}); ` +
    `the first layer has more output channels than input pixels, so (W + δ_W) z = W (z + δ_z) has no solution for almost every δ_W. ` +
    input + sizeMatches + orderText;
}

/** The plain reading of the numbers against the paper's explanation, one paragraph per question. */
export function verdictMarkdown(f: MechanismFindings): string {
  const parts = [verdict1(f), verdict2(f), verdict3(f), traceVerdict(f), verdict4(f)]
    .filter((p): p is string => p !== null);
  return parts.length ? parts.join("\n\n") : "No measured runs: nothing to conclude.";
}
