/**
 * Vanilla two-step Sharpness-Aware Minimization (Foret et al. 2021; davda54/sam, adaptive=False),
 * as the authors train with it:
 *   g1 = grad L(w);  e = rho * g1 / (||g1||_2 + 1e-12)   (one global L2 norm over all parameters)
 *   g2 = grad L(w + e);  w restored exactly;  base SGD step (momentum, weight decay) with g2.
 * rho = 0 reproduces SGD (at twice the cost).
 */
import * as tf from "@tensorflow/tfjs-core";
import { type Sgd, valueAndGrads } from "./sgd.ts";
import { checkNumber } from "./validate.ts";

export function checkRho(rho: number): number {
  return checkNumber("rho", rho, { min: 0 });
}

/** e = rho * g / (||g||_2 + 1e-12) over all tensors together. */
export function samPerturbation(grads: readonly tf.Tensor[], rho: number): tf.Tensor[] {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g)))));
    const scale = tf.div(tf.scalar(rho), tf.add(norm, 1e-12));
    return grads.map((g) => tf.mul(g, scale));
  });
}

/**
 * One SAM update of opt.params. loss(pass) must compute the training loss at the current
 * weights; it is called with pass 1 (at w) and pass 2 (at w + e), so the caller can decide which
 * pass updates BatchNorm running statistics. Returns the first-pass loss (the caller disposes it).
 */
export function samStep(
  opt: Sgd,
  loss: (pass: 1 | 2) => tf.Scalar,
  rho: number,
  lr: number,
): tf.Scalar {
  const params = opt.params;
  const first = valueAndGrads(params, () => loss(1));
  const e = samPerturbation(first.grads, rho);
  tf.dispose(first.grads);
  // clone() shares the buffer: restoring from it is exact, not w + e - e.
  const saved = params.map((p) => tf.clone(p));
  tf.tidy(() => params.forEach((p, i) => p.assign(tf.add(p, e[i]))));
  tf.dispose(e);
  let second: { value: tf.Scalar; grads: tf.Tensor[] };
  try {
    second = valueAndGrads(params, () => loss(2));
  } finally {
    params.forEach((p, i) => p.assign(saved[i]));
    tf.dispose(saved);
  }
  opt.step(second.grads, lr);
  tf.dispose([second.value, ...second.grads]);
  return first.value;
}
