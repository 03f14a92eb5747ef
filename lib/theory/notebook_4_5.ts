/**
 * The Theorem 4.5 notebook (notebooks/theorem_4_5_sam_vs_at_strength.ipynb): AT at the matching
 * eps against the small-rho and the exact w_SAM, the eps-rho equivalence curve, and SAM's radius
 * per unit of AT radius. The theory: docs/theory.md#theorem-45, docs/theory.md#exact-matching-eps,
 * docs/theory.md#sam-needs-a-larger-radius.
 */
import type { Chart, PlotlyTrace } from "../report/notebook.ts";
import { chart } from "../report/chart_parts.ts";
import {
  epsMatchingRho,
  epsMatchingRhoExact,
  smallRhoScale,
  wAT,
  wSAM,
  wSAMApprox,
} from "./gaussian_model.ts";
import { logspace, maxOf, relGap } from "./notebook_common.ts";

/** The notebook's models: p = 0.9, eta = 0.1 and the given d. */
const ETA = 0.1;
export const model = (d: number) => ({ p: 0.9, eta: ETA, d });

export interface MatchingRow {
  d: number;
  rho: number;
  rho_over_smallRhoScale: number;
  eps_matching: number;
  eps_over_rho: number;
  w_AT_at_eps: number;
  gap_to_small_rho_w_SAM: number;
  gap_to_exact_w_SAM: number;
  eps_matching_exact_w_SAM: number;
}

/** AT at eps(rho) against the small-rho and the exact w_SAM, for three d and four rho / sqrt(d). */
export function matchingRows(): MatchingRow[] {
  const rows: MatchingRow[] = [];
  for (const d of [10, 100, 1000]) {
    const m = model(d);
    for (const rhoOverSqrtD of [0.01, 0.1, 0.3, 1]) {
      const rho = rhoOverSqrtD * Math.sqrt(d);
      const eps = epsMatchingRho(m, rho), w = wAT(m, eps);
      rows.push({
        d,
        rho,
        rho_over_smallRhoScale: rho / smallRhoScale(m),
        eps_matching: eps,
        eps_over_rho: eps / rho,
        w_AT_at_eps: w,
        gap_to_small_rho_w_SAM: relGap(w, wSAMApprox(m, rho)),
        gap_to_exact_w_SAM: relGap(w, wSAM(m, rho)),
        eps_matching_exact_w_SAM: epsMatchingRhoExact(m, rho),
      });
    }
  }
  return rows;
}

export function matchingSummary(rows: MatchingRow[]): string {
  const exact = rows.map((r) => r.gap_to_exact_w_SAM);
  return `Largest gap to the small-rho w_SAM: **${
    maxOf(rows, (r) => r.gap_to_small_rho_w_SAM).toExponential(1)
  }** ` +
    `(exact up to rounding). Gap to the exact w_SAM: from **${
      Math.min(...exact).toExponential(1)
    }** ` +
    `to **${
      Math.max(...exact).toExponential(1)
    }**, growing with rho (like rho^4 while rho is small).`;
}

/** eps(rho) of Theorem 4.5 for four d, with the eps* that matches the exact w_SAM as markers. */
export function equivalenceChart(): Chart {
  const rhos = logspace(-1, 2, 61);
  const marks = logspace(-1, 2, 9);
  const colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"];
  const traces: PlotlyTrace[] = [];
  [1, 10, 100, 1000].forEach((d, i) => {
    const m = model(d);
    traces.push({
      x: rhos,
      y: rhos.map((r) => epsMatchingRho(m, r)),
      mode: "lines",
      name: `d = ${d}: eta rho^2 / (3d + rho^2)`,
      line: { color: colors[i] },
    });
    traces.push({
      x: marks,
      y: marks.map((r) => epsMatchingRhoExact(m, r)),
      mode: "markers",
      name: `d = ${d}: matches exact w_SAM`,
      marker: { color: colors[i], symbol: "circle-open", size: 8 },
    });
  });
  // eps(rho) rises to eta as rho grows: its limit, drawn across the plot (an eps = rho line would
  // leave the axis range, whose top is near eta, after the first few points).
  traces.push({
    x: [rhos[0], rhos[rhos.length - 1]],
    y: [ETA, ETA],
    mode: "lines",
    name: `eps = eta = ${ETA} (the limit as rho grows)`,
    line: { color: "gray", dash: "dot" },
  });
  return chart(
    traces,
    "AT radius eps that gives the same w as SAM with radius rho (eta = 0.1)",
    "SAM radius rho",
    "AT radius eps",
    { xaxis: { type: "log" }, yaxis: { type: "log", range: [-8, -0.9], exponentformat: "power" } },
  );
}

/** rho / eps(rho) at its minimum rho = sqrt(3d), against the bound 2 sqrt(3d) / eta, and at rho = 1. */
export function radiusRatioRows(): {
  d: number;
  rho_at_minimum: number;
  min_rho_over_eps: number;
  bound_2_sqrt_3d_over_eta: number;
  rho_over_eps_at_rho_1: number;
}[] {
  return [1, 10, 100, 1000].map((d) => {
    const m = model(d);
    const rho = Math.sqrt(3 * d);
    return {
      d,
      rho_at_minimum: rho,
      min_rho_over_eps: rho / epsMatchingRho(m, rho),
      bound_2_sqrt_3d_over_eta: (2 * Math.sqrt(3 * d)) / m.eta,
      rho_over_eps_at_rho_1: 1 / epsMatchingRho(m, 1),
    };
  });
}
