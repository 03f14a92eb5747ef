/**
 * The linear classifier of Section 4's Gaussian model (lib/theory/gaussian_model.ts) as a
 * `Classifier` of this project's training library, and its samples as tensors. Beyond the paper:
 * lib/theory/toy_loop.ts trains it with the library's SGD, SAM and PGD.
 *
 * Features x = (x1, x2..x(d+1)) are stored as a [N, 1, 1, d+1] tensor (a 1x1 "image" with d+1
 * channels) so that the image-oriented library runs unchanged. Weights theta = (theta1, thetaRest)
 * with no bias (the model is symmetric in y), score s = theta . x, and the two class logits are
 * (-s/2, +s/2) for classes (y = -1, y = +1): softmax cross-entropy is then exactly the logistic
 * loss log(1 + exp(-y s)). Its effective robust weight is
 *   w = theta1 / mean(thetaRest),
 * because the paper normalises the non-robust weights to 1 (sign(theta . x) is unchanged by scaling).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Classifier, Mode } from "../models/model.ts";
import { checkNumber, fail } from "../util/validate.ts";

/** Samples as sampleGaussianModel returns them. */
export interface ToySample {
  x: Float64Array[];
  y: Int8Array;
}

/** x as [N, 1, 1, d+1] float32 and the labels as class indices (y = -1 -> 0, y = +1 -> 1). */
export function toyTensors(sample: ToySample): { x: tf.Tensor4D; labels: tf.Tensor1D } {
  const n = sample.y.length;
  if (n < 1 || sample.x.length !== n) {
    fail("sample", `${sample.x.length} rows, ${n} labels`, "as many rows as labels, at least one");
  }
  const width = sample.x[0].length;
  const flat = new Float32Array(n * width);
  for (let i = 0; i < n; i++) {
    if (sample.x[i].length !== width) {
      fail("sample", `row ${i} of length ${sample.x[i].length}`, `rows of one length (${width})`);
    }
    flat.set(sample.x[i], i * width);
  }
  const labels = Int32Array.from(sample.y, (v) => (v > 0 ? 1 : 0));
  return { x: tf.tensor4d(flat, [n, 1, 1, width]), labels: tf.tensor1d(labels, "int32") };
}

/** The linear classifier theta . x of the Gaussian model as a `Classifier` with 2 logits. */
export interface LinearToy extends Classifier {
  readonly d: number;
  /** Weight on the robust feature x1, shape [1]. */
  readonly theta1: tf.Variable;
  /** Weights on the d non-robust features, shape [d]. */
  readonly thetaRest: tf.Variable;
  /** [theta1, thetaRest]: the order the optimisers see. */
  readonly params: readonly tf.Variable[];
  weights(): { theta1: number; thetaRest: Float32Array };
  dispose(): void;
}

/** A LinearToy for d non-robust features; weights start at `theta1` and `rest` (default 0). */
export function createLinearToy(
  d: number,
  init: { theta1?: number; rest?: number } = {},
): LinearToy {
  checkNumber("d", d, { integer: true, min: 1 });
  const t1 = checkNumber("init.theta1", init.theta1 ?? 0);
  const rest = checkNumber("init.rest", init.rest ?? 0);
  const theta1 = tf.variable(tf.tensor1d([t1]), true);
  const thetaRest = tf.variable(tf.fill([d], rest), true);
  return {
    d,
    theta1,
    thetaRest,
    params: [theta1, thetaRest],
    forward(x: tf.Tensor4D, _mode: Mode): tf.Tensor2D {
      if (x.shape[1] !== 1 || x.shape[2] !== 1 || x.shape[3] !== d + 1) {
        fail("x", `a tensor of shape [${x.shape}]`, `shape [N, 1, 1, ${d + 1}]`);
      }
      return tf.tidy(() => {
        const theta = tf.reshape(tf.concat([theta1, thetaRest]), [d + 1, 1]);
        const half = tf.mul(tf.matMul(tf.reshape(x, [-1, d + 1]), theta), 0.5); // [N, 1] = s/2
        return tf.concat([tf.neg(half), half], 1) as tf.Tensor2D;
      });
    },
    weights() {
      return {
        theta1: theta1.dataSync()[0],
        thetaRest: thetaRest.dataSync() as Float32Array,
      };
    },
    dispose() {
      tf.dispose([theta1, thetaRest]);
    },
  };
}

/** w = theta1 / mean(thetaRest): the paper's w with the non-robust weights normalised to 1. */
export function effectiveW(theta1: number, thetaRest: ArrayLike<number>): number {
  return theta1 / meanOf(thetaRest);
}

/** Mean of the entries (the normalising scale of effectiveW). */
export function meanOf(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}
