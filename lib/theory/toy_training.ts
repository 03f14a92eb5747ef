/**
 * Beyond the paper: train the linear classifier of Section 4's Gaussian model (lib/theory/gaussian_model.ts) with
 * this project's own training library (createSgd, samStep, pgd), on samples from
 * the model, and read off the weight w it puts on the robust feature.
 *
 * The classifier. Features x = (x1, x2..x(d+1)) are stored as a [N, 1, 1, d+1] tensor (a 1x1
 * "image" with d+1 channels) so that the image-oriented library runs unchanged. Weights
 * theta = (theta1, thetaRest) with no bias (the model is symmetric in y), score s = theta . x, and
 * the two class logits are (-s/2, +s/2) for classes (y = -1, y = +1): softmax cross-entropy is then
 * exactly the logistic loss log(1 + exp(-y s)). Its effective robust weight is
 *   w = theta1 / mean(thetaRest),
 * because the paper normalises the non-robust weights to 1 (sign(theta . x) is unchanged by scaling).
 *
 * Why the logistic loss lands on the theorems (derived here): the model's log-odds are
 *   log P(y=+1|x)/P(y=-1|x) = x1 ln(p/(1-p)) + 2 eta (x2 + ... + x(d+1)),
 * linear in x, so logistic regression is well specified and its population optimum is
 * theta = (ln(p/(1-p)), 2 eta, ..., 2 eta): w = w_ST. The worst L-inf attack of size eps on the
 * non-robust features (for thetaRest > 0) shifts them to N((eta - eps) y, 1), so the optimum of
 * the robust logistic loss is the same with eta - eps: w = w_AT. SAM has no such identity: see
 * logisticSamExact / logisticSamFirstOrder below, which give the population values of the two
 * SAM variants on the logistic loss, to compare with the 0-1-loss w_SAM of the paper.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Classifier, Mode } from "../models/model.ts";
import { crossEntropy } from "../models/ops.ts";
import { pgd } from "../attacks/pgd.ts";
import { Rng } from "../util/rng.ts";
import { samStep, stepAtShifted } from "../optim/sam.ts";
import { createSgd, type Sgd, sgdStep } from "../optim/sgd.ts";
import { findRoot, type GaussianModel, minimizeGolden } from "./gaussian_model.ts";
import { checkChoice, checkKnownKeys, checkNumber, fail } from "../util/validate.ts";

// ---------------------------------------------------------------------------------------------
// Data and classifier.

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

function meanOf(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

// ---------------------------------------------------------------------------------------------
// Training steps that the library does not have as such.

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

// ---------------------------------------------------------------------------------------------
// Training.

export const TOY_METHODS = ["st", "at", "sam-all", "sam-w", "sam-w-exact"] as const;
export type ToyMethod = typeof TOY_METHODS[number];

export interface ToyTrainOptions {
  /**
   * "st": plain loss (sgdStep). "at": PGD on the non-robust features (attackNonRobust), then a step
   * on the attacked batch. "sam-all": lib/optim/sam.ts samStep, one global L2 perturbation over all
   * d+1 weights (the library's SAM). "sam-w": the perturbation on theta1 only (samStep with perturbed = [theta1]).
   * "sam-w-exact": on theta1 only, with the exact inner maximum (samStepEndpoints).
   */
  method: ToyMethod;
  /**
   * Freeze the d non-robust weights at this value and train theta1 alone: the paper's setting, in
   * which they are normalised (here: fixed) and w is the only parameter. Then "sam-w" is
   * lib/optim/sam.ts samStep itself (its parameter list is [theta1]). Only with st, sam-w, sam-w-exact.
   */
  fixRest?: number;
  /** SAM radius, in the units of theta (not of the normalised w); required for the SAM methods. */
  rho?: number;
  /** AT radius on each non-robust feature; required for "at". */
  eps?: number;
  /** Full-batch steps (default 200). */
  steps?: number;
  /** Peak learning rate (default 1): constant for the first half, then linearly down to 0. */
  lr?: number;
  /** SGD momentum (default 0.9); weight decay is 0, the theory has none. */
  momentum?: number;
  /** PGD steps for "at" (default 2, step eps: see NonRobustAttack). */
  pgdSteps?: number;
  /** Seed of the PGD random starts (default 0). */
  seed?: number;
}

export interface ToyTrainResult {
  method: ToyMethod;
  theta1: number;
  thetaRest: Float32Array;
  /** mean(thetaRest): the scale that normalising to the paper's w divides by. */
  meanRest: number;
  /** theta1 / meanRest. */
  w: number;
  /** rho / meanRest: SAM's radius in the units of the normalised w (NaN for st/at). */
  rhoW: number;
  /** Clean training loss at the end. */
  loss: number;
  seconds: number;
}

const TRAIN_KEYS = [
  "method",
  "rho",
  "eps",
  "fixRest",
  "steps",
  "lr",
  "momentum",
  "pgdSteps",
  "seed",
];

/** Check training options; returns them with defaults filled in. */
export function validateToyOptions(o: ToyTrainOptions): Required<ToyTrainOptions> {
  if (o === null || typeof o !== "object") fail("options", o, "an object with a method");
  checkKnownKeys("toy training", o, TRAIN_KEYS);
  const method = checkChoice("method", o.method, TOY_METHODS);
  const sam = method.startsWith("sam");
  if (sam) checkNumber("rho", o.rho, { min: 0 });
  else if (o.rho !== undefined) fail("rho", o.rho, `no value for method "${method}"`);
  if (method === "at") checkNumber("eps", o.eps, { min: 0, max: 1 });
  else if (o.eps !== undefined) fail("eps", o.eps, `no value for method "${method}"`);
  if (o.fixRest !== undefined) {
    if (method === "at" || method === "sam-all") {
      fail("fixRest", o.fixRest, `no value for method "${method}" (only st, sam-w, sam-w-exact)`);
    }
    checkNumber("fixRest", o.fixRest, { above: 0 });
  }
  return {
    method,
    rho: o.rho ?? NaN,
    eps: o.eps ?? NaN,
    fixRest: o.fixRest ?? NaN,
    steps: checkNumber("steps", o.steps ?? 200, { integer: true, min: 1 }),
    lr: checkNumber("lr", o.lr ?? 1, { above: 0 }),
    momentum: checkNumber("momentum", o.momentum ?? 0.9, { min: 0, below: 1 }),
    pgdSteps: checkNumber("pgdSteps", o.pgdSteps ?? 2, { integer: true, min: 1 }),
    seed: checkNumber("seed", o.seed ?? 0, { integer: true, min: 0, max: 2 ** 32 - 1 }),
  };
}

/** Learning rate at step t of `steps`: lr for the first half, then linearly to 0. */
export function toyLearningRate(lr: number, t: number, steps: number): number {
  const half = Math.floor(steps / 2);
  return t < half ? lr : (lr * (steps - t)) / (steps - half);
}

/**
 * Train a LinearToy from zero weights (or with the non-robust weights fixed, see fixRest) on the
 * whole sample (full-batch steps of the project's SGD, momentum, no weight decay) with one of
 * TOY_METHODS; returns the final weights and w.
 */
export function trainToy(sample: ToySample, options: ToyTrainOptions): ToyTrainResult {
  const o = validateToyOptions(options);
  const start = performance.now();
  const { x, labels } = toyTensors(sample);
  const d = x.shape[3] - 1;
  const fixed = !Number.isNaN(o.fixRest);
  const model = createLinearToy(d, { rest: fixed ? o.fixRest : 0 });
  const trained = fixed ? [model.theta1] : model.params;
  const opt = createSgd(trained, { momentum: o.momentum, weightDecay: 0 });
  const rng = Rng.fromSeed(o.seed);
  const lossOn = (batch: tf.Tensor4D) => () => crossEntropy(model.forward(batch, "train"), labels);
  try {
    for (let t = 0; t < o.steps; t++) {
      const lr = toyLearningRate(o.lr, t, o.steps);
      let value: tf.Scalar;
      if (o.method === "st") value = sgdStep(opt, lossOn(x), lr);
      else if (o.method === "sam-all") value = samStep(opt, lossOn(x), o.rho, lr);
      else if (o.method === "sam-w") {
        value = fixed
          ? samStep(opt, lossOn(x), o.rho, lr) // opt.params is [theta1]: the library's SAM is w-only
          : samStep(opt, lossOn(x), o.rho, lr, [model.theta1]);
      } else if (o.method === "sam-w-exact") {
        value = samStepEndpoints(opt, model.theta1, lossOn(x), o.rho, lr);
      } else {
        const adv = attackNonRobust(model, x, labels, { eps: o.eps, steps: o.pgdSteps, rng });
        try {
          value = sgdStep(opt, lossOn(adv), lr);
        } finally {
          adv.dispose();
        }
      }
      value.dispose();
    }
    const loss = tf.tidy(() => lossOn(x)().dataSync()[0]);
    const { theta1, thetaRest } = model.weights();
    const meanRest = meanOf(thetaRest);
    return {
      method: o.method,
      theta1,
      thetaRest,
      meanRest,
      w: theta1 / meanRest,
      rhoW: o.method.startsWith("sam") ? o.rho / meanRest : NaN,
      loss,
      seconds: (performance.now() - start) / 1000,
    };
  } finally {
    opt.dispose();
    model.dispose();
    tf.dispose([x, labels]);
  }
}

// ---------------------------------------------------------------------------------------------
// Population logistic loss of theta = (theta1, c, ..., c) (float64, no sampling), and the points
// that ST, exact min-max SAM and first-order SAM reach on it. Derived in this project.
//
// The margin y theta.x is s*theta1 + c*S with s = y*x1 = +1 (prob. p) or -1, and
// S = y*(x2 + ... + x(d+1)) ~ N(d eta, d). Expectations over S use the trapezoid rule on a
// standard normal z (S = d eta + sqrt(d) z): the integrand is analytic in a strip, so the rule
// converges exponentially; the step is chosen from c*sqrt(d) to keep its error below ~1e-15.

export interface LogisticPoint {
  loss: number;
  /** dL/dtheta1. */
  g1: number;
  /** dL/dc (c moves all d non-robust weights together: the sum of their partial derivatives). */
  gc: number;
}

function softplus(t: number): number {
  return t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t));
}

function sigmoid(t: number): number {
  return t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t));
}

/** Population logistic loss and gradient at theta = (theta1, c*1) (see the section comment). */
export function logisticPopulation(m: GaussianModel, theta1: number, c: number): LogisticPoint {
  const sd = Math.sqrt(m.d), mean = m.d * m.eta;
  const spread = Math.abs(c) * sd;
  const h = Math.min(0.1, 0.45 / Math.max(spread, 1e-9)); // strip of half-width pi/spread
  const zMax = 12;
  const k = Math.ceil(zMax / h);
  let loss = 0, g1 = 0, gc = 0;
  for (let i = -k; i <= k; i++) {
    const z = i * h;
    const weight = h * Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
    const sum = mean + sd * z;
    for (const [s, prob] of [[1, m.p], [-1, 1 - m.p]]) {
      const margin = s * theta1 + c * sum;
      const dl = -sigmoid(-margin); // d/dmargin of log(1 + exp(-margin))
      const wgt = weight * prob;
      loss += wgt * softplus(-margin);
      g1 += wgt * dl * s;
      gc += wgt * dl * sum;
    }
  }
  return { loss, g1, gc };
}

/** Root of f on an interval grown from [a, b] until f changes sign. */
function rootGrowing(f: (t: number) => number, a: number, b: number): number {
  let lo = a, hi = b;
  for (let i = 0; f(lo) * f(hi) > 0; i++) {
    if (i > 60) throw new Error("toy_training: no sign change found for a root.");
    const width = hi - lo;
    lo -= width;
    hi += width;
  }
  return findRoot(f, lo, hi, 1e-13);
}

/** theta1 minimising the population loss for fixed c (the loss is convex in theta1). */
function bestTheta1(m: GaussianModel, c: number): number {
  return rootGrowing((t) => logisticPopulation(m, t, c).g1, -1, 1);
}

/** Golden-section minimum of a convex f over c > 0, bracketed from c0. */
function minimizeOverC(f: (c: number) => number, c0: number): number {
  let lo = c0 / 2, hi = c0 * 2;
  while (f(lo / 2) < f(lo)) lo /= 2;
  while (f(hi * 2) < f(hi)) hi *= 2;
  return minimizeGolden((a, b) => f(a) < f(b), lo / 2, hi * 2, 1e-10);
}

export interface LogisticOptimum {
  theta1: number;
  c: number;
  /** theta1 / c. */
  w: number;
  /** rho / c (NaN where there is no rho). */
  rhoW: number;
}

/**
 * The population minimiser of the logistic loss, found numerically (theta1 for each c, then c).
 * The claim it checks: (ln(p/(1-p)), 2 eta), i.e. w = w_ST. With eta replaced by eta - eps it is the
 * minimiser of the robust logistic loss under the worst eps attack on the non-robust features.
 */
export function logisticOptimum(m: GaussianModel): LogisticOptimum {
  const c = minimizeOverC((cc) => logisticPopulation(m, bestTheta1(m, cc), cc).loss, 2 * m.eta);
  const theta1 = bestTheta1(m, c);
  return { theta1, c, w: theta1 / c, rhoW: NaN };
}

/**
 * Exact min-max of the population logistic loss with the perturbation on theta1 only:
 * argmin over (theta1, c) of max_{|delta| <= rho} L(theta1 + delta, c). L is convex in theta1, so
 * the inner maximum is at an end, and the outer optimum balances L(theta1 + rho) = L(theta1 - rho)
 * (solved for theta1 at each c; then the balanced value is minimised over c).
 */
export function logisticSamExact(
  m: GaussianModel,
  rho: number,
  fixedC?: number,
): LogisticOptimum {
  checkNumber("rho", rho, { above: 0 });
  const balanced = (c: number) => {
    const t0 = bestTheta1(m, c);
    return findRoot(
      (t) => logisticPopulation(m, t + rho, c).loss - logisticPopulation(m, t - rho, c).loss,
      t0 - rho,
      t0 + rho,
      1e-13,
    );
  };
  const c = fixedC !== undefined
    ? checkNumber("fixedC", fixedC, { above: 0 })
    : minimizeOverC((cc) => logisticPopulation(m, balanced(cc) + rho, cc).loss, 2 * m.eta);
  const theta1 = balanced(c);
  return { theta1, c, w: theta1 / c, rhoW: rho / c };
}

/**
 * Where first-order SAM with the perturbation on theta1 only comes to rest on the population
 * loss. Its ascent step is e = rho * sign(dL/dtheta1), so near the surface dL/dtheta1 = 0 the
 * updates alternate between the gradients at theta1 + rho and theta1 - rho (a sliding mode).
 * The rest point: dL/dtheta1(theta1, c) = 0, and a mixture f*grad L(theta1 + rho, c) +
 * (1 - f)*grad L(theta1 - rho, c) = 0 in both coordinates. So theta1 is the plain-loss optimum for
 * its c, unlike the exact min-max (logisticSamExact), which balances the two losses instead.
 * With the non-robust weights fixed at `fixedC`, only the first condition is left: theta1 is
 * the plain-loss optimum, and at fixedC = 2 eta w is exactly w_ST, whatever rho.
 */
export function logisticSamFirstOrder(
  m: GaussianModel,
  rho: number,
  fixedC?: number,
): LogisticOptimum {
  checkNumber("rho", rho, { above: 0 });
  if (fixedC !== undefined) {
    const t = bestTheta1(m, checkNumber("fixedC", fixedC, { above: 0 }));
    return { theta1: t, c: fixedC, w: t / fixedC, rhoW: rho / fixedC };
  }
  const residual = (c: number) => {
    const t = bestTheta1(m, c);
    const plus = logisticPopulation(m, t + rho, c), minus = logisticPopulation(m, t - rho, c);
    const f = minus.g1 / (minus.g1 - plus.g1); // theta1 component zero
    return f * plus.gc + (1 - f) * minus.gc;
  };
  const c = rootGrowing(residual, 1.5 * m.eta, 2.5 * m.eta);
  const theta1 = bestTheta1(m, c);
  return { theta1, c, w: theta1 / c, rhoW: rho / c };
}

/**
 * Asymptotic standard error of w = theta1 / mean(thetaRest) for logistic regression on n samples
 * (the maximum-likelihood estimate, at its population optimum (ln(p/(1-p)), 2 eta)). The Fisher
 * information splits into the plane of (theta1, the all-ones direction) and its orthogonal
 * complement, so (theta1, mean(thetaRest)) has covariance K^-1 / n with the 2x2 matrix
 * K = E[l''(margin) (s, S)(s, S)^T] (s = y x1, S = y sum x_i); the delta method gives w's error.
 * For AT pass the model with eta - eps: the attacked data follow it.
 */
export function logisticStandardErrorW(m: GaussianModel, n: number): number {
  checkNumber("n", n, { integer: true, min: 1 });
  const theta1 = Math.log(m.p) - Math.log1p(-m.p), c = 2 * m.eta;
  const sd = Math.sqrt(m.d), mean = m.d * m.eta;
  const h = 0.02, k = Math.ceil(12 / h);
  let kss = 0, ksS = 0, kSS = 0;
  for (let i = -k; i <= k; i++) {
    const z = i * h;
    const weight = h * Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
    const sum = mean + sd * z;
    for (const [s, prob] of [[1, m.p], [-1, 1 - m.p]]) {
      const q = sigmoid(s * theta1 + c * sum);
      const curv = weight * prob * q * (1 - q);
      kss += curv;
      ksS += curv * s * sum;
      kSS += curv * sum * sum;
    }
  }
  const det = kss * kSS - ksS * ksS;
  const [v11, v12, v22] = [kSS / det, -ksS / det, kss / det]; // K^-1
  const [a, b] = [1 / c, -theta1 / (c * c)]; // gradient of theta1 / c
  return Math.sqrt((a * a * v11 + 2 * a * b * v12 + b * b * v22) / n);
}
