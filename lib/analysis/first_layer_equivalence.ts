/**
 * The paper's Section 3 argument, made numerical. For a linear layer z -> W z, AT perturbs the
 * input, W (z + dz), SAM perturbs the weight, (W + dW) z; the paper calls SAM's perturbation an
 * implicit, "more moderate" feature perturbation. For the first layer of a trained model (a 3x3
 * convolution applied to the normalised image z = (x - mean) / std) this module measures:
 *
 * - share: ||e_1|| / ||e||, the first layer's part of SAM's perturbation e = rho g / ||g|| (g the
 *   gradient of one training batch in train mode, as in SAM's first pass).
 * - the feature change a = conv(z, e_1) per image, ||a||_2 (its size scales with rho exactly).
 * - the input perturbation that best reproduces it: dz* = argmin ||conv(dz, W) - a||_2, solved per
 *   image by conjugate gradients on the normal equations (conv^T conv) dz = conv^T a; reported in
 *   pixel units, dx* = std * dz*, as ||dx*||_2 and ||dx*||_inf, with the relative residual
 *   ||conv(dz*, W) - a|| / ||a||. A residual near 1 means the weight perturbation is mostly NOT an
 *   input perturbation at all (with C_out > C_in the layer's outputs outnumber its inputs).
 * - two reference radii: ||a|| / sigma_max (the smallest L2 pixel radius that could change the
 *   features by ||a||; sigma_max = the largest singular value of x -> conv(x / std, W), by power
 *   iteration), and ||a|| / E||conv(u / std, W)|| over random unit u (the L2 radius of a random
 *   input perturbation of the same effect size).
 * - AT's feature change ||conv(dx_AT / std, W)|| for PGD perturbations of the training radii
 *   (train mode, as AT computes them), to compare with ||a|| at a given rho.
 *
 * All per-image numbers are for rho = 1 (`unit`); the feature change, dx*, and the two reference
 * radii scale linearly with rho, the residual and share do not.
 */
import * as tf from "@tensorflow/tfjs-core";
import { pgd } from "../attacks/pgd.ts";
import type { Norm } from "../attacks/attack.ts";
import { conv, type Model } from "../models/model.ts";
import { crossEntropy } from "../models/ops.ts";
import type { Batch } from "./objective.ts";
import { Rng } from "../util/rng.ts";

export interface AtRadius {
  norm: Norm;
  eps: number;
}

export interface EquivalenceOptions {
  /** Conjugate-gradient iterations (default 40). */
  cgIters?: number;
  /** AT radii to compare with (default L-inf 8/255 and L2 128/255). */
  atRadii?: readonly AtRadius[];
  seed?: number;
}

export interface EquivalenceResult {
  /** Images measured. */
  n: number;
  /** ||e_1|| / ||e||, averaged over batches. */
  share: number;
  /** Largest singular value of x -> conv(x / std, W) (pixel units), on one image. */
  sigmaMax: number;
  /** E ||conv(u / std, W)|| for random unit u (pixel units). */
  randomGain: number;
  /** Per-image medians at rho = 1. */
  unit: {
    featureChange: number;
    lsL2: number;
    lsLinf: number;
    minRadiusL2: number;
    randomRadiusL2: number;
  };
  /** Median relative residual of the least-squares fit. */
  residual: number;
  /** Median ||conv(dx_AT / std, W)|| per AT radius, keyed "linf_8_255"-style by the caller's list order. */
  atFeatureChange: { norm: Norm; eps: number; median: number }[];
  /** CG: largest relative residual of the normal equations at the end. */
  cgResidual: number;
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const perImage = (t: tf.Tensor) => tf.sqrt(tf.sum(tf.square(tf.reshape(t, [t.shape[0], -1])), 1));

export function firstLayerEquivalence(
  model: Model,
  batches: readonly Batch[],
  options: EquivalenceOptions = {},
): EquivalenceResult {
  const W = model.params[0] as unknown as tf.Tensor4D;
  if (W.rank !== 4 || model.paramNames[0] !== "conv1.weight") {
    throw new RangeError(
      `firstLayerEquivalence needs a model whose first parameter is conv1.weight, got ${
        model.paramNames[0]
      }.`,
    );
  }
  if (W.shape[0] !== 3) throw new RangeError("firstLayerEquivalence expects a 3x3 first conv.");
  const iters = options.cgIters ?? 40;
  const atRadii = options.atRadii ??
    [{ norm: "linf", eps: 8 / 255 }, { norm: "l2", eps: 128 / 255 }];
  const rng = Rng.fromSeed(options.seed ?? 0);
  const spec = model.spec;
  const stdT = tf.tensor1d(spec.std);
  const invStd = tf.tensor1d(spec.std.map((s) => 1 / s));
  const shift = tf.tensor1d(spec.mean.map((m, i) => -m / spec.std[i]));
  const apply = (dz: tf.Tensor4D, f: tf.Tensor4D = W) => conv(dz, f, 1);
  const adjoint = (y: tf.Tensor4D) =>
    tf.conv2dTranspose(y, W, [y.shape[0], y.shape[1], y.shape[2], W.shape[2]], 1, "same");
  const normalOp = (dz: tf.Tensor4D) => adjoint(apply(dz));

  const shares: number[] = [], feat: number[] = [], lsL2: number[] = [], lsLinf: number[] = [];
  const resid: number[] = [];
  const atChange = atRadii.map(() => [] as number[]);
  let cgWorst = 0;
  const [h, w, c] = spec.inputShape;

  // sigma_max of x -> conv(x / std, W): power iteration on the normal operator, one image.
  let sigmaMax = 0;
  {
    let v = tf.tensor4d(rng.fillNormal(new Float32Array(h * w * c)), [1, h, w, c]);
    for (let k = 0; k < 100; k++) {
      const next = tf.tidy(() => {
        const u = normalOp(tf.mul(v, invStd) as tf.Tensor4D);
        const uv = tf.mul(u, invStd);
        return tf.div(uv, tf.norm(uv)) as tf.Tensor4D;
      });
      v.dispose();
      v = next;
    }
    const s = tf.tidy(() => tf.norm(apply(tf.mul(v, invStd) as tf.Tensor4D)));
    sigmaMax = s.dataSync()[0];
    tf.dispose([s, v]);
  }
  // E ||conv(u / std, W)|| over random unit u.
  let randomGain = 0;
  {
    const k = 16;
    const g = tf.tidy(() => {
      const u = tf.tensor4d(rng.fillNormal(new Float32Array(k * h * w * c)), [k, h, w, c]);
      const unit = tf.div(u, tf.reshape(perImage(u), [k, 1, 1, 1]));
      return tf.mean(perImage(apply(tf.mul(unit, invStd) as tf.Tensor4D)));
    });
    randomGain = g.dataSync()[0];
    g.dispose();
  }

  try {
    for (const { x, y } of batches) {
      const n = x.shape[0];
      // SAM's perturbation at rho = 1 from this batch's gradient (train mode, as SAM's first pass).
      const { value, grads } = tf.variableGrads(
        () => crossEntropy(model.forward(x, "train"), y),
        model.params as tf.Variable[],
      );
      const gs = model.params.map((p) => grads[p.name]);
      const [e1, shareT] = tf.tidy(() => {
        const total = tf.sqrt(tf.addN(gs.map((g) => tf.sum(tf.square(g)))));
        const first = tf.norm(gs[0]);
        return [tf.div(gs[0], total) as tf.Tensor4D, tf.div(first, total)];
      });
      tf.dispose([value, ...Object.values(grads)]);
      shares.push(shareT.dataSync()[0]);
      shareT.dispose();

      const z = tf.tidy(() =>
        tf.add(tf.mul(x, tf.reshape(invStd, [1, 1, 1, c])), shift) as tf.Tensor4D
      );
      const a = tf.tidy(() => apply(z, e1));
      const b = tf.tidy(() => adjoint(a));
      // Batched conjugate gradients: one independent system per image.
      let dz = tf.zerosLike(b) as tf.Tensor4D;
      let r = tf.clone(b) as tf.Tensor4D;
      let p = tf.clone(b) as tf.Tensor4D;
      let rs = tf.tidy(() => tf.sum(tf.square(r), [1, 2, 3], true));
      const bNorm = tf.tidy(() => tf.sqrt(tf.sum(tf.square(b), [1, 2, 3], true)));
      for (let k = 0; k < iters; k++) {
        const [dz2, r2, p2, rs2] = tf.tidy(() => {
          const Ap = normalOp(p);
          const alpha = tf.div(rs, tf.add(tf.sum(tf.mul(p, Ap), [1, 2, 3], true), 1e-30));
          const dzN = tf.add(dz, tf.mul(alpha, p)) as tf.Tensor4D;
          const rN = tf.sub(r, tf.mul(alpha, Ap)) as tf.Tensor4D;
          const rsN = tf.sum(tf.square(rN), [1, 2, 3], true);
          const pN = tf.add(rN, tf.mul(tf.div(rsN, tf.add(rs, 1e-30)), p)) as tf.Tensor4D;
          return [dzN, rN, pN, rsN];
        });
        tf.dispose([dz, r, p, rs]);
        dz = dz2;
        r = r2;
        p = p2;
        rs = rs2;
      }
      const [fa, dxL2, dxLinf, res, cgRel] = tf.tidy(() => {
        const dx = tf.mul(dz, tf.reshape(stdT, [1, 1, 1, c]));
        const fit = apply(dz);
        return [
          perImage(a),
          perImage(dx),
          tf.max(tf.abs(tf.reshape(dx, [n, -1])), 1),
          tf.div(perImage(tf.sub(fit, a)), tf.add(perImage(a), 1e-30)),
          tf.max(tf.div(tf.sqrt(rs), tf.add(bNorm, 1e-30))),
        ];
      });
      feat.push(...fa.dataSync());
      lsL2.push(...dxL2.dataSync());
      lsLinf.push(...dxLinf.dataSync());
      resid.push(...res.dataSync());
      cgWorst = Math.max(cgWorst, cgRel.dataSync()[0]);
      tf.dispose([fa, dxL2, dxLinf, res, cgRel, dz, r, p, rs, bNorm, a, b, e1]);

      atRadii.forEach((at, j) => {
        const adv = pgd(model, x, y, {
          norm: at.norm,
          eps: at.eps,
          alpha: at.eps / 4,
          steps: 10,
          rng,
          mode: "train",
        });
        const ch = tf.tidy(() =>
          perImage(apply(tf.mul(tf.sub(adv, x), tf.reshape(invStd, [1, 1, 1, c])) as tf.Tensor4D))
        );
        atChange[j].push(...ch.dataSync());
        tf.dispose([adv, ch]);
      });
      z.dispose();
    }
  } finally {
    tf.dispose([stdT, invStd, shift]);
  }
  const featureChange = median(feat);
  return {
    n: feat.length,
    share: shares.reduce((s, v) => s + v, 0) / shares.length,
    sigmaMax,
    randomGain,
    unit: {
      featureChange,
      lsL2: median(lsL2),
      lsLinf: median(lsLinf),
      minRadiusL2: median(feat.map((f) => f / sigmaMax)),
      randomRadiusL2: median(feat.map((f) => f / randomGain)),
    },
    residual: median(resid),
    atFeatureChange: atRadii.map((at, j) => ({
      norm: at.norm,
      eps: at.eps,
      median: median(atChange[j]),
    })),
    cgResidual: cgWorst,
  };
}
