/**
 * The few fused training ops the models need, each with a gradient: BatchNorm+ReLU in train mode
 * (batch statistics, which it also hands back for the running-stat update), BatchNorm+ReLU in eval
 * mode (running statistics), 2x2 max pooling, and mean softmax cross-entropy.
 *
 * Why: composed from generic tfjs ops, a BN-ReLU is about a dozen kernels forward and backward;
 * on the tensorflow (tfjs-node) backend this file calls libtensorflow's own fused kernels instead
 * (FusedBatchNormV3 / FusedBatchNormGradV3 / ReluGrad / SparseSoftmaxCrossEntropyWithLogits):
 * 2 kernels forward and 2 backward. Measured on PreActResNet-18 width 16, batch 128, 2 cores:
 * 631 -> 237 ms per ST step. Every other backend (wasm, cpu, webgl) takes the portable path
 * built from tfjs-core ops; tests check that both paths agree.
 *
 * Where libtensorflow is built with oneDNN (the x86 CPU builds; probed once, see mklOps), three
 * oneDNN kernels replace generic ones (bench/NOTES.md has the measurements):
 * - _MklNativeFusedBatchNormEx with activation Relu: BatchNorm and ReLU in one pass (forward; the
 *   backward stays ReluGrad + FusedBatchNormGradV3). Used where the channel count is a multiple of
 *   8, where it is bit-identical to FusedBatchNormV3 + Relu (other counts differ in the last bit).
 * - _MklNativeMaxPool / _MklNativeMaxPoolGrad with a workspace (the argmax of each window, kept from
 *   the forward pass): the gradient no longer re-searches every window. TensorFlow's generic
 *   MaxPoolGrad took 5-18 ms per small-CNN step for what this does in well under 1 ms.
 *   Same tie rule (the first maximum of a window gets the gradient), bit-identical results.
 * - Strided k x k convolutions with PyTorch's symmetric padding ((k-1)/2 on every side): one
 *   Conv2D with EXPLICIT padding forward instead of tf.pad + a VALID Conv2D (the padded copy is
 *   never made; the forward pass is measured 15-45% faster). Its gradient is the same
 *   Conv2DBackpropInput (VALID, then the border sliced off) and Conv2DBackpropFilter (on the
 *   padded input, padded only when the weight gradient is asked for, so never in an attack) as
 *   tfjs's own gradient of tf.pad + tf.conv2d: bit-identical.
 * - In eval mode, a conv followed by BatchNorm-ReLU folds the BN's affine map into the conv's
 *   weights and bias and runs as one _MklNativeConv2DWithBias and a ReLU (foldedConvBnReluEval):
 *   an attack step on the small CNN measured 28% faster; values differ by rounding only.
 * These are internal TensorFlow ops (their kernels are registered under the label
 * "MklNameChangeOp", hence the `_kernel` attribute); if a libtensorflow lacks them the probe fails
 * and the generic kernels run.
 *
 * Both paths compute the gradient through the batch statistics (as PyTorch does in train mode),
 * and report the batch variance unbiased (n/(n-1)), PyTorch's convention for running_var.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { NodeBackendHandle } from "../backend/node_backend.ts";
import { type MklFeature, oneDnn, setMklFeature, setMklOps } from "../backend/speed_settings.ts";

export const BN_EPSILON = 1e-5;

/** Batch statistics of one BatchNorm layer: mean and the UNBIASED variance, per channel. */
export interface BatchMoments {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

let portableOnly = false;
/** Result of the one-time probe for libtensorflow's oneDNN kernels (undefined = not probed yet). */
let mklProbed: boolean | undefined;

/** Force the portable (tfjs-core) implementation; for tests and benchmarks. Returns the old value. */
export function setPortableOps(on: boolean): boolean {
  const old = portableOnly;
  portableOnly = on;
  return old;
}

/** libtensorflow's op runner when the active backend is tfjs-node (CPU or GPU), else null. */
function nativeBackend(): NodeBackendHandle | null {
  if (portableOnly || tf.getBackend() !== "tensorflow") return null;
  const b = tf.backend() as unknown as NodeBackendHandle;
  return typeof b.executeMultipleOutputs === "function" && b.binding ? b : null;
}

// The oneDNN switches live with the other speed switches (lib/backend/speed_settings.ts).
export { type MklFeature, setMklFeature, setMklOps };
const mklFeatures = oneDnn.features;

const MKL_LABEL = "MklNameChangeOp";

/** Whether libtensorflow's oneDNN kernels (_MklNative*) run here: probed once on a tiny input. */
function mklOps(nb: NodeBackendHandle): boolean {
  if (!oneDnn.allowed) return false;
  if (mklProbed === undefined) {
    mklProbed = false;
    // CPU only: on tfjs-node-gpu these kernels would pull tensors back to the host.
    if (!(tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice) {
      try {
        mklProbed = tf.tidy(() => {
          const x = tf.tensor4d([1, 4, 3, 2], [1, 2, 2, 1]);
          const [y] = nb.executeMultipleOutputs("_MklNativeMaxPool", poolAttrs(nb), [x], 2);
          return y.dataSync()[0] === 4;
        });
      } catch {
        mklProbed = false;
      }
    }
  }
  return mklProbed;
}

/** Whether the oneDNN kernels are in use right now (tfjs-node on a CPU with oneDNN). */
export function usingMklOps(): boolean {
  const nb = nativeBackend();
  return nb !== null && mklOps(nb);
}

/** Whether the fused libtensorflow kernels are in use right now. */
export function usingNativeOps(): boolean {
  return nativeBackend() !== null;
}

// Training mode only: eval mode is bnReluEval's affine map, not a FusedBatchNorm kernel.
function bnAttrs(nb: NodeBackendHandle): unknown[] {
  const b = nb.binding;
  return [
    { name: "T", type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    { name: "U", type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    { name: "epsilon", type: b.TF_ATTR_FLOAT, value: BN_EPSILON },
    { name: "data_format", type: b.TF_ATTR_STRING, value: "NHWC" },
    { name: "is_training", type: b.TF_ATTR_BOOL, value: true },
  ];
}

/** FusedBatchNormEx attributes: BatchNorm with ReLU fused (oneDNN kernel). */
function bnReluExAttrs(nb: NodeBackendHandle): unknown[] {
  const b = nb.binding;
  return [
    ...bnAttrs(nb),
    { name: "activation_mode", type: b.TF_ATTR_STRING, value: "Relu" },
    { name: "num_side_inputs", type: b.TF_ATTR_INT, value: 0 },
    { name: "exponential_avg_factor", type: b.TF_ATTR_FLOAT, value: 1 },
    { name: "_kernel", type: b.TF_ATTR_STRING, value: MKL_LABEL },
  ];
}

/**
 * relu(FusedBatchNorm(x)) and its five side outputs (batch mean, batch variance (unbiased),
 * reserve spaces 1-3): one oneDNN kernel where available, else FusedBatchNormV3 then Relu.
 */
function nativeBnRelu(nb: NodeBackendHandle, inputs: tf.Tensor[]): tf.Tensor[] {
  // Channel counts that are not a multiple of 8 take oneDNN's vector-tail code in the fused kernel,
  // whose results differ from FusedBatchNormV3 + Relu in the last bit (measured for C = 4, 12, 20);
  // every multiple of 8 measured (8 to 512) gives identical bits. Those use the fused kernel.
  if (mklFeatures.bnRelu && mklOps(nb) && (inputs[0].shape[3] ?? 0) % 8 === 0) {
    return nb.executeMultipleOutputs(
      "_MklNativeFusedBatchNormEx",
      bnReluExAttrs(nb),
      inputs,
      6,
    );
  }
  const [z, ...rest] = nb.executeMultipleOutputs(
    "FusedBatchNormV3",
    bnAttrs(nb),
    inputs,
    6,
  );
  return [tf.relu(z), ...rest];
}

function reluGrad(nb: NodeBackendHandle, dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  const b = nb.binding;
  const attrs = [{ name: "T", type: b.TF_ATTR_TYPE, value: b.TF_FLOAT }];
  return nb.executeMultipleOutputs("ReluGrad", attrs, [dy, y], 1)[0];
}

/**
 * The gradient of the fused BN-ReLU from what its forward pass saved ([x, gamma, y, reserve 1..3]):
 * ReluGrad, then FusedBatchNormGradV3 (no fused CPU kernel does both).
 */
function bnReluGrad(nb: NodeBackendHandle) {
  return (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
    const [x, gamma, y, r1, r2, r3] = saved;
    const dz = reluGrad(nb, dy, y);
    const [dx, dgamma, dbeta] = nb.executeMultipleOutputs(
      "FusedBatchNormGradV3",
      bnAttrs(nb),
      [dz, x, gamma, r1, r2, r3],
      5,
    );
    return [dx, dgamma, dbeta];
  };
}

/** n/(n-1) with n = elements per channel: biased -> unbiased variance. */
function besselFactor(x: tf.Tensor4D): number {
  const n = x.shape[0] * x.shape[1] * x.shape[2];
  return n > 1 ? n / (n - 1) : 1;
}

/**
 * relu(batchNorm(x)) with the batch's own statistics (train mode). When `sink` is given, the
 * batch moments are pushed to it as kept tensors; the caller owns (and must dispose) them.
 */
export function bnReluTrain(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  sink?: BatchMoments[],
): tf.Tensor4D {
  const nb = nativeBackend();
  if (nb === null) {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    if (sink) {
      sink.push({
        mean: tf.keep(tf.clone(mean)) as tf.Tensor1D,
        variance: tf.keep(tf.mul(variance, besselFactor(x))) as tf.Tensor1D,
      });
    }
    return tf.relu(tf.batchNorm(x, mean, variance, beta, gamma, BN_EPSILON)) as tf.Tensor4D;
  }
  const f = tf.customGrad((xx, g, bt, save) => {
    const empty = tf.tensor1d([]);
    // Outputs: y, batch_mean, batch_variance (unbiased), reserve_space_1..3 (for the gradient).
    const [y, mean, varUnbiased, r1, r2, r3] = nativeBnRelu(nb, [
      xx as tf.Tensor,
      g as tf.Tensor,
      bt as tf.Tensor,
      empty,
      empty,
    ]);
    (save as tf.GradSaveFunc)([xx as tf.Tensor, g as tf.Tensor, y, r1, r2, r3]);
    if (sink) {
      sink.push({
        mean: tf.keep(mean) as tf.Tensor1D,
        variance: tf.keep(varUnbiased) as tf.Tensor1D,
      });
    }
    return { value: y, gradFunc: bnReluGrad(nb) };
  });
  return f(x, gamma, beta) as tf.Tensor4D;
}

/**
 * relu(batchNorm(x)) with fixed (running) statistics, eval mode: one per-channel affine map,
 * relu(x * s + (beta - mean * s)) with s = gamma / sqrt(var + eps), differentiated by tfjs.
 * Why not FusedBatchNormV3 with is_training = false (oneDNN's or the generic one, which give the
 * same bits): libtensorflow 2.21's CPU inference kernel measured 3-9x slower than these three
 * elementwise ops (bench/NOTES.md: [256,28,28,8] 52.6 vs 5.6 ms; it made an eval-mode forward
 * pass of the small CNN 7x slower than a train-mode one). The two differ by rounding only (<= 2e-6
 * absolute on unit-scale activations, tests/ops_test.ts).
 */
export function bnReluEval(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  runningMean: tf.Tensor1D,
  runningVar: tf.Tensor1D,
): tf.Tensor4D {
  const { scale, shift } = bnEvalAffine(gamma, beta, runningMean, runningVar);
  return relu(tf.add(tf.mul(x, scale), shift) as tf.Tensor4D);
}

/** Eval-mode BatchNorm as y = x * scale + shift, per channel. */
function bnEvalAffine(
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  runningMean: tf.Tensor1D,
  runningVar: tf.Tensor1D,
): { scale: tf.Tensor1D; shift: tf.Tensor1D } {
  const scale = tf.div(gamma, tf.sqrt(tf.add(runningVar, BN_EPSILON))) as tf.Tensor1D;
  return { scale, shift: tf.sub(beta, tf.mul(runningMean, scale)) as tf.Tensor1D };
}

/**
 * Whether foldedConvBnReluEval runs here: tfjs-node with oneDNN, whose conv-with-bias kernel
 * (_MklNativeConv2DWithBias) makes the fold pay. Elsewhere the model keeps conv then bnReluEval.
 */
export function foldsEvalBn(): boolean {
  const nb = nativeBackend();
  return nb !== null && mklFeatures.foldEvalBn && mklOps(nb);
}

/**
 * relu(bnEval(conv(x, w, stride))) with the BatchNorm folded into the convolution:
 * relu(conv(x, w * scale) + shift), one oneDNN conv-with-bias kernel and a ReLU instead of conv,
 * multiply, add and ReLU (and one multiply fewer in the backward pass). Odd k x k filter, stride
 * s, PyTorch's padding (k-1)/2 on every side; not for 1x1 convs at stride > 1 (see
 * STRIDED_1X1_DIRECT_MIN_CHANNELS in speed_settings.ts). Differs from the unfolded form by rounding only
 * (tests/ops_test.ts states the tolerance). Call only where foldsEvalBn() is true.
 */
export function foldedConvBnReluEval(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  stride: number,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  runningMean: tf.Tensor1D,
  runningVar: tf.Tensor1D,
): tf.Tensor4D {
  const { scale, shift } = bnEvalAffine(gamma, beta, runningMean, runningVar);
  registerConvBias();
  const y = tf.engine().runKernel(
    CONV_BIAS,
    { x, filter: tf.mul(w, scale), bias: shift },
    { stride, pad: (w.shape[0] - 1) / 2 },
  ) as tf.Tensor4D;
  return relu(y);
}

/**
 * tf.relu with libtensorflow's ReluGrad as its gradient. Why: tfjs differentiates relu as
 * dy * step(x), and tfjs-node's Step kernel made it the largest cost of an eval-mode PGD step
 * (bench/NOTES.md: 116 of 411 ms kernel time in a PGD-10 of 256 images). Same values and bits.
 */
function relu(z: tf.Tensor4D): tf.Tensor4D {
  const nb = nativeBackend();
  if (nb === null) return tf.relu(z);
  const f = tf.customGrad((zz, save) => {
    const y = tf.relu(zz as tf.Tensor4D);
    (save as tf.GradSaveFunc)([y]);
    return { value: y, gradFunc: (dy: tf.Tensor, [yy]: tf.Tensor[]) => reluGrad(nb, dy, yy) };
  });
  return f(z) as tf.Tensor4D;
}

function poolAttrs(nb: NodeBackendHandle): unknown[] {
  const b = nb.binding;
  return [
    { name: "ksize", type: b.TF_ATTR_INT, value: [1, 2, 2, 1] },
    { name: "strides", type: b.TF_ATTR_INT, value: [1, 2, 2, 1] },
    { name: "padding", type: b.TF_ATTR_STRING, value: "VALID" },
    { name: "data_format", type: b.TF_ATTR_STRING, value: "NHWC" },
    { name: "workspace_enabled", type: b.TF_ATTR_BOOL, value: true },
    { name: "T", type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    { name: "_kernel", type: b.TF_ATTR_STRING, value: MKL_LABEL },
  ];
}

/**
 * 2x2 max pooling with stride 2, 'valid' (odd edges dropped), as tf.maxPool(x, 2, 2, "valid");
 * the gradient goes to the first maximum of each window. On tfjs-node with oneDNN the forward
 * pass keeps a workspace (each window's argmax) that the gradient reuses.
 */
export function maxPool2x2(x: tf.Tensor4D): tf.Tensor4D {
  const nb = nativeBackend();
  if (nb === null || !mklFeatures.maxPool || !mklOps(nb)) return tf.maxPool(x, 2, 2, "valid");
  const f = tf.customGrad((xx, save) => {
    // Outputs: y and the workspace (uint8 on the native side; never read in JavaScript).
    const [y, workspace] = nb.executeMultipleOutputs(
      "_MklNativeMaxPool",
      poolAttrs(nb),
      [xx as tf.Tensor],
      2,
    );
    (save as tf.GradSaveFunc)([xx as tf.Tensor, y, workspace]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sy, sw] = saved;
        return nb.executeMultipleOutputs(
          "_MklNativeMaxPoolGrad",
          poolAttrs(nb),
          [sx, sy, dy, sw],
          1,
        )[0];
      },
    };
  });
  return f(x) as tf.Tensor4D;
}

/**
 * Global average pooling [N, H, W, C] -> [N, C]: tf.mean(x, [1, 2]) with a leaner gradient on
 * tfjs-node (dy / (H*W) broadcast by the native BroadcastTo; tfjs's own gradient builds a ones
 * tensor of x's shape in JavaScript every step). Same values, bit for bit.
 */
export function globalAvgPool(x: tf.Tensor4D): tf.Tensor2D {
  if (nativeBackend() === null) return tf.mean(x, [1, 2]) as tf.Tensor2D;
  const [n, h, w, c] = x.shape;
  const f = tf.customGrad((xx, _save) => ({
    value: tf.mean(xx as tf.Tensor, [1, 2]),
    gradFunc: (dy: tf.Tensor) =>
      tf.broadcastTo(tf.reshape(tf.div(dy, h * w), [n, 1, 1, c]), [n, h, w, c]),
  }));
  return f(x) as tf.Tensor2D;
}

const PADDED_CONV = "SamAtPaddedConv2D";
let paddedConvRegistered = false;

interface PaddedConvAttrs {
  stride: number;
  pad: number;
}

/** Conv2D attributes for stride `stride` and `pad` pixels of zero padding on every side (NHWC). */
function explicitConvAttrs(nb: NodeBackendHandle, { stride, pad }: PaddedConvAttrs): unknown[] {
  const b = nb.binding;
  return [
    { name: "T", type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    { name: "strides", type: b.TF_ATTR_INT, value: [1, stride, stride, 1] },
    { name: "padding", type: b.TF_ATTR_STRING, value: "EXPLICIT" },
    { name: "explicit_paddings", type: b.TF_ATTR_INT, value: [0, 0, pad, pad, pad, pad, 0, 0] },
    { name: "data_format", type: b.TF_ATTR_STRING, value: "NHWC" },
    { name: "use_cudnn_on_gpu", type: b.TF_ATTR_BOOL, value: true },
    { name: "dilations", type: b.TF_ATTR_INT, value: [1, 1, 1, 1] },
  ];
}

/** A tfjs kernel (tfjs-node only) for a strided conv with explicit symmetric padding, and its gradient. */
function registerPaddedConv(): void {
  if (paddedConvRegistered) return;
  paddedConvRegistered = true;
  tf.registerKernel({
    kernelName: PADDED_CONV,
    backendName: "tensorflow",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const nb = backend as unknown as NodeBackendHandle;
      const x = inputs.x as tf.Tensor;
      return nb.executeMultipleOutputs(
        "Conv2D",
        explicitConvAttrs(nb, attrs as unknown as PaddedConvAttrs),
        [x, inputs.filter as tf.Tensor],
        1,
      )[0];
    },
  });
  tf.registerGradient({
    kernelName: PADDED_CONV,
    inputsToSave: ["x", "filter"],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const { stride, pad } = attrs as unknown as PaddedConvAttrs;
      return paddedConvGrad(dy as tf.Tensor4D, x, filter, stride, pad);
    },
  });
}

/**
 * The gradient of a strided conv with symmetric padding `pad`, as tfjs differentiates tf.pad +
 * a VALID tf.conv2d: Conv2DBackpropInput (VALID) with the border sliced off, and
 * Conv2DBackpropFilter on the padded input (padded only when the weight gradient is asked for).
 */
function paddedConvGrad(
  dy: tf.Tensor4D,
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  stride: number,
  pad: number,
): { x: () => tf.Tensor4D; filter: () => tf.Tensor4D } {
  const [n, h, w, c] = x.shape;
  const padding: [number, number][] = [[0, 0], [pad, pad], [pad, pad], [0, 0]];
  return {
    x: () =>
      tf.slice(
        tf.conv2dTranspose(dy, filter, [n, h + 2 * pad, w + 2 * pad, c], stride, "valid"),
        [0, pad, pad, 0],
        [n, h, w, c],
      ),
    filter: () =>
      tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: tf.pad(x, padding), dy }, {
        strides: stride,
        pad: "valid",
        dataFormat: "NHWC",
        filterShape: filter.shape,
      }) as tf.Tensor4D,
  };
}

/**
 * A k x k convolution (odd k > 1) with stride s and PyTorch's padding (k-1)/2 on every side, as
 * tf.conv2d(tf.pad(x, ...), w, s, "valid"). On tfjs-node with oneDNN it runs as one Conv2D with
 * EXPLICIT padding (see the top of this file); elsewhere it is exactly that tf.pad + tf.conv2d.
 */
export function paddedConv(x: tf.Tensor4D, w: tf.Tensor4D, stride: number): tf.Tensor4D {
  const pad = (w.shape[0] - 1) / 2;
  const nb = nativeBackend();
  if (nb === null || !mklFeatures.paddedConv || !mklOps(nb)) {
    return tf.conv2d(tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]), w, stride, "valid");
  }
  registerPaddedConv();
  return tf.engine().runKernel(PADDED_CONV, { x, filter: w }, { stride, pad }) as tf.Tensor4D;
}

const CONV_BIAS = "SamAtConvBias";
let convBiasRegistered = false;

/**
 * A tfjs kernel (tfjs-node with oneDNN) for conv(x, filter) + bias with PyTorch's symmetric
 * padding, as one _MklNativeConv2DWithBias (measured bit-identical to Conv2D then Add), and its
 * gradient: the same kernels as tfjs's gradient of a "same" conv at stride 1, or of paddedConv at
 * larger strides, and the bias gradient as a sum over batch and space.
 */
function registerConvBias(): void {
  if (convBiasRegistered) return;
  convBiasRegistered = true;
  tf.registerKernel({
    kernelName: CONV_BIAS,
    backendName: "tensorflow",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const nb = backend as unknown as NodeBackendHandle;
      const b = nb.binding;
      return nb.executeMultipleOutputs(
        "_MklNativeConv2DWithBias",
        [
          ...explicitConvAttrs(nb, attrs as unknown as PaddedConvAttrs),
          { name: "is_filter_const", type: b.TF_ATTR_BOOL, value: false },
          { name: "_kernel", type: b.TF_ATTR_STRING, value: MKL_LABEL },
        ],
        [inputs.x as tf.Tensor, inputs.filter as tf.Tensor, inputs.bias as tf.Tensor],
        1,
      )[0];
    },
  });
  tf.registerGradient({
    kernelName: CONV_BIAS,
    inputsToSave: ["x", "filter"],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const { stride, pad } = attrs as unknown as PaddedConvAttrs;
      const g = dy as tf.Tensor4D;
      const bias = () => tf.sum(g, [0, 1, 2]);
      if (stride === 1) {
        return {
          x: () => tf.conv2dTranspose(g, filter, x.shape, 1, "same"),
          filter: () =>
            tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy: g }, {
              strides: 1,
              pad: "same",
              dataFormat: "NHWC",
              filterShape: filter.shape,
            }) as tf.Tensor4D,
          bias,
        };
      }
      return { ...paddedConvGrad(g, x, filter, stride, pad), bias };
    },
  });
}

/** Mean softmax cross-entropy of logits [N, C] against integer labels [N] (int32). */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  const nb = nativeBackend();
  if (nb === null) {
    const logp = tf.logSoftmax(logits);
    const picked = tf.sum(tf.mul(tf.oneHot(labels, logits.shape[1]), logp), 1);
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  }
  const n = logits.shape[0];
  const f = tf.customGrad((z, save) => {
    const b = nb.binding;
    const [perExample, backprop] = nb.executeMultipleOutputs(
      "SparseSoftmaxCrossEntropyWithLogits",
      [
        { name: "T", type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
        { name: "Tlabels", type: b.TF_ATTR_TYPE, value: b.TF_INT32 },
      ],
      [z as tf.Tensor, labels],
      2,
    );
    (save as tf.GradSaveFunc)([backprop]);
    return {
      value: tf.mean(perExample),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(saved[0], tf.div(dy, n)),
    };
  });
  return f(logits) as tf.Scalar;
}
