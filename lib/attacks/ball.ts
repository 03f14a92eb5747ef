/**
 * The geometry APGD and Square share: the box examples are clamped to, per-example L2 norms,
 * the L-inf box (eps-ball ∩ box) and the projection onto the L2 ball ∩ box, and writing a few rows
 * of a batch back into it (attacks run on the points still robust, then merge).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { AttackTarget, Norm } from "./attack.ts";
import { fail } from "../util/validate.ts";

/** target.bounds checked: [lo, hi] (default [0, 1]); null = no box (infinite bounds). */
export function boxOf(target: Pick<AttackTarget, "bounds">): [number, number] {
  const b = target.bounds === undefined ? [0, 1] as const : target.bounds;
  if (b === null) return [-Infinity, Infinity];
  if (!(Array.isArray(b) && b.length === 2 && b.every(Number.isFinite) && b[0] < b[1])) {
    fail("bounds", b, "null or [lo, hi] with finite lo < hi");
  }
  return [b[0], b[1]];
}

/** ||t_i||_2 per example, shaped [N, 1, 1, 1] to broadcast over an image batch. */
export function l2Norms(t: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() =>
    tf.reshape(tf.sqrt(tf.sum(tf.square(tf.reshape(t, [t.shape[0], -1])), 1)), [-1, 1, 1, 1])
  );
}

/** ||t_i||_inf per example, shaped [N, 1, 1, 1]. */
export function linfNorms(t: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() =>
    tf.reshape(tf.max(tf.abs(tf.reshape(t, [t.shape[0], -1])), 1), [-1, 1, 1, 1])
  );
}

/** t scaled to unit norm per example, t / (||t|| + 1e-12) (the reference's normalize). */
export function unit(t: tf.Tensor4D, norm: Norm): tf.Tensor4D {
  return tf.tidy(() => tf.div(t, tf.add(norm === "l2" ? l2Norms(t) : linfNorms(t), 1e-12)));
}

/**
 * What the projection onto the ball around x needs, as tensors (so that an iteration can take them
 * as inputs, lib/attacks/attack_graphs.ts): L-inf the box bounds [lower, upper] (eps-ball ∩ box,
 * new tensors: the caller disposes them), L2 [x] itself.
 */
export function ballGeometry(
  x: tf.Tensor4D,
  norm: Norm,
  eps: number,
  [lo, hi]: [number, number],
): tf.Tensor4D[] {
  if (norm === "l2") return [x];
  // Clamping to the box only moves coordinates toward x, so the result stays in the ball.
  const lower = tf.tidy(() => tf.maximum(tf.sub(x, eps), lo)) as tf.Tensor4D;
  const upper = tf.tidy(() => tf.minimum(tf.add(x, eps), hi)) as tf.Tensor4D;
  return [lower, upper];
}

/** xa projected onto {x + d : ||d|| <= eps} ∩ box, given ballGeometry(x, ...). */
export function projectOnto(
  xa: tf.Tensor4D,
  norm: Norm,
  eps: number,
  [lo, hi]: [number, number],
  geometry: readonly tf.Tensor[],
): tf.Tensor4D {
  if (norm === "linf") {
    const [lower, upper] = geometry;
    return tf.tidy(() => tf.minimum(tf.maximum(xa, lower), upper) as tf.Tensor4D);
  }
  const [x] = geometry;
  return tf.tidy(() => {
    const d = tf.sub(xa, x);
    const n = l2Norms(d);
    // The reference's x + normalize(d) * min(eps, ||d||).
    const scaled = tf.mul(tf.div(d, tf.add(n, 1e-12)), tf.minimum(n, eps));
    return tf.clipByValue(tf.add(x, scaled), lo, hi) as tf.Tensor4D;
  });
}

/**
 * base with row ids[j] replaced by rows[j] wherever take[j] (a new tensor; base is not
 * disposed). ids must be distinct.
 */
export function writeRows(
  base: tf.Tensor4D,
  ids: Int32Array,
  rows: tf.Tensor4D,
  take: ArrayLike<boolean | number>,
): tf.Tensor4D {
  return tf.tidy(() => {
    const n = base.shape[0];
    const idx = tf.tensor2d(ids, [ids.length, 1], "int32");
    const full = tf.scatterND(idx, rows, base.shape) as tf.Tensor4D;
    const mask = new Int32Array(n);
    ids.forEach((id, j) => (mask[id] = take[j] ? 1 : 0));
    const cond = tf.reshape(tf.cast(tf.tensor1d(mask, "int32"), "bool"), [n, 1, 1, 1]);
    return tf.where(cond, full, base);
  });
}

/** The indices where flags[i] is truthy. */
export function indicesOf(flags: ArrayLike<number | boolean>): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < flags.length; i++) if (flags[i]) out.push(i);
  return Int32Array.from(out);
}

/** Rows ids of t (a new tensor). */
export function gatherRows<T extends tf.Tensor>(t: T, ids: Int32Array): T {
  return tf.tidy(() => tf.gather(t, tf.tensor1d(ids, "int32")) as T);
}
