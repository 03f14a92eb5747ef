/**
 * Theorem 4.2's threat model on the toy classifier (lib/theory/toy_model.ts): the library's L-inf
 * PGD attack on the non-robust features only, with x1 held fixed.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Classifier } from "../models/model.ts";
import { pgd } from "../attacks/pgd.ts";
import type { Rng } from "../util/rng.ts";
import { checkNumber, fail } from "../util/validate.ts";

export interface NonRobustAttack {
  /** L-inf radius on each non-robust feature. */
  eps: number;
  /** PGD step (default eps). */
  alpha?: number;
  /**
   * PGD steps (default 2). For a linear score the sign of the input gradient never changes, so two
   * steps of size eps reach the worst corner x - eps*y*sign(thetaRest) from any random start.
   */
  steps?: number;
  rng?: Rng | number;
}

/**
 * The L-inf PGD attack of lib/attacks/pgd.ts on the non-robust features only, with no [0, 1] clamp
 * (bounds: null): x1 is held fixed by attacking a closure model whose input is x2..x(d+1), as in
 * Theorem 4.2's threat model. Returns the attacked [N, 1, 1, d+1] batch (the caller disposes it).
 */
export function attackNonRobust(
  model: Classifier,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  attack: NonRobustAttack,
): tf.Tensor4D {
  const eps = checkNumber("eps", attack.eps, { min: 0, max: 1 });
  const width = x.shape[3];
  if (width < 2) fail("x", `a tensor of shape [${x.shape}]`, "at least 2 features");
  const x1 = tf.slice(x, [0, 0, 0, 0], [-1, 1, 1, 1]);
  const rest = tf.slice(x, [0, 0, 0, 1], [-1, 1, 1, width - 1]);
  const closure: Classifier = {
    forward: (z, mode) => tf.tidy(() => model.forward(tf.concat([x1, z], 3), mode)),
  };
  try {
    const adv = pgd(closure, rest, labels, {
      norm: "linf",
      eps,
      alpha: attack.alpha ?? (eps > 0 ? eps : 1),
      steps: attack.steps ?? 2,
      randomStart: true,
      rng: attack.rng ?? 0,
      bounds: null,
    });
    const out = tf.concat([x1, adv], 3);
    adv.dispose();
    return out;
  } finally {
    tf.dispose([x1, rest]);
  }
}
