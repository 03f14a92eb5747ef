/**
 * Beyond the paper: train the linear classifier of Section 4's Gaussian model
 * (lib/theory/toy_model.ts) with this project's own training library (createSgd, samStep, pgd), on
 * samples from the model, and read off the weight w it puts on the robust feature. The population
 * values it is compared with: lib/theory/logistic_population.ts.
 */
import * as tf from "@tensorflow/tfjs-core";
import { crossEntropy } from "../models/ops.ts";
import { Rng } from "../util/rng.ts";
import { samStep } from "../optim/sam.ts";
import { createSgd, sgdStep } from "../optim/sgd.ts";
import { checkChoice, checkKnownKeys, checkNumber, fail } from "../util/validate.ts";
import { createLinearToy, meanOf, type ToySample, toyTensors } from "./toy_model.ts";
import { samStepEndpoints } from "./toy_sam.ts";
import { attackNonRobust } from "./toy_attack.ts";

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
