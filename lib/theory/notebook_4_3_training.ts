/**
 * The Theorem 4.3 notebook's last section, beyond the paper: this project's SGD, SAM and PGD
 * (through toy_training.ts) train the model's linear classifier on samples, and the weight they put
 * on the robust feature is compared with the paper's theory and with population references of
 * the logistic loss. The theory: docs/theory.md#logistic-surrogate-and-training-on-the-model.
 *
 * runToyTraining trains (it needs a tfjs backend: initBackend() first); everything else computes
 * from its rows.
 */
import type { Chart, PlotlyTrace } from "../report/notebook.ts";
import { chart, LEGEND_TOP_LEFT } from "../report/chart_parts.ts";
import {
  type GaussianModel,
  sampleGaussianModel,
  wAT,
  wSAM,
  wSAMAllWeightsL2,
  wSAMApprox,
  wST,
} from "./gaussian_model.ts";
import {
  logisticOptimum,
  logisticSamExact,
  logisticSamFirstOrder,
  logisticStandardErrorW,
  type ToyMethod,
  type ToyTrainOptions,
  trainToy,
} from "./toy_training.ts";
import { CHECK_MODEL, linspace, maxOf, relGap } from "./notebook_common.ts";

/** The runs' settings: model, samples per run, sample seeds, AT and SAM radii (units of theta). */
export const TOY = {
  model: CHECK_MODEL as GaussianModel,
  n: 10000,
  seeds: [1, 2],
  /** The non-robust weights' value when they are fixed: 2 eta, their population ST value. */
  fixRest: 2 * CHECK_MODEL.eta,
  eps: [0.02, 0.04, 0.06],
  rhos: [0.8, 1.6],
} as const;

const M = TOY.model;

/** Asymptotic standard error of the trained w at TOY.n samples, under an attack of size eps. */
export function toyStandardError(eps = 0): number {
  return logisticStandardErrorW({ ...M, eta: M.eta - eps }, TOY.n);
}

export interface PopulationRow {
  eps: number;
  theta1: number;
  mean_non_robust_weight: number;
  w_population_logistic: number;
  theory: number;
  theory_name: string;
  relative_gap: number;
  standard_error_of_w_at_n: number;
}

/** The derived claims on the population logistic loss: optimum at w_ST, and at w_AT under attack. */
export function populationChecks(): PopulationRow[] {
  return [0, ...TOY.eps].map((eps) => {
    const opt = logisticOptimum({ ...M, eta: M.eta - eps });
    const target = eps === 0 ? wST(M) : wAT(M, eps);
    return {
      eps,
      theta1: opt.theta1,
      mean_non_robust_weight: opt.c,
      w_population_logistic: opt.w,
      theory: target,
      theory_name: eps === 0 ? "w_ST" : "w_AT",
      relative_gap: relGap(opt.w, target),
      standard_error_of_w_at_n: toyStandardError(eps),
    };
  });
}

export function populationSummary(rows: PopulationRow[]): string {
  const se = toyStandardError();
  return `Population logistic optimum against the theorems: largest relative gap ` +
    `**${maxOf(rows, (r) => r.relative_gap).toExponential(1)}** (quadrature and root-finding ` +
    `tolerance). Asymptotic standard error of the trained w at n = ${TOY.n}: **${
      se.toFixed(3)
    }** ` +
    `(${((100 * se) / wST(M)).toFixed(1)}% of w_ST) for ST.`;
}

export type Regime = "all trained" | "non-robust fixed";

/** One training run; `shift` is w minus that of the ST run on the same sample and regime. */
export interface ToyRun {
  sample: number;
  method: ToyMethod;
  weights: Regime;
  eps: number | null;
  rho: number | null;
  rho_w: number | null;
  theta1: number;
  mean_non_robust_weight: number;
  theta_norm: number;
  w: number;
  shift: number;
  seconds: number;
}

/**
 * Every run, from zero weights: per sample ST in both regimes; for each rho sam-w, sam-w-exact and
 * sam-all with all weights trained, sam-w and sam-w-exact with the non-robust weights fixed; on
 * the first sample also AT for each eps. Needs an initialised tfjs backend.
 */
export function runToyTraining(): { runs: ToyRun[]; seconds: number } {
  const start = performance.now();
  const runs: ToyRun[] = [];
  for (const seed of TOY.seeds) {
    const sample = sampleGaussianModel(M, TOY.n, seed);
    const stW: Partial<Record<Regime, number>> = {};
    const run = (opts: ToyTrainOptions) => {
      const r = trainToy(sample, opts);
      const regime: Regime = opts.fixRest === undefined ? "all trained" : "non-robust fixed";
      if (opts.method === "st") stW[regime] = r.w;
      runs.push({
        sample: seed,
        method: opts.method,
        weights: regime,
        eps: opts.eps ?? null,
        rho: opts.rho ?? null,
        rho_w: Number.isNaN(r.rhoW) ? null : r.rhoW,
        theta1: r.theta1,
        mean_non_robust_weight: r.meanRest,
        theta_norm: Math.hypot(r.theta1, ...r.thetaRest),
        w: r.w,
        shift: r.w - stW[regime]!,
        seconds: r.seconds,
      });
    };
    run({ method: "st" });
    run({ method: "st", fixRest: TOY.fixRest });
    if (seed === TOY.seeds[0]) { for (const eps of TOY.eps) run({ method: "at", eps, seed }); }
    for (const rho of TOY.rhos) {
      for (const method of ["sam-w", "sam-w-exact", "sam-all"] as const) run({ method, rho });
      for (const method of ["sam-w", "sam-w-exact"] as const) {
        run({ method, rho, fixRest: TOY.fixRest });
      }
    }
  }
  return { runs, seconds: (performance.now() - start) / 1000 };
}

export function trainingSummary({ runs, seconds }: { runs: ToyRun[]; seconds: number }): string {
  return `${runs.length} training runs in ${seconds.toFixed(1)} s ` +
    `(${(seconds / runs.length).toFixed(2)} s per run on average).`;
}

/**
 * The population logistic w that a SAM method reaches at radius rho (units of theta), with the
 * non-robust weights fixed at TOY.fixRest or trained; NaN for methods without a reference.
 */
export type PopulationReference = (method: ToyMethod, fixed: boolean, rho: number) => number;

export function logisticReference(): PopulationReference {
  const cache = new Map<string, number>();
  return (method, fixed, rho) => {
    const key = `${method}|${fixed}|${rho}`;
    if (!cache.has(key)) {
      const c = fixed ? TOY.fixRest : undefined;
      cache.set(
        key,
        method === "sam-w"
          ? logisticSamFirstOrder(M, rho, c).w
          : method === "sam-w-exact"
          ? logisticSamExact(M, rho, c).w
          : NaN,
      );
    }
    return cache.get(key)!;
  };
}

/** One row per method and setting, averaged over the samples, against theory and references. */
export interface SummaryRow {
  method: ToyMethod;
  weights: Regime;
  setting: string;
  rho_w: number | null;
  samples: number;
  w: number;
  w_se: number;
  shift: number | null;
  shift_se: number | null;
  paper_theory_w: number;
  paper_theory_shift: number;
  rel_gap_to_paper: number;
  logistic_population_w: number | null;
  logistic_population_shift: number | null;
  rel_gap_to_logistic_population: number | null;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Group the runs by method, regime and radius. `paper_theory_w` is the paper's 0-1-loss optimum at
 * the group's mean rho_w (w_ST, w_AT, the exact w_SAM, or for sam-all the all-weights L2 version);
 * `w_se` the asymptotic standard error of the mean w; `shift_se` |a - b| / 2 over two samples.
 */
export function summarizeRuns(
  runs: ToyRun[],
  reference: PopulationReference = logisticReference(),
  standardError: (eps: number) => number = toyStandardError,
): SummaryRow[] {
  const groups = new Map<string, ToyRun[]>();
  for (const r of runs) {
    const key = `${r.method}|${r.weights}|${r.eps}|${r.rho}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((rs) => {
    const r0 = rs[0], fixed = r0.weights === "non-robust fixed";
    const w = mean(rs.map((r) => r.w)), shift = mean(rs.map((r) => r.shift));
    const rhoW = r0.rho === null ? null : mean(rs.map((r) => r.rho_w!));
    const paper = r0.method === "st"
      ? wST(M)
      : r0.method === "at"
      ? wAT(M, r0.eps!)
      : r0.method === "sam-all"
      ? wSAMAllWeightsL2(M, rhoW!)
      : wSAM(M, rhoW!);
    const logistic = r0.method === "st"
      ? wST(M)
      : r0.method === "at"
      ? wAT(M, r0.eps!)
      : reference(r0.method, fixed, r0.rho!);
    const known = !Number.isNaN(logistic);
    return {
      method: r0.method,
      weights: r0.weights,
      setting: r0.eps !== null ? `eps = ${r0.eps}` : r0.rho !== null ? `rho = ${r0.rho}` : "",
      rho_w: rhoW,
      samples: rs.length,
      w,
      w_se: standardError(r0.eps ?? 0) / Math.sqrt(rs.length),
      shift: r0.method === "st" ? null : shift,
      shift_se: rs.length > 1 && r0.method !== "st"
        ? Math.abs(rs[0].shift - rs[1].shift) / 2
        : null,
      paper_theory_w: paper,
      paper_theory_shift: paper - wST(M),
      rel_gap_to_paper: relGap(w, paper),
      logistic_population_w: known ? logistic : null,
      logistic_population_shift: known ? logistic - wST(M) : null,
      rel_gap_to_logistic_population: known ? relGap(w, logistic) : null,
    };
  });
}

/** ST and AT on the first sample against Theorem 4.2's w_AT(eps). */
export function atChart(runs: ToyRun[]): Chart {
  const at = runs.filter((r) =>
    r.sample === TOY.seeds[0] &&
    (r.method === "at" || (r.method === "st" && r.weights === "all trained"))
  );
  const grid = linspace(0, 0.07, 71);
  return chart(
    [
      { x: grid, y: grid.map((e) => wAT(M, e)), mode: "lines", name: "w_AT (Theorem 4.2)" },
      {
        x: at.map((r) => r.eps ?? 0),
        y: at.map((r) => r.w),
        mode: "markers",
        marker: { size: 9 },
        name: "trained: ST (eps = 0) and PGD-AT",
        error_y: { type: "data", array: at.map((r) => 2 * toyStandardError(r.eps ?? 0)) },
      },
    ],
    `Adversarial training with lib/attacks/pgd.ts on ${TOY.n} samples (p = ${M.p}, eta = ${M.eta}, d = ${M.d})`,
    "attack size eps on the non-robust features",
    "w = theta1 / mean(non-robust weights)",
    { legend: LEGEND_TOP_LEFT },
  );
}

function markers(
  summary: SummaryRow[],
  method: ToyMethod,
  weights: Regime,
  name: string,
  symbol: string,
): PlotlyTrace {
  const rs = summary.filter((r) => r.method === method && r.weights === weights);
  return {
    x: rs.map((r) => r.rho_w),
    y: rs.map((r) => r.shift),
    mode: "markers",
    name,
    marker: { size: 10, symbol },
    error_y: { type: "data", array: rs.map((r) => 2 * (r.shift_se ?? 0)) },
  };
}

function paperCurves(): PlotlyTrace[] {
  const rhoW = linspace(0, 9, 37);
  return [
    {
      x: rhoW,
      y: rhoW.map((r) => wSAM(M, r) - wST(M)),
      mode: "lines",
      name: "paper: exact w_SAM (0-1 loss)",
      line: { color: "black", width: 3 },
    },
    {
      x: rhoW,
      y: rhoW.map((r) => wSAMApprox(M, r) - wST(M)),
      mode: "lines",
      name: "paper: w_ST (1 + rho^2/(3d))",
      line: { color: "gray", dash: "dot" },
    },
  ];
}

/** The y axis of both shift charts; the notebook's text says what "trained" subtracts. */
const SHIFT_AXIS = "shift of w from w_ST";
/** The shift charts carry long legends: a taller plot keeps the legend clear of the curves. */
const SHIFT_LAYOUT = { legend: LEGEND_TOP_LEFT, height: 560 };

/** The paper's setting: non-robust weights fixed at 2 eta, only theta1 trained. */
export function shiftChartFixed(summary: SummaryRow[]): Chart {
  const rhoW = linspace(0, 9, 37);
  return chart(
    [
      ...paperCurves(),
      {
        x: rhoW,
        y: rhoW.map((r) =>
          r === 0 ? 0 : logisticSamExact(M, r * TOY.fixRest, TOY.fixRest).w - wST(M)
        ),
        mode: "lines",
        name: "logistic loss: exact min-max",
        line: { color: "#2ca02c", dash: "dash" },
      },
      {
        x: rhoW,
        y: rhoW.map(() => 0),
        mode: "lines",
        name: "logistic loss: first-order SAM rest point (= w_ST)",
        line: { color: "#1f77b4", dash: "dash" },
      },
      markers(summary, "sam-w", "non-robust fixed", "trained: library samStep on theta1", "circle"),
      markers(
        summary,
        "sam-w-exact",
        "non-robust fixed",
        "trained: exact-inner-max step",
        "diamond",
      ),
    ],
    "Non-robust weights fixed (the paper's setting): SAM's shift of w",
    "rho_w = rho / non-robust weight",
    SHIFT_AXIS,
    SHIFT_LAYOUT,
  );
}

/** All weights trained (the library's normal use): w-only SAM and the library's all-weights SAM. */
export function shiftChartAllTrained(summary: SummaryRow[]): Chart {
  const rhoTheta = linspace(0.1, 1.8, 18);
  const exact = rhoTheta.map((r) => logisticSamExact(M, r));
  const first = rhoTheta.map((r) => logisticSamFirstOrder(M, r));
  const allRhoW = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  return chart(
    [
      ...paperCurves(),
      {
        x: allRhoW,
        y: allRhoW.map((r) => wSAMAllWeightsL2(M, r) - wST(M)),
        mode: "lines+markers",
        name: "paper's model, all weights in an L2 ball (derived caution)",
        line: { color: "#9467bd", dash: "dot" },
        marker: { size: 4 },
      },
      {
        x: exact.map((o) => o.rhoW),
        y: exact.map((o) => o.w - wST(M)),
        mode: "lines",
        name: "logistic loss: exact min-max (w only)",
        line: { color: "#2ca02c", dash: "dash" },
      },
      {
        x: first.map((o) => o.rhoW),
        y: first.map((o) => o.w - wST(M)),
        mode: "lines",
        name: "logistic loss: first-order SAM rest point (w only)",
        line: { color: "#1f77b4", dash: "dash" },
      },
      markers(summary, "sam-w", "all trained", "trained: w-only first-order SAM", "circle"),
      markers(
        summary,
        "sam-w-exact",
        "all trained",
        "trained: w-only exact-inner-max step",
        "diamond",
      ),
      markers(
        summary,
        "sam-all",
        "all trained",
        "trained: library samStep on all weights",
        "square",
      ),
    ],
    "All weights trained: SAM's shift of w",
    "rho_w = rho / mean(non-robust weights)",
    SHIFT_AXIS,
    SHIFT_LAYOUT,
  );
}

/** A shift for reading: two decimals with a sign, "0.00" below 0.005 in size. */
export function signed(x: number): string {
  return Math.abs(x) < 0.005 ? "0.00" : (x > 0 ? "+" : "") + x.toFixed(2);
}

/** What agrees and what does not, as a Markdown list computed from the runs and their summary. */
export function findings(runs: ToyRun[], summary: SummaryRow[]): string {
  const big = TOY.rhos[TOY.rhos.length - 1];
  const row = (method: ToyMethod, weights: Regime) =>
    summary.find((r) =>
      r.method === method && r.weights === weights && r.setting === `rho = ${big}`
    )!;
  const maxZ = maxOf(
    summary.filter((r) => r.method === "st" || r.method === "at"),
    (r) => Math.abs(r.w - r.paper_theory_w) / r.w_se,
  );
  const pct = (method: ToyMethod, field: "theta1" | "mean_non_robust_weight") => {
    const change = TOY.seeds.map((seed) => {
      const of = (m: ToyMethod) =>
        runs.find((r) =>
          r.sample === seed && r.method === m && r.weights === "all trained" &&
          (m === "st" || r.rho === big)
        )![field];
      return of(method) / of("st") - 1;
    });
    const v = 100 * mean(change);
    return `${v >= 0 ? "+" : ""}${v.toFixed(2)}%`;
  };
  const line = (method: ToyMethod, weights: Regime) => {
    const r = row(method, weights);
    return `${signed(r.shift!)} ± ${r.shift_se!.toPrecision(1)} (paper ${
      signed(r.paper_theory_shift)
    }` +
      (r.logistic_population_shift === null
        ? ")"
        : `, logistic population ${signed(r.logistic_population_shift)})`);
  };
  const stNorm = mean(
    runs.filter((r) => r.method === "st" && r.weights === "all trained").map((r) => r.theta_norm),
  );
  return [
    `- **ST and AT reproduce the theorems**: every trained w is within ${
      maxZ.toFixed(1)
    } standard errors of w_ST or w_AT.`,
    `- Shifts of w at rho = ${big} (rho_w ≈ ${
      row("sam-w", "non-robust fixed").rho_w!.toFixed(1)
    } fixed, ` +
    `${
      row("sam-w", "all trained").rho_w!.toFixed(1)
    } for w-only SAM with all weights trained), measured ± SE:`,
    `  - non-robust fixed, library samStep (first-order): ${line("sam-w", "non-robust fixed")}`,
    `  - non-robust fixed, exact inner max: ${line("sam-w-exact", "non-robust fixed")}`,
    `  - all trained, w-only first-order: ${line("sam-w", "all trained")}`,
    `  - all trained, w-only exact inner max: ${line("sam-w-exact", "all trained")}`,
    `  - all trained, library samStep on all weights: ${line("sam-all", "all trained")}`,
    `- Against ST on the same sample (mean of the samples), at rho = ${big}: w-only first-order SAM with all weights ` +
    `trained changes theta1 by ${pct("sam-w", "theta1")} and the mean non-robust weight by ` +
    `${
      pct("sam-w", "mean_non_robust_weight")
    }; the library's all-weights samStep changes them by ` +
    `${pct("sam-all", "theta1")} and ${
      pct("sam-all", "mean_non_robust_weight")
    }, with rho = ${big} being ` +
    `${(big / stNorm).toFixed(2)} of ST's norm of theta.`,
  ].join("\n");
}
