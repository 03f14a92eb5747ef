/**
 * Opt-in bfloat16 convolutions on the tensorflow (tfjs-node, CPU) backend: fp32 master weights,
 * fp32 activations between layers, fp32 loss, BatchNorm, ReLU and update; only the convolutions
 * (forward, input gradient, weight gradient) run in bfloat16 inside libtensorflow, as PyTorch's
 * CPU autocast does. bench/NOTES.md ("Mixed precision") has the evidence and measurements.
 *
 * Why it needs the raw binding: tfjs-core has no bfloat16 DataType (tf.cast(x, "bfloat16") throws
 * "Failed to cast to unknown dtype bfloat16"), and tfjs-node's createOutputTensor throws "Unknown
 * dtype enum 14" for any op output of type TF_BFLOAT16 (after the native handle was made: it
 * leaks). But binding.executeOp takes input tensor ids and a TF_ATTR_TYPE attribute as a plain
 * integer, so TF_BFLOAT16 (14, tensorflow/c/tf_datatype.h) tensors can live on the native side as
 * ids that never become tfjs tensors: Cast(fp32 -> bf16) each float input, run the op with T =
 * bf16 (libtensorflow 2.21 rewrites it to oneDNN's kernel, which uses AVX512-BF16 where the CPU
 * has it), Cast the result back to fp32, delete the bf16 ids, hand tfjs the fp32 output.
 *
 * setConvPrecision("bf16") swaps the tensorflow backend's Conv2D, Conv2DBackpropInput and
 * Conv2DBackpropFilter kernels (so tf.conv2d and its gradients, everywhere) and the project's
 * explicit-padding strided conv (lib/models/ops.ts paddedConv, registered on first use; it is
 * forced to register here) for wrappers that run the same kernel through a backend whose
 * executeSingleOutput / executeMultipleOutputs do the casts above. setConvPrecision("fp32")
 * puts the original kernels back. Numbers change: bf16 has an 8-bit mantissa (relative rounding
 * error up to 2^-9 per input and per output), so this is not bit-identical to fp32 and is off by
 * default.
 *
 * libtensorflow 2.21's oneDNN bf16 convolutions are WRONG for some channel counts (measured on
 * AVX512-BF16, 4x12x12 inputs, 3x3, stride 1 and 2, every Cin, Cout in 1-8, 12, 16, 24, 32): the
 * forward pass whenever the input channel count is odd (relative error 0.3-1.0), the input
 * gradient whenever the output channel count is 1 (0.7-1.0, once 8e26: uninitialised memory).
 * The weight gradient was right everywhere (<= 8.2e-3). With TF_ENABLE_ONEDNN_OPTS=0 (Eigen)
 * the same convs are right, but everything is 2.3x slower. So each kernel runs in bf16 only where
 * it was measured right: Conv2D (and the padded conv) with an even input channel count,
 * Conv2DBackpropInput with an even output channel count, Conv2DBackpropFilter always; the rest
 * stay fp32 (PreActResNet-18's first conv, 3 input channels; the small CNN's first, 1 channel).
 */
import * as tf from "@tensorflow/tfjs-core";
import { paddedConv } from "../models/ops.ts";
import type { NodeBackendHandle } from "./node_backend.ts";
import { CONV_PRECISIONS, type ConvPrecision, convState, setMklFeature } from "./speed_settings.ts";

export { CONV_PRECISIONS, type ConvPrecision };

/** TF_BFLOAT16 in tensorflow/c/tf_datatype.h; tfjs-node's binding exports no constant for it. */
export const TF_BFLOAT16 = 14;

const BACKEND = "tensorflow";
const KERNELS = [tf.Conv2D, tf.Conv2DBackpropInput, tf.Conv2DBackpropFilter, "SamAtPaddedConv2D"];

/**
 * Whether this kernel call may run in bf16 (see the top of this file): the channel count that
 * oneDNN's bf16 kernels get wrong when odd (forward: input channels; input gradient: output
 * channels) must be even. Filters are [kh, kw, in, out] in every layout.
 */
export function bf16Safe(kernel: string, inputs: tf.NamedTensorInfoMap): boolean {
  if (kernel === tf.Conv2DBackpropFilter) return true;
  const filter = inputs.filter;
  if (!filter || filter.shape.length !== 4) return false;
  const channels = kernel === tf.Conv2DBackpropInput ? filter.shape[3] : filter.shape[2];
  return channels % 2 === 0;
}

/** Whether eval mode folded conv-BN before bf16 was switched on (restored by fp32). */
let foldedBeforeBf16 = true;
const originals = new Map<string, tf.KernelConfig>();
let probed: boolean | undefined;

function castId(b: NodeBackendHandle["binding"], id: number, from: number, to: number): number {
  return b.executeOp(
    "Cast",
    [
      { name: "SrcT", type: b.TF_ATTR_TYPE, value: from },
      { name: "DstT", type: b.TF_ATTR_TYPE, value: to },
      { name: "Truncate", type: b.TF_ATTR_BOOL, value: false },
    ],
    [id],
    1,
  )[0].id;
}

/**
 * Run the native op `name` in bfloat16: float32 inputs cast to bf16, attribute T set to bf16,
 * outputs cast back to float32 (non-float outputs handed over as they are).
 */
function executeBf16(
  nb: NodeBackendHandle,
  name: string,
  attrs: unknown[],
  inputs: tf.TensorInfo[],
  numOutputs: number,
): tf.Tensor[] {
  const b = nb.binding;
  const ids = nb.getInputTensorIds(inputs);
  const temps: number[] = [];
  try {
    const bfIds = ids.map((id, i) => {
      if (inputs[i].dtype !== "float32") return id;
      const c = castId(b, id, b.TF_FLOAT, TF_BFLOAT16);
      temps.push(c);
      return c;
    });
    const bfAttrs = attrs.map((a) => {
      const at = a as { name: string; type: number; value: unknown };
      return at.name === "T" && at.type === b.TF_ATTR_TYPE && at.value === b.TF_FLOAT
        ? { ...at, value: TF_BFLOAT16 }
        : a;
    });
    const outs = b.executeOp(name, bfAttrs, bfIds, numOutputs);
    return outs.map((m) => {
      if (m.dtype !== TF_BFLOAT16) return nb.createOutputTensor(m);
      temps.push(m.id);
      const f = castId(b, m.id, TF_BFLOAT16, b.TF_FLOAT);
      return nb.createOutputTensor({ id: f, shape: m.shape, dtype: b.TF_FLOAT });
    });
  } finally {
    for (const id of temps) b.deleteTensor(id);
  }
}

/** A view of the backend whose op runners compute in bfloat16 (everything else inherited). */
function bf16View(nb: NodeBackendHandle): NodeBackendHandle {
  const view = Object.create(nb) as NodeBackendHandle;
  view.executeSingleOutput = (name, attrs, inputs) => executeBf16(nb, name, attrs, inputs, 1)[0];
  view.executeMultipleOutputs = (name, attrs, inputs, n) => executeBf16(nb, name, attrs, inputs, n);
  return view;
}

/**
 * Whether the CPU has bfloat16 arithmetic (AVX512-BF16 or AMX-BF16), from /proc/cpuinfo's flags
 * (or the given text); null where that cannot be read (not Linux). Why: without it libtensorflow
 * still runs bf16 convolutions, emulated: PreActResNet-18 width 16 ST took 4858 ms per step
 * against 425 ms in fp32 on an AVX2-only AMD EPYC (bench/NOTES.md).
 */
export function cpuHasBf16(cpuinfo?: string): boolean | null {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = Deno.readTextFileSync("/proc/cpuinfo");
    } catch {
      return null;
    }
  }
  const flags = /^flags\s*:(.*)$/m.exec(text);
  if (!flags) return null;
  const set = new Set(flags[1].trim().split(/\s+/));
  return set.has("avx512_bf16") || set.has("amx_bf16");
}

/**
 * Whether bfloat16 convolutions run here: the tensorflow backend is active on the CPU and a tiny
 * bf16 Conv2D through the raw binding gives the fp32 answer to bf16 precision. Probed once.
 */
export function bf16ConvsSupported(): boolean {
  if (probed !== undefined) return probed;
  probed = false;
  if (tf.getBackend() !== BACKEND) return false;
  const nb = tf.backend() as unknown as NodeBackendHandle;
  if (typeof nb.getInputTensorIds !== "function" || nb.isUsingGpuDevice) return false;
  try {
    probed = tf.tidy(() => {
      const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]);
      const w = tf.tensor4d([0.5, 0.5], [1, 1, 2, 1]);
      const b = nb.binding;
      const [y] = executeBf16(
        nb,
        "Conv2D",
        [
          { name: "T", type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
          { name: "strides", type: b.TF_ATTR_INT, value: [1, 1, 1, 1] },
          { name: "padding", type: b.TF_ATTR_STRING, value: "VALID" },
          { name: "data_format", type: b.TF_ATTR_STRING, value: "NHWC" },
          { name: "use_cudnn_on_gpu", type: b.TF_ATTR_BOOL, value: true },
          { name: "dilations", type: b.TF_ATTR_INT, value: [1, 1, 1, 1] },
        ],
        [x, w],
        1,
      );
      const v = y.dataSync();
      return y.dtype === "float32" && v.length === 4 && v[3] === 7.5;
    });
  } catch {
    probed = false;
  }
  return probed;
}

/** The precision the convolutions run in now. */
export function convPrecision(): ConvPrecision {
  return convState.precision;
}

/**
 * Run every convolution of the tensorflow backend in `p` from now on; returns the old setting.
 * "bf16" throws where bf16ConvsSupported() is false (another backend, the GPU, no bf16 kernels).
 */
export function setConvPrecision(p: ConvPrecision): ConvPrecision {
  if (!CONV_PRECISIONS.includes(p)) {
    throw new RangeError(`Unknown convolution precision "${p}": use fp32 or bf16.`);
  }
  const old = convState.precision;
  if (p === old) return old;
  if (p === "bf16") {
    if (!bf16ConvsSupported()) {
      throw new Error(
        "bfloat16 convolutions need the tensorflow (tfjs-node) backend on the CPU; use fp32.",
      );
    }
    // The eval-mode conv-BN fold (ops.ts foldedConvBnReluEval) runs its own kernel, which has no
    // bf16 variant: switch it off so eval passes take the wrapped conv kernels too.
    foldedBeforeBf16 = setMklFeature("foldEvalBn", false);
    // paddedConv registers its kernel on first use: make it exist now, so it can be wrapped.
    tf.tidy(() => {
      paddedConv(tf.zeros([1, 3, 3, 1]), tf.zeros([3, 3, 1, 1]), 2);
    });
    for (const name of KERNELS) {
      const k = tf.getKernel(name, BACKEND);
      if (!k) continue;
      originals.set(name, k);
      tf.unregisterKernel(name, BACKEND);
      tf.registerKernel({
        ...k,
        kernelFunc: (args) =>
          bf16Safe(name, args.inputs)
            ? k.kernelFunc({
              ...args,
              backend: bf16View(
                args.backend as unknown as NodeBackendHandle,
              ) as unknown as tf.KernelBackend,
            })
            : k.kernelFunc(args),
      });
    }
  } else {
    for (const [name, k] of originals) {
      tf.unregisterKernel(name, BACKEND);
      tf.registerKernel(k);
    }
    originals.clear();
    setMklFeature("foldEvalBn", foldedBeforeBf16);
  }
  convState.precision = p;
  return old;
}
