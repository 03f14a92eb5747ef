/**
 * Can this project run its convolutions in bfloat16 on libtensorflow's CPU kernels, and what does it
 * buy? (issue 15, item 3; the findings are in bench/NOTES.md, "Mixed precision"). tfjs-node only.
 *
 *   bin/deno run -A bench/bf16.ts probe
 *       what fails and what works, with the error messages: tf.cast to "bfloat16", creating a bf16
 *       tensor, a bf16 op output through tfjs-node, and raw bf16 Cast / Conv2D / Conv2DBackpropInput /
 *       Conv2DBackpropFilter through binding.executeOp (seconds)
 *   bin/deno run -A bench/bf16.ts convs [width=16] [batch=128] [rounds=12]
 *       each 3x3 conv shape of PreActResNet-18 at that width: forward + input grad + weight grad,
 *       fp32 against bf16 (casts included), interleaved, medians
 *   bin/deno run -A bench/bf16.ts step [arch=prn18] [width=16] [method=ST] [rounds=6] [steps=1] [batch=128]
 *       the whole training step (lib/training/train.ts makeTrainStep) with setConvPrecision fp32 vs
 *       bf16 (lib/backend/bf16_convs.ts), interleaved in one process, medians, plus the loss of
 *       the first step of each
 *   bin/deno run -A bench/bf16.ts train [arch=smallcnn] [width=32] [train=4000] [test=1000] [epochs=2] [lr=0.05] [seeds=1]
 *       short ST runs on Fashion-MNIST, seeds 0..seeds-1, each in fp32 and in bf16 from the same
 *       seed: train seconds, final training loss, clean test accuracy (mean and spread over the
 *       seeds: the fp32-bf16 gap is to be read against the seed-to-seed spread) and the largest
 *       weight difference
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import {
  bf16ConvsSupported,
  type ConvPrecision,
  setConvPrecision,
  TF_BFLOAT16,
} from "../lib/backend/bf16_convs.ts";
import { type Arch, createModel } from "../lib/models/model.ts";
import { usingNativeOps } from "../lib/models/ops.ts";
import { Rng } from "../lib/util/rng.ts";
import { createSgd } from "../lib/optim/sgd.ts";
import { makeTrainStep, train } from "../lib/training/train.ts";
import { at, type Method, sam, ST } from "../lib/training/method.ts";
import { evaluate } from "../lib/training/evaluate.ts";
import { loadFashionMnist, subset } from "../lib/data/data.ts";
import { loadAverages } from "../lib/util/load_average.ts";

await initBackend("tensorflow");
if (!usingNativeOps()) throw new Error("bench/bf16.ts needs the tensorflow (tfjs-node) backend.");

// deno-lint-ignore no-explicit-any
const nb = tf.backend() as any;
const b = nb.binding;

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[xs.length >> 1];

function cpuFlags(): string {
  try {
    const flags = Deno.readTextFileSync("/proc/cpuinfo").match(/^flags\s*:(.*)$/m)?.[1] ?? "";
    const want = ["avx512f", "avx512_bf16", "amx_bf16", "avx512_fp16", "avx_vnni"];
    return want.map((f) => `${f} ${flags.split(" ").includes(f) ? "yes" : "no"}`).join(", ");
  } catch {
    return "unknown";
  }
}

function attempt(label: string, f: () => unknown): void {
  try {
    console.log(`${label}: OK ${f() ?? ""}`);
  } catch (err) {
    console.log(`${label}: ERROR "${String((err as Error).message ?? err).split("\n")[0]}"`);
  }
}

const idOf = (t: tf.Tensor): number => nb.getInputTensorIds([t])[0];
const cast = (id: number, from: number, to: number): number =>
  b.executeOp(
    "Cast",
    [
      { name: "SrcT", type: b.TF_ATTR_TYPE, value: from },
      { name: "DstT", type: b.TF_ATTR_TYPE, value: to },
      { name: "Truncate", type: b.TF_ATTR_BOOL, value: false },
    ],
    [id],
    1,
  )[0].id;
const convAttrs = (T: number, kernel?: string) => [
  { name: "T", type: b.TF_ATTR_TYPE, value: T },
  { name: "strides", type: b.TF_ATTR_INT, value: [1, 1, 1, 1] },
  { name: "padding", type: b.TF_ATTR_STRING, value: "SAME" },
  { name: "explicit_paddings", type: b.TF_ATTR_INT, value: [] },
  { name: "data_format", type: b.TF_ATTR_STRING, value: "NHWC" },
  { name: "use_cudnn_on_gpu", type: b.TF_ATTR_BOOL, value: true },
  { name: "dilations", type: b.TF_ATTR_INT, value: [1, 1, 1, 1] },
  ...(kernel ? [{ name: "_kernel", type: b.TF_ATTR_STRING, value: kernel }] : []),
];

function probe(): void {
  console.log(`libtensorflow ${b.TF_Version}; CPU: ${cpuFlags()}`);
  console.log(
    `binding dtype constants: ${
      [
        "TF_FLOAT",
        "TF_INT32",
        "TF_INT64",
        "TF_BOOL",
        "TF_COMPLEX64",
        "TF_STRING",
        "TF_RESOURCE",
        "TF_UINT8",
        "TF_BFLOAT16",
        "TF_HALF",
      ].map((k) => `${k}=${b[k] ?? "absent"}`).join(" ")
    } (tensorflow/c/tf_datatype.h: TF_BFLOAT16 = ${TF_BFLOAT16}, TF_HALF = 19)`,
  );
  const x = tf.randomUniform([8, 16, 16, 16]);
  const w = tf.randomNormal([3, 3, 16, 32]);
  attempt('tf.cast(x, "bfloat16")', () => tf.cast(x, "bfloat16" as tf.DataType).dtype);
  attempt(
    "binding.createTensor([2], TF_BFLOAT16, Float32Array)",
    () => b.createTensor([2], TF_BFLOAT16, new Float32Array(2)),
  );
  attempt(
    "binding.createTensor([2], TF_BFLOAT16, Uint16Array)",
    () => b.createTensor([2], TF_BFLOAT16, new Uint16Array(2)),
  );
  idOf(x); // x on the native side first, so that the count below is the failed call's alone
  const before = b.getNumOfTensors();
  attempt(
    "backend.executeMultipleOutputs('Cast', DstT = TF_BFLOAT16)",
    () =>
      nb.executeMultipleOutputs(
        "Cast",
        [
          { name: "SrcT", type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
          { name: "DstT", type: b.TF_ATTR_TYPE, value: TF_BFLOAT16 },
          { name: "Truncate", type: b.TF_ATTR_BOOL, value: false },
        ],
        [x],
        1,
      ),
  );
  console.log(
    `  native handles left behind by that failed call: ${b.getNumOfTensors() - before} ` +
      "(the native output is made and registered before createOutputTensor throws on its dtype)",
  );
  const xMeta = b.executeOp(
    "Cast",
    [
      { name: "SrcT", type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
      { name: "DstT", type: b.TF_ATTR_TYPE, value: TF_BFLOAT16 },
      { name: "Truncate", type: b.TF_ATTR_BOOL, value: false },
    ],
    [idOf(x)],
    1,
  )[0];
  console.log(
    `raw binding.executeOp("Cast", DstT = TF_BFLOAT16): OK, metadata ${
      JSON.stringify(xMeta)
    } (kept as a native id, never a tfjs tensor)`,
  );
  const xb: number = xMeta.id;
  const wb = cast(idOf(w), b.TF_FLOAT, TF_BFLOAT16);
  const ref = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same");
  const refMax = tf.max(tf.abs(ref)).dataSync()[0];
  for (const [name, kernel] of [["Conv2D", undefined], ["_MklNativeConv2D", "MklNameChangeOp"]]) {
    attempt(`raw ${name} with T = bf16, output cast back to fp32`, () => {
      const yb = b.executeOp(name, convAttrs(TF_BFLOAT16, kernel), [xb, wb], 1)[0];
      const y = nb.createOutputTensor({
        id: cast(yb.id, TF_BFLOAT16, b.TF_FLOAT),
        shape: yb.shape,
        dtype: b.TF_FLOAT,
      });
      b.deleteTensor(yb.id);
      const err = tf.tidy(() => tf.max(tf.abs(tf.sub(y, ref))).dataSync()[0]);
      y.dispose();
      return `max |bf16 - fp32| = ${err.toExponential(2)} (max |y| ${refMax.toFixed(2)}, relative ${
        (err / refMax).toExponential(2)
      }; bf16 epsilon 2^-8 = 3.9e-3)`;
    });
  }
  const dy = tf.randomNormal([8, 16, 16, 32]);
  const dyb = cast(idOf(dy), b.TF_FLOAT, TF_BFLOAT16);
  const xs = tf.tensor1d([8, 16, 16, 16], "int32");
  const ws = tf.tensor1d([3, 3, 16, 32], "int32");
  for (
    const [op, ins] of [
      ["Conv2DBackpropInput", [idOf(xs), wb, dyb]],
      ["Conv2DBackpropFilter", [xb, idOf(ws), dyb]],
    ] as const
  ) {
    attempt(`raw ${op} with T = bf16`, () => {
      const r = b.executeOp(op, convAttrs(TF_BFLOAT16), [...ins], 1)[0];
      const s = r.shape;
      b.deleteTensor(r.id);
      return `shape [${s}]`;
    });
  }
  for (const id of [xb, wb, dyb]) b.deleteTensor(id);
  tf.dispose([x, w, ref, dy, xs, ws]);
  console.log(`bf16ConvsSupported() (lib/backend/bf16_convs.ts): ${bf16ConvsSupported()}`);
}

/** fwd + dx + dW of one 3x3 stride-1 conv, fp32 against bf16 (3 casts in, 3 casts out). */
function convs(width: number, batch: number, rounds: number): void {
  const shapes: [number, number][] = [[32, width], [16, 2 * width], [8, 4 * width], [4, 8 * width]];
  for (const [h, c] of shapes) {
    const x = tf.randomUniform([batch, h, h, c]);
    const w = tf.randomNormal([3, 3, c, c]);
    const dy = tf.randomNormal([batch, h, h, c]);
    const xs = tf.tensor1d([batch, h, h, c], "int32");
    const ws = tf.tensor1d([3, 3, c, c], "int32");
    const [X, W, DY, XS, WS] = [x, w, dy, xs, ws].map(idOf);
    const three = (T: number, xi: number, wi: number, di: number, back: boolean) => {
      for (
        const [op, ins] of [
          ["Conv2D", [xi, wi]],
          ["Conv2DBackpropInput", [XS, wi, di]],
          ["Conv2DBackpropFilter", [xi, WS, di]],
        ] as const
      ) {
        const r = b.executeOp(op, convAttrs(T), [...ins], 1)[0].id;
        if (back) b.deleteTensor(cast(r, TF_BFLOAT16, b.TF_FLOAT));
        b.deleteTensor(r);
      }
    };
    const variants: Record<string, () => void> = {
      fp32: () => three(b.TF_FLOAT, X, W, DY, false),
      bf16: () => {
        const ids = [X, W, DY].map((i) => cast(i, b.TF_FLOAT, TF_BFLOAT16));
        three(TF_BFLOAT16, ids[0], ids[1], ids[2], true);
        ids.forEach((i) => b.deleteTensor(i));
      },
    };
    const times: Record<string, number[]> = { fp32: [], bf16: [] };
    for (let r = 0; r < rounds + 2; r++) {
      for (const n of r % 2 ? ["bf16", "fp32"] : ["fp32", "bf16"]) {
        const t0 = performance.now();
        variants[n]();
        if (r >= 2) times[n].push(performance.now() - t0);
      }
    }
    const f = median(times.fp32), h16 = median(times.bf16);
    console.log(
      `3x3 conv [${batch},${h},${h},${c}]->${c} fwd+dx+dW: fp32 ${f.toFixed(2)} ms, bf16 ${
        h16.toFixed(2)
      } ms (casts included): ${(f / h16).toFixed(2)}x`,
    );
    tf.dispose([x, w, dy, xs, ws]);
  }
}

function methodOf(name: string): Method {
  return name === "SAM" ? sam(0.05) : name === "AT" ? at("linf", 8 / 255, 2 / 255, 10) : ST;
}

async function step(
  arch: Arch,
  width: number,
  method: string,
  rounds: number,
  steps: number,
  batch: number,
): Promise<void> {
  const [size, ch] = arch === "prn18" ? [32, 3] : [28, 1];
  const data = Rng.fromSeed(5);
  const x = tf.tensor4d(data.fillUniform(new Float32Array(batch * size * size * ch), 0, 1), [
    batch,
    size,
    size,
    ch,
  ]);
  const y = tf.tensor1d(Int32Array.from({ length: batch }, () => data.int(10)), "int32");
  const sides = (["fp32", "bf16"] as ConvPrecision[]).map((p) => {
    const model = createModel({
      arch,
      width,
      inputShape: [size, size, ch],
      numClasses: 10,
      mean: new Array(ch).fill(0.5),
      std: new Array(ch).fill(0.25),
    }, Rng.fromSeed(0));
    const opt = createSgd(model.params);
    return {
      p,
      model,
      opt,
      fn: makeTrainStep(model, opt, methodOf(method), "loss-pass", Rng.fromSeed(1)),
    };
  });
  const times: Record<string, number[]> = { fp32: [], bf16: [] };
  const firstLoss: Record<string, number> = {};
  for (let r = 0; r < rounds + 1; r++) {
    for (const s of r % 2 ? [...sides].reverse() : sides) {
      const old = setConvPrecision(s.p);
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) {
        const loss = await s.fn(x, y, 0.01);
        const v = (await loss.data())[0];
        firstLoss[s.p] ??= v;
        loss.dispose();
      }
      if (r > 0) times[s.p].push((performance.now() - t0) / steps);
      setConvPrecision(old);
    }
  }
  const f = median(times.fp32), h = median(times.bf16);
  console.log(
    `${arch} w${width} ${method} b${batch} step (${rounds} x ${steps} each, after 1 warm-up): fp32 ${
      f.toFixed(1)
    } ms, bf16 convs ${h.toFixed(1)} ms: ${(f / h).toFixed(2)}x; first-step loss fp32 ${
      firstLoss.fp32.toFixed(6)
    }, bf16 ${firstLoss.bf16.toFixed(6)}`,
  );
  for (const s of sides) {
    s.model.dispose();
    s.opt.dispose();
  }
  tf.dispose([x, y]);
}

async function shortRun(
  arch: Arch,
  width: number,
  trainN: number,
  testN: number,
  epochs: number,
  lr: number,
  seeds: number,
): Promise<void> {
  const splits = await loadFashionMnist();
  const trainSet = subset(splits.train, trainN, 0);
  const testSet = subset(splits.test, testN, 0);
  const weights: Record<string, Float32Array[]> = {};
  // Warm-up (not reported): one tiny run in each precision, so neither timed run pays first-use costs.
  for (const p of ["fp32", "bf16"] as ConvPrecision[]) {
    const old = setConvPrecision(p);
    try {
      const warm = await train(subset(splits.train, 256, 1), {
        method: ST,
        arch,
        width,
        epochs: 1,
        batchSize: 128,
        lr,
        seed: 1,
      }, { progress: "none" });
      warm.model.dispose();
    } finally {
      setConvPrecision(old);
    }
  }
  const acc: Record<string, number[]> = { fp32: [], bf16: [] };
  const secs: Record<string, number[]> = { fp32: [], bf16: [] };
  for (let seed = 0; seed < seeds; seed++) {
    for (const p of (seed % 2 ? ["bf16", "fp32"] : ["fp32", "bf16"]) as ConvPrecision[]) {
      const old = setConvPrecision(p);
      try {
        const run = await train(trainSet, {
          method: ST,
          arch,
          width,
          epochs,
          batchSize: 128,
          lr,
          seed,
        }, { progress: "none" });
        const ev = await evaluate(run.model, testSet, { evals: [], progress: "none" });
        weights[`${p}-${seed}`] = run.model.params.map((v) => v.dataSync() as Float32Array);
        const last = run.metrics[run.metrics.length - 1];
        acc[p].push(ev.clean);
        secs[p].push(run.trainSeconds);
        console.log(
          `seed ${seed} ${
            p.padEnd(4)
          } convs: ${arch} w${width} ST ${epochs} epoch(s) on ${trainSet.n} ` +
            `images: train ${run.trainSeconds.toFixed(1)} s, last-epoch train loss ${
              last.trainLoss.toFixed(4)
            }, clean test accuracy ${(100 * ev.clean).toFixed(2)}% (${testSet.n} images)`,
        );
        run.model.dispose();
      } finally {
        setConvPrecision(old);
      }
    }
    let maxDiff = 0, maxAbs = 0;
    weights[`fp32-${seed}`].forEach((a, i) => {
      const h = weights[`bf16-${seed}`][i];
      for (let j = 0; j < a.length; j++) {
        maxDiff = Math.max(maxDiff, Math.abs(a[j] - h[j]));
        maxAbs = Math.max(maxAbs, Math.abs(a[j]));
      }
    });
    console.log(
      `seed ${seed}: largest |w_fp32 - w_bf16| after training ${
        maxDiff.toExponential(2)
      } (max |w| ${maxAbs.toFixed(3)})`,
    );
  }
  const stats = (v: number[]) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, v.length - 1));
    return { m, sd };
  };
  for (const p of ["fp32", "bf16"]) {
    const a = stats(acc[p]), t = stats(secs[p]);
    console.log(
      `${p}: clean accuracy ${(100 * a.m).toFixed(2)}% (sd ${
        (100 * a.sd).toFixed(2)
      } over ${seeds} seed(s)), ` +
        `train ${t.m.toFixed(1)} s (sd ${t.sd.toFixed(1)})`,
    );
  }
}

const [what = "probe", ...rest] = Deno.args;
console.log(`load average ${loadAverages()} (2 cores: above ~1 the timings are disturbed)`);
if (what === "probe") probe();
else if (what === "convs") {
  convs(Number(rest[0] ?? 16), Number(rest[1] ?? 128), Number(rest[2] ?? 12));
} else if (what === "step") {
  await step(
    (rest[0] ?? "prn18") as Arch,
    Number(rest[1] ?? 16),
    rest[2] ?? "ST",
    Number(rest[3] ?? 6),
    Number(rest[4] ?? 1),
    Number(rest[5] ?? 128),
  );
} else if (what === "train") {
  await shortRun(
    (rest[0] ?? "smallcnn") as Arch,
    Number(rest[1] ?? 32),
    Number(rest[2] ?? 4000),
    Number(rest[3] ?? 1000),
    Number(rest[4] ?? 2),
    Number(rest[5] ?? 0.05),
    Number(rest[6] ?? 1),
  );
} else throw new Error(`unknown command ${what}: probe, convs, step or train`);
console.log(`load average at end ${loadAverages()}`);
Deno.exit(0);
