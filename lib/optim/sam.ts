/**
 * Two-step Sharpness-Aware Minimization (Foret et al. 2021) wrapped around the base SGD, as in
 * davda54/sam, which the authors train with:
 *   g1 = grad L(w);  e = rho * g1 / (||g1||_2 + 1e-12)   (one global L2 norm over all parameters)
 *   g2 = grad L(w + e);  w restored exactly;  base SGD step (momentum, weight decay) with g2.
 * rho = 0 reproduces SGD (at twice the cost).
 *
 * adaptive (ASAM, Kwon et al. 2021, as davda54/sam's adaptive=True): the ball is scaled by
 * T_w = |w| elementwise, so  e = rho * w^2 * g1 / (||T_w g1||_2 + 1e-12)  — the perturbation is
 * invariant to rescaling a layer's weights, and ASAM's rho is ~10x SAM's for the same effect.
 */
import * as tf from "@tensorflow/tfjs-core";
import { type LearningRate, type Sgd, valueAndGrads } from "./sgd.ts";
import { checkBoolean, checkNumber, fail } from "../util/validate.ts";
import { type Optimizer, statelessUpdater } from "./optimizer.ts";

export function checkRho(rho: number): number {
  return checkNumber("rho", rho, { min: 0 });
}

/**
 * e = rho * g / (||g||_2 + 1e-12) over all tensors together; with `weights` given (ASAM),
 * e = rho * w^2 g / (||(|w| g)||_2 + 1e-12).
 */
export function samPerturbation(
  grads: readonly tf.Tensor[],
  rho: number,
  weights?: readonly tf.Tensor[],
): tf.Tensor[] {
  return tf.tidy(() => {
    const scaled = weights ? grads.map((g, i) => tf.mul(tf.abs(weights[i]), g)) : grads;
    // A Sum over the stacked squares, not AddN: libtensorflow's graph executor adds an AddN's terms
    // (one per parameter tensor) in another order than its eager kernel, and not the same order on
    // every run, so lib/training/graph_step.ts could not replay SAM at width 64 (bench/NOTES.md).
    const norm = tf.sqrt(tf.sum(tf.stack(scaled.map((g) => tf.sum(tf.square(g))))));
    const scale = tf.div(tf.scalar(rho), tf.add(norm, 1e-12));
    return grads.map((g, i) => tf.mul(weights ? tf.mul(tf.square(weights[i]), g) : g, scale));
  });
}

/**
 * A base step of `opt` (all its params) with the gradient taken where `vars` are moved by `shifts`;
 * `vars` are restored exactly before the step. SAM's second half, whatever chose the shift.
 */
export function stepAtShifted(
  opt: Sgd,
  vars: readonly tf.Variable[],
  shifts: readonly tf.Tensor[],
  loss: () => tf.Scalar,
  lr: LearningRate,
): void {
  // clone() shares the buffer: restoring from it is exact, not w + e - e.
  const saved = vars.map((p) => tf.clone(p));
  tf.tidy(() => vars.forEach((p, i) => p.assign(tf.add(p, shifts[i]))));
  let second: { value: tf.Scalar; grads: tf.Tensor[] };
  try {
    second = valueAndGrads(opt.params, loss);
  } finally {
    vars.forEach((p, i) => p.assign(saved[i]));
    tf.dispose(saved);
  }
  opt.step(second.grads, lr);
  tf.dispose([second.value, ...second.grads]);
}

/**
 * One SAM update of opt.params. loss(pass) must compute the training loss at the current
 * weights; it is called with pass 1 (at w) and pass 2 (at w + e), so the caller can decide which
 * pass updates BatchNorm running statistics. Returns the first-pass loss (the caller disposes it).
 * `perturbed` (default: all of opt.params) are the variables the ascent step moves; with a subset,
 * e comes from the gradient w.r.t. that subset only, and every parameter still takes the step.
 * `adaptive` makes it an ASAM step.
 */
export function samStep(
  opt: Sgd,
  loss: (pass: number) => tf.Scalar,
  rho: number,
  lr: LearningRate,
  perturbed: readonly tf.Variable[] = opt.params,
  adaptive = false,
): tf.Scalar {
  if (perturbed.length === 0 || !perturbed.every((v) => opt.params.includes(v))) {
    fail("perturbed", perturbed.map((v) => v.name), "a non-empty subset of the optimiser's params");
  }
  const first = valueAndGrads(perturbed, () => loss(1));
  const e = samPerturbation(first.grads, rho, adaptive ? perturbed : undefined);
  tf.dispose(first.grads);
  try {
    stepAtShifted(opt, perturbed, e, () => loss(2), lr);
  } finally {
    tf.dispose(e);
  }
  return first.value;
}

/** The authors' code default radius for SAM. */
export const SAM_DEFAULT_RHO = 0.05;

export interface SamOptions extends Record<string, unknown> {
  rho: number;
  adaptive: boolean;
}

/** SAM and ASAM (adaptive: true) as a registered optimizer (lib/optim/registry.ts). */
export const SAM_OPTIMIZER: Optimizer<SamOptions> = {
  name: "sam",
  optionNames: ["rho", "adaptive"],
  resolve: (o) => ({
    rho: checkRho(o.rho as number ?? SAM_DEFAULT_RHO),
    adaptive: checkBoolean("adaptive", o.adaptive ?? false),
  }),
  gradientPasses: () => 2,
  family: (o) => (o.adaptive ? "ASAM" : "SAM"),
  label: (o) => `${o.adaptive ? "ASAM" : "SAM"} rho=${o.rho}`,
  columns: (o) => ({ rho: o.rho, adaptive: o.adaptive }),
  sameOpsEveryStep: true,
  createUpdater: (opt, o) =>
    statelessUpdater((loss, lr) => samStep(opt, loss, o.rho, lr, opt.params, o.adaptive)),
};
