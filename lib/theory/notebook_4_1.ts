/**
 * The Theorem 4.1 notebook (notebooks/theorem_4_1_standard_training.ipynb): the closed form w_ST
 * against a numerical maximisation of the accuracy, the accuracy curves for several d, and Monte
 * Carlo accuracies of samples from the model. The theory: docs/theory.md#theorem-41.
 */
import type { Chart } from "../report/notebook.ts";
import { chart, vline } from "../report/chart_parts.ts";
import {
  accuracy,
  empiricalAccuracy,
  errorRate,
  type GaussianModel,
  sampleGaussianModel,
  wNumericST,
  wST,
} from "./gaussian_model.ts";
import { CHECK_MODEL, linspace, maxOf, relGap } from "./notebook_common.ts";

export interface ClosedFormRow {
  p: number;
  eta: number;
  d: number;
  w_ST_closed_form: number;
  w_ST_numeric: number;
  relative_gap: number;
  accuracy_at_w_ST: number;
  error_at_w_ST: number;
}

/** w_ST in closed form and by direct maximisation of A, over a grid of p, eta and d. */
export function closedFormChecks(): ClosedFormRow[] {
  const rows: ClosedFormRow[] = [];
  for (const p of [0.6, 0.75, 0.9, 0.99]) {
    for (const eta of [0.02, 0.1, 0.5]) {
      for (const d of [1, 100, 1000]) {
        const m = { p, eta, d };
        const closed = wST(m), numeric = wNumericST(m);
        rows.push({
          p,
          eta,
          d,
          w_ST_closed_form: closed,
          w_ST_numeric: numeric,
          relative_gap: relGap(numeric, closed),
          accuracy_at_w_ST: accuracy(m, closed),
          error_at_w_ST: errorRate(m, closed),
        });
      }
    }
  }
  return rows;
}

export function closedFormSummary(rows: ClosedFormRow[]): string {
  return `Largest relative gap between the closed form and the numerical optimum over ${rows.length} models: ` +
    `**${maxOf(rows, (r) => r.relative_gap).toExponential(2)}**.`;
}

/** The curves' model without d: p = 0.9, eta = 0.1. */
export const CURVE_BASE = { p: CHECK_MODEL.p, eta: CHECK_MODEL.eta };
export const CURVE_DS = [1, 10, 100, 1000];
const CURVE_WS = linspace(-10, 40, 251);

/** A(w) for several d: every curve peaks at the same w_ST. */
export function accuracyCurvesChart(): Chart {
  const w0 = wST({ ...CURVE_BASE, d: 1 });
  return chart(
    CURVE_DS.map((d) => ({
      x: CURVE_WS,
      y: CURVE_WS.map((w) => accuracy({ ...CURVE_BASE, d }, w)),
      mode: "lines",
      name: `d = ${d}`,
    })),
    `A(w) for p = ${CURVE_BASE.p}, eta = ${CURVE_BASE.eta}: each curve peaks at w_ST = ${
      w0.toFixed(4)
    } (dashed)`,
    "w (weight on the robust feature)",
    "accuracy A(w)",
    { shapes: [vline(w0, "black")] },
  );
}

/** Where each curve of accuracyCurvesChart peaks, found numerically. */
export function curveMaxima(): {
  d: number;
  numeric_argmax: number;
  w_ST: number;
  max_accuracy: number;
}[] {
  return CURVE_DS.map((d) => {
    const m = { ...CURVE_BASE, d };
    return { d, numeric_argmax: wNumericST(m), w_ST: wST(m), max_accuracy: accuracy(m, wST(m)) };
  });
}

export const MONTE_CARLO = { model: CHECK_MODEL as GaussianModel, n: 4000, seed: 1 };

export interface MonteCarloRow {
  w: number;
  accuracy_exact: number;
  accuracy_monte_carlo: number;
  standard_error: number;
  gap_in_standard_errors: number;
}

/** The share of MONTE_CARLO's samples that f_w classifies correctly, against A(w). */
export function monteCarloRows(): MonteCarloRow[] {
  const { model, n, seed } = MONTE_CARLO;
  const sample = sampleGaussianModel(model, n, seed);
  const ws = linspace(-10, 40, 11).concat([wST(model)]).sort((a, b) => a - b);
  return ws.map((w) => {
    const exact = accuracy(model, w), empirical = empiricalAccuracy(sample, w);
    const se = Math.sqrt((exact * (1 - exact)) / n);
    return {
      w,
      accuracy_exact: exact,
      accuracy_monte_carlo: empirical,
      standard_error: se,
      gap_in_standard_errors: (empirical - exact) / se,
    };
  });
}

/** monteCarloRows as markers with ±2 standard errors on the analytic curve. */
export function monteCarloChart(rows: MonteCarloRow[]): Chart {
  const { model, n } = MONTE_CARLO;
  return chart(
    [
      {
        x: CURVE_WS,
        y: CURVE_WS.map((w) => accuracy(model, w)),
        mode: "lines",
        name: "A(w), exact",
      },
      {
        x: rows.map((r) => r.w),
        y: rows.map((r) => r.accuracy_monte_carlo),
        mode: "markers",
        name: `Monte Carlo, n = ${n}`,
        error_y: { type: "data", array: rows.map((r) => 2 * r.standard_error) },
      },
    ],
    `Monte Carlo accuracy of sampled data (d = ${model.d}) against A(w)`,
    "w",
    "accuracy",
    { shapes: [vline(wST(model), "black")] },
  );
}
