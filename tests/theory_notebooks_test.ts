/**
 * The theorem notebooks' modules (lib/theory/notebook_4_*.ts): what they compute holds, and every
 * chart they build has a title and axis titles in the `{text}` form plotly.js 3 draws.
 * The training itself (runToyTraining) is covered by tests/toy_training_test.ts; here its summary
 * and findings are checked on synthetic runs.
 */
import assert from "node:assert/strict";
import type { Chart } from "../lib/report/notebook.ts";
import * as n1 from "../lib/theory/notebook_4_1.ts";
import * as n2 from "../lib/theory/notebook_4_2.ts";
import * as n3 from "../lib/theory/notebook_4_3.ts";
import * as n4 from "../lib/theory/notebook_4_4.ts";
import * as n5 from "../lib/theory/notebook_4_5.ts";
import * as training from "../lib/theory/notebook_4_3_training.ts";
import { linspace, logspace, relGap } from "../lib/theory/notebook_common.ts";
import { wAT, wSAM, wSAMAllWeightsL2, wST } from "../lib/theory/gaussian_model.ts";

/** The chart has a non-empty title and titled axes, all as {text}. */
function assertTitled(c: Chart, name: string): void {
  const text = (
    t: unknown,
  ) => (t && typeof t === "object" ? (t as { text?: unknown }).text : undefined);
  assert.equal(typeof text(c.layout.title), "string", `${name}: title is {text}`);
  assert.ok((text(c.layout.title) as string).length > 0, `${name}: title is not empty`);
  for (const key of Object.keys(c.layout).filter((k) => /^[xy]axis\d*$/.test(k))) {
    const ax = c.layout[key] as Record<string, unknown>;
    assert.ok(((text(ax.title) as string) ?? "").length > 0, `${name}: ${key} has a {text} title`);
    assert.equal(ax.automargin, true, `${name}: ${key} makes room for its title`);
  }
  assert.ok(c.data.length > 0, `${name}: has traces`);
}

Deno.test("notebook_common: linspace and logspace include both ends; relGap", () => {
  assert.deepEqual(linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1]);
  const l = logspace(-1, 2, 4);
  l.forEach((v, i) => assert.ok(relGap(v, 10 ** (i - 1)) < 1e-15));
  assert.throws(() => linspace(0, 1, 1), /n >= 2/);
  assert.equal(relGap(11, 10), 0.1);
});

Deno.test("notebook 4.1: closed form = numerical optimum; Monte Carlo within 4 standard errors", () => {
  const rows = n1.closedFormChecks();
  assert.equal(rows.length, 36);
  for (const r of rows) {
    assert.ok(r.relative_gap < 1e-9, `p=${r.p} eta=${r.eta} d=${r.d}: ${r.relative_gap}`);
  }
  assert.match(n1.closedFormSummary(rows), /over 36 models: \*\*\d\.\d\de-1\d\*\*/);
  for (const r of n1.curveMaxima()) assert.ok(relGap(r.numeric_argmax, r.w_ST) < 1e-9);
  const mc = n1.monteCarloRows();
  assert.equal(mc.length, 12);
  for (const r of mc) assert.ok(Math.abs(r.gap_in_standard_errors) < 4, `w=${r.w}`);
});

Deno.test("notebook 4.2: w_AT / w_ST = eta/(eta-eps); attacked samples on A_eps; x1 attacked falls below w_ST", () => {
  const rows = n2.closedFormChecks();
  for (const r of rows) {
    assert.ok(r.relative_gap < 1e-9);
    assert.ok(relGap(r.ratio_to_w_ST, r.eta_over_eta_minus_eps) < 1e-12);
  }
  for (const r of n2.attackedRows()) {
    assert.ok(Math.abs(r.gap_in_standard_errors) < 4, `eps=${r.eps} w=${r.w}`);
  }
  const x1 = n2.x1AttackedRows().find((r) => r.eps === 0.1)!;
  assert.ok(x1.below_w_ST);
  assert.ok(Math.abs(x1.w_AT_x1_attacked_too - 0.82531) < 1e-4, `${x1.w_AT_x1_attacked_too}`);
});

Deno.test("notebook 4.3: balance = brute force, bounds hold; all-weights L2 SAM below w_ST at rho 0.3", () => {
  const rows = n3.balanceChecks();
  assert.equal(rows.length, 18);
  assert.ok(rows.every((r) => r.bounds_hold));
  for (const r of rows) assert.ok(r.relative_gap < 1e-9, `${r.relative_gap}`);
  assert.match(n3.balanceSummary(rows), /18 of 18/);
  const all = n3.allWeightsRows().find((r) => r.rho === 0.3)!;
  assert.ok(all.all_weights_below_w_ST);
  assert.ok(Math.abs(all.w_SAM_all_weights_L2 - 0.8424) < 1e-4, `${all.w_SAM_all_weights_L2}`);
});

Deno.test("notebook 4.4: the check values agree; the error ratio tends to 16 and error/rho^4 to b", () => {
  const checks = n4.checkValues();
  assert.deepEqual(checks.map((r) => r.rho), [1, 4]);
  assert.ok(checks.every((r) => r.agree_to_5_decimals));
  for (const r of n4.rho4Rows().filter((r) => r.rho_over_scale === 0.05)) {
    assert.ok(
      Math.abs(r.ratio_error_rho_over_error_half_rho - 16) < 0.5,
      `${r.p}: ${r.ratio_error_rho_over_error_half_rho}`,
    );
    assert.ok(
      relGap(r.error_over_rho4, r.derived_b) < 0.05,
      `${r.p}: ${r.error_over_rho4} vs ${r.derived_b}`,
    );
  }
  assert.match(n4.smallnessSummary(), /8% of its correction at rho = 0\.01 and 76% at rho = 0\.1/);
});

Deno.test("notebook 4.5: AT at eps(rho) gives exactly the small-rho w_SAM; rho/eps is at least 2 sqrt(3d)/eta", () => {
  const rows = n5.matchingRows();
  for (const r of rows) assert.ok(r.gap_to_small_rho_w_SAM < 1e-12, `${r.gap_to_small_rho_w_SAM}`);
  for (const r of rows) {
    const m = n5.model(r.d);
    assert.ok(relGap(wAT(m, r.eps_matching_exact_w_SAM), wSAM(m, r.rho)) < 1e-12);
  }
  for (const r of n5.radiusRatioRows()) {
    assert.ok(relGap(r.min_rho_over_eps, r.bound_2_sqrt_3d_over_eta) < 1e-12);
  }
});

Deno.test("theorem notebooks: every chart has a {text} title and titled axes", () => {
  const charts: [string, Chart][] = [
    ["4.1 accuracy curves", n1.accuracyCurvesChart()],
    ["4.1 Monte Carlo", n1.monteCarloChart(n1.monteCarloRows())],
    ["4.2 strength", n2.strengthChart()],
    ["4.2 robust accuracy", n2.robustAccuracyChart(n2.attackedRows())],
    ["4.3 objective", n3.samObjectiveChart()],
    ["4.3 bounds", n3.boundsChart()],
    ["4.4 exact vs approx", n4.exactVsApproxChart()],
    ["4.4 error", n4.errorChart()],
    ["4.5 equivalence", n5.equivalenceChart()],
  ];
  for (const [name, c] of charts) assertTitled(c, name);
});

// Synthetic runs in the shape runToyTraining returns: two samples, ST in both regimes, AT on the
// first, and one SAM radius.
function syntheticRuns(): training.ToyRun[] {
  const w0 = wST(training.TOY.model);
  const base = { theta1: 2.2, mean_non_robust_weight: 0.2, theta_norm: 3, seconds: 0.1 };
  const runs: training.ToyRun[] = [];
  for (const [sample, noise] of [[1, 0.1], [2, -0.1]]) {
    runs.push({
      ...base,
      sample,
      method: "st",
      weights: "all trained",
      eps: null,
      rho: null,
      rho_w: null,
      w: w0 + noise,
      shift: 0,
    });
    runs.push({
      ...base,
      sample,
      method: "st",
      weights: "non-robust fixed",
      eps: null,
      rho: null,
      rho_w: null,
      w: w0 + noise,
      shift: 0,
    });
    if (sample === 1) {
      runs.push({
        ...base,
        sample,
        method: "at",
        weights: "all trained",
        eps: 0.04,
        rho: null,
        rho_w: null,
        w: wAT(training.TOY.model, 0.04),
        shift: 7,
      });
    }
    for (const method of ["sam-w", "sam-w-exact", "sam-all"] as const) {
      runs.push({
        ...base,
        theta1: 2.2 * (1 + noise / 10),
        sample,
        method,
        weights: "all trained",
        eps: null,
        rho: 1.6,
        rho_w: 8 + noise,
        w: w0 + noise + (sample === 1 ? 0.3 : 0.1),
        shift: sample === 1 ? 0.3 : 0.1,
      });
    }
    for (const method of ["sam-w", "sam-w-exact"] as const) {
      runs.push({
        ...base,
        sample,
        method,
        weights: "non-robust fixed",
        eps: null,
        rho: 1.6,
        rho_w: 8,
        w: w0 + noise,
        shift: 0,
      });
    }
  }
  return runs;
}

Deno.test("notebook 4.3 training: summarizeRuns groups by method, regime and radius, with paired shifts", () => {
  const reference: training.PopulationReference = (method) => (method === "sam-w" ? 11 : NaN);
  const summary = training.summarizeRuns(syntheticRuns(), reference, () => 0.3);
  assert.equal(summary.length, 8);
  const st = summary.find((r) => r.method === "st" && r.weights === "all trained")!;
  assert.equal(st.samples, 2);
  assert.ok(Math.abs(st.w - wST(training.TOY.model)) < 1e-12, "mean over the samples");
  assert.equal(st.shift, null);
  assert.ok(Math.abs(st.w_se - 0.3 / Math.SQRT2) < 1e-15);
  const at = summary.find((r) => r.method === "at")!;
  assert.equal(at.setting, "eps = 0.04");
  assert.equal(at.samples, 1);
  assert.equal(at.shift_se, null, "one sample: no paired standard error");
  assert.ok(at.rel_gap_to_paper < 1e-15);
  const all = summary.find((r) => r.method === "sam-all")!;
  assert.equal(all.setting, "rho = 1.6");
  assert.ok(Math.abs(all.shift! - 0.2) < 1e-12 && Math.abs(all.shift_se! - 0.1) < 1e-12);
  assert.equal(all.rho_w, 8);
  assert.ok(relGap(all.paper_theory_w, wSAMAllWeightsL2(training.TOY.model, 8)) < 1e-12);
  assert.equal(all.logistic_population_w, null, "no reference for sam-all");
  const w = summary.find((r) => r.method === "sam-w" && r.weights === "all trained")!;
  assert.equal(w.logistic_population_w, 11);
  assert.ok(relGap(w.paper_theory_w, wSAM(training.TOY.model, 8)) < 1e-12);
});

Deno.test("notebook 4.3 training: findings and charts from the summary", () => {
  const runs = syntheticRuns();
  const summary = training.summarizeRuns(runs, (m) => (m === "sam-all" ? NaN : 11), () => 0.3);
  const text = training.findings(runs, summary);
  assert.match(text, /within 0\.\d standard errors of w_ST or w_AT/);
  assert.match(text, /library samStep on all weights: \+0\.20 ± 0\.1 \(paper [+-]\d\.\d\d\)/);
  assert.match(text, /changes theta1 by [+-]0\.00%/);
  assert.equal(training.signed(0.004), "0.00");
  assert.equal(training.signed(-1.404), "-1.40");
  assert.equal(training.signed(0.89), "+0.89");
  assertTitled(training.atChart(runs), "4.3 AT");
  const fixed = training.shiftChartFixed(summary), free = training.shiftChartAllTrained(summary);
  assertTitled(fixed, "4.3 shift, fixed");
  assertTitled(free, "4.3 shift, all trained");
  for (const c of [fixed, free]) {
    const y = (c.layout.yaxis as { title: { text: string } }).title.text;
    assert.ok(y.length <= 30, `the shift charts' y title fits the plot's height: "${y}"`);
  }
});
