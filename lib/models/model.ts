/**
 * Functional image classifiers built from a registered architecture (lib/models/architectures.ts:
 * PreActResNet-18, the small CNN, WRN-16-k; one file each, sharing lib/models/layers.ts).
 *
 * A model is a list of named trainable tf.Variables (stable order, PyTorch's parameter order), the
 * BatchNorm running means/variances as non-trainable variables, and
 *   forward(x, mode, moments?) -> logits
 * with x in [0, 1] pixel space, NHWC. The per-channel mean/std normalisation happens inside
 * forward, so attacks and their eps-balls live in pixel space, as in the authors' code.
 *
 * mode "train" normalises with batch statistics, "eval" with the running statistics. forward never
 * changes the running statistics itself: pass an array as `moments` and each BatchNorm layer
 * pushes its batch mean and unbiased variance there (as kept tensors); commitMoments() then folds
 * them into the running statistics (momentum 0.1, as PyTorch) and disposes them. The caller picks
 * which passes update the statistics (see train.ts for the policy).
 *
 * 3x3 stride-2 convs pad 1 pixel on every side, like PyTorch (TF's "same" would pad 0 before and
 * 1 after on even sizes, shifting the sampling grid by one pixel). Initialisation is PyTorch's
 * default unless an architecture says otherwise: conv and linear weights U(+-1/sqrt(fan_in))
 * (kaiming_uniform with a=sqrt(5)), linear bias U(+-1/sqrt(fan_in)), BN gamma 1, beta 0, running
 * mean 0, var 1; drawn in JavaScript from the run's Rng, so every backend starts from the same
 * weights.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BatchMoments } from "./ops.ts";
import type { Builder, Mode } from "./layers.ts";
import { type Arch, architectureOf, ARCHS } from "./architectures.ts";
import type { Rng } from "../util/rng.ts";
import { checkChoice, checkNumber, fail } from "../util/validate.ts";

export type { BatchMoments } from "./ops.ts";
export type { Mode } from "./layers.ts";
export { type Arch, ARCHS } from "./architectures.ts";
export { conv, subsample } from "./layers.ts";

export const BN_MOMENTUM = 0.1;

export interface ModelSpec {
  arch: Arch;
  /** The architecture's size knob (its widthMeaning): for PreActResNet-18 the first stage's channels, 64 in the paper. */
  width: number;
  /** [height, width, channels] of one input image. */
  inputShape: [number, number, number];
  numClasses: number;
  /** Per-channel normalisation applied inside forward. */
  mean: number[];
  std: number[];
}

/** Any classifier the attacks and training steps can drive. */
export interface Classifier {
  forward(x: tf.Tensor4D, mode: Mode, moments?: BatchMoments[]): tf.Tensor2D;
}

export interface Model extends Classifier {
  readonly spec: ModelSpec;
  /** Trainable parameters, in a stable order. */
  readonly params: readonly tf.Variable[];
  readonly paramNames: readonly string[];
  /** BatchNorm running statistics (non-trainable): for BN layer i, [2i] = mean, [2i+1] = var. */
  readonly buffers: readonly tf.Variable[];
  readonly bufferNames: readonly string[];
  /** Fold batch moments (in forward's order, one pass or several in sequence) into the running stats; disposes them. */
  commitMoments(moments: BatchMoments[], momentum?: number): void;
  dispose(): void;
}

/** Check a model spec; returns it. */
export function validateModelSpec(spec: ModelSpec): ModelSpec {
  checkChoice("arch", spec.arch, ARCHS);
  checkNumber("width", spec.width, { integer: true, min: 1, max: 4096 });
  if (
    !Array.isArray(spec.inputShape) || spec.inputShape.length !== 3 ||
    !spec.inputShape.every((v) => Number.isInteger(v) && v >= 1)
  ) {
    fail("inputShape", spec.inputShape, "[height, width, channels] of positive integers");
  }
  const [h, w, c] = spec.inputShape;
  const minSide = architectureOf(spec.arch).minInputSide;
  if (h < minSide || w < minSide) {
    fail(
      "inputShape",
      spec.inputShape,
      `images of at least ${minSide}x${minSide} for ${spec.arch}`,
    );
  }
  checkNumber("numClasses", spec.numClasses, { integer: true, min: 2 });
  if (!Array.isArray(spec.mean) || spec.mean.length !== c || !spec.mean.every(Number.isFinite)) {
    fail("mean", spec.mean, `${c} finite numbers (one per channel)`);
  }
  if (!Array.isArray(spec.std) || spec.std.length !== c || !spec.std.every((s) => s > 0)) {
    fail("std", spec.std, `${c} positive numbers (one per channel)`);
  }
  return spec;
}

/** Build a model with freshly initialised parameters drawn from `rng`. */
export function createModel(spec: ModelSpec, rng: Rng): Model {
  validateModelSpec(spec);
  const b: Builder = { rng, params: [], paramNames: [], buffers: [], bufferNames: [] };
  const { body, bns } = architectureOf(spec.arch).build(b, spec);
  const c = spec.inputShape[2];
  // (x - mean) / std as one multiply-add: x * (1/std) + (-mean/std).
  const scale = tf.keep(tf.tensor1d(spec.std.map((s) => 1 / s)));
  const shift = tf.keep(tf.tensor1d(spec.mean.map((m, i) => -m / spec.std[i])));
  const [h, w] = spec.inputShape;

  const forward = (x: tf.Tensor4D, mode: Mode, moments?: BatchMoments[]): tf.Tensor2D => {
    if (x.rank !== 4 || x.shape[1] !== h || x.shape[2] !== w || x.shape[3] !== c) {
      throw new RangeError(
        `Model input has shape [${x.shape}], expected [batch, ${h}, ${w}, ${c}] (NHWC in [0, 1]).`,
      );
    }
    if (mode !== "train" && mode !== "eval") fail("mode", mode, '"train" or "eval"');
    return tf.tidy(() => {
      const out = body(tf.add(tf.mul(x, scale), shift) as tf.Tensor4D, mode, moments);
      return out;
    });
  };

  const commitMoments = (moments: BatchMoments[], momentum = BN_MOMENTUM) => {
    if (moments.length % bns.length !== 0) {
      tf.dispose(moments.flatMap((m) => [m.mean, m.variance]));
      throw new RangeError(
        `commitMoments got ${moments.length} batch moments; this model has ${bns.length} BatchNorm layers per pass.`,
      );
    }
    tf.tidy(() => {
      moments.forEach((m, i) => {
        const bn = bns[i % bns.length];
        bn.mean.assign(tf.add(tf.mul(bn.mean, 1 - momentum), tf.mul(m.mean, momentum)));
        bn.variance.assign(
          tf.add(tf.mul(bn.variance, 1 - momentum), tf.mul(m.variance, momentum)),
        );
      });
    });
    tf.dispose(moments.flatMap((m) => [m.mean, m.variance]));
    moments.length = 0;
  };

  return {
    spec: { ...spec, inputShape: [...spec.inputShape], mean: [...spec.mean], std: [...spec.std] },
    params: b.params,
    paramNames: b.paramNames,
    buffers: b.buffers,
    bufferNames: b.bufferNames,
    forward,
    commitMoments,
    dispose: () => {
      tf.dispose([...b.params, ...b.buffers, scale, shift]);
    },
  };
}

/** Multiply-adds of one image's forward pass (the architecture's own count). */
export function forwardMacs(spec: ModelSpec): number {
  return architectureOf(validateModelSpec(spec).arch).forwardMacs(spec);
}

/** Number of trainable scalars. */
export function countParams(model: Model): number {
  return model.params.reduce((s, p) => s + p.size, 0);
}

export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

/** Parameters and BN statistics as plain arrays, keyed "param:<name>" / "buffer:<name>". */
export function exportModel(model: Model): Record<string, NamedArray> {
  const out: Record<string, NamedArray> = {};
  model.params.forEach((p, i) => {
    out[`param:${model.paramNames[i]}`] = {
      shape: [...p.shape],
      data: p.dataSync() as Float32Array,
    };
  });
  model.buffers.forEach((p, i) => {
    out[`buffer:${model.bufferNames[i]}`] = {
      shape: [...p.shape],
      data: p.dataSync() as Float32Array,
    };
  });
  return out;
}

/** Load what exportModel wrote (same architecture); throws naming the first missing or misshapen entry. */
export function importModel(model: Model, state: Record<string, NamedArray>): void {
  const load = (kind: string, names: readonly string[], vars: readonly tf.Variable[]) => {
    vars.forEach((v, i) => {
      const key = `${kind}:${names[i]}`;
      const entry = state[key];
      if (!entry) {
        throw new RangeError(
          `Model state lacks ${key}; it was saved from a different architecture.`,
        );
      }
      if (entry.shape.join(",") !== v.shape.join(",") || entry.data.length !== v.size) {
        throw new RangeError(
          `Model state ${key} has shape [${entry.shape}], the model needs [${v.shape}]; it was saved from a different architecture or width.`,
        );
      }
      // Copy: tfjs-node keeps a reference to the array until the tensor is first used.
      tf.tidy(() => v.assign(tf.tensor(entry.data.slice(), v.shape, "float32")));
    });
  };
  load("param", model.paramNames, model.params);
  load("buffer", model.bufferNames, model.buffers);
}
