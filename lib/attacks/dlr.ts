/**
 * Per-example losses of APGD and Square (Croce & Hein 2020; Andriushchenko et al. 2020), each a
 * differentiable function of the logits z [N, C] -> [N]:
 *
 * - dlrLoss (untargeted DLR):   -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3 + 1e-12)
 * - dlrTargetedLoss:            -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12)
 * - perExampleCrossEntropy:     -log softmax(z)_y
 * - marginLoss (Square):        z_y - max_{i != y} z_i   (<= 0 once misclassified)
 *
 * where z_pi1 >= z_pi2 >= ... are the sorted logits. The order statistics are picked with one-hot
 * masks, so the gradient flows to the picked logits, as through PyTorch's sort in the reference.
 */
import * as tf from "@tensorflow/tfjs-core";
import { OptionError } from "../util/validate.ts";

/**
 * The count largest logits of each row, largest first, differentiably: the max, then the max with
 * the winners masked out, and so on (argMax carries no gradient, so the indices stay off the
 * gradient path; tfjs has no gradient for topk).
 */
function sortedLogits(z: tf.Tensor2D, count: number): tf.Tensor1D[] {
  const c = z.shape[1];
  const out: tf.Tensor1D[] = [];
  let rest: tf.Tensor2D = z;
  for (let k = 0; k < count; k++) {
    const top = tf.oneHot(tf.argMax(rest, 1), c);
    out.push(tf.sum(tf.mul(z, top), 1) as tf.Tensor1D);
    rest = tf.sub(rest, tf.mul(top, 1e30)) as tf.Tensor2D;
  }
  return out;
}

/** z[i, idx[i]] for each row, differentiable in z. */
function pick(z: tf.Tensor2D, idx: tf.Tensor1D, c = z.shape[1]): tf.Tensor1D {
  return tf.sum(tf.mul(z, tf.oneHot(tf.cast(idx, "int32"), c)), 1) as tf.Tensor1D;
}

/** max over i != y of z_i: the best wrong logit. */
function bestOther(z: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  const mask = tf.oneHot(tf.cast(y, "int32"), z.shape[1]);
  // -inf would make 0 * inf = NaN in the gradient of a masked product; a large finite offset does not.
  return tf.max(tf.sub(z, tf.mul(mask, 1e30)), 1) as tf.Tensor1D;
}

function needClasses(what: string, z: tf.Tensor2D, min: number): void {
  if (z.shape[1] < min) {
    throw new OptionError(
      `The ${what} needs at least ${min} classes but the model has ${
        z.shape[1]
      }: use apgd-ce (cross-entropy) for this model.`,
    );
  }
}

/** Untargeted DLR loss per example (needs >= 3 classes). */
export function dlrLoss(z: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  needClasses("DLR loss", z, 3);
  return tf.tidy(() => {
    const [p1, , p3] = sortedLogits(z, 3);
    const num = tf.sub(pick(z, y), bestOther(z, y));
    return tf.neg(tf.div(num, tf.add(tf.sub(p1, p3), 1e-12))) as tf.Tensor1D;
  });
}

/** Targeted DLR loss per example towards class t (needs >= 4 classes). */
export function dlrTargetedLoss(z: tf.Tensor2D, y: tf.Tensor1D, t: tf.Tensor1D): tf.Tensor1D {
  needClasses("targeted DLR loss", z, 4);
  return tf.tidy(() => {
    const [p1, , p3, p4] = sortedLogits(z, 4);
    const num = tf.sub(pick(z, y), pick(z, t));
    const den = tf.add(tf.sub(p1, tf.mul(tf.add(p3, p4), 0.5)), 1e-12);
    return tf.neg(tf.div(num, den)) as tf.Tensor1D;
  });
}

/** Cross-entropy per example (not averaged), so APGD can track each example's best loss. */
export function perExampleCrossEntropy(z: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.neg(pick(tf.logSoftmax(z), y)) as tf.Tensor1D);
}

/** Square's margin z_y - max_{i != y} z_i per example: <= 0 means misclassified (or tied). */
export function marginLoss(z: tf.Tensor2D, y: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => tf.sub(pick(z, y), bestOther(z, y)) as tf.Tensor1D);
}
