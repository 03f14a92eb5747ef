/**
 * Projected gradient descent attacks (Madry et al. 2018) in [0, 1] pixel space, as in the authors'
 * utils.py: maximise the mean cross-entropy over the eps-ball around x.
 *
 * - random start: L-inf uniform in [-eps, eps]^d; L2 a normal direction scaled to radius r*eps,
 *   r ~ U(0, 1) per example; then clamped so x + delta is in [0, 1].
 * - step: L-inf delta += alpha * sign(g); L2 delta += alpha * g / (||g||_2 + 1e-10) per example.
 * - after every step: project onto the eps-ball (L-inf clip; L2 rescale to ||delta|| = eps when
 *   outside), then onto [0, 1]. Clamping to [0, 1] only moves coordinates toward x, so the result
 *   stays inside the ball.
 * - the model runs in the mode the caller asks: "eval" for evaluation, "train" (batch statistics)
 *   inside adversarial training, as the authors do. Attack passes never touch the running
 *   statistics unless `moments` is given (then each pass pushes its batch moments there).
 * - `bounds` (default [0, 1]) is the box the examples are clamped to; null clamps nothing (for
 *   inputs that are not pixels, e.g. the Gaussian features of lib/theory/toy_training.ts).
 *
 * Noise comes from the caller's Rng (or a seed), drawn in JavaScript: the same seed gives the same
 * attack on every backend.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BatchMoments, Classifier, Mode } from "../models/model.ts";
import { crossEntropy } from "../models/ops.ts";
import { Rng } from "../util/rng.ts";
import { checkBoolean, checkChoice, checkKnownKeys, checkNumber, fail } from "../util/validate.ts";
import { type Attack, type AttackTarget, type Norm, NORMS } from "./attack.ts";
import type { AttackGraphs } from "./attack_graphs.ts";

export { type Norm, NORMS };

export interface PgdSettings {
  norm: Norm;
  /** Radius in [0, 1] pixel units (8/255 = 0.0314). */
  eps: number;
  /** Step size, same units. */
  alpha: number;
  /** Number of gradient steps (1 = FGSM with a random start, or plain FGSM without one). */
  steps: number;
}

export interface PgdOptions extends PgdSettings {
  /** Model mode during the attack; default "eval". */
  mode?: Mode;
  /** Start from a random point of the ball (default true). */
  randomStart?: boolean;
  /** Source of the random start: an Rng (advanced in place) or an integer seed. */
  rng?: Rng | number;
  /** When given, every attack forward pass pushes its BatchNorm batch moments here (train mode only). */
  moments?: BatchMoments[];
  /** Box [lo, hi] the adversarial examples are clamped to: default [0, 1] (pixels); null = no clamp. */
  bounds?: readonly [number, number] | null;
  /**
   * Eval mode only: run the iterations through these graph replays (./attack_graphs.ts); the same
   * examples bit for bit. Absent (or train mode): eager.
   */
  graphs?: AttackGraphs;
}

/** Check an attack's settings; returns them. */
export function validatePgd(a: PgdSettings, prefix = ""): PgdSettings {
  checkChoice(`${prefix}norm`, a.norm, NORMS);
  checkNumber(`${prefix}eps`, a.eps, { min: 0, max: 1 });
  checkNumber(`${prefix}alpha`, a.alpha, { above: 0 });
  checkNumber(`${prefix}steps`, a.steps, { integer: true, min: 1 });
  return a;
}

function perExampleNorm(t: tf.Tensor): tf.Tensor {
  const n = t.shape[0];
  return tf.sqrt(tf.sum(tf.square(tf.reshape(t, [n, -1])), 1, true));
}

function broadcastShape(t: tf.Tensor): number[] {
  return [t.shape[0], ...new Array(t.rank - 1).fill(1)];
}

/** Rescale each example of delta onto the L2 ball of radius eps: outside -> exactly on the sphere; inside -> unchanged. */
export function projectL2<T extends tf.Tensor>(delta: T, eps: number): T {
  return tf.tidy(() => {
    const norms = perExampleNorm(delta);
    // factor = min(1, eps / norm); a zero norm gives Infinity -> 1.
    const factor = tf.minimum(tf.div(tf.scalar(eps), norms), 1);
    return tf.mul(delta, tf.reshape(factor, broadcastShape(delta))) as T;
  });
}

function randomStart(x: tf.Tensor4D, norm: Norm, eps: number, rng: Rng): tf.Tensor4D {
  const size = x.size;
  if (norm === "linf") {
    return tf.tensor4d(rng.fillUniform(new Float32Array(size), -eps, eps), x.shape);
  }
  const n = x.shape[0];
  const dir = rng.fillNormal(new Float32Array(size));
  const radius = rng.fillUniform(new Float32Array(n), 0, eps);
  return tf.tidy(() => {
    const d = tf.tensor4d(dir, x.shape);
    const scale = tf.div(tf.reshape(tf.tensor1d(radius), [n, 1]), perExampleNorm(d));
    return tf.mul(d, tf.reshape(scale, [n, 1, 1, 1])) as tf.Tensor4D;
  });
}

interface PgdPlan {
  norm: Norm;
  eps: number;
  alpha: number;
  steps: number;
  mode: Mode;
  rng: Rng;
  sink?: BatchMoments[];
  lo: number;
  hi: number;
  useStart: boolean;
}

function planPgd(options: PgdOptions): PgdPlan {
  const { norm, eps, alpha, steps } = validatePgd(options);
  const mode = options.mode ?? "eval";
  checkChoice("mode", mode, ["train", "eval"]);
  const useStart = checkBoolean("randomStart", options.randomStart ?? true);
  const rng = options.rng instanceof Rng ? options.rng : Rng.fromSeed(options.rng ?? 0);
  const sink = mode === "train" ? options.moments : undefined;
  const bounds = options.bounds === undefined ? [0, 1] as const : options.bounds;
  if (
    bounds !== null &&
    !(Array.isArray(bounds) && bounds.length === 2 && bounds.every(Number.isFinite) &&
      bounds[0] < bounds[1])
  ) {
    fail("bounds", bounds, "null or [lo, hi] with finite lo < hi");
  }
  const [lo, hi] = bounds ?? [-Infinity, Infinity]; // clipByValue with infinite bounds is a no-op
  return { norm, eps, alpha, steps, mode, rng, sink, lo, hi, useStart };
}

/** The L-inf box (eps-ball ∩ bounds) and the start point; the caller disposes all three. */
function pgdStart(x: tf.Tensor4D, p: PgdPlan) {
  const lower = tf.tidy(() => tf.maximum(tf.sub(x, p.eps), p.lo)); // L-inf box ∩ bounds
  const upper = tf.tidy(() => tf.minimum(tf.add(x, p.eps), p.hi));
  const xAdv: tf.Tensor4D = tf.tidy(() => {
    if (!p.useStart) return tf.clone(x);
    return tf.clipByValue(
      tf.add(x, randomStart(x, p.norm, p.eps, p.rng)),
      p.lo,
      p.hi,
    ) as tf.Tensor4D;
  });
  return { lower, upper, xAdv };
}

/**
 * One PGD iteration as a function of tensors only (so that lib/backend/graph_replay.ts can replay
 * it): L-inf [xAdv, y, lower, upper] -> [next], L2 [xAdv, x, y] -> [next].
 */
function pgdIteration(model: Classifier, p: PgdPlan) {
  return (inputs: readonly tf.Tensor[]): tf.Tensor[] => [tf.tidy(() => {
    const [xAdv, a, b, c] = inputs as tf.Tensor4D[];
    const y = (p.norm === "linf" ? a : b) as unknown as tf.Tensor1D;
    const g = tf.grad((xa: tf.Tensor) =>
      crossEntropy(model.forward(xa as tf.Tensor4D, p.mode, p.sink), y)
    )(xAdv);
    if (p.norm === "linf") {
      const [lower, upper] = [b, c];
      const moved = tf.add(xAdv, tf.mul(tf.sign(g), p.alpha));
      return tf.minimum(tf.maximum(moved, lower), upper) as tf.Tensor4D;
    }
    const x = a;
    const gNorm = tf.add(perExampleNorm(g), 1e-10);
    const unit = tf.div(g, tf.reshape(gNorm, broadcastShape(g)));
    const delta = projectL2(tf.add(tf.sub(xAdv, x), tf.mul(unit, p.alpha)), p.eps);
    return tf.clipByValue(tf.add(x, delta), p.lo, p.hi) as tf.Tensor4D;
  })];
}

const iterationInputs = (
  p: PgdPlan,
  s: { xAdv: tf.Tensor4D; lower: tf.Tensor; upper: tf.Tensor },
  x: tf.Tensor4D,
  y: tf.Tensor1D,
): tf.Tensor[] => p.norm === "linf" ? [s.xAdv, y, s.lower, s.upper] : [s.xAdv, x, y];

/**
 * The adversarial examples x + delta (in [0, 1], ||delta|| <= eps) found by PGD; the caller
 * disposes the result. x: [N, H, W, C] in [0, 1]; y: int32 labels [N]. With options.graphs (eval
 * mode) each iteration is replayed as a graph once that gave the eager iteration's result bit for
 * bit.
 */
export function pgd(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  options: PgdOptions,
): tf.Tensor4D {
  const p = planPgd(options);
  if (p.eps === 0) return tf.clone(x); // the ball is the point x itself
  const s = pgdStart(x, p);
  const eager = pgdIteration(model, p);
  const key = `pgd ${p.norm} eps=${p.eps} alpha=${p.alpha} box=${p.lo},${p.hi} ${p.mode}`;
  const step = options.graphs && p.mode === "eval"
    ? options.graphs.getSync(key, () => eager)
    : eager;
  try {
    for (let k = 0; k < p.steps; k++) {
      const [next] = step(iterationInputs(p, s, x, y));
      s.xAdv.dispose();
      s.xAdv = next as tf.Tensor4D;
    }
  } finally {
    s.lower.dispose();
    s.upper.dispose();
  }
  return s.xAdv;
}

/**
 * pgd() with its iterations run through target.graphs (./attack_graphs.ts) when the target has
 * them: the same iterations, the same numbers bit for bit.
 */
export function pgdAttack(
  target: AttackTarget,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  options: PgdOptions,
): Promise<tf.Tensor4D> {
  return Promise.resolve(pgd(target.model, x, y, { ...options, graphs: target.graphs }));
}

/** FGSM: one step of size eps, no random start unless asked (Goodfellow et al. 2015). */
export function fgsm(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  options: Omit<PgdOptions, "steps" | "alpha"> & { alpha?: number },
): tf.Tensor4D {
  return pgd(model, x, y, {
    ...options,
    alpha: options.alpha ?? (options.eps > 0 ? options.eps : 1), // eps = 0 returns x anyway
    steps: 1,
    randomStart: options.randomStart ?? false,
  });
}

/** What PGD takes as an attack: steps (default 10), step size (default eps/4), random start. */
export interface PgdAttackOptions {
  steps: number;
  alpha: number;
  randomStart: boolean;
}

/** PGD behind the attack interface; the paper's evaluation is PGD-10 with step eps/4. */
export const PGD: Attack<PgdAttackOptions> = {
  name: "pgd",
  summary: "PGD (Madry et al. 2018): random start, fixed step, cross-entropy",
  whiteBox: true,
  resolve(o, threat) {
    checkKnownKeys("pgd", o, ["steps", "alpha", "randomStart"]);
    const steps = checkNumber("pgd.steps", o.steps ?? 10, { integer: true, min: 1 });
    const alpha = checkNumber(
      "pgd.alpha",
      o.alpha ?? threat.eps / 4,
      threat.eps === 0 ? { min: 0 } : { above: 0 },
    );
    const randomStart = checkBoolean("pgd.randomStart", o.randomStart ?? true);
    return { steps, alpha, randomStart };
  },
  tag: (o) => `pgd${o.steps}`,
  passes: (o) => ({ inputGradient: o.steps, forward: 0 }),
  run(target, x, y, threat, o) {
    if (threat.eps === 0) return Promise.resolve(x.clone());
    return pgdAttack(target, x, y, {
      ...threat,
      ...o,
      mode: target.mode,
      rng: target.rng,
      moments: target.moments,
      bounds: target.bounds,
    });
  },
};
