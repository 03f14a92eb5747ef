/**
 * Input-space sensitivity of a classifier (eval mode, running BatchNorm statistics, as attacks see
 * it), in [0, 1] pixel units:
 *
 * - inputGradientNorms: per test image, ||grad_x l(x, y)||_1 and ||grad_x l(x, y)||_2 of its own
 *   cross-entropy l; their means (and medians). To first order the largest loss increase inside an
 *   L-inf ball of radius eps is eps * ||grad||_1, inside an L2 ball eps * ||grad||_2.
 * - lossAlongDirection: the mean loss and accuracy at x + (e / eps0) * delta (clipped to [0, 1])
 *   for a grid of radii e, where delta is the PGD perturbation of radius eps0 found for each image
 *   (the PGD direction), and the same along a random L-inf sign direction of radius eps0 (for
 *   contrast). At e = eps0 the PGD line gives PGD's own loss.
 */
import * as tf from "@tensorflow/tfjs-core";
import { pgd } from "../attacks/pgd.ts";
import { AttackGraphs } from "../attacks/attack_graphs.ts";
import { defaultEngine, type Engine } from "../backend/speed_settings.ts";
import type { Norm } from "../attacks/attack.ts";
import type { Classifier } from "../models/model.ts";
import { crossEntropy } from "../models/ops.ts";
import type { Batch } from "./objective.ts";
import { Rng } from "../util/rng.ts";
import { checkNumber } from "../util/validate.ts";

export interface GradientNorms {
  n: number;
  meanL1: number;
  meanL2: number;
  medianL1: number;
  medianL2: number;
  /** Mean clean cross-entropy of the images. */
  meanLoss: number;
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Per-image input-gradient norms over the batches (eval mode). */
export function inputGradientNorms(model: Classifier, batches: readonly Batch[]): GradientNorms {
  const l1: number[] = [], l2: number[] = [];
  let lossSum = 0, n = 0;
  for (const { x, y } of batches) {
    const k = x.shape[0];
    // grad of the batch mean times k = each image's own gradient (eval mode: images independent).
    const f = tf.valueAndGrad((xa: tf.Tensor) =>
      crossEntropy(model.forward(xa as tf.Tensor4D, "eval"), y)
    );
    const [a, b, loss] = tf.tidy(() => {
      const { value, grad } = f(x);
      const g = tf.reshape(tf.mul(grad, k), [k, -1]);
      return [tf.sum(tf.abs(g), 1), tf.sqrt(tf.sum(tf.square(g), 1)), value];
    });
    l1.push(...a.dataSync());
    l2.push(...b.dataSync());
    lossSum += loss.dataSync()[0] * k;
    n += k;
    tf.dispose([a, b, loss]);
  }
  const mean = (v: number[]) => v.reduce((s, t) => s + t, 0) / v.length;
  return {
    n,
    meanL1: mean(l1),
    meanL2: mean(l2),
    medianL1: median(l1),
    medianL2: median(l2),
    meanLoss: lossSum / n,
  };
}

export interface DirectionOptions {
  norm?: Norm;
  /** Radius of the PGD perturbation that fixes the direction (default 8/255). */
  eps?: number;
  /** PGD steps (default 10, step eps/4, random start). */
  steps?: number;
  /** Radii at which the loss is read (default 0 ... 2 eps). */
  radii?: readonly number[];
  /** Noise seed of PGD's start and of the random direction (default 0). */
  seed?: number;
  /** Engine of PGD's iterations (default: speed_settings.ts defaultEngine); the same numbers. */
  engine?: Engine;
}

export interface DirectionCurve {
  radii: number[];
  pgdLoss: number[];
  pgdAccuracy: number[];
  randomLoss: number[];
  randomAccuracy: number[];
  n: number;
  norm: Norm;
  eps: number;
}

/** Loss and accuracy along each image's PGD direction and along a random sign direction. */
export function lossAlongDirection(
  model: Classifier,
  batches: readonly Batch[],
  options: DirectionOptions = {},
): DirectionCurve {
  const norm = options.norm ?? "linf";
  const eps = checkNumber("eps", options.eps ?? 8 / 255, { above: 0, max: 1 });
  const steps = checkNumber("steps", options.steps ?? 10, { integer: true, min: 1 });
  const radii = [...(options.radii ?? [0, 1, 2, 4, 6, 8, 10, 12, 16].map((v) => (v / 8) * eps))];
  const rng = Rng.fromSeed(options.seed ?? 0);
  const sums = {
    pl: radii.map(() => 0),
    pa: radii.map(() => 0),
    rl: radii.map(() => 0),
    ra: radii.map(() => 0),
  };
  let n = 0;
  // The attacks' default engine (lib/backend/speed_settings.ts): the same examples bit for bit.
  const engine = options.engine ?? defaultEngine(tf.getBackend());
  const graphs = engine === "graph" ? new AttackGraphs() : undefined;
  try {
    for (const { x, y } of batches) {
      const k = x.shape[0];
      const adv = pgd(model, x, y, { norm, eps, alpha: eps / 4, steps, rng, mode: "eval", graphs });
      const dPgd = tf.sub(adv, x);
      adv.dispose();
      const dRand = (() => {
        const a = new Float32Array(x.size);
        for (let i = 0; i < a.length; i++) a[i] = rng.uint32() & 1 ? eps : -eps;
        const t = tf.tensor4d(a, x.shape);
        if (norm === "linf") return t;
        // L2: the same random signs rescaled to L2 radius eps per image.
        const out = tf.tidy(() => tf.mul(t, 1 / Math.sqrt(x.size / k)));
        t.dispose();
        return out;
      })();
      try {
        radii.forEach((e, j) => {
          for (const [d, lk, ak] of [[dPgd, "pl", "pa"], [dRand, "rl", "ra"]] as const) {
            const [loss, acc] = tf.tidy(() => {
              const xe = tf.clipByValue(tf.add(x, tf.mul(d, e / eps)), 0, 1) as tf.Tensor4D;
              const logits = model.forward(xe, "eval");
              return [
                crossEntropy(logits, y),
                tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), y), "float32")),
              ];
            });
            sums[lk][j] += loss.dataSync()[0] * k;
            sums[ak][j] += acc.dataSync()[0] * k;
            tf.dispose([loss, acc]);
          }
        });
      } finally {
        tf.dispose([dPgd, dRand]);
      }
      n += k;
    }
  } finally {
    graphs?.dispose();
  }
  return {
    radii,
    pgdLoss: sums.pl.map((v) => v / n),
    pgdAccuracy: sums.pa.map((v) => v / n),
    randomLoss: sums.rl.map((v) => v / n),
    randomAccuracy: sums.ra.map((v) => v / n),
    n,
    norm,
    eps,
  };
}
