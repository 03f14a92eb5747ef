/**
 * Each mechanism finding fed data on both sides of its answer: the value flips, and the sentence
 * rendered from it flips with it (no "yes", direction or ordering the value does not hold).
 */
import assert from "node:assert/strict";
import { rowById } from "../lib/experiments/grid.ts";
import { robustKeys, type RunMeasures } from "../lib/analysis/mechanism_data.ts";
import { type CorrelationRow, correlations } from "../lib/analysis/mechanism_correlations.ts";
import type { EquivalenceRow } from "../lib/analysis/mechanism_section3.ts";
import { mechanismFindings } from "../lib/analysis/mechanism_findings.ts";
import { robustKeyOf } from "../lib/analysis/robust_column.ts";
import type { DatasetName } from "../lib/data/dataset.ts";
import { findingsMarkdown, verdictMarkdown } from "../lib/report/mechanism_text.ts";

function run(
  id: string,
  seed: number,
  robust: number,
  v: { sharp: number; lambda: number; grad?: number; trace?: number; traceSe?: number },
  file = "f",
  dataset: DatasetName = "fashion-mnist",
): RunMeasures {
  const row = rowById(id)!;
  return {
    results: file,
    dataset,
    runKey: `${id}-${seed}`,
    runId: `${id}-${seed}`,
    row,
    seed,
    width: 8,
    clean: 0.8,
    robust: { pgd10_linf_8_255: robust },
    values: {
      "sharpness_0.1": v.sharp,
      "m_sharpness_0.1": v.sharp,
      lambda_max: v.lambda,
      grad_l1: v.grad ?? 1,
      hessian_trace: v.trace ?? NaN,
      trace_se: v.traceSe ?? NaN,
    },
    rows: {},
  };
}

/** ST, SAM 0.05/0.1/0.2 of one seed; `samFlatter` flips the weight-space ordering. */
function stSam(samFlatter: boolean, robustRises: boolean): RunMeasures[] {
  const sharp = samFlatter ? [4, 3, 2, 1] : [1, 2, 3, 4];
  const rob = robustRises ? [0.3, 0.35, 0.4, 0.45] : [0.45, 0.4, 0.35, 0.3];
  return ["ST", "SAM-0.05", "SAM-0.1", "SAM-0.2"].map((id, i) =>
    run(id, 0, rob[i], { sharp: sharp[i], lambda: sharp[i], grad: 2 - rob[i] })
  );
}

const verdicts = (records: RunMeasures[], corr: CorrelationRow[] = [], eq: EquivalenceRow[] = []) =>
  verdictMarkdown(mechanismFindings(records, corr, eq));

Deno.test("verdict 1 flips with SAM's flatness, and robustness 'rises' only when it does", () => {
  const yes = verdicts(stSam(true, true));
  assert.match(yes, /\*\*1\. Is SAM flatter than ST\?\*\* Yes: 3 of 3 SAM models/);
  assert.match(yes, /robust accuracy \(PGD-10 L∞ 8\/255\) rises at every step in 1 of 1/);
  const no = verdicts(stSam(false, true));
  assert.match(no, /\*\*1\. Is SAM flatter than ST\?\*\* No: 0 of 3 SAM models/);
  assert.match(no, /sharpness falls at every step in 0 of 1 chains/);
  assert.doesNotMatch(no, /both together/);
  const falling = verdicts(stSam(true, false));
  assert.match(falling, /robust accuracy \(PGD-10 L∞ 8\/255\) rises at every step in 0 of 1/);
  assert.doesNotMatch(falling, /while robust accuracy rises/);
});

Deno.test("verdict 2 says 'No' only when an AT run is more robust yet no flatter", () => {
  const base = stSam(true, true);
  const sharpAt = [...base, run("AT-linf-8", 0, 0.8, { sharp: 3, lambda: 3 })];
  assert.match(verdicts(sharpAt), /explain robustness across methods\?\*\* No\. 1 of 1 AT runs/);
  const flatAt = [...base, run("AT-linf-8", 0, 0.8, { sharp: 0.5, lambda: 0.5 })];
  assert.match(verdicts(flatAt), /across methods\?\*\* Not separated: each of the 1 AT runs/);
  const weakAt = [...base, run("AT-linf-8", 0, 0.46, { sharp: 3, lambda: 3 })];
  assert.match(verdicts(weakAt), /across methods\?\*\* Not testable here/);
});

function corrRow(measure: string, spearman: number): CorrelationRow {
  return {
    subset: "f: all runs",
    file: "f",
    dataset: "fashion-mnist",
    subsetName: "all runs",
    robust: "PGD-10 L∞ 8/255",
    measure,
    n: 10,
    spearman,
    ci: { lo: spearman - 0.1, hi: spearman + 0.1, used: 2000, dropped: 0, level: 0.95 },
    p: 0.01,
  };
}

Deno.test("verdict 3 names the measure that leads, input or weight space", () => {
  const recs = stSam(true, true);
  const input = verdicts(recs, [
    corrRow("mean ‖∇ₓL‖₁", -0.9),
    corrRow("λ_max of the Hessian", -0.5),
  ]);
  assert.match(input, /strongest rank correlation .* is mean ‖∇ₓL‖₁ \(-0\.90/);
  assert.match(input, /so its leading is expected/);
  const weight = verdicts(recs, [
    corrRow("mean ‖∇ₓL‖₁", -0.4),
    corrRow("λ_max of the Hessian", -0.8),
  ]);
  assert.match(weight, /strongest rank correlation .* is λ_max of the Hessian \(-0\.80/);
  assert.match(weight, /A weight-space measure leads/);
  assert.doesNotMatch(weight, /its leading is expected/);
});

Deno.test("the trace sentence flips between probe noise and separated", () => {
  const noisy = ["ST", "SAM-0.1", "SAM-0.2"].map((id, i) =>
    run(id, 0, 0.3, { sharp: 1, lambda: 1, trace: 100 + i, traceSe: 10 })
  );
  assert.match(verdicts(noisy), /separates 0 of 3 pairs .* most of its differences .* probe noise/);
  const clear = ["ST", "SAM-0.1", "SAM-0.2"].map((id, i) =>
    run(id, 0, 0.3, { sharp: 1, lambda: 1, trace: 100 * (i + 1), traceSe: 1 })
  );
  assert.match(
    verdicts(clear),
    /separates 3 of 3 pairs .* the other 0 pairs are within probe noise/,
  );
});

function eqRow(atOverSam: number, residual: number): EquivalenceRow {
  return {
    results: "f",
    row: "SAM ρ=0.1*",
    group: "SAM",
    seed: 0,
    rho: 0.1,
    share: 0.3,
    featureChange: 1,
    residual,
    lsL2_255: 1,
    lsLinf_255: 0.5,
    minRadiusL2_255: 1,
    randomRadiusL2_255: 2,
    atLinf8FeatureChange: atOverSam,
    atL2_128FeatureChange: atOverSam,
    atLinf8OverSam: atOverSam,
    atL2_128OverSam: atOverSam,
  };
}

Deno.test("verdict 4: 'weaker' and 'not an input perturbation' follow the ratios and residuals", () => {
  const recs = [...stSam(true, true), run("AT-linf-8", 0, 0.8, { sharp: 3, lambda: 3 })];
  const yes = verdicts(recs, [], [eqRow(3, 0.99)]);
  assert.match(yes, /Weaker, yes, in all 1 SAM models/);
  assert.match(yes, /But an input perturbation, no:/);
  const not = verdicts(recs, [], [eqRow(0.5, 0.4)]);
  assert.match(not, /Not weaker: in none of the 1 SAM models/);
  assert.doesNotMatch(not, /Weaker, yes/);
  assert.match(not, /But an input perturbation, in part:/);
  const some = verdicts(recs, [], [eqRow(3, 0.99), eqRow(0.5, 0.99)]);
  assert.match(some, /Weaker in 1 of 2 SAM models only/);
});

Deno.test("the ordering of robustness AT > SAM > ST is computed, not asserted", () => {
  const ordered = [...stSam(true, true), run("AT-linf-8", 0, 0.8, { sharp: 3, lambda: 3 })];
  const eq = [eqRow(3, 0.99)];
  const yes = verdicts(ordered, [], eq);
  assert.match(yes, /orders AT > SAM > ST in 1 of 1 results files \(f: AT > SAM > ST/);
  assert.match(yes, /and so does the ordering of robustness/);
  // SAM below ST: the ordering must not be claimed.
  const flipped = [
    ...stSam(true, false).map((r) =>
      r.row.id === "ST" ? { ...r, robust: { pgd10_linf_8_255: 0.5 } } : r
    ),
    run("AT-linf-8", 0, 0.8, { sharp: 3, lambda: 3 }),
  ];
  const no = verdicts(flipped, [], eq);
  assert.match(no, /orders AT > SAM > ST in 0 of 1 results files \(f: AT > ST > SAM/);
  assert.match(no, /the ordering of robustness does not hold in every file/);
  assert.doesNotMatch(no, /AT ≫ SAM > ST/);
});

Deno.test("per-file findings summarise AT runs in a sentence whose counts follow the data", () => {
  const recs = [
    ...stSam(true, true),
    run("AT-linf-8", 0, 0.8, { sharp: 3, lambda: 0.5, grad: 0.1 }),
  ];
  const f = mechanismFindings(recs, [], []);
  const md = findingsMarkdown(f, []);
  assert.match(md, /λ_max is below ST's in 1 of 1 AT runs and below SAM ρ=0\.2's in 1 of 1/);
  const recs2 = [...stSam(true, true), run("AT-linf-8", 0, 0.8, { sharp: 3, lambda: 9, grad: 9 })];
  const md2 = findingsMarkdown(mechanismFindings(recs2, [], []), []);
  assert.match(md2, /λ_max is below ST's in 0 of 1 AT runs and below SAM ρ=0\.2's in 0 of 1/);
  assert.match(md2, /smallest of the three in 0 of 1/);
});

/**
 * A CIFAR-like file: every model at 0% under L∞ 8/255 (a constant column) but ordered under
 * L∞ 2/255, beside a Fashion-MNIST file whose L∞ 2/255 column would order its runs the other way.
 */
function twoDatasets(): RunMeasures[] {
  const ids = ["ST", "SAM-0.05", "SAM-0.1", "SAM-0.2"];
  const cifar = ids.map((id, i) => {
    const r = run(id, 0, 0, { sharp: 4 - i, lambda: 4 - i, grad: 4 - i }, "c", "cifar10-jpeg");
    return { ...r, robust: { pgd10_linf_8_255: 0, pgd10_linf_2_255: 0.2 + 0.05 * i } };
  });
  const fashion = ids.map((id, i) => {
    const r = run(id, 0, 0.3 + 0.05 * i, { sharp: 4 - i, lambda: 4 - i, grad: 4 - i }, "m");
    return { ...r, robust: { ...r.robust, pgd10_linf_2_255: 0.9 - 0.05 * i } };
  });
  return [...cifar, ...fashion];
}

Deno.test("each dataset's findings read its own robust column, fixed up front", () => {
  assert.equal(robustKeyOf("fashion-mnist"), "pgd10_linf_8_255");
  for (const d of ["cifar10", "cifar10-jpeg", "cifar100"] as const) {
    assert.equal(robustKeyOf(d), "pgd10_linf_2_255");
  }
  const recs = twoDatasets();
  assert.deepEqual(robustKeys(recs.filter((r) => r.results === "c"), 3).slice(0, 2), [
    "pgd10_linf_2_255",
    "pgd10_linf_8_255",
  ]);
  const corr = correlations(recs);
  const f = mechanismFindings(recs, corr, []);
  // Sharpness falls and robustness rises along both chains, each in its own column.
  assert.equal(f.samFlatness.robustRises, 2);
  const md = findingsMarkdown(f, corr);
  const verdict = verdictMarkdown(f);
  for (const text of [md, verdict]) assert.doesNotMatch(text, /NaN/);
  assert.match(
    md,
    /\*\*c\*\*[^]*Spearman with PGD-10 L∞ 2\/255 robust accuracy, all runs[^]*mean ‖∇ₓL‖₁: -1\.00/,
  );
  assert.match(
    md,
    /\*\*m\*\*[^]*Spearman with PGD-10 L∞ 8\/255 robust accuracy, all runs[^]*mean ‖∇ₓL‖₁: -1\.00/,
  );
  assert.match(
    verdict,
    /PGD-10 L∞ 8\/255 on Fashion-MNIST, L∞ 2\/255 on CIFAR-10 \(JPEG q75 copy\)/,
  );
  // Every measure orders these 4 runs alike: a tie, not a leader.
  assert.match(verdict, /its 4 runs order \d+ other measures alike: .*mean ‖∇ₓL‖₁/);
  assert.match(verdict, /tie for the strongest there/);
  assert.match(verdict, /in 2 of 2 chains and robust accuracy \(PGD-10 L∞ 8\/255 on Fashion/);
});

Deno.test("an undefined correlation is said in words, never NaN", () => {
  // Only the 8/255 column: constant at 0%, so every Spearman with it is undefined.
  const flat = twoDatasets().filter((r) => r.results === "c").map((r) => ({
    ...r,
    dataset: "fashion-mnist" as const,
    robust: { pgd10_linf_8_255: 0 },
  }));
  const corr = correlations(flat);
  assert.ok(corr.length > 0 && corr.every((c) => Number.isNaN(c.spearman)));
  const f = mechanismFindings(flat, corr, []);
  const md = findingsMarkdown(f, corr);
  assert.doesNotMatch(md + verdictMarkdown(f), /NaN/);
  assert.match(md, /mean ‖∇ₓL‖₁: undefined \(robust accuracy is the same for every run\)/);
});
