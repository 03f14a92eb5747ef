/**
 * A point or direction in weight space as a list of tensors, one per parameter (the model's
 * `params` order), and the few operations the sharpness, curvature and landscape measures need:
 * inner products and norms over all tensors together, linear combinations, random directions drawn
 * from the project's Rng (so a seed gives the same direction on every backend), and evaluating a
 * function at the parameters moved by a shift, restored exactly afterwards.
 *
 * Every function returns new tensors that the caller disposes (numbers come back as numbers).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "../util/rng.ts";

/** One tensor per parameter. */
export type ParamVector = tf.Tensor[];

/** sum_i <a_i, b_i> over all tensors, as a number. */
export function dot(a: readonly tf.Tensor[], b: readonly tf.Tensor[]): number {
  if (a.length !== b.length) {
    throw new RangeError(`dot of vectors with ${a.length} and ${b.length} tensors.`);
  }
  const s = tf.tidy(() => tf.addN(a.map((t, i) => tf.sum(tf.mul(t, b[i])))));
  const v = s.dataSync()[0];
  s.dispose();
  return v;
}

/** The L2 norm over all tensors together. */
export function norm(a: readonly tf.Tensor[]): number {
  return Math.sqrt(dot(a, a));
}

/** s * a. */
export function scale(a: readonly tf.Tensor[], s: number): ParamVector {
  return tf.tidy(() => a.map((t) => tf.mul(t, s)));
}

/** Elementwise product a * b (e.g. |w| * g for ASAM's scaling). */
export function mulElementwise(a: readonly tf.Tensor[], b: readonly tf.Tensor[]): ParamVector {
  return tf.tidy(() => a.map((t, i) => tf.mul(t, b[i])));
}

/** a / ||a|| (a zero vector stays zero). */
export function normalize(a: readonly tf.Tensor[]): ParamVector {
  const n = norm(a);
  return scale(a, n > 0 ? 1 / n : 0);
}

/** Copies of the parameters' current values. */
export function snapshot(params: readonly tf.Tensor[]): ParamVector {
  return params.map((p) => tf.clone(p));
}

/** Standard normal entries, drawn in JavaScript from rng (tensor by tensor, in order). */
export function randomNormal(shapes: readonly tf.Tensor[], rng: Rng): ParamVector {
  return shapes.map((p) => tf.tensor(rng.fillNormal(new Float32Array(p.size)), p.shape, "float32"));
}

/** Rademacher entries (+1 or -1 with probability 1/2 each), from rng. */
export function randomRademacher(shapes: readonly tf.Tensor[], rng: Rng): ParamVector {
  return shapes.map((p) => {
    const a = new Float32Array(p.size);
    for (let i = 0; i < a.length; i++) a[i] = rng.uint32() & 1 ? 1 : -1;
    return tf.tensor(a, p.shape, "float32");
  });
}

/**
 * f() evaluated with every params[i] moved by shift[i]; the parameters are restored exactly
 * (from saved copies, not w + e - e) even when f throws.
 */
export function atShifted<T>(
  params: readonly tf.Variable[],
  shift: readonly tf.Tensor[],
  f: () => T,
): T {
  if (shift.length !== params.length) {
    throw new RangeError(`atShifted: ${shift.length} shifts for ${params.length} parameters.`);
  }
  const saved = params.map((p) => tf.clone(p));
  try {
    tf.tidy(() => params.forEach((p, i) => p.assign(tf.add(p, shift[i]))));
    return f();
  } finally {
    params.forEach((p, i) => p.assign(saved[i]));
    tf.dispose(saved);
  }
}
