/**
 * Makes the `wasm` backend (@tensorflow/tfjs-backend-wasm 4.22) usable for training under Deno.
 *
 * registerWasmTraining() (called by backend.ts before the wasm backend is first set):
 * 1. Gradients. tfjs-core's CJS bundle (the one Deno loads) holds no gradient configs, and its ESM
 *    dist (dist/register_all_gradients.js) does not load under Deno (extensionless imports). The
 *    CJS union bundle "@tensorflow/tfjs" registers them all; it is the module tfjs-node itself
 *    requires, so with tfjs-node loaded this is a no-op. Side effects under Deno: it loads
 *    tfjs-layers/converter/data (~40 ms) and registers the pure-JS "cpu" backend (priority 1);
 *    its webgl backend registers only in a browser, and it prints nothing.
 * 2. Imports @tensorflow/tfjs-backend-wasm and points setWasmPaths at the package's own dist/
 *    directory, found by module resolution. Under Deno the backend picks the SIMD binary and
 *    runs single-threaded (WASM_HAS_MULTITHREAD_SUPPORT is false).
 * 3. Registers for backend "wasm" the kernels training needs that the package lacks:
 *    - Conv2DBackpropFilter (conv weight gradient; without it tf.grad through tf.conv2d throws).
 *      dW = a 'valid' conv2d of the padded input transposed to [Cin, H, W, N] with dy transposed
 *      to [OH, OW, N, Cout] as the filter, dilation = stride; NHWC, 'same' / 'valid' / numeric /
 *      explicit pads, any strides; dilation 1 only (tfjs refuses conv gradients with dilation > 1).
 *    - UnsortedSegmentSum (the gradient of tf.gather w.r.t. its params), a JS loop.
 * 4. Replaces two package kernels that are wrong:
 *    - MaxPoolGrad: the package seeds each window's max with FLT_MIN (smallest positive float), so
 *      a window whose values are all <= 0 sends its gradient nowhere, and it breaks ties towards
 *      the last element. Replaced by a JS loop with TensorFlow's rule (first maximum wins).
 *    - AvgPoolGrad: divides by the full window size even where the forward pass (like TensorFlow)
 *      averaged over in-bounds pixels only, so gradients at padded borders ('same') were too small.
 *      Wrapped: dy is rescaled per window first. 'valid' pooling was already right.
 *
 * Checked against tfjs-node in tests/backend_test.ts (relative error <= 1e-4; measured <= 2e-6),
 * native on wasm and correct: Conv2D (3x3 and 1x1, strides 1 and 2, 'same' / 'valid' / explicit),
 * Conv2DBackpropInput, FusedBatchNorm and its gradient (tf.batchNorm) and moments-based BN, Relu,
 * Add, AvgPool, Mean, MaxPool, BatchMatMul, Softmax/logSoftmax (Max, Exp, Log, Sum), MirrorPad
 * (reflect), Slice, Reverse, Sign, ClipByValue, Minimum, Maximum, Square, Sqrt, GatherV2, OneHot,
 * ArgMax. tf.randomUniform / tf.randomNormal with a seed run in JS inside tfjs-core, so they are
 * identical on every backend.
 *
 * Still absent on wasm (not used here): DepthwiseConv2dNativeBackpropFilter / -Input (depthwise
 * conv gradients), Einsum (do not use tf.einsum), FFT/IFFT/Complex/Real/Imag, StaticRegexReplace.
 * MirrorPad has no gradient in tfjs on any backend: keep crop augmentation outside differentiated
 * code. Note for the tensorflow backend (not wasm): tfjs-node's conv gradient kernels throw on
 * numeric/explicit padding; use 'same' / 'valid' or tf.pad + 'valid'.
 *
 * Known limits: one thread under Deno, so slower than tfjs-node (small conv net, batch 64 at
 * 32x32: ~5x). The wasm32 heap stops at 4 GiB (measured: malloc fails past 4096 MiB; a single
 * 3 GiB tensor fails): PRN-18 at batch 128 overflows it (docs/environment.md#wasm-backend), batch 64 works.
 */
import * as tf from "@tensorflow/tfjs-core";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

let registering: Promise<void> | undefined;

/** Register gradients, the wasm backend and the training kernels it lacks. Idempotent. */
export function registerWasmTraining(): Promise<void> {
  registering ??= register().catch((err) => {
    registering = undefined;
    throw err;
  });
  return registering;
}

async function register(): Promise<void> {
  if (tf.getGradient(tf.Conv2D) === undefined) await import("@tensorflow/tfjs");
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  wasm.setWasmPaths(wasmDistDir());
  for (const config of WASM_TRAINING_KERNELS) {
    if (tf.getKernel(config.kernelName, "wasm") === undefined) tf.registerKernel(config);
  }
  replaceWrongKernels();
}

/** The package's dist/ directory (holding the .wasm binaries), with a trailing slash. */
function wasmDistDir(): string {
  const specifier = "@tensorflow/tfjs-backend-wasm";
  let url = import.meta.resolve(specifier);
  // Without a node_modules directory Deno may resolve to an npm: URL; ask Node-style resolution.
  if (!url.startsWith("file:")) url = "file://" + createRequire(import.meta.url).resolve(specifier);
  return fileURLToPath(new URL(".", url));
}

type Pad = "valid" | "same" | number | tf.backend_util.ExplicitPadding;

/** Tensor view of a kernel input (the engine passes Tensors; wrap a bare TensorInfo). */
function asTensor<T extends tf.Tensor>(info: tf.TensorInfo | undefined): T {
  if (info === undefined) throw new Error("wasm training kernel: a required input is missing.");
  return (info instanceof tf.Tensor ? info : tf.engine().makeTensorFromTensorInfo(info)) as T;
}

function conv2dBackpropFilter(
  { inputs, attrs }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap },
): tf.TensorInfo {
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
    strides: [number, number] | number;
    pad: Pad;
    dataFormat: "NHWC" | "NCHW";
    dimRoundingMode?: "floor" | "round" | "ceil";
    filterShape: [number, number, number, number];
  };
  if (dataFormat === "NCHW") {
    throw new Error("Conv2DBackpropFilter on wasm supports NHWC only (dataFormat NCHW given).");
  }
  return tf.tidy(() => {
    const x = asTensor<tf.Tensor4D>(inputs.x);
    const dy = asTensor<tf.Tensor4D>(inputs.dy);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape,
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      "channelsLast",
    );
    const { batchSize: n, inHeight, inWidth, inChannels: cin, outChannels: cout } = info;
    const { outHeight: oh, outWidth: ow, filterHeight: fh, filterWidth: fw } = info;
    const { strideHeight: sh, strideWidth: sw, padInfo } = info;
    const want = [n, oh, ow, cout].join(",");
    if (dy.shape.join(",") !== want) {
      throw new Error(`Conv2DBackpropFilter: dy has shape [${dy.shape}], expected [${want}].`);
    }
    // dW[i, j, c, o] = sum_{b, y, q} xpad[b, i + y*sh, j + q*sw, c] * dy[b, y, q, o]: a valid
    // convolution of xpad, transposed to [cin, H, W, n], with dy as the filter, transposed to
    // [oh, ow, n, cout] and dilated by the stride. It reads fh + (oh - 1) * sh padded rows (and
    // likewise columns): pad bottom/right up to that, or crop the rows a strided 'valid' conv
    // never reads.
    const top = padInfo.top, left = padInfo.left;
    const rows = fh + (oh - 1) * sh, cols = fw + (ow - 1) * sw;
    const bottom = rows - top - inHeight, right = cols - left - inWidth;
    let xp: tf.Tensor4D = x;
    if (top > 0 || left > 0 || bottom > 0 || right > 0) {
      xp = tf.pad(xp, [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]]);
    }
    if (bottom < 0 || right < 0) xp = tf.slice(xp, [0, 0, 0, 0], [n, rows, cols, cin]);
    const xT = tf.transpose(xp, [3, 1, 2, 0]); // [cin, rows, cols, n]
    const dyT = tf.transpose(dy, [1, 2, 0, 3]); // [oh, ow, n, cout]
    const dW = tf.conv2d(xT, dyT, 1, "valid", "NHWC", [sh, sw]); // [cin, fh, fw, cout]
    return tf.transpose(dW, [1, 2, 0, 3]);
  });
}

function unsortedSegmentSum(
  { inputs, attrs }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap },
): tf.TensorInfo {
  const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
  return tf.tidy(() => {
    const x = asTensor(inputs.x);
    const ids = asTensor(inputs.segmentIds);
    const k = ids.shape.length;
    if (x.shape.slice(0, k).join(",") !== ids.shape.join(",")) {
      throw new Error(
        `UnsortedSegmentSum: segmentIds shape [${ids.shape}] must prefix x shape [${x.shape}].`,
      );
    }
    const inner = x.shape.slice(k).reduce((a, b) => a * b, 1);
    const xv = x.dataSync();
    const idv = ids.dataSync();
    const out = x.dtype === "float32"
      ? new Float32Array(numSegments * inner)
      : new Int32Array(numSegments * inner);
    for (let r = 0; r < idv.length; r++) {
      const s = idv[r];
      if (s < 0 || s >= numSegments) continue; // dropped, as on the cpu backend
      const src = r * inner, dst = s * inner;
      for (let c = 0; c < inner; c++) out[dst + c] += xv[src + c];
    }
    return tf.tensor(out, [numSegments, ...x.shape.slice(k)], x.dtype);
  });
}

type PoolAttrs = {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: Pad;
  dimRoundingMode?: "floor" | "round" | "ceil";
};

function poolInfo(inputShape: number[], attrs: tf.NamedAttrMap | undefined) {
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as PoolAttrs;
  return tf.backend_util.computePool2DInfo(
    inputShape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
}

/**
 * MaxPoolGrad, replacing the package's: that one starts each window's running max at
 * FLT_MIN (the smallest positive float) instead of -infinity, so a window whose values are all
 * <= 0 routes its gradient nowhere; and it breaks ties towards the last element. Here, as in
 * TensorFlow: the gradient goes to the first maximal in-bounds element of each window.
 */
function maxPoolGrad(
  { inputs, attrs }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap },
): tf.TensorInfo {
  return tf.tidy(() => {
    const x = asTensor(inputs.input);
    const dy = asTensor(inputs.dy);
    const info = poolInfo(x.shape, attrs);
    const { batchSize: n, inHeight: h, inWidth: w, inChannels: c } = info;
    const { outHeight: oh, outWidth: ow, filterHeight: fh, filterWidth: fw } = info;
    const { strideHeight: sh, strideWidth: sw, padInfo: { top, left } } = info;
    const xv = x.dataSync(), dyv = dy.dataSync();
    const dx = new Float32Array(xv.length);
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < oh; y++) {
        const r0 = Math.max(0, y * sh - top), r1 = Math.min(h, y * sh - top + fh);
        for (let q = 0; q < ow; q++) {
          const c0 = Math.max(0, q * sw - left), c1 = Math.min(w, q * sw - left + fw);
          const dyBase = ((b * oh + y) * ow + q) * c;
          for (let ch = 0; ch < c; ch++) {
            let best = -Infinity, at = -1;
            for (let r = r0; r < r1; r++) {
              for (let col = c0; col < c1; col++) {
                const i = ((b * h + r) * w + col) * c + ch;
                if (xv[i] > best || at < 0) {
                  best = xv[i];
                  at = i;
                }
              }
            }
            if (at >= 0) dx[at] += dyv[dyBase + ch];
          }
        }
      }
    }
    return tf.tensor(dx, x.shape, "float32");
  });
}

const WASM_TRAINING_KERNELS: tf.KernelConfig[] = [
  { kernelName: tf.Conv2DBackpropFilter, backendName: "wasm", kernelFunc: conv2dBackpropFilter },
  { kernelName: tf.UnsortedSegmentSum, backendName: "wasm", kernelFunc: unsortedSegmentSum },
];

/** Kernels the package has but gets wrong; replaced once (registerWasmTraining is idempotent). */
function replaceWrongKernels(): void {
  const current = tf.getKernel(tf.MaxPoolGrad, "wasm");
  if (current?.kernelFunc !== maxPoolGrad) {
    if (current) tf.unregisterKernel(tf.MaxPoolGrad, "wasm");
    tf.registerKernel({ kernelName: tf.MaxPoolGrad, backendName: "wasm", kernelFunc: maxPoolGrad });
  }
  fixAvgPoolGrad();
}

const avgPoolGradFixed = new WeakSet<tf.KernelFunc>();

/**
 * The package's AvgPoolGrad divides every window by filterHeight*filterWidth, but its AvgPool
 * forward (like TensorFlow) averages over the in-bounds pixels only; with padding ('same') the
 * border gradients come out too small (e.g. 4/9 instead of 25/36 at a 3x3 'same' corner).
 * Wrap it: scale dy by filterSize / (in-bounds count of its window) first.
 */
function fixAvgPoolGrad(): void {
  const original = tf.getKernel(tf.AvgPoolGrad, "wasm");
  if (original === undefined || avgPoolGradFixed.has(original.kernelFunc)) return;
  const kernelFunc: tf.KernelFunc = (args) => {
    const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    const info = poolInfo(input.shape, args.attrs);
    const {
      inHeight: h,
      inWidth: w,
      outHeight: oh,
      outWidth: ow,
      filterHeight: fh,
      filterWidth: fw,
    } = info;
    const { strideHeight: sh, strideWidth: sw, padInfo: { top, left } } = info;
    const scale = new Float32Array(oh * ow);
    let padded = false;
    for (let y = 0; y < oh; y++) {
      const r0 = y * sh - top, rows = Math.min(r0 + fh, h) - Math.max(r0, 0);
      for (let x = 0; x < ow; x++) {
        const c0 = x * sw - left, cols = Math.min(c0 + fw, w) - Math.max(c0, 0);
        scale[y * ow + x] = rows * cols > 0 ? (fh * fw) / (rows * cols) : 0;
        padded ||= rows * cols !== fh * fw;
      }
    }
    if (!padded) return original.kernelFunc(args);
    const scaledDy = tf.tidy(() => tf.mul(asTensor(dy), tf.tensor4d(scale, [1, oh, ow, 1])));
    try {
      return original.kernelFunc({ ...args, inputs: { dy: scaledDy, input } });
    } finally {
      scaledDy.dispose();
    }
  };
  avgPoolGradFixed.add(kernelFunc);
  tf.unregisterKernel(tf.AvgPoolGrad, "wasm");
  tf.registerKernel({ ...original, kernelFunc });
}
