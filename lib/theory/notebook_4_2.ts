/**
 * The Theorem 4.2 notebook (notebooks/theorem_4_2_adversarial_training.ipynb): the closed form
 * w_AT against a numerical maximisation of the robust accuracy, w_AT and the accuracies against
 * eps, Monte Carlo accuracies of attacked samples, and the derived caution of attacking x1 too.
 * The theory: docs/theory.md#theorem-42, docs/theory.md#the-attack-model,
 * docs/theory.md#caution-attacking-x1-too.
 */
import type { Chart, PlotlyTrace } from "../report/notebook.ts";
import { axis, chart, vline } from "../report/chart_parts.ts";
import {
  accuracy,
  empiricalAccuracy,
  type GaussianModel,
  sampleGaussianModel,
  wAT,
  wATAllFeaturesNumeric,
  wNumericAT,
  wST,
} from "./gaussian_model.ts";
import { CHECK_MODEL, COUNTER_MODEL, linspace, maxOf, relGap } from "./notebook_common.ts";

export interface ClosedFormRow {
  p: number;
  eta: number;
  d: number;
  eps: number;
  w_AT_closed_form: number;
  w_AT_numeric: number;
  relative_gap: number;
  ratio_to_w_ST: number;
  eta_over_eta_minus_eps: number;
}

/** w_AT in closed form and by direct maximisation of A_eps, for three models and six eps. */
export function closedFormChecks(): ClosedFormRow[] {
  const rows: ClosedFormRow[] = [];
  for (const m of [CHECK_MODEL, COUNTER_MODEL, { p: 0.99, eta: 0.02, d: 1000 }]) {
    for (const frac of [0, 0.1, 0.25, 0.5, 0.75, 0.9]) {
      const eps = frac * m.eta;
      const closed = wAT(m, eps), numeric = wNumericAT(m, eps);
      rows.push({
        p: m.p,
        eta: m.eta,
        d: m.d,
        eps,
        w_AT_closed_form: closed,
        w_AT_numeric: numeric,
        relative_gap: relGap(numeric, closed),
        ratio_to_w_ST: closed / wST(m),
        eta_over_eta_minus_eps: m.eta / (m.eta - eps),
      });
    }
  }
  return rows;
}

export function closedFormSummary(rows: ClosedFormRow[]): string {
  const ratioGap = maxOf(rows, (r) => relGap(r.ratio_to_w_ST, r.eta_over_eta_minus_eps));
  return `Largest relative gap between the closed form and the numerical optimum: ` +
    `**${
      maxOf(rows, (r) => r.relative_gap).toExponential(2)
    }**; w_AT / w_ST equals eta/(eta - eps) ` +
    `in every row (largest relative difference ${ratioGap.toExponential(1)}).`;
}

const M: GaussianModel = CHECK_MODEL;

/** w_AT(eps) (left axis) and the clean and robust accuracies it buys (right axis). */
export function strengthChart(): Chart {
  const grid = linspace(0, 0.9 * M.eta, 46);
  const marks = linspace(0, 0.9 * M.eta, 10);
  return chart(
    [
      { x: grid, y: grid.map((e) => wAT(M, e)), mode: "lines", name: "w_AT (closed form)" },
      {
        x: marks,
        y: marks.map((e) => wNumericAT(M, e)),
        mode: "markers",
        name: "w_AT (numerical)",
      },
      {
        x: grid,
        y: grid.map((e) => accuracy(M, wAT(M, e))),
        mode: "lines",
        yaxis: "y2",
        name: "clean accuracy A(w_AT)",
        line: { dash: "dot" },
      },
      {
        x: grid,
        y: grid.map((e) => accuracy(M, wAT(M, e), e)),
        mode: "lines",
        yaxis: "y2",
        name: "robust accuracy A_eps(w_AT)",
      },
      {
        x: grid,
        y: grid.map((e) => accuracy(M, wST(M), e)),
        mode: "lines",
        yaxis: "y2",
        name: "robust accuracy A_eps(w_ST)",
        line: { dash: "dash" },
      },
    ],
    `Adversarial training in the model (p = ${M.p}, eta = ${M.eta}, d = ${M.d})`,
    "attack size eps",
    "w_AT",
    {
      yaxis2: axis("accuracy", { overlaying: "y", side: "right", range: [0.5, 1] }),
      // Below the plot: inside, it would cover the accuracy curves, which run along the top.
      legend: { orientation: "h", x: 0, y: -0.22, yanchor: "top" },
      height: 520,
    },
  );
}

export const ATTACK_EPS = [0, 0.03, 0.06];
export const MONTE_CARLO = { model: M, n: 4000, seed: 2 };

export interface AttackedRow {
  eps: number;
  w: number;
  accuracy_exact: number;
  accuracy_monte_carlo: number;
  standard_error: number;
  gap_in_standard_errors: number;
}

/** Accuracy of MONTE_CARLO's samples after the attack x_i -> x_i - eps*y, at a few w per eps. */
export function attackedRows(): AttackedRow[] {
  const { model, n, seed } = MONTE_CARLO;
  const sample = sampleGaussianModel(model, n, seed);
  return ATTACK_EPS.flatMap((eps) =>
    [0, 20, 40, 60, 80, wAT(model, eps)].map((w) => {
      const exact = accuracy(model, w, eps), empirical = empiricalAccuracy(sample, w, eps);
      const se = Math.sqrt((exact * (1 - exact)) / n);
      return {
        eps,
        w,
        accuracy_exact: exact,
        accuracy_monte_carlo: empirical,
        standard_error: se,
        gap_in_standard_errors: (empirical - exact) / se,
      };
    })
  );
}

/** A_eps(w) for each attack size, with attackedRows as markers (±2 standard errors). */
export function robustAccuracyChart(rows: AttackedRow[]): Chart {
  const ws = linspace(-10, 80, 181);
  const traces: PlotlyTrace[] = [];
  for (const eps of ATTACK_EPS) {
    const marks = rows.filter((r) => r.eps === eps);
    traces.push({
      x: ws,
      y: ws.map((w) => accuracy(M, w, eps)),
      mode: "lines",
      name: `A_eps(w), eps = ${eps}`,
    });
    traces.push({
      x: marks.map((r) => r.w),
      y: marks.map((r) => r.accuracy_monte_carlo),
      mode: "markers",
      name: `Monte Carlo, eps = ${eps}`,
      error_y: { type: "data", array: marks.map((r) => 2 * r.standard_error) },
    });
  }
  return chart(
    traces,
    `Robust accuracy A_eps(w): analytic curves and attacked samples (d = ${M.d})`,
    "w",
    "accuracy under the eps attack",
    { shapes: ATTACK_EPS.map((e) => vline(wAT(M, e), "gray")) },
  );
}

/** The derived caution: with x1 attacked too, the robust optimum falls below w_ST. */
export function x1AttackedRows(): {
  eps: number;
  w_ST: number;
  w_AT_paper_threat_model: number;
  w_AT_x1_attacked_too: number;
  below_w_ST: boolean;
}[] {
  const c = COUNTER_MODEL;
  return [0.05, 0.1, 0.2, 0.3].map((eps) => {
    const attacked = wATAllFeaturesNumeric(c, eps);
    return {
      eps,
      w_ST: wST(c),
      w_AT_paper_threat_model: wAT(c, eps),
      w_AT_x1_attacked_too: attacked,
      below_w_ST: attacked < wST(c),
    };
  });
}
