/**
 * Clean and robust accuracy, the paper's evaluation protocol: the model in eval mode (running
 * BatchNorm statistics); robust accuracy under PGD with a random start, `steps` (default 10)
 * steps of size eps/4, for each (norm, eps) asked; every example attacked, correct or not.
 * Results are fractions in [0, 1], keyed like "linf_1_255", "l2_16_255" (attackKey).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Dataset } from "../data/data.ts";
import type { Classifier } from "../models/model.ts";
import { type Norm, NORMS, pgd } from "../attacks/pgd.ts";
import { createProgress, type ProgressStyle } from "../util/progress.ts";
import { Rng } from "../util/rng.ts";
import { checkChoice, checkNumber, fail } from "../util/validate.ts";

export interface EvalAttack {
  norm: Norm;
  /** Radius in [0, 1] pixel units, e.g. 1/255. */
  eps: number;
}

/** The paper's four evaluation columns. */
export const PAPER_EVAL_ATTACKS: readonly EvalAttack[] = [
  { norm: "linf", eps: 1 / 255 },
  { norm: "linf", eps: 2 / 255 },
  { norm: "l2", eps: 16 / 255 },
  { norm: "l2", eps: 32 / 255 },
];

export interface EvalOptions {
  attacks?: readonly EvalAttack[];
  /** PGD steps (default 10). */
  steps?: number;
  /** Examples per batch (default 256). */
  batchSize?: number;
  /** Seed of the attacks' random starts (default 0). */
  seed?: number;
  /** Evaluate only the first n examples (default: all). */
  limit?: number;
  progress?: ProgressStyle;
  label?: string;
}

export interface EvalResult {
  /** Examples evaluated. */
  n: number;
  clean: number;
  robust: Record<string, number>;
  seconds: number;
}

/** "linf_1_255" for eps = 1/255; eps that are not whole multiples of 1/255 print as "linf_eps0.01". */
export function attackKey(norm: Norm, eps: number): string {
  const k = eps * 255;
  const whole = Math.round(k);
  if (Math.abs(k - whole) < 1e-6) return `${norm}_${whole}_255`;
  return `${norm}_eps${Number(eps.toPrecision(6))}`;
}

export function validateEvalOptions(o: EvalOptions): void {
  (o.attacks ?? []).forEach((a, i) => {
    checkChoice(`attacks[${i}].norm`, a.norm, NORMS);
    checkNumber(`attacks[${i}].eps`, a.eps, { above: 0, max: 1 });
  });
  if (o.steps !== undefined) checkNumber("steps", o.steps, { integer: true, min: 1 });
  if (o.batchSize !== undefined) checkNumber("batchSize", o.batchSize, { integer: true, min: 1 });
  if (o.seed !== undefined) checkNumber("seed", o.seed, { integer: true, min: 0, max: 4294967295 });
  if (o.limit !== undefined) checkNumber("limit", o.limit, { integer: true, min: 1 });
}

/** Count of argmax(logits) == y. */
function correct(logits: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), "int32")));
}

/** Clean accuracy and PGD robust accuracy of `model` on `data`. */
export async function evaluate(
  model: Classifier,
  data: Dataset,
  options: EvalOptions = {},
): Promise<EvalResult> {
  validateEvalOptions(options);
  const attacks = options.attacks ?? [];
  const steps = options.steps ?? 10;
  const batchSize = options.batchSize ?? 256;
  const n = Math.min(data.n, options.limit ?? data.n);
  if (n < 1) fail("data", data.name, "a dataset with at least one example");
  const keys = attacks.map((a) => attackKey(a.norm, a.eps));
  const rng = Rng.fromSeed(options.seed ?? 0);
  const plane = data.height * data.width * data.channels;
  const progress = createProgress({
    label: options.label ?? `eval ${data.name}`,
    total: n,
    unit: "img",
    style: options.progress ?? "auto",
  });
  const start = performance.now();
  let cleanCount = 0;
  const robustCount = new Array(attacks.length).fill(0);

  for (let s = 0; s < n; s += batchSize) {
    const e = Math.min(n, s + batchSize);
    const x = tf.tensor4d(
      data.images.slice(s * plane, e * plane),
      [e - s, data.height, data.width, data.channels],
    );
    const y = tf.tensor1d(data.labels.slice(s, e), "int32");
    try {
      const c = tf.tidy(() => correct(model.forward(x, "eval"), y));
      cleanCount += (await c.data())[0];
      c.dispose();
      for (let i = 0; i < attacks.length; i++) {
        const { norm, eps } = attacks[i];
        const xAdv = pgd(model, x, y, { norm, eps, alpha: eps / 4, steps, mode: "eval", rng });
        const r = tf.tidy(() => correct(model.forward(xAdv, "eval"), y));
        xAdv.dispose();
        robustCount[i] += (await r.data())[0];
        r.dispose();
      }
    } finally {
      x.dispose();
      y.dispose();
    }
    await progress.update(e);
  }
  await progress.finish(
    `clean ${(100 * cleanCount / n).toFixed(2)}%` +
      keys.map((k, i) => ` ${k} ${(100 * robustCount[i] / n).toFixed(2)}%`).join(""),
  );
  const robust: Record<string, number> = {};
  keys.forEach((k, i) => (robust[k] = robustCount[i] / n));
  return { n, clean: cleanCount / n, robust, seconds: (performance.now() - start) / 1000 };
}
