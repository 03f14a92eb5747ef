/**
 * SGD with momentum and weight decay, PyTorch semantics (torch.optim.SGD, dampening 0, no Nesterov):
 *   d = g + wd * w;   buf = momentum * buf + d;   w = w - lr * buf.
 * Weight decay applies to every parameter it is given (the authors decay BN and bias too).
 * PyTorch starts buf at d on the first step; starting at zero gives the same value exactly
 * (0.9 * 0 + d = d in floating point).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { NamedArray } from "../models/model.ts";
import { checkNumber } from "../util/validate.ts";
import { type Optimizer, statelessUpdater } from "./optimizer.ts";

export interface SgdOptions {
  momentum: number;
  weightDecay: number;
}

export const SGD_DEFAULTS: SgdOptions = { momentum: 0.9, weightDecay: 5e-4 };

/**
 * A learning rate: a number, or a float32 scalar tensor holding it (what a step replayed as one
 * graph takes, lib/training/graph_step.ts, so that the rate is an input and not a constant).
 */
export type LearningRate = number | tf.Scalar;

export interface Sgd {
  readonly options: SgdOptions;
  readonly params: readonly tf.Variable[];
  /** Apply one update with these gradients (same order as params) at learning rate lr. */
  step(grads: readonly tf.Tensor[], lr: LearningRate): void;
  /** Momentum buffers as plain arrays, keyed "momentum:<name>". */
  exportState(names: readonly string[]): Record<string, NamedArray>;
  importState(names: readonly string[], state: Record<string, NamedArray>): void;
  dispose(): void;
}

export function validateSgdOptions(o: SgdOptions): SgdOptions {
  checkNumber("momentum", o.momentum, { min: 0, below: 1 });
  checkNumber("weightDecay", o.weightDecay, { min: 0 });
  return o;
}

export function createSgd(params: readonly tf.Variable[], options: Partial<SgdOptions> = {}): Sgd {
  const opts = validateSgdOptions({ ...SGD_DEFAULTS, ...options });
  const buffers = params.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
  const momentum = tf.keep(tf.scalar(opts.momentum));
  const wd = tf.keep(tf.scalar(opts.weightDecay));

  return {
    options: opts,
    params,
    step(grads, lr) {
      if (grads.length !== params.length) {
        throw new RangeError(
          `Sgd.step got ${grads.length} gradients for ${params.length} parameters.`,
        );
      }
      tf.tidy(() => {
        const lrT = typeof lr === "number" ? tf.scalar(lr) : lr;
        params.forEach((w, i) => {
          const g = grads[i];
          const d = opts.weightDecay === 0 ? g : tf.add(g, tf.mul(w, wd));
          const buf = tf.add(tf.mul(buffers[i], momentum), d);
          buffers[i].assign(buf);
          w.assign(tf.sub(w, tf.mul(buf, lrT)));
        });
      });
    },
    exportState(names) {
      const out: Record<string, NamedArray> = {};
      buffers.forEach((b, i) => {
        out[`momentum:${names[i]}`] = { shape: [...b.shape], data: b.dataSync() as Float32Array };
      });
      return out;
    },
    importState(names, state) {
      buffers.forEach((b, i) => {
        const key = `momentum:${names[i]}`;
        const entry = state[key];
        if (!entry || entry.data.length !== b.size) {
          throw new RangeError(
            `Optimizer state lacks a ${b.size}-element ${key}; it was saved for a different model.`,
          );
        }
        tf.tidy(() => b.assign(tf.tensor(entry.data.slice(), b.shape, "float32")));
      });
    },
    dispose() {
      tf.dispose([...buffers, momentum, wd]);
    },
  };
}

/** The loss f() and its gradients with respect to params (in params' order). */
export function valueAndGrads(
  params: readonly tf.Variable[],
  f: () => tf.Scalar,
): { value: tf.Scalar; grads: tf.Tensor[] } {
  const { value, grads } = tf.variableGrads(f, params as tf.Variable[]);
  return { value, grads: params.map((p) => grads[p.name]) };
}

/** One plain SGD update on loss f; returns the loss (the caller disposes it). */
export function sgdStep(opt: Sgd, f: () => tf.Scalar, lr: LearningRate): tf.Scalar {
  const { value, grads } = valueAndGrads(opt.params, f);
  opt.step(grads, lr);
  tf.dispose(grads);
  return value;
}

/** Plain SGD as a registered optimizer (lib/optim/registry.ts): one gradient pass, no options. */
export const SGD_OPTIMIZER: Optimizer<Record<string, never>> = {
  name: "sgd",
  optionNames: [],
  resolve: () => ({}),
  gradientPasses: () => 1,
  family: () => "",
  label: () => "",
  columns: () => ({ rho: null, adaptive: null }),
  sameOpsEveryStep: true,
  createUpdater: (opt) => statelessUpdater((loss, lr) => sgdStep(opt, () => loss(1), lr)),
};
