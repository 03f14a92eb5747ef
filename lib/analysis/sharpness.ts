/**
 * Worst-case weight sharpness (Foret et al. 2021; Andriushchenko & Flammarion 2022's
 * "m-sharpness"; Kwon et al. 2021's adaptive sharpness):
 *
 *   S_rho(w) = max_{||T^-1 delta||_2 <= rho} L(w + delta) - L(w)
 *
 * with T = I (plain) or T = diag(|w|) (adaptive, ASAM's ball: invariant to rescaling a layer).
 * The maximum is estimated by projected, normalised gradient ascent in u = T^-1 delta:
 *   u_1 = rho * T g(w) / ||T g(w)||                        (SAM's own perturbation, one step)
 *   u_{t+1} = P_rho(u_t + stepSize * rho * T g_t / ||T g_t||),  g_t = grad L(w + T u_t)
 * where P_rho rescales onto the ball when outside. The estimate is the largest L(w + T u_t) - L(w)
 * over the iterates t = 1..steps, so it is a lower bound of the true maximum that grows with
 * `steps` (steps = 1 is the first-order value SAM trains on). For a loss that is linear in w the
 * first step is exact; for a convex quadratic the iterates converge to the trust-region solution
 * (tests/sharpness_test.ts checks both against closed forms).
 *
 * m-sharpness: the maximum is taken separately on each chunk of the objective (each its own delta,
 * as SAM does per mini-batch of size m) and the chunk values are averaged.
 *
 * Cost per rho: `steps - 1` gradients and one loss on the examples, plus one shared gradient at w.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Objective } from "./objective.ts";
import { atShifted, mulElementwise, norm } from "./param_vector.ts";
import { checkBoolean, checkNumber } from "../util/validate.ts";

export interface SharpnessOptions {
  /** Ascent iterates (>= 1; default 3). */
  steps?: number;
  /** Step after the first, as a fraction of rho (default 0.5). */
  stepSize?: number;
  /** ASAM's ball: delta = |w| * u with ||u|| <= rho (default false). */
  adaptive?: boolean;
  /** m-sharpness: one delta per chunk, values averaged (default false: one delta for all chunks). */
  perChunk?: boolean;
}

export interface SharpnessValue {
  rho: number;
  /** max_t L(w + delta_t) - L(w). */
  sharpness: number;
  /** L(w + delta_1) - L(w): the first-order (SAM) estimate. */
  firstStep: number;
  /** L(w). */
  baseLoss: number;
  /** L(w + delta_t) - L(w) for t = 1..steps (averaged over chunks for m-sharpness). */
  trajectory: number[];
  /** ||delta|| of the maximising iterate (plain L2 norm in weight space). */
  deltaNorm: number;
}

interface Start {
  loss: number;
  grads: tf.Tensor[];
}

function checkOptions(o: SharpnessOptions): Required<SharpnessOptions> {
  return {
    steps: checkNumber("steps", o.steps ?? 3, { integer: true, min: 1, max: 1000 }),
    stepSize: checkNumber("stepSize", o.stepSize ?? 0.5, { above: 0 }),
    adaptive: checkBoolean("adaptive", o.adaptive ?? false),
    perChunk: checkBoolean("perChunk", o.perChunk ?? false),
  };
}

/** u + a * v / ||v|| projected onto ||.|| <= rho. */
function ascend(u: tf.Tensor[] | null, v: tf.Tensor[], a: number, rho: number): tf.Tensor[] {
  const nv = norm(v);
  const step = nv > 0 ? a / nv : 0;
  const moved = tf.tidy(() =>
    v.map((t, i) => (u ? tf.add(u[i], tf.mul(t, step)) : tf.mul(t, step)))
  );
  const nm = norm(moved);
  if (nm <= rho) return moved;
  const out = tf.tidy(() => moved.map((t) => tf.mul(t, rho / nm)));
  tf.dispose(moved);
  return out;
}

/** The ascent for one rho from a start (loss and gradient at w) on `chunk` (undefined = all). */
function ascentFrom(
  obj: Objective,
  start: Start,
  rho: number,
  o: Required<SharpnessOptions>,
  chunk: number | undefined,
): { trajectory: number[]; best: number; deltaNorm: number } {
  const T = o.adaptive ? obj.params.map((p) => tf.abs(p)) : null;
  const scaled = (g: tf.Tensor[]) => (T ? mulElementwise(T, g) : g.map((t) => tf.clone(t)));
  const deltaOf = (u: tf.Tensor[]) => (T ? mulElementwise(T, u) : u.map((t) => tf.clone(t)));
  const trajectory: number[] = [];
  let best = -Infinity, bestNorm = 0;
  let tg = scaled(start.grads);
  let u = ascend(null, tg, rho, rho);
  tf.dispose(tg);
  try {
    for (let t = 1; t <= o.steps; t++) {
      const delta = deltaOf(u);
      const last = t === o.steps;
      let lossHere: number;
      let g: tf.Tensor[] | null = null;
      try {
        if (last) lossHere = atShifted(obj.params, delta, () => obj.loss(chunk));
        else {
          const r = atShifted(obj.params, delta, () => obj.lossAndGrad(chunk));
          lossHere = r.loss;
          g = r.grads;
        }
        const inc = lossHere - start.loss;
        trajectory.push(inc);
        if (inc > best) {
          best = inc;
          bestNorm = norm(delta);
        }
      } finally {
        tf.dispose(delta);
      }
      if (g) {
        tg = scaled(g);
        tf.dispose(g);
        const next = ascend(u, tg, o.stepSize * rho, rho);
        tf.dispose([...tg, ...u]);
        u = next;
      }
    }
  } finally {
    tf.dispose(u);
    if (T) tf.dispose(T);
  }
  return { trajectory, best, deltaNorm: bestNorm };
}

/**
 * Sharpness at several radii (one shared gradient at w, or one per chunk for m-sharpness). The
 * parameters are left exactly as they were.
 */
export function sharpnessProfile(
  obj: Objective,
  rhos: readonly number[],
  options: SharpnessOptions = {},
  onStep?: (done: number, total: number) => void,
): SharpnessValue[] {
  const o = checkOptions(options);
  rhos.forEach((r, i) => checkNumber(`rhos[${i}]`, r, { above: 0 }));
  const chunks = o.perChunk ? Array.from({ length: obj.chunks }, (_, c) => c) : [undefined];
  const total = chunks.length * rhos.length;
  // acc[r] sums over chunks
  const acc = rhos.map(() => ({
    traj: new Array(o.steps).fill(0),
    best: 0,
    first: 0,
    base: 0,
    dn: 0,
  }));
  let done = 0;
  for (const c of chunks) {
    const start = obj.lossAndGrad(c);
    try {
      rhos.forEach((rho, r) => {
        const res = ascentFrom(obj, start, rho, o, c);
        const a = acc[r];
        res.trajectory.forEach((v, t) => (a.traj[t] += v));
        a.best += res.best;
        a.first += res.trajectory[0];
        a.base += start.loss;
        a.dn += res.deltaNorm;
        onStep?.(++done, total);
      });
    } finally {
      tf.dispose(start.grads);
    }
  }
  const k = chunks.length;
  return rhos.map((rho, r) => ({
    rho,
    sharpness: acc[r].best / k,
    firstStep: acc[r].first / k,
    baseLoss: acc[r].base / k,
    trajectory: acc[r].traj.map((v) => v / k),
    deltaNorm: acc[r].dn / k,
  }));
}

/** Sharpness at one radius. */
export function sharpness(
  obj: Objective,
  rho: number,
  options: SharpnessOptions = {},
): SharpnessValue {
  return sharpnessProfile(obj, [rho], options)[0];
}
