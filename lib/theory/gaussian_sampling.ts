/**
 * Sampling from the Gaussian model of lib/theory/gaussian_model.ts: the theory code's own seeded
 * uniform and normal streams, samples (x, y) of the model, and a classifier's empirical accuracy
 * on them (the Monte-Carlo checks of the theorem notebooks).
 */
import { Rng } from "../util/rng.ts";
import { checkNumber } from "../util/validate.ts";
import { checkModel, checkW, type GaussianModel } from "./gaussian_model.ts";

/**
 * Seeded uniform generator on [0, 1) with 53 random bits: the xoshiro128** generator of
 * lib/util/rng.ts, started from a state that this module's own seed mixer derives from seed.
 * Deterministic in seed (an integer in [0, 2^32)).
 *
 * Why not Rng.fromSeed(seed).float(): the theorem notebooks' random draws (Theorems 4.1-4.5's
 * random models, Theorem 4.3's training samples: the numbers of the rendered report) come from
 * this stream, and Rng.fromSeed seeds through a different splitmix32 finaliser (see
 * theorySeedState) and Rng.float() keeps 32 bits, not 53; either change would draw other
 * numbers. The xoshiro128** steps themselves are the same, so they are lib/util/rng.ts's.
 */
export function makeUniform(seed: number): () => number {
  checkNumber("seed", seed, { integer: true, min: 0, below: 2 ** 32 });
  const rng = Rng.fromState(theorySeedState(seed));
  return () => ((rng.uint32() >>> 5) * 67108864 + (rng.uint32() >>> 6)) / 9007199254740992;
}

/**
 * The four state words makeUniform starts from: four outputs of a splitmix32 variant on seed
 * (finaliser multipliers 0x21f0aaad and 0x735a2d97; lib/util/rng.ts uses murmur3's 0x85ebca6b and
 * 0xc2b2ae35). The finaliser is a bijection and the four counter values differ, so at most one
 * word is 0 and Rng's all-zero guard never changes them.
 */
function theorySeedState(seed: number): [number, number, number, number] {
  let z = seed >>> 0;
  const next = () => {
    z = (z + 0x9e3779b9) | 0;
    let t = z ^ (z >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
  return [next(), next(), next(), next()];
}

/** Seeded standard normal draws (Box–Muller on makeUniform, both outputs used). */
export function makeNormal(seed: number): () => number {
  const uniform = makeUniform(seed);
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const z = spare;
      spare = null;
      return z;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - uniform())); // 1 - U is in (0, 1]
    const angle = 2 * Math.PI * uniform();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}

/**
 * n samples from the model (eq. 7): y[i] = ±1, x[i][0] = x1 (= y[i] with probability p, else
 * -y[i]), x[i][1..d] ~ N(eta*y[i], 1). Deterministic in seed.
 */
export function sampleGaussianModel(
  m: GaussianModel,
  n: number,
  seed: number,
): { x: Float64Array[]; y: Int8Array } {
  checkModel(m);
  checkNumber("n", n, { integer: true, min: 1 });
  const uniform = makeUniform(seed);
  const normal = makeNormal((seed ^ 0x5bd1e995) >>> 0);
  const x: Float64Array[] = [];
  const y = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const label = uniform() < 0.5 ? 1 : -1;
    const row = new Float64Array(m.d + 1);
    row[0] = uniform() < m.p ? label : -label;
    for (let j = 1; j <= m.d; j++) row[j] = m.eta * label + normal();
    x.push(row);
    y[i] = label;
  }
  return { x, y };
}

/**
 * Share of samples that sign(w*x1 + sum_j (x_j - eps*y)) classifies correctly: the Monte Carlo
 * counterpart of accuracy(m, w, eps), with the worst eps attack applied to the non-robust
 * features of each sample. A score of exactly 0 counts as wrong.
 */
export function empiricalAccuracy(
  sample: { x: Float64Array[]; y: Int8Array },
  w: number,
  eps = 0,
): number {
  checkW(w);
  checkNumber("eps", eps, { min: 0 });
  const { x, y } = sample;
  let correct = 0;
  for (let i = 0; i < y.length; i++) {
    const row = x[i];
    let sum = 0;
    for (let j = 1; j < row.length; j++) sum += row[j];
    const score = w * row[0] + sum - eps * y[i] * (row.length - 1);
    if (score * y[i] > 0) correct++;
  }
  return correct / y.length;
}

