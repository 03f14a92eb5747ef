/**
 * Curvature of an objective from Hessian-vector products.
 *
 * Method: TF.js has no second derivatives through all the ops the models use (the fused
 * BatchNorm-ReLU, max-pool and cross-entropy kernels define first derivatives only), so H v is a
 * central finite difference of gradients:
 *   H v ≈ ||v|| (g(w + h v/||v||) - g(w - h v/||v||)) / (2h)
 * h is a step length in weight space (default 1e-3). The error is O(h^2) for a smooth loss plus
 * float32 rounding of order 1e-7 ||g|| / h; for a quadratic it is rounding only.
 *
 * ReLU and max-pool networks are only piecewise smooth: moving w by h flips some units, each flip
 * makes the gradient jump by an amount that does not shrink with h, so the difference quotient
 * carries a noise term that GROWS as h shrinks (measured on the trained small CNNs: ||Hv|| for a
 * random unit v grows roughly like h^-1/2 from h = 0.1 down to 1e-4, and the top eigenvalue found
 * falls from 14 at h = 1e-3 to 6 at h = 0.03 and 4.3 at h = 0.1). There is no plateau: what is
 * measured is the curvature at scale h, and the measures state their h (0.03, see measure_run.ts)
 * and report `quotientAtSteps` at h/3 and 3h beside it as the scale sensitivity.
 *
 * - lanczos: Lanczos with full reorthogonalisation; the extreme Ritz values estimate lambda_max and
 *   lambda_min. This is what the measures use (power iteration's Rayleigh quotient oscillated on
 *   the trained models, between two values 8% apart after 30 iterations: a negative eigenvalue of
 *   similar size).
 * - topEigenvalue: power iteration v <- Hv/||Hv|| from a random normal start (rng). It converges to
 *   the eigenvalue of largest |lambda| (for a trained net, the largest positive one in practice; the
 *   signed Rayleigh quotient is returned). Stops when the Rayleigh quotient changes by less than
 *   `tol` (relative) between iterations, or after `maxIter`; returns the residual ||Hv - lambda v||/|lambda|.
 * - hutchinsonTrace: tr(H) = E[z^T H z] for Rademacher z (Hutchinson 1990); the mean over `probes`
 *   probes and its standard error (sample std / sqrt(probes)).
 *
 * Cost: two gradients per Hessian-vector product.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Objective } from "./objective.ts";
import {
  atShifted,
  dot,
  norm,
  type ParamVector,
  randomNormal,
  randomRademacher,
  scale,
} from "./param_vector.ts";
import { Rng } from "../util/rng.ts";
import { checkNumber } from "../util/validate.ts";
import { symmetricEigen } from "./symmetric_eigen.ts";

export const DEFAULT_FD_STEP = 1e-3;

/** H v by central differences of gradients (see the file comment); the caller disposes it. */
export function hessianVectorProduct(
  obj: Objective,
  v: readonly tf.Tensor[],
  h = DEFAULT_FD_STEP,
): ParamVector {
  checkNumber("fdStep", h, { above: 0 });
  const nv = norm(v);
  if (nv === 0) return v.map((t) => tf.zerosLike(t));
  const shift = scale(v, h / nv);
  try {
    const plus = atShifted(obj.params, shift, () => obj.lossAndGrad().grads);
    const minusShift = scale(shift, -1);
    let minus: tf.Tensor[];
    try {
      minus = atShifted(obj.params, minusShift, () => obj.lossAndGrad().grads);
    } finally {
      tf.dispose(minusShift);
    }
    const out = tf.tidy(() => plus.map((p, i) => tf.mul(tf.sub(p, minus[i]), nv / (2 * h))));
    tf.dispose([...plus, ...minus]);
    return out;
  } finally {
    tf.dispose(shift);
  }
}

export interface EigenOptions {
  maxIter?: number;
  /** Relative change of the Rayleigh quotient that ends the iteration (default 1e-3). */
  tol?: number;
  fdStep?: number;
  /** Seed of the start vector (default 0) or an Rng. */
  rng?: Rng | number;
}

export interface EigenResult {
  /** The Rayleigh quotient v^T H v of the last unit vector. */
  eigenvalue: number;
  iterations: number;
  converged: boolean;
  /** Last relative change of the Rayleigh quotient. */
  relativeChange: number;
  /** ||H v - lambda v|| / |lambda| at the last iterate. */
  residual: number;
  history: number[];
}

const rngOf = (r: Rng | number | undefined) => (r instanceof Rng ? r : Rng.fromSeed(r ?? 0));

/** Power iteration on finite-difference H v. `onIter` reports progress. */
export function topEigenvalue(
  obj: Objective,
  options: EigenOptions = {},
  onIter?: (iter: number, maxIter: number, eigenvalue: number) => void,
): EigenResult & { vector: ParamVector } {
  const maxIter = checkNumber("maxIter", options.maxIter ?? 20, { integer: true, min: 1 });
  const tol = checkNumber("tol", options.tol ?? 1e-3, { above: 0 });
  const h = options.fdStep ?? DEFAULT_FD_STEP;
  const rng = rngOf(options.rng);
  let v = (() => {
    const r = randomNormal(obj.params, rng);
    const n = norm(r);
    const u = scale(r, 1 / n);
    tf.dispose(r);
    return u;
  })();
  const history: number[] = [];
  let lambda = NaN, change = Infinity, residual = NaN, it = 0;
  for (it = 1; it <= maxIter; it++) {
    const hv = hessianVectorProduct(obj, v, h);
    const next = dot(v, hv);
    const hvNorm = norm(hv);
    // ||Hv - lambda v||^2 = ||Hv||^2 - 2 lambda v.Hv + lambda^2 (||v|| = 1)
    residual = Math.sqrt(Math.max(0, hvNorm * hvNorm - next * next)) / Math.abs(next);
    change = Number.isNaN(lambda) ? Infinity : Math.abs(next - lambda) / Math.abs(next);
    lambda = next;
    history.push(lambda);
    onIter?.(it, maxIter, lambda);
    const u = scale(hv, hvNorm > 0 ? 1 / hvNorm : 0);
    tf.dispose([...hv, ...v]);
    v = u;
    if (change < tol) break;
  }
  return {
    eigenvalue: lambda,
    iterations: Math.min(it, maxIter),
    converged: change < tol,
    relativeChange: change,
    residual,
    history,
    vector: v,
  };
}

export interface LanczosResult {
  /** Largest Ritz value (estimate of lambda_max). */
  lambdaMax: number;
  /** Smallest Ritz value (estimate of lambda_min; negative = a direction of negative curvature). */
  lambdaMin: number;
  /** Residual bound |beta_k s_k| / |lambda| of the top Ritz pair (0 = exact). */
  residual: number;
  /** Residual bound of the bottom Ritz pair. */
  residualMin: number;
  iterations: number;
  converged: boolean;
  /** Top Ritz value after each iteration. */
  history: number[];
}

/**
 * Lanczos with full reorthogonalisation: k Hessian-vector products give a k x k tridiagonal T
 * whose extreme eigenvalues (Ritz values) approximate H's. Same cost per iteration as power
 * iteration, but it converges much faster and is not thrown off by a negative eigenvalue of similar
 * size (power iteration's Rayleigh quotient then oscillates). Stops when the top pair's residual
 * bound is below `tol` (relative), or after `maxIter`. Returns the top Ritz vector when asked.
 */
export function lanczos(
  obj: Objective,
  options: EigenOptions = {},
  onIter?: (iter: number, maxIter: number, eigenvalue: number) => void,
  keepVector = false,
): LanczosResult & { vector: ParamVector | null } {
  const maxIter = checkNumber("maxIter", options.maxIter ?? 20, { integer: true, min: 2 });
  const tol = checkNumber("tol", options.tol ?? 1e-3, { above: 0 });
  const h = options.fdStep ?? DEFAULT_FD_STEP;
  const rng = rngOf(options.rng);
  const V: ParamVector[] = [];
  const alphas: number[] = [], betas: number[] = [];
  const history: number[] = [];
  let out: LanczosResult | null = null;
  let eig: ReturnType<typeof symmetricEigen> | null = null;
  try {
    {
      const r = randomNormal(obj.params, rng);
      V.push(scale(r, 1 / norm(r)));
      tf.dispose(r);
    }
    for (let j = 0; j < maxIter; j++) {
      const hv = hessianVectorProduct(obj, V[j], h);
      const alpha = dot(V[j], hv);
      alphas.push(alpha);
      // w = Hv - alpha v_j - beta v_{j-1}, then reorthogonalise against every v_i (twice).
      let w = tf.tidy(() =>
        hv.map((t, i) => {
          let x = tf.sub(t, tf.mul(V[j][i], alpha));
          if (j > 0) x = tf.sub(x, tf.mul(V[j - 1][i], betas[j - 1]));
          return x;
        })
      );
      tf.dispose(hv);
      for (let pass = 0; pass < 2; pass++) {
        for (const vi of V) {
          const c = dot(w, vi);
          const next = tf.tidy(() => w.map((t, i) => tf.sub(t, tf.mul(vi[i], c))));
          tf.dispose(w);
          w = next;
        }
      }
      const beta = norm(w);
      const k = alphas.length;
      const T = Array.from(
        { length: k },
        (_, a) =>
          Array.from(
            { length: k },
            (_, b) => a === b ? alphas[a] : Math.abs(a - b) === 1 ? betas[Math.min(a, b)] : 0,
          ),
      );
      eig = symmetricEigen(T);
      const top = eig.values[k - 1], bottom = eig.values[0];
      const resTop = Math.abs(beta * eig.vectors[k - 1][k - 1]) / Math.abs(top);
      const resBottom = Math.abs(beta * eig.vectors[k - 1][0]) / Math.abs(bottom);
      history.push(top);
      onIter?.(j + 1, maxIter, top);
      out = {
        lambdaMax: top,
        lambdaMin: bottom,
        residual: resTop,
        residualMin: resBottom,
        iterations: k,
        converged: resTop < tol,
        history: [...history],
      };
      if (resTop < tol || beta < 1e-12 || j === maxIter - 1) {
        tf.dispose(w);
        break;
      }
      betas.push(beta);
      V.push(scale(w, 1 / beta));
      tf.dispose(w);
    }
    let vector: ParamVector | null = null;
    if (keepVector && eig) {
      const k = alphas.length;
      const s = eig.vectors.map((row) => row[k - 1]);
      vector = tf.tidy(() =>
        V[0].map((_, i) => tf.addN(V.slice(0, k).map((vj, j) => tf.mul(vj[i], s[j]))))
      );
    }
    return { ...out!, vector };
  } finally {
    V.forEach((v) => tf.dispose(v));
  }
}

/**
 * The Rayleigh quotient v^T H v / v^T v of one vector (e.g. the top eigenvector) with the
 * finite-difference Hessian at each step length in `steps`: how much the curvature found depends
 * on the scale h (for a smooth loss and small h, not at all; for ReLU networks it does, see the
 * file comment).
 */
export function quotientAtSteps(
  obj: Objective,
  v: readonly tf.Tensor[],
  steps: readonly number[],
): number[] {
  const vv = dot(v, v);
  return steps.map((step) => {
    const hv = hessianVectorProduct(obj, v, step);
    const r = dot(v, hv) / vv;
    tf.dispose(hv);
    return r;
  });
}

export interface TraceOptions {
  probes?: number;
  fdStep?: number;
  rng?: Rng | number;
}

export interface TraceResult {
  trace: number;
  /** Standard error of the mean over probes. */
  standardError: number;
  probes: number;
  /** z^T H z per probe. */
  samples: number[];
}

/** Hutchinson's estimator of tr(H) with Rademacher probes. */
export function hutchinsonTrace(
  obj: Objective,
  options: TraceOptions = {},
  onProbe?: (done: number, total: number) => void,
): TraceResult {
  const probes = checkNumber("probes", options.probes ?? 10, { integer: true, min: 2 });
  const h = options.fdStep ?? DEFAULT_FD_STEP;
  const rng = rngOf(options.rng);
  const samples: number[] = [];
  for (let k = 0; k < probes; k++) {
    const z = randomRademacher(obj.params, rng);
    const hz = hessianVectorProduct(obj, z, h);
    samples.push(dot(z, hz));
    tf.dispose([...z, ...hz]);
    onProbe?.(k + 1, probes);
  }
  const mean = samples.reduce((a, b) => a + b, 0) / probes;
  const variance = samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (probes - 1);
  return { trace: mean, standardError: Math.sqrt(variance / probes), probes, samples };
}
