/**
 * A SAM variant for the toy classifier (lib/theory/toy_model.ts) that the library does not have:
 * the exact inner maximisation on one scalar weight, beside lib/optim/sam.ts's first-order step.
 */
import * as tf from "@tensorflow/tfjs-core";
import { stepAtShifted } from "../optim/sam.ts";
import type { Sgd } from "../optim/sgd.ts";
import { fail } from "../util/validate.ts";

/**
 * SAM on a single-number variable v (theta1) with the exact inner maximisation instead of the
 * first-order one: e = +rho or -rho, whichever end of [v - rho, v + rho] has the larger loss (the
 * inner maximum of a loss that is convex in v, as the logistic loss is), then the gradient of
 * all of opt.params at v + e, restore, opt.step. Not in the library: it is here to separate the
 * first-order ascent step of samStep from the min-max that the paper analyses.
 */
export function samStepEndpoints(
  opt: Sgd,
  v: tf.Variable,
  loss: (pass: 1 | 2) => tf.Scalar,
  rho: number,
  lr: number,
): tf.Scalar {
  if (v.size !== 1 || !opt.params.includes(v)) {
    fail("v", v.name, "a one-element variable among the optimiser's params");
  }
  const saved = tf.clone(v);
  let first: tf.Scalar;
  let e: number;
  try {
    const lossAt = (shift: number) => {
      tf.tidy(() => v.assign(tf.add(saved, shift)));
      return tf.tidy(() => loss(1).dataSync()[0]);
    };
    e = lossAt(rho) >= lossAt(-rho) ? rho : -rho;
    v.assign(saved);
    first = tf.tidy(() => loss(1));
  } finally {
    v.assign(saved);
    saved.dispose();
  }
  const shift = tf.scalar(e);
  try {
    stepAtShifted(opt, [v], [shift], () => loss(2), lr);
  } finally {
    shift.dispose();
  }
  return first;
}
