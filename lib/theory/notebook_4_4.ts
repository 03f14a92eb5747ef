/**
 * The Theorem 4.4 notebook (notebooks/theorem_4_4_small_rho_approximation.ipynb): the check values
 * recomputed, exact against small-rho w_SAM, the rho^4 law of the approximation's error against
 * the derived coefficient b, and how small "small rho" is. The theory: docs/theory.md#theorem-44,
 * docs/theory.md#check-values, docs/theory.md#next-term-of-the-expansion,
 * docs/theory.md#how-small-is-small.
 */
import type { Chart, PlotlyTrace } from "../report/notebook.ts";
import { chart } from "../report/chart_parts.ts";
import {
  type GaussianModel,
  smallRhoScale,
  wSAM,
  wSAMApprox,
  wSAMExpansion,
  wST,
} from "./gaussian_model.ts";
import { CHECK_MODEL, COUNTER_MODEL, linspace, logspace, relGap } from "./notebook_common.ts";

/**
 * The check values as docs/theory.md#check-values states them (5 decimals): rho -> [exact w_SAM,
 * w_ST (1 + rho^2/(3d))] for CHECK_MODEL.
 */
export const STATED_CHECK_VALUES: Record<number, [number, number]> = {
  1: [11.02276, 11.02274],
  4: [11.57660, 11.57205],
};

export interface CheckValueRow {
  rho: number;
  w_ST: number;
  w_SAM_exact: number;
  w_SAM_approx: number;
  stated_exact: number;
  stated_approx: number;
  agree_to_5_decimals: boolean;
  relative_error_of_approx: number;
}

/** The check values recomputed, beside the stated ones. */
export function checkValues(): CheckValueRow[] {
  const m = CHECK_MODEL;
  return Object.entries(STATED_CHECK_VALUES).map(([key, [exact, approx]]) => {
    const rho = Number(key);
    const w = wSAM(m, rho), a = wSAMApprox(m, rho);
    return {
      rho,
      w_ST: wST(m),
      w_SAM_exact: w,
      w_SAM_approx: a,
      stated_exact: exact,
      stated_approx: approx,
      agree_to_5_decimals: Math.abs(w - exact) < 5e-6 && Math.abs(a - approx) < 5e-6,
      relative_error_of_approx: relGap(a, w),
    };
  });
}

/** Exact and small-rho w_SAM against rho, for CHECK_MODEL. */
export function exactVsApproxChart(): Chart {
  const m = CHECK_MODEL;
  const rhos = linspace(0, 20, 81);
  return chart(
    [
      {
        x: rhos,
        y: rhos.map((r) => wSAM(m, r)),
        mode: "lines",
        name: "w_SAM, exact (balance equation)",
        line: { width: 3 },
      },
      {
        x: rhos,
        y: rhos.map((r) => wSAMApprox(m, r)),
        mode: "lines",
        name: "w_ST (1 + rho^2 / (3d))",
        line: { dash: "dash" },
      },
      {
        x: rhos,
        y: rhos.map(() => wST(m)),
        mode: "lines",
        name: "w_ST",
        line: { color: "black", dash: "dot" },
      },
    ],
    `Exact vs small-rho w_SAM (p = ${m.p}, eta = ${m.eta}, d = ${m.d}; smallRhoScale = ${
      smallRhoScale(m).toFixed(2)
    })`,
    "rho",
    "w",
  );
}

/** The four models of the error study; the last has large margins (u ≈ 115). */
export const ERROR_MODELS: GaussianModel[] = [
  CHECK_MODEL,
  COUNTER_MODEL,
  { p: 0.6, eta: 0.3, d: 1000 },
  { p: 0.99, eta: 0.02, d: 1 },
];

const label = (m: GaussianModel) => `p=${m.p}, eta=${m.eta}, d=${m.d}`;

/** |w_SAM - w_ST (1 + rho^2/(3d))| / w_SAM. */
export function relativeError(m: GaussianModel, rho: number): number {
  return Math.abs(wSAM(m, rho) - wSAMApprox(m, rho)) / wSAM(m, rho);
}

/**
 * Below this relative error the computed difference is rounding noise: the exact w_SAM is found
 * to about 1e-15 relative, so smaller "errors" come out as 0 or 1e-16 spikes. Not plotted.
 */
export const ERROR_FLOOR = 1e-13;

/** Relative error against rho / smallRhoScale on log-log axes, with a slope-4 guide. */
export function errorChart(): Chart {
  const kappas = logspace(-2.5, 0, 41);
  const traces: PlotlyTrace[] = ERROR_MODELS.map((m) => ({
    x: kappas,
    y: kappas.map((k) => {
      const e = relativeError(m, k * smallRhoScale(m));
      return e > ERROR_FLOOR ? e : null;
    }),
    mode: "lines+markers",
    marker: { size: 4 },
    name: label(m),
  }));
  traces.push({
    x: [0.01, 0.3],
    y: [1e-12, 1e-12 * 30 ** 4],
    mode: "lines",
    name: "slope 4",
    line: { color: "gray", dash: "dash" },
  });
  return chart(
    traces,
    `Relative error of the small-rho form (log-log; errors below ${ERROR_FLOOR}, rounding noise of the exact w_SAM, not plotted)`,
    "rho / smallRhoScale",
    "relative error",
    { xaxis: { type: "log" }, yaxis: { type: "log", exponentformat: "power" } },
  );
}

export interface Rho4Row {
  p: number;
  eta: number;
  d: number;
  rho_over_scale: number;
  rho: number;
  error: number;
  ratio_error_rho_over_error_half_rho: number;
  local_log_log_slope: number;
  error_over_rho4: number;
  derived_b: number;
}

/** The error at rho and rho/2: their ratio (16 for a rho^4 law), the local slope, error / rho^4 vs b. */
export function rho4Rows(): Rho4Row[] {
  const rows: Rho4Row[] = [];
  for (const m of ERROR_MODELS) {
    const { b } = wSAMExpansion(m);
    for (const k of [0.4, 0.2, 0.1, 0.05]) {
      const rho = k * smallRhoScale(m);
      const e1 = wSAM(m, rho) - wSAMApprox(m, rho), e2 = wSAM(m, rho / 2) - wSAMApprox(m, rho / 2);
      rows.push({
        p: m.p,
        eta: m.eta,
        d: m.d,
        rho_over_scale: k,
        rho,
        error: e1,
        ratio_error_rho_over_error_half_rho: e1 / e2,
        local_log_log_slope: Math.log2(e1 / e2),
        error_over_rho4: e1 / rho ** 4,
        derived_b: b,
      });
    }
  }
  return rows;
}

/** The approximation's error as a share of the correction w_ST rho^2/(3d) it adds. */
export function errorShare(m: GaussianModel, rho: number): number {
  return (wSAM(m, rho) - wSAMApprox(m, rho)) / (wSAMApprox(m, rho) - wST(m));
}

/** The large-margin model of ERROR_MODELS. */
export const TAIL_MODEL: GaussianModel = ERROR_MODELS[3];

export function smallnessSummary(): string {
  const m = TAIL_MODEL;
  const sqrtD = Math.sqrt(m.d), u = (wST(m) + m.d * m.eta) / sqrtD;
  const pct = (rho: number) => (100 * Math.abs(errorShare(m, rho))).toFixed(0);
  return `In the model p = ${m.p}, eta = ${m.eta}, d = ${m.d}, w_ST = ${
    wST(m).toFixed(1)
  } and the margin ` +
    `u = ${u.toFixed(1)}: the approximation's error is ${pct(0.01)}% of its correction at ` +
    `rho = 0.01 and ${pct(0.1)}% at rho = 0.1, although rho is well below sqrt(d) = ${sqrtD}.`;
}

/** For each model and rho in {0.01, 0.1, 1}: the correction, the exact shift, the error's share. */
export function smallnessRows(): {
  p: number;
  eta: number;
  d: number;
  rho: number;
  smallRhoScale: number;
  correction_w_ST_rho2_over_3d: number;
  exact_shift: number;
  approx_error_over_correction: number;
}[] {
  return ERROR_MODELS.flatMap((m) =>
    [0.01, 0.1, 1].map((rho) => ({
      p: m.p,
      eta: m.eta,
      d: m.d,
      rho,
      smallRhoScale: smallRhoScale(m),
      correction_w_ST_rho2_over_3d: wSAMApprox(m, rho) - wST(m),
      exact_shift: wSAM(m, rho) - wST(m),
      approx_error_over_correction: errorShare(m, rho),
    }))
  );
}
