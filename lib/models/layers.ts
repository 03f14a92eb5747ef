/**
 * The layer builders every architecture shares: parameters created in PyTorch's order with
 * PyTorch's default initialisation (drawn from the run's Rng, so every backend starts from the same
 * weights), and the forward pieces (PyTorch-padded convs, BatchNorm-ReLU in train and eval mode,
 * the eval-mode conv-BN-ReLU fold, the linear layer). Architectures: lib/models/architectures.ts.
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  type BatchMoments,
  bnReluEval,
  bnReluTrain,
  foldedConvBnReluEval,
  foldsEvalBn,
  paddedConv,
} from "./ops.ts";
import type { Rng } from "../util/rng.ts";
import { STRIDED_1X1_DIRECT_MIN_CHANNELS } from "../backend/speed_settings.ts";

export type Mode = "train" | "eval";

/** What an architecture's forward pass is, given normalised input. */
export type Body = (x: tf.Tensor4D, mode: Mode, moments?: BatchMoments[]) => tf.Tensor2D;

// ---------------------------------------------------------------------------------------------
// Parameter construction

export interface Builder {
  rng: Rng;
  params: tf.Variable[];
  paramNames: string[];
  buffers: tf.Variable[];
  bufferNames: string[];
}

export function uniform(rng: Rng, n: number, bound: number): Float32Array {
  return rng.fillUniform(new Float32Array(n), -bound, bound);
}

export function addParam(
  b: Builder,
  name: string,
  shape: number[],
  values: Float32Array,
): tf.Variable {
  // tidy disposes the initial tensor; the variable keeps the data.
  const v = tf.tidy(() => tf.variable(tf.tensor(values, shape, "float32"), true));
  b.params.push(v);
  b.paramNames.push(name);
  return v;
}

/** Conv weight [k, k, cin, cout], PyTorch default init U(+-1/sqrt(cin*k*k)). */
export function convParam(
  b: Builder,
  name: string,
  k: number,
  cin: number,
  cout: number,
): tf.Variable {
  return addParam(
    b,
    name,
    [k, k, cin, cout],
    uniform(b.rng, k * k * cin * cout, 1 / Math.sqrt(cin * k * k)),
  );
}

export interface BN {
  gamma: tf.Variable;
  beta: tf.Variable;
  mean: tf.Variable;
  variance: tf.Variable;
}

export function bnParams(b: Builder, name: string, c: number): BN {
  const gamma = addParam(b, `${name}.weight`, [c], new Float32Array(c).fill(1));
  const beta = addParam(b, `${name}.bias`, [c], new Float32Array(c));
  const mean = tf.tidy(() => tf.variable(tf.zeros([c]), false));
  const variance = tf.tidy(() => tf.variable(tf.ones([c]), false));
  b.buffers.push(mean, variance);
  b.bufferNames.push(`${name}.running_mean`, `${name}.running_var`);
  return { gamma, beta, mean, variance };
}

export interface Linear {
  w: tf.Variable;
  b: tf.Variable;
}

export function linearParams(b: Builder, name: string, cin: number, cout: number): Linear {
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

export function bnRelu(x: tf.Tensor4D, bn: BN, mode: Mode, moments?: BatchMoments[]): tf.Tensor4D {
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
export function convBnRelu(
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

export function linear(x: tf.Tensor2D, l: Linear): tf.Tensor2D {
  return tf.add(tf.matMul(x, l.w as unknown as tf.Tensor2D), l.b) as tf.Tensor2D;
}
