/**
 * The Theorem 4.3 notebook (notebooks/theorem_4_3_sam_improves_robust_weight.ipynb), its theory
 * part: the balance solution w_SAM against a brute-force min-max, the bounds
 * w_ST < w_SAM < w_ST + rho, the SAM objective against the plain loss, and the derived caution of
 * SAM on all weights. The training part is notebook_4_3_training.ts. The theory:
 * docs/theory.md#sam-objective, docs/theory.md#theorem-43, docs/theory.md#caution-sam-on-all-weights.
 */
import type { Chart } from "../report/notebook.ts";
import { chart, vline } from "../report/chart_parts.ts";
import {
  errorRate,
  type GaussianModel,
  samObjective,
  samObjectiveBruteForce,
  wSAM,
  wSAMAllWeightsL2,
  wSAMBruteForce,
  wST,
} from "./gaussian_model.ts";
import {
  CHECK_MODEL,
  COUNTER_MODEL,
  linspace,
  logspace,
  maxOf,
  relGap,
} from "./notebook_common.ts";

export interface BalanceRow {
  p: number;
  eta: number;
  d: number;
  rho: number;
  w_ST: number;
  w_SAM_balance: number;
  w_SAM_brute_force: number;
  relative_gap: number;
  shift_over_rho: number;
  bounds_hold: boolean;
}

/** w_SAM from the balance equation and by brute-force min-max, for three models and six rho. */
export function balanceChecks(): BalanceRow[] {
  const rows: BalanceRow[] = [];
  for (const m of [CHECK_MODEL, COUNTER_MODEL, { p: 0.99, eta: 0.02, d: 1 }]) {
    for (const rho of [0.01, 0.1, 1, 4, 10, 30]) {
      const w0 = wST(m), w = wSAM(m, rho), brute = wSAMBruteForce(m, rho);
      rows.push({
        p: m.p,
        eta: m.eta,
        d: m.d,
        rho,
        w_ST: w0,
        w_SAM_balance: w,
        w_SAM_brute_force: brute,
        relative_gap: relGap(brute, w),
        shift_over_rho: (w - w0) / rho,
        bounds_hold: w0 < w && w < w0 + rho,
      });
    }
  }
  return rows;
}

export function balanceSummary(rows: BalanceRow[]): string {
  return `Bounds hold in **${rows.filter((r) => r.bounds_hold).length} of ${rows.length}** rows; ` +
    `largest relative gap balance vs brute force: **${
      maxOf(rows, (r) => r.relative_gap).toExponential(2)
    }**. ` +
    "(`tests/theory_test.ts` checks the same over a grid and 1000 random draws.)";
}

const M: GaussianModel = CHECK_MODEL;
/** The SAM radius of samObjectiveChart. */
export const OBJECTIVE_RHO = 4;

/** L(w), L(w ± rho) and the SAM objective, with brute-force inner maxima as markers. */
export function samObjectiveChart(): Chart {
  const rho = OBJECTIVE_RHO;
  const ws = linspace(0, 25, 251);
  const marks = linspace(1, 24, 12);
  const w0 = wST(M), w1 = wSAM(M, rho);
  return chart(
    [
      { x: ws, y: ws.map((w) => errorRate(M, w)), mode: "lines", name: "L(w)" },
      {
        x: ws,
        y: ws.map((w) => errorRate(M, w - rho)),
        mode: "lines",
        name: "L(w - rho)",
        line: { dash: "dot" },
      },
      {
        x: ws,
        y: ws.map((w) => errorRate(M, w + rho)),
        mode: "lines",
        name: "L(w + rho)",
        line: { dash: "dot" },
      },
      {
        x: ws,
        y: ws.map((w) => samObjective(M, w, rho)),
        mode: "lines",
        name: "SAM objective max(L(w-rho), L(w+rho))",
        line: { width: 3 },
      },
      {
        x: marks,
        y: marks.map((w) => samObjectiveBruteForce(M, w, rho)),
        mode: "markers",
        name: "brute-force max over |delta| <= rho",
      },
    ],
    `SAM objective vs loss (rho = ${rho}): w_ST = ${w0.toFixed(3)} (black), w_SAM = ${
      w1.toFixed(3)
    } (red)`,
    "w",
    "loss L = 1 - A",
    { yaxis: { range: [0, 0.35] }, shapes: [vline(w0, "black"), vline(w1, "red")] },
  );
}

/** w_SAM against rho inside the band (w_ST, w_ST + rho). */
export function boundsChart(): Chart {
  const rhos = logspace(-2, 1.5, 61);
  const w0 = wST(M);
  return chart(
    [
      {
        x: rhos,
        y: rhos.map(() => w0),
        mode: "lines",
        name: "w_ST (lower bound)",
        line: { color: "black" },
      },
      {
        x: rhos,
        y: rhos.map((r) => w0 + r),
        mode: "lines",
        name: "w_ST + rho (upper bound)",
        line: { color: "gray" },
        fill: "tonexty",
        fillcolor: "rgba(128,128,128,0.15)",
      },
      {
        x: rhos,
        y: rhos.map((r) => wSAM(M, r)),
        mode: "lines",
        name: "w_SAM",
        line: { color: "red", width: 3 },
      },
    ],
    `w_SAM against rho (p = ${M.p}, eta = ${M.eta}, d = ${M.d})`,
    "rho",
    "w",
    { xaxis: { type: "log" }, yaxis: { range: [0, 60] } },
  );
}

/** The derived caution: SAM over all d+1 weights in an L2 ball puts w_SAM below w_ST. */
export function allWeightsRows(): {
  rho: number;
  w_ST: number;
  w_SAM_w_only: number;
  w_SAM_all_weights_L2: number;
  all_weights_below_w_ST: boolean;
}[] {
  const c = COUNTER_MODEL;
  return [0.1, 0.3, 0.5].map((rho) => {
    const all = wSAMAllWeightsL2(c, rho);
    return {
      rho,
      w_ST: wST(c),
      w_SAM_w_only: wSAM(c, rho),
      w_SAM_all_weights_L2: all,
      all_weights_below_w_ST: all < wST(c),
    };
  });
}
