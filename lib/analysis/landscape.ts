/**
 * Loss landscapes along filter-normalised random directions (Li, Xu, Taylor, Studer, Goldstein
 * 2018, "Visualizing the Loss Landscape of Neural Nets"):
 *
 *   d ~ N(0, I) per parameter tensor; each filter of d is rescaled to the norm of the same filter
 *   of w: d_f <- d_f * ||w_f|| / ||d_f||.
 * A filter is one output channel: the last axis of a conv weight [kh, kw, cin, cout] or a linear
 * weight [in, out]. One-dimensional parameters (BatchNorm scales and shifts, biases) get a zero
 * direction (Li et al.'s "ignore biasbn") unless `oneDim: "copy"`, which uses d = w for them.
 *
 * Then L(w + a d) for a on a grid (1-D) or L(w + a d1 + b d2) on a grid of (a, b) (2-D), with the
 * objective's examples and BatchNorm mode. Filter normalisation makes a = 1 a step as large as
 * the weights themselves, filter by filter, so curves of differently scaled networks compare.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Objective } from "./objective.ts";
import { atShifted, type ParamVector, randomNormal } from "./param_vector.ts";
import { Rng } from "../util/rng.ts";
import { checkChoice, checkNumber } from "../util/validate.ts";

export type OneDim = "zero" | "copy";

/** One filter-normalised random direction for `params` (the caller disposes it). */
export function filterNormalizedDirection(
  params: readonly tf.Tensor[],
  rng: Rng,
  oneDim: OneDim = "zero",
): ParamVector {
  checkChoice("oneDim", oneDim, ["zero", "copy"]);
  const raw = randomNormal(params, rng);
  const out = tf.tidy(() =>
    params.map((w, i) => {
      const d = raw[i];
      if (w.rank <= 1) return oneDim === "zero" ? tf.zerosLike(w) : tf.clone(w);
      const axes = Array.from({ length: w.rank - 1 }, (_, k) => k);
      const wn = tf.sqrt(tf.sum(tf.square(w), axes, true));
      const dn = tf.sqrt(tf.sum(tf.square(d), axes, true));
      return tf.mul(d, tf.div(wn, tf.add(dn, 1e-10)));
    })
  );
  tf.dispose(raw);
  return out;
}

export interface LandscapeOptions {
  /** Half-width of the grid in units of the direction (default 1). */
  span?: number;
  /** Grid points per axis (default 21 for 1-D, 11 for 2-D). */
  points?: number;
  seed?: number;
  oneDim?: OneDim;
}

export interface Landscape1D {
  alphas: number[];
  losses: number[];
}

export interface Landscape2D {
  alphas: number[];
  betas: number[];
  /** losses[j][i] = L(w + alphas[i] d1 + betas[j] d2) (plotly's z layout). */
  losses: number[][];
}

function grid(span: number, points: number): number[] {
  return Array.from({ length: points }, (_, i) => -span + (2 * span * i) / (points - 1));
}

function settings(o: LandscapeOptions, defaultPoints: number) {
  return {
    span: checkNumber("span", o.span ?? 1, { above: 0 }),
    points: checkNumber("points", o.points ?? defaultPoints, { integer: true, min: 2 }),
    rng: Rng.fromSeed(o.seed ?? 0),
    oneDim: o.oneDim ?? "zero",
  };
}

/** L(w + a d) along one filter-normalised direction. */
export function landscape1d(
  obj: Objective,
  options: LandscapeOptions = {},
  onPoint?: (done: number, total: number) => void,
): Landscape1D {
  const s = settings(options, 21);
  const d = filterNormalizedDirection(obj.params, s.rng, s.oneDim);
  const alphas = grid(s.span, s.points);
  try {
    const losses = alphas.map((a, i) => {
      const shift = tf.tidy(() => d.map((t) => tf.mul(t, a)));
      try {
        return atShifted(obj.params, shift, () => obj.loss());
      } finally {
        tf.dispose(shift);
        onPoint?.(i + 1, alphas.length);
      }
    });
    return { alphas, losses };
  } finally {
    tf.dispose(d);
  }
}

/** L(w + a d1 + b d2) on a square grid; d1 and d2 are drawn in that order from the seed. */
export function landscape2d(
  obj: Objective,
  options: LandscapeOptions = {},
  onPoint?: (done: number, total: number) => void,
): Landscape2D {
  const s = settings(options, 11);
  const d1 = filterNormalizedDirection(obj.params, s.rng, s.oneDim);
  const d2 = filterNormalizedDirection(obj.params, s.rng, s.oneDim);
  const alphas = grid(s.span, s.points), betas = grid(s.span, s.points);
  const total = alphas.length * betas.length;
  let done = 0;
  try {
    const losses = betas.map((b) =>
      alphas.map((a) => {
        const shift = tf.tidy(() => d1.map((t, i) => tf.add(tf.mul(t, a), tf.mul(d2[i], b))));
        try {
          return atShifted(obj.params, shift, () => obj.loss());
        } finally {
          tf.dispose(shift);
          onPoint?.(++done, total);
        }
      })
    );
    return { alphas, betas, losses };
  } finally {
    tf.dispose([...d1, ...d2]);
  }
}
