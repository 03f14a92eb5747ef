import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, parseBackend } from "../lib/backend/backend.ts";
import { subsample } from "../lib/models/model.ts";

Deno.test("the default tensorflow backend loads and computes", async () => {
  assert.equal(await initBackend("tensorflow"), "tensorflow");
  assert.equal(tf.getBackend(), "tensorflow");
  const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]]));
  assert.deepEqual(Array.from(y.dataSync()), [17, 39]);
});

Deno.test("an unknown backend name gets one sentence listing the valid ones", () => {
  assert.throws(
    () => parseBackend("cuda"),
    /Unknown backend "cuda": use one of tensorflow, tensorflow-gpu, wasm/,
  );
});

// ---------------------------------------------------------------------------------------------
// wasm against tensorflow. Both backends are registered in this one process; each comparison
// runs the same computation, from the same plain-JS inputs, once on each (tf.setBackend), reads
// the results back as Float32Arrays and compares them with relError below.
// ---------------------------------------------------------------------------------------------

/** Tolerance on relError for every wasm-vs-tensorflow comparison. */
const TOL = 1e-4;

type Arr = { shape: number[]; values: Float32Array };
type Outputs = Record<string, Arr>;

/**
 * Relative error of `got` against the reference `ref`: max_i |got_i - ref_i| / max_i |ref_i|
 * (the plain max abs difference when ref is all zeros). Any NaN or infinity in `got`, or a
 * different shape, is an infinite error.
 */
function relError(ref: Arr, got: Arr): number {
  if (ref.shape.join(",") !== got.shape.join(",") || ref.values.length !== got.values.length) {
    return Infinity;
  }
  let diff = 0, scale = 0;
  for (let i = 0; i < ref.values.length; i++) {
    if (!Number.isFinite(got.values[i])) return Infinity;
    diff = Math.max(diff, Math.abs(got.values[i] - ref.values[i]));
    scale = Math.max(scale, Math.abs(ref.values[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

/** Every output of `ref` must be in `got` with relError <= tol; returns the errors by name. */
function assertClose(ref: Outputs, got: Outputs, tol = TOL, label = ""): Record<string, number> {
  assert.deepEqual(Object.keys(got).sort(), Object.keys(ref).sort(), `${label}: output names`);
  const errs: Record<string, number> = {};
  for (const name of Object.keys(ref)) {
    errs[name] = relError(ref[name], got[name]);
    assert.ok(
      errs[name] <= tol,
      `${label} ${name}: relative error ${errs[name]} > ${tol} (shape ${got[name].shape})`,
    );
  }
  return errs;
}

/** Deterministic uniform numbers in [lo, hi) (mulberry32), so every backend gets equal inputs. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (shape: number[], lo = -1, hi = 1): tf.Tensor => {
    const v = new Float32Array(shape.reduce((p, q) => p * q, 1));
    for (let i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * next();
    return tf.tensor(v, shape);
  };
}

function read(t: tf.Tensor): Arr {
  return { shape: t.shape.slice(), values: Float32Array.from(t.dataSync()) };
}

/** Run fn on the named backend inside tf.tidy and read back every tensor it returns. */
async function runOn(
  backend: "tensorflow" | "wasm",
  fn: () => Record<string, tf.Tensor>,
): Promise<Outputs> {
  await tf.setBackend(backend);
  assert.equal(tf.getBackend(), backend);
  return tf.tidy(() => {
    const out: Outputs = {};
    for (const [name, t] of Object.entries(fn())) out[name] = read(t);
    return out;
  });
}

/** Register both backends (tensorflow via tfjs-node, wasm with its training kernels). */
async function bothBackends(): Promise<void> {
  await initBackend("tensorflow");
  await initBackend("wasm");
}

/** Same computation on tensorflow (reference) and wasm; asserts agreement, returns the errors. */
async function compareBackends(
  label: string,
  fn: () => Record<string, tf.Tensor>,
  tol = TOL,
): Promise<Record<string, number>> {
  const ref = await runOn("tensorflow", fn);
  const got = await runOn("wasm", fn);
  return assertClose(ref, got, tol, label);
}

/** Leave the process on the default backend for whatever test runs next. */
async function restoreDefault(): Promise<void> {
  await initBackend("tensorflow");
  assert.equal(tf.getBackend(), "tensorflow");
}

Deno.test("the comparator rejects perturbed, NaN and mis-shaped results", () => {
  const ref: Arr = { shape: [2, 2], values: Float32Array.from([1, -2, 3, -4]) };
  const same: Arr = { shape: [2, 2], values: Float32Array.from([1, -2, 3, -4]) };
  assert.equal(relError(ref, same), 0);
  assertClose({ a: ref }, { a: same });
  // max |diff| 8e-4 against max |ref| 4: relative 2e-4 > 1e-4.
  const off: Arr = { shape: [2, 2], values: Float32Array.from([1, -2, 3, -4.0008]) };
  assert.ok(Math.abs(relError(ref, off) - 2e-4) < 1e-6);
  assert.throws(() => assertClose({ a: ref }, { a: off }), /relative error/);
  const nan: Arr = { shape: [2, 2], values: Float32Array.from([1, NaN, 3, -4]) };
  assert.throws(() => assertClose({ a: ref }, { a: nan }), /relative error Infinity/);
  const flat: Arr = { shape: [4], values: ref.values };
  assert.throws(() => assertClose({ a: ref }, { a: flat }), /relative error Infinity/);
  assert.throws(() => assertClose({ a: ref, b: ref }, { a: ref }), /output names/);
});

// --- Conv2DBackpropFilter (registered by lib/backend/wasm_kernels.ts) --------------------------------

type Pad = "same" | "valid" | number | [
  [number, number],
  [number, number],
  [number, number],
  [number, number],
];
type ConvCase = {
  x: [number, number, number, number];
  f: [number, number];
  cout: number;
  s: number | [number, number];
  pad: Pad;
};

const CONV_CASES: ConvCase[] = [
  { x: [2, 7, 7, 3], f: [3, 3], cout: 4, s: 1, pad: "same" },
  { x: [2, 8, 8, 3], f: [3, 3], cout: 4, s: 1, pad: "valid" },
  { x: [2, 7, 7, 3], f: [3, 3], cout: 4, s: 2, pad: "same" },
  { x: [2, 8, 8, 3], f: [3, 3], cout: 4, s: 2, pad: "same" }, // asymmetric: pad bottom/right 1
  { x: [3, 8, 8, 2], f: [3, 3], cout: 5, s: 2, pad: "valid" }, // last row/col never read
  { x: [1, 7, 8, 2], f: [3, 3], cout: 3, s: 2, pad: "valid" },
  { x: [2, 7, 7, 4], f: [1, 1], cout: 6, s: 2, pad: "valid" },
  { x: [2, 8, 8, 4], f: [1, 1], cout: 3, s: 1, pad: "same" },
  { x: [2, 8, 8, 2], f: [3, 3], cout: 3, s: 2, pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
  { x: [2, 7, 7, 2], f: [3, 3], cout: 3, s: [1, 2], pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { x: [2, 9, 9, 2], f: [5, 5], cout: 2, s: 2, pad: 2 },
  { x: [2, 7, 7, 3], f: [2, 3], cout: 2, s: 2, pad: "same" },
  { x: [1, 5, 5, 1], f: [5, 5], cout: 1, s: 1, pad: "valid" },
];

/**
 * Known libtensorflow defect, found on an AMD EPYC machine (2026-12-02): with oneDNN on, the
 * tensorflow backend's input gradient of a conv whose filter covers the whole input (5x5 filter,
 * 5x5 input, 'valid', 1x1 output) has wrong entries (0 where dy*w = -2.549); with
 * TF_ENABLE_ONEDNN_OPTS=0 it is right, and wasm is right. The project's models never use this
 * shape (3x3 'same'/stride-2 and 1x1 convs, all compared above). The case stays in the filter
 * gradient test; in the tf.grads comparison it is reported, not compared, until the oneDNN
 * investigation (see the closing note) decides a fix.
 */
const ONEDNN_DEFECT = (c: ConvCase) => c.f[0] === c.x[1] && c.f[1] === c.x[2] && c.pad === "valid";

/**
 * tf.conv2d, except that on tensorflow a numeric or explicit pad becomes tf.pad + 'valid' (the
 * same function): tfjs-node's Conv2DBackpropInput/Filter kernels throw on EXPLICIT padding.
 */
function conv(x: tf.Tensor, w: tf.Tensor, s: number | [number, number], pad: Pad): tf.Tensor4D {
  if (typeof pad !== "string" && tf.getBackend() === "tensorflow") {
    const p: Pad = typeof pad === "number" ? [[0, 0], [pad, pad], [pad, pad], [0, 0]] : pad;
    return tf.conv2d(tf.pad(x, p) as tf.Tensor4D, w as tf.Tensor4D, s, "valid");
  }
  return tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad);
}

function convLabel(c: ConvCase): string {
  return `x=[${c.x}] f=${c.f.join("x")}x${c.cout} s=${c.s} pad=${JSON.stringify(c.pad)}`;
}

/** Direct loops: dW[i,j,c,o] = sum_{b,y,x} xpad[b, y*sh+i, x*sw+j, c] * dy[b,y,x,o]. */
function naiveFilterGrad(x: Arr, dy: Arr, c: ConvCase): Arr {
  const [n, h, w, cin] = x.shape, [, oh, ow, cout] = dy.shape;
  const [fh, fw] = c.f;
  const [sh, sw] = typeof c.s === "number" ? [c.s, c.s] : c.s;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    [fh, fw, cin, cout],
    [sh, sw],
    1,
    c.pad,
  );
  const { top, left } = info.padInfo;
  const out = new Float32Array(fh * fw * cin * cout);
  for (let i = 0; i < fh; i++) {
    for (let j = 0; j < fw; j++) {
      for (let b = 0; b < n; b++) {
        for (let y = 0; y < oh; y++) {
          const r = y * sh + i - top;
          if (r < 0 || r >= h) continue;
          for (let q = 0; q < ow; q++) {
            const col = q * sw + j - left;
            if (col < 0 || col >= w) continue;
            for (let ci = 0; ci < cin; ci++) {
              const xv = x.values[((b * h + r) * w + col) * cin + ci];
              for (let o = 0; o < cout; o++) {
                out[((i * fw + j) * cin + ci) * cout + o] += xv *
                  dy.values[((b * oh + y) * ow + q) * cout + o];
              }
            }
          }
        }
      }
    }
  }
  return { shape: [fh, fw, cin, cout], values: out };
}

Deno.test("wasm Conv2DBackpropFilter matches tfjs-node and direct loops (strides 1/2, same/valid/explicit pads)", async () => {
  await bothBackends();
  let worst = 0;
  for (const [k, c] of CONV_CASES.entries()) {
    const label = convLabel(c);
    const filterShape: [number, number, number, number] = [c.f[0], c.f[1], c.x[3], c.cout];
    const outShape = tf.backend_util.computeConv2DInfo(c.x, filterShape, c.s, 1, c.pad).outShape;
    const kernel = () => {
      const r = rng(100 + k);
      const x = r(c.x);
      const dy = r(outShape);
      const dw = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, {
        strides: c.s,
        pad: c.pad,
        dataFormat: "NHWC",
        filterShape,
      } as unknown as tf.NamedAttrMap) as tf.Tensor;
      return { x, dy, dw };
    };
    const got = await runOn("wasm", kernel);
    const naive = naiveFilterGrad(got.x, got.dy, c);
    assertClose({ dw: naive }, { dw: got.dw }, TOL, `wasm vs loops, ${label}`);
    worst = Math.max(worst, relError(naive, got.dw));
    if (typeof c.pad === "string") { // tfjs-node's kernel only takes 'same' / 'valid'
      const ref = await runOn("tensorflow", kernel);
      assertClose({ dw: naive }, { dw: ref.dw }, TOL, `tfjs-node vs loops, ${label}`);
      worst = Math.max(worst, assertClose(ref, got, TOL, label).dw);
    }
  }
  console.log(
    `Conv2DBackpropFilter: ${CONV_CASES.length} cases, worst relative error ${
      worst.toExponential(2)
    }`,
  );
  await restoreDefault();
});

Deno.test("wasm conv2d forward, input and filter gradients match tfjs-node through tf.grads", async () => {
  await bothBackends();
  let worst = 0;
  for (const [k, c] of CONV_CASES.entries()) {
    if (ONEDNN_DEFECT(c)) {
      console.log(`${convLabel(c)}: not compared (known oneDNN defect, see ONEDNN_DEFECT)`);
      continue;
    }
    const errs = await compareBackends(convLabel(c), () => {
      const r = rng(200 + k);
      const x = r(c.x);
      const w = r([c.f[0], c.f[1], c.x[3], c.cout]);
      const f = (x: tf.Tensor, w: tf.Tensor) => conv(x, w, c.s, c.pad);
      const y = f(x, w);
      const dy = r(y.shape);
      const [dx, dw] = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(f(x, w), dy)))([
        x,
        w,
      ]);
      return { y, dx, dw };
    });
    worst = Math.max(worst, ...Object.values(errs));
  }
  console.log(`conv2d forward/dx/dW: worst relative error ${worst.toExponential(2)}`);
  await restoreDefault();
});

Deno.test("the wasm Conv2DBackpropFilter kernel frees its intermediates", async () => {
  await bothBackends();
  await tf.setBackend("wasm");
  const c = CONV_CASES[3];
  const r = rng(7);
  const x = r(c.x), dy = r([c.x[0], 4, 4, c.cout]);
  const attrs = {
    strides: c.s,
    pad: c.pad,
    dataFormat: "NHWC",
    filterShape: [3, 3, c.x[3], c.cout],
  };
  const before = tf.memory();
  const dw = tf.engine().runKernel(
    tf.Conv2DBackpropFilter,
    { x, dy },
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor;
  assert.deepEqual(dw.shape, [3, 3, c.x[3], c.cout]);
  assert.equal(tf.memory().numTensors, before.numTensors + 1);
  dw.dispose();
  assert.equal(tf.memory().numTensors, before.numTensors);
  assert.equal(tf.memory().numBytes, before.numBytes);
  tf.dispose([x, dy]);
  await restoreDefault();
});

// --- a small residual conv net: forward and backward on both backends ---------------------------

type NetConfig = {
  n: number;
  size: number;
  cin: number;
  c1: number;
  c2: number;
  classes: number;
  pad1: Pad; // first conv: 3x3, stride 1
  pad2: Pad; // second conv: 3x3, stride 2 (the 1x1 stride-2 shortcut is 'valid')
};

const PARAM_NAMES = ["w1", "g1", "b1", "w2", "g2", "b2", "ws", "wd", "bd"] as const;

/** Inputs and weights for the net, from a seed (plain tensors on the current backend). */
export function netInputs(
  cfg: NetConfig,
  seed: number,
): { x: tf.Tensor; labels: tf.Tensor; params: tf.Tensor[] } {
  const r = rng(seed);
  const x = r([cfg.n, cfg.size, cfg.size, cfg.cin]);
  const labels = tf.tensor1d(
    Array.from({ length: cfg.n }, (_, i) => (3 * i + 1) % cfg.classes),
    "int32",
  );
  const params = [
    r([3, 3, cfg.cin, cfg.c1], -0.5, 0.5), // w1
    r([cfg.c1], 0.5, 1.5), // g1 (BN scale)
    r([cfg.c1], -0.2, 0.2), // b1 (BN offset)
    r([3, 3, cfg.c1, cfg.c2], -0.3, 0.3), // w2
    r([cfg.c2], 0.5, 1.5), // g2
    r([cfg.c2], -0.2, 0.2), // b2
    r([1, 1, cfg.c1, cfg.c2], -0.5, 0.5), // ws (shortcut)
    r([cfg.c2, cfg.classes], -0.5, 0.5), // wd (dense)
    r([cfg.classes], -0.1, 0.1), // bd
  ];
  return { x, labels, params };
}

/**
 * conv3x3 s1 -> batchNorm (tf.batchNorm on batch moments, the FusedBatchNorm kernel) -> relu
 * -> conv3x3 s2 -> batchNorm (written out from tf.moments) -> relu, + conv1x1 s2 shortcut of the
 * first block -> global average pool -> dense -> mean softmax cross-entropy.
 */
export function netLoss(cfg: NetConfig, x: tf.Tensor, labels: tf.Tensor, p: tf.Tensor[]) {
  const [w1, g1, b1, w2, g2, b2, ws, wd, bd] = p;
  const eps = 1e-5;
  const h1 = conv(x, w1, 1, cfg.pad1);
  const m1 = tf.moments(h1, [0, 1, 2]);
  const a1 = tf.relu(tf.batchNorm(h1, m1.mean, m1.variance, b1, g1, eps));
  const h2 = conv(a1, w2, 2, cfg.pad2);
  const m2 = tf.moments(h2, [0, 1, 2]);
  const bn2 = tf.add(
    tf.mul(tf.mul(tf.sub(h2, m2.mean), tf.rsqrt(tf.add(m2.variance, eps))), g2),
    b2,
  );
  const a2 = tf.relu(bn2);
  // The reference (tensorflow) as our models compute it: libtensorflow's oneDNN kernels get this
  // 4-channel strided 1x1 conv's weight gradient wrong on AVX2-only CPUs (lib/models/model.ts,
  // STRIDED_1X1_DIRECT_MIN_CHANNELS); wasm runs the direct strided conv, the same sums.
  const shortcut = tf.getBackend() === "tensorflow"
    ? conv(subsample(a1 as tf.Tensor4D, 2), ws, 1, "valid")
    : conv(a1, ws, 2, "valid");
  const pooled = tf.mean(tf.add(a2, shortcut), [1, 2]);
  const logits = tf.add(tf.matMul(pooled, wd), bd);
  const onehot = tf.oneHot(labels as tf.Tensor1D, cfg.classes);
  const loss = tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1)));
  return { loss: loss as tf.Scalar, logits };
}

/** One forward + backward pass: loss, logits, the input gradient and every weight gradient. */
export function netStep(cfg: NetConfig, seed: number): Record<string, tf.Tensor> {
  const { x, labels, params } = netInputs(cfg, seed);
  const { value, grads } = tf.valueAndGrads((x: tf.Tensor, ...p: tf.Tensor[]) =>
    netLoss(cfg, x, labels, p).loss
  )(
    [x, ...params],
  );
  const logits = netLoss(cfg, x, labels, params).logits;
  const out: Record<string, tf.Tensor> = { loss: value, logits, dx: grads[0] };
  PARAM_NAMES.forEach((name, i) => out[`d${name}`] = grads[i + 1]);
  return out;
}

export const NET_CONFIGS: NetConfig[] = [
  // 7x7: 'same' 3x3 s2 pads 1/1; shortcut 1x1 s2 'valid' -> 4x4.
  { n: 3, size: 7, cin: 3, c1: 4, c2: 6, classes: 5, pad1: "same", pad2: "same" },
  // 8x8: 'same' 3x3 s2 pads 0 top / 1 bottom (asymmetric) -> 4x4.
  { n: 2, size: 8, cin: 2, c1: 4, c2: 5, classes: 4, pad1: "same", pad2: "same" },
  // 8x8 'valid' -> 6x6, then explicit pads 1/1 with stride 2 -> 3x3.
  {
    n: 2,
    size: 8,
    cin: 2,
    c1: 3,
    c2: 4,
    classes: 3,
    pad1: "valid",
    pad2: [[0, 0], [1, 1], [1, 1], [0, 0]],
  },
  // 7x7 'valid' -> 5x5, then 'same' stride 2 -> 3x3.
  { n: 4, size: 7, cin: 1, c1: 3, c2: 4, classes: 5, pad1: "valid", pad2: "same" },
];

Deno.test("a small conv net: loss, logits, input and weight gradients agree on wasm and tensorflow", async () => {
  await bothBackends();
  for (const [k, cfg] of NET_CONFIGS.entries()) {
    const label = `net ${cfg.size}x${cfg.size} n=${cfg.n} pads ${
      JSON.stringify([cfg.pad1, cfg.pad2])
    }`;
    const errs = await compareBackends(label, () => netStep(cfg, 300 + k));
    // The gradients must be real signals, not zeros agreeing with zeros.
    const ref = await runOn("tensorflow", () => netStep(cfg, 300 + k));
    for (const name of ["dx", "dw1", "dw2", "dws", "dwd"]) {
      assert.ok(ref[name].values.some((v) => Math.abs(v) > 1e-4), `${label}: ${name} is all ~0`);
    }
    const worst = Object.entries(errs).sort((a, b) => b[1] - a[1])[0];
    console.log(`${label}: worst relative error ${worst[1].toExponential(2)} (${worst[0]})`);
  }
  await restoreDefault();
});

Deno.test("a training step on wasm leaves no tensors behind", async () => {
  await bothBackends();
  await tf.setBackend("wasm");
  const step = () => tf.tidy(() => void read(netStep(NET_CONFIGS[0], 1).loss));
  step(); // warm-up
  const before = tf.memory();
  step();
  step();
  const after = tf.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numBytes, before.numBytes);
  await restoreDefault();
});

// --- the other ops a training / PGD step needs ---------------------------------------------------

/** Name -> computation returning named outputs (forward values and gradients). */
const OP_CASES: Record<string, () => Record<string, tf.Tensor>> = {
  "batchNorm (FusedBatchNorm) and its gradient": () => {
    const r = rng(11);
    const xs = [r([3, 5, 5, 4]), r([4]), r([4], 0.5, 2), r([4]), r([4], 0.5, 1.5)];
    const f = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor) =>
      tf.batchNorm(x, m, v, o, s, 1e-3);
    const dy = r([3, 5, 5, 4]);
    const g = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(a[0], a[1], a[2], a[3], a[4]), dy)))(
      xs,
    );
    return {
      y: f(xs[0], xs[1], xs[2], xs[3], xs[4]),
      dx: g[0],
      dmean: g[1],
      dvar: g[2],
      doffset: g[3],
      dscale: g[4],
    };
  },
  "moments, relu, add (broadcast) and their gradients": () => {
    const r = rng(12);
    const x = r([3, 4, 4, 2]), b = r([2]);
    const f = (x: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf.relu(tf.add(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), b));
    };
    const dy = r([3, 4, 4, 2]);
    const [dx, db] = tf.grads((x: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(x, b), dy)))([x, b]);
    return { y: f(x, b), dx, db };
  },
  "avgPool, mean, maxPool and their gradients (incl. ties and all-negative windows)": () => {
    const r = rng(13);
    const x = r([2, 7, 7, 3]) as tf.Tensor4D;
    // wasm's own AvgPoolGrad is wrong with padding and its MaxPoolGrad with windows <= 0 and with
    // ties; lib/backend/wasm_kernels.ts replaces both. neg: every window negative; tie: many equal maxima.
    const neg = tf.sub(x, 2) as tf.Tensor4D;
    const tie = tf.div(tf.round(tf.mul(x, 1.5)), 1.5) as tf.Tensor4D;
    const pools: Record<string, [tf.Tensor4D, (t: tf.Tensor4D) => tf.Tensor]> = {
      avg: [x, (t) => tf.avgPool(t, 2, 2, "valid")],
      avgSame: [x, (t) => tf.avgPool(t, 3, 1, "same")],
      avgSame2: [x, (t) => tf.avgPool(t, 2, 2, "same")],
      avgSame3: [x, (t) => tf.avgPool(t, [3, 2], [2, 1], "same")],
      max: [x, (t) => tf.maxPool(t, 2, 2, "valid")],
      maxSame: [x, (t) => tf.maxPool(t, 3, 2, "same")],
      maxNeg: [neg, (t) => tf.maxPool(t, 2, 2, "valid")],
      maxNegSame: [neg, (t) => tf.maxPool(t, 3, 1, "same")],
      maxTie: [tie, (t) => tf.maxPool(t, 3, 2, "same")],
      maxRelu: [tie, (t) => tf.maxPool(tf.relu(t), 2, 2, "valid")],
      gap: [x, (t) => tf.mean(t, [1, 2])],
    };
    const out: Record<string, tf.Tensor> = {};
    for (const [name, [input, f]] of Object.entries(pools)) {
      out[name] = f(input);
      const dy = r(out[name].shape);
      out[`d_${name}`] = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t as tf.Tensor4D), dy)))(input);
    }
    return out;
  },
  "matMul (plain and transposed) and its gradient": () => {
    const r = rng(14);
    const a = r([5, 7]), b = r([7, 3]), c = r([4, 7]);
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.add(
        tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
        tf.sum(tf.matMul(a as tf.Tensor2D, c as tf.Tensor2D, false, true)),
      );
    const [da, db, dc] = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.sum(tf.square(f(a, b, c)))
    )([a, b, c]);
    return { y: f(a, b, c), da, db, dc };
  },
  "softmax cross-entropy (logSoftmax, oneHot, sum; tf.losses) and its gradient": () => {
    const r = rng(15);
    const logits = r([6, 10], -4, 4);
    const labels = tf.tensor1d([0, 3, 9, 3, 5, 1], "int32");
    const onehot = tf.oneHot(labels, 10);
    const ce = (z: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(z)), 1)));
    const ce2 = (z: tf.Tensor) => tf.losses.softmaxCrossEntropy(onehot, z);
    return {
      onehot,
      softmax: tf.softmax(logits),
      loss: ce(logits),
      dz: tf.grad(ce)(logits),
      loss2: ce2(logits),
      dz2: tf.grad(ce2)(logits),
      argMax: tf.argMax(logits, 1),
    };
  },
  "mirrorPad (reflect) + slice + reverse: crop and flip augmentation": () => {
    const r = rng(16);
    const x = r([2, 7, 7, 3]) as tf.Tensor4D;
    const padded = tf.mirrorPad(x, [[0, 0], [2, 2], [2, 2], [0, 0]], "reflect");
    const crop = tf.slice(padded, [0, 3, 1, 0], [2, 7, 7, 3]);
    const flipped = tf.reverse(crop, 2);
    const dy = r([2, 5, 5, 3]);
    const g = (x: tf.Tensor) =>
      tf.sum(tf.mul(tf.reverse(tf.slice(x, [0, 1, 2, 0], [2, 5, 5, 3]), 2), dy));
    return { padded, crop, flipped, d_slice_reverse: tf.grad(g)(x) };
  },
  "PGD step: sign, clipByValue, minimum, maximum and their gradients": () => {
    const r = rng(17);
    const x = r([2, 5, 5, 3], 0, 1), g = r([2, 5, 5, 3]), delta = r([2, 5, 5, 3], -0.05, 0.05);
    const eps = 8 / 255, alpha = 2 / 255;
    const step = (d: tf.Tensor) => {
      const adv = tf.add(tf.add(x, d), tf.mul(alpha, tf.sign(g)));
      return tf.clipByValue(tf.minimum(tf.maximum(adv, tf.sub(x, eps)), tf.add(x, eps)), 0, 1);
    };
    const dy = r([2, 5, 5, 3]);
    return {
      adv: step(delta),
      sign: tf.sign(g),
      d_delta: tf.grad((d: tf.Tensor) => tf.sum(tf.mul(step(d), dy)))(delta),
    };
  },
  "L2 norms: square, sqrt, sum and their gradients": () => {
    const r = rng(18);
    const v = r([4, 6, 6, 2]);
    const norm = (v: tf.Tensor) => tf.sqrt(tf.sum(tf.square(v), [1, 2, 3]));
    const normalised = (v: tf.Tensor) =>
      tf.div(v, tf.reshape(tf.add(norm(v), 1e-12), [-1, 1, 1, 1]));
    return {
      norm: norm(v),
      normalised: normalised(v),
      d_norm: tf.grad((v: tf.Tensor) => tf.sum(norm(v)))(v),
      d_normalised: tf.grad((v: tf.Tensor) => tf.sum(tf.mul(normalised(v), v)))(v),
    };
  },
  "gather (axis 0 and 1) and its gradient (UnsortedSegmentSum)": () => {
    const r = rng(19);
    const p = r([5, 4]);
    const idx0 = tf.tensor1d([4, 0, 4, 2, 1, 4], "int32"),
      idx1 = tf.tensor1d([3, 0, 3, 2, 1, 3], "int32");
    const dy0 = r([6, 4]), dy1 = r([5, 6]);
    return {
      g0: tf.gather(p, idx0, 0),
      g1: tf.gather(p, idx1, 1),
      dp0: tf.grad((p: tf.Tensor) => tf.sum(tf.mul(tf.gather(p, idx0, 0), dy0)))(p),
      dp1: tf.grad((p: tf.Tensor) => tf.sum(tf.mul(tf.gather(p, idx1, 1), dy1)))(p),
      segsum: tf.unsortedSegmentSum(dy0, tf.tensor1d([2, 0, 2, -1, 1, 2], "int32"), 3),
    };
  },
  "randomUniform / randomNormal with a seed": () => ({
    u: tf.randomUniform([3, 5], 0, 1, "float32", 42),
    n: tf.randomNormal([3, 5], 0, 1, "float32", 7),
  }),
};

Deno.test("every other op a training or PGD step needs agrees on wasm and tensorflow", async () => {
  await bothBackends();
  let worst = 0;
  for (const [label, fn] of Object.entries(OP_CASES)) {
    worst = Math.max(worst, ...Object.values(await compareBackends(label, fn)));
  }
  console.log(
    `${Object.keys(OP_CASES).length} op groups: worst relative error ${worst.toExponential(2)}`,
  );
  await restoreDefault();
});

Deno.test("SAM_AT_BACKEND=wasm alone (no tfjs-node in the process) trains a conv layer", async () => {
  // The normal wasm route: gradients come from the @tensorflow/tfjs bundle, not from tfjs-node.
  const code = `
    import * as tf from "@tensorflow/tfjs-core";
    import { initBackend } from ${JSON.stringify(import.meta.resolve("../lib/backend/backend.ts"))};
    await initBackend();
    const x = tf.randomUniform([2, 5, 5, 3], -1, 1, "float32", 1);
    const w = tf.randomUniform([3, 3, 3, 4], -1, 1, "float32", 2);
    const dw = tf.grad((w) => tf.sum(tf.square(tf.conv2d(x, w, 2, "same"))))(w);
    const backends = Object.keys(tf.engine().registryFactory).sort().join(",");
    console.log(JSON.stringify({ backend: tf.getBackend(), backends, finite: dw.dataSync().every(Number.isFinite) }));
  `;
  const config = new URL("../deno.json", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", "--config", config, code],
    env: { SAM_AT_BACKEND: "wasm" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
  assert.deepEqual(result, { backend: "wasm", backends: "cpu,wasm", finite: true });
  assert.equal(stderr.trim(), "", "loading the wasm backend should print nothing");
});

const gpuInstalled = (() => {
  try {
    return Deno.statSync(new URL("../node_modules/@tensorflow/tfjs-node-gpu", import.meta.url))
      .isDirectory;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "tensorflow-gpu, when not installed, fails with one sentence naming the fix and the fallback",
  ignore: gpuInstalled,
  fn: async () => {
    const code = `
      import { initBackend } from ${
      JSON.stringify(import.meta.resolve("../lib/backend/backend.ts"))
    };
      try { await initBackend("tensorflow-gpu"); console.log("loaded"); } catch (e) { console.log(e.name + ": " + e.message); }
    `;
    const config = new URL("../deno.json", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", "--config", config, code],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(
      new TextDecoder().decode(out.stdout).trim(),
      "BackendError: The tensorflow-gpu backend could not load (@tensorflow/tfjs-node-gpu is not installed): " +
        "install CUDA 11.2 + cuDNN 8.1 and run 'SAM_AT_GPU=1 bash scripts/setup.sh', or fall back with SAM_AT_BACKEND=tensorflow.",
    );
  },
});
