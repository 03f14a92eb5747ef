/**
 * Functional image classifiers: PreActResNet-18 (the paper's model, any width) and a small CNN
 * for Fashion-MNIST-sized work.
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
 * PreActResNet-18 (Wei et al.'s model.py): conv3x3(w) -> 4 stages of 2 PreActBlocks at widths
 * w, 2w, 4w, 8w (stride 1, 2, 2, 2) -> BN-ReLU -> global average pool -> linear (with bias).
 * A PreActBlock: a = relu(bn1(x)); shortcut = conv1x1(a) on a stride or width change, else x;
 * out = conv3x3(relu(bn2(conv3x3(a, stride))), 1) + shortcut. Convs have no bias. Global average
 * pooling equals the paper's 4x4 average pool at 32x32 input and also works for 28x28 inputs.
 * 3x3 stride-2 convs pad 1 pixel on every side, like PyTorch (TF's "same" would pad 0 before and
 * 1 after on even sizes, shifting the sampling grid by one pixel).
 *
 * Small CNN ("smallcnn", width w): [conv3x3(w)-BN-ReLU-maxpool2] [conv3x3(2w)-BN-ReLU-maxpool2]
 * [conv3x3(4w)-BN-ReLU] -> global average pool -> linear. For 28x28 inputs that is 28->14->7.
 *
 * Initialisation is PyTorch's default: conv and linear weights U(+-1/sqrt(fan_in)) (kaiming_uniform
 * with a=sqrt(5)), linear bias U(+-1/sqrt(fan_in)), BN gamma 1, beta 0, running mean 0, var 1;
 * drawn in JavaScript from the run's Rng, so every backend starts from the same weights.
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  type BatchMoments,
  bnReluEval,
  bnReluTrain,
  foldedConvBnReluEval,
  foldsEvalBn,
  globalAvgPool,
  maxPool2x2,
  paddedConv,
} from "./ops.ts";
import type { Rng } from "../util/rng.ts";
import { STRIDED_1X1_DIRECT_MIN_CHANNELS } from "../backend/speed_settings.ts";
import { checkChoice, checkNumber, fail } from "../util/validate.ts";

export type { BatchMoments } from "./ops.ts";
export type Mode = "train" | "eval";
export const ARCHS = ["prn18", "smallcnn"] as const;
export type Arch = typeof ARCHS[number];

export const BN_MOMENTUM = 0.1;

export interface ModelSpec {
  arch: Arch;
  /** Channels of the first stage: 64 = the paper's PreActResNet-18; 16/32 for CPU presets. */
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
  const minSide = spec.arch === "prn18" ? 8 : 4;
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

// ---------------------------------------------------------------------------------------------
// Parameter construction

interface Builder {
  rng: Rng;
  params: tf.Variable[];
  paramNames: string[];
  buffers: tf.Variable[];
  bufferNames: string[];
}

function uniform(rng: Rng, n: number, bound: number): Float32Array {
  return rng.fillUniform(new Float32Array(n), -bound, bound);
}

function addParam(b: Builder, name: string, shape: number[], values: Float32Array): tf.Variable {
  // tidy disposes the initial tensor; the variable keeps the data.
  const v = tf.tidy(() => tf.variable(tf.tensor(values, shape, "float32"), true));
  b.params.push(v);
  b.paramNames.push(name);
  return v;
}

/** Conv weight [k, k, cin, cout], PyTorch default init U(+-1/sqrt(cin*k*k)). */
function convParam(b: Builder, name: string, k: number, cin: number, cout: number): tf.Variable {
  return addParam(
    b,
    name,
    [k, k, cin, cout],
    uniform(b.rng, k * k * cin * cout, 1 / Math.sqrt(cin * k * k)),
  );
}

interface BN {
  gamma: tf.Variable;
  beta: tf.Variable;
  mean: tf.Variable;
  variance: tf.Variable;
}

function bnParams(b: Builder, name: string, c: number): BN {
  const gamma = addParam(b, `${name}.weight`, [c], new Float32Array(c).fill(1));
  const beta = addParam(b, `${name}.bias`, [c], new Float32Array(c));
  const mean = tf.tidy(() => tf.variable(tf.zeros([c]), false));
  const variance = tf.tidy(() => tf.variable(tf.ones([c]), false));
  b.buffers.push(mean, variance);
  b.bufferNames.push(`${name}.running_mean`, `${name}.running_var`);
  return { gamma, beta, mean, variance };
}

interface Linear {
  w: tf.Variable;
  b: tf.Variable;
}

function linearParams(b: Builder, name: string, cin: number, cout: number): Linear {
  const bound = 1 / Math.sqrt(cin);
  const w = addParam(b, `${name}.weight`, [cin, cout], uniform(b.rng, cin * cout, bound));
  const bias = addParam(b, `${name}.bias`, [cout], uniform(b.rng, cout, bound));
  return { w, b: bias };
}

// ---------------------------------------------------------------------------------------------
// Forward helpers

/**
 * x[:, ::s, ::s, :], with a gradient (tfjs has none for stridedSlice): zero-pad to a multiple of
 * s, then slice the first of every s rows and columns out of a reshape.
 */
export function subsample(x: tf.Tensor4D, s: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const [ph, pw] = [(s - (h % s)) % s, (s - (w % s)) % s];
  const xp = ph || pw ? tf.pad(x, [[0, 0], [0, ph], [0, pw], [0, 0]]) : x;
  const [hs, ws] = [(h + ph) / s, (w + pw) / s];
  const rows = tf.slice(tf.reshape(xp, [n, hs, s, ws * s * c]), 0, [n, hs, 1, ws * s * c]);
  return tf.slice(tf.reshape(rows, [n, hs, ws, s * c]), 0, [n, hs, ws, c]) as tf.Tensor4D;
}

/** A oneDNN workaround: see lib/backend/speed_settings.ts (tests/strided_conv_test.ts). */
export { STRIDED_1X1_DIRECT_MIN_CHANNELS };

/** k x k conv (odd k), stride s, PyTorch padding (k-1)/2 on every side. */
export function conv(x: tf.Tensor4D, w: tf.Variable | tf.Tensor4D, stride: number): tf.Tensor4D {
  const k = w.shape[0];
  const f = w as unknown as tf.Tensor4D;
  if (k === 1 && stride > 1 && f.shape[2] < STRIDED_1X1_DIRECT_MIN_CHANNELS) {
    return tf.conv2d(subsample(x, stride), f, 1, "valid");
  }
  if (k === 1) return tf.conv2d(x, f, stride, "valid");
  if (stride === 1) return tf.conv2d(x, f, 1, "same"); // symmetric for odd k at stride 1
  return paddedConv(x, f, stride); // = tf.conv2d(tf.pad(x, (k-1)/2 each side), f, stride, "valid")
}

function bnRelu(x: tf.Tensor4D, bn: BN, mode: Mode, moments?: BatchMoments[]): tf.Tensor4D {
  const g = bn.gamma as unknown as tf.Tensor1D;
  const b = bn.beta as unknown as tf.Tensor1D;
  if (mode === "train") return bnReluTrain(x, g, b, moments);
  return bnReluEval(
    x,
    g,
    b,
    bn.mean as unknown as tf.Tensor1D,
    bn.variance as unknown as tf.Tensor1D,
  );
}

/**
 * relu(bn(conv(x, w, stride))). In eval mode on tfjs-node with oneDNN the BatchNorm folds into the
 * conv's weights and bias (ops.ts foldedConvBnReluEval): attacks on a trained model run two
 * kernels per layer instead of four.
 */
function convBnRelu(
  x: tf.Tensor4D,
  w: tf.Variable,
  stride: number,
  bn: BN,
  mode: Mode,
  moments?: BatchMoments[],
): tf.Tensor4D {
  if (mode === "eval" && foldsEvalBn() && (w.shape[0] > 1 || stride === 1)) {
    return foldedConvBnReluEval(
      x,
      w as unknown as tf.Tensor4D,
      stride,
      bn.gamma as unknown as tf.Tensor1D,
      bn.beta as unknown as tf.Tensor1D,
      bn.mean as unknown as tf.Tensor1D,
      bn.variance as unknown as tf.Tensor1D,
    );
  }
  return bnRelu(conv(x, w, stride), bn, mode, moments);
}

function linear(x: tf.Tensor2D, l: Linear): tf.Tensor2D {
  return tf.add(tf.matMul(x, l.w as unknown as tf.Tensor2D), l.b) as tf.Tensor2D;
}

// ---------------------------------------------------------------------------------------------
// Architectures

type Body = (x: tf.Tensor4D, mode: Mode, moments?: BatchMoments[]) => tf.Tensor2D;

function buildPreActResNet18(b: Builder, spec: ModelSpec): { body: Body; bns: BN[] } {
  const w = spec.width;
  const cin = spec.inputShape[2];
  const bns: BN[] = [];
  const bnOf = (name: string, c: number) => {
    const bn = bnParams(b, name, c);
    bns.push(bn);
    return bn;
  };
  const conv1 = convParam(b, "conv1.weight", 3, cin, w);
  interface Block {
    bn1: BN;
    conv1: tf.Variable;
    bn2: BN;
    conv2: tf.Variable;
    shortcut?: tf.Variable;
    stride: number;
  }
  const blocks: Block[] = [];
  let inPlanes = w;
  [[w, 1], [2 * w, 2], [4 * w, 2], [8 * w, 2]].forEach(([planes, firstStride], li) => {
    for (let j = 0; j < 2; j++) {
      const stride = j === 0 ? firstStride : 1;
      const p = `layer${li + 1}.${j}`;
      const blk: Block = {
        bn1: bnOf(`${p}.bn1`, inPlanes),
        conv1: convParam(b, `${p}.conv1.weight`, 3, inPlanes, planes),
        bn2: bnOf(`${p}.bn2`, planes),
        conv2: convParam(b, `${p}.conv2.weight`, 3, planes, planes),
        stride,
      };
      if (stride !== 1 || inPlanes !== planes) {
        blk.shortcut = convParam(b, `${p}.shortcut.0.weight`, 1, inPlanes, planes);
      }
      blocks.push(blk);
      inPlanes = planes;
    }
  });
  const bnFinal = bnOf("bn", 8 * w);
  const fc = linearParams(b, "linear", 8 * w, spec.numClasses);

  const body: Body = (x, mode, moments) => {
    let out = conv(x, conv1, 1);
    for (const blk of blocks) {
      const a = bnRelu(out, blk.bn1, mode, moments);
      const shortcut = blk.shortcut ? conv(a, blk.shortcut, blk.stride) : out;
      const h = convBnRelu(a, blk.conv1, blk.stride, blk.bn2, mode, moments);
      out = tf.add(conv(h, blk.conv2, 1), shortcut);
    }
    const pooled = globalAvgPool(bnRelu(out, bnFinal, mode, moments));
    return linear(pooled, fc);
  };
  return { body, bns };
}

function buildSmallCnn(b: Builder, spec: ModelSpec): { body: Body; bns: BN[] } {
  const w = spec.width;
  const widths = [w, 2 * w, 4 * w];
  const bns: BN[] = [];
  const convs: tf.Variable[] = [];
  let cin = spec.inputShape[2];
  widths.forEach((cout, i) => {
    convs.push(convParam(b, `conv${i + 1}.weight`, 3, cin, cout));
    bns.push(bnParams(b, `bn${i + 1}`, cout));
    cin = cout;
  });
  const fc = linearParams(b, "linear", cin, spec.numClasses);
  const body: Body = (x, mode, moments) => {
    let h = x;
    convs.forEach((c, i) => {
      h = convBnRelu(h, c, 1, bns[i], mode, moments);
      if (i < convs.length - 1) h = maxPool2x2(h);
    });
    return linear(globalAvgPool(h), fc);
  };
  return { body, bns };
}

/** Build a model with freshly initialised parameters drawn from `rng`. */
export function createModel(spec: ModelSpec, rng: Rng): Model {
  validateModelSpec(spec);
  const b: Builder = { rng, params: [], paramNames: [], buffers: [], bufferNames: [] };
  const { body, bns } = spec.arch === "prn18"
    ? buildPreActResNet18(b, spec)
    : buildSmallCnn(b, spec);
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
