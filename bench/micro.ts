/**
 * Focused A/B micro-benchmarks behind bench/NOTES.md (tfjs-node only). Every comparison interleaves
 * its variants in one process (A, B, A, B, ...) and reports medians, so load from other processes
 * on the shared machine hits both alike.
 *
 *   bin/deno run -A bench/micro.ts kernels            # max pooling, BN-ReLU, average pooling gradient
 *   bin/deno run -A bench/micro.ts step [arch] [width] [method] [rounds] [steps] [feature]
 *                  # whole training step (method ST, SAM or AT) or an attack step (EVAL: eval-mode
 *                  # forward + input gradient), oneDNN kernels on vs off (feature: all (default),
 *                  # bnRelu, maxPool, paddedConv or foldEvalBn)
 *   bin/deno run -A bench/micro.ts sgd                # SGD update: per parameter vs one flat vector
 *   bin/deno run -A bench/micro.ts stride2 [width]    # stride-2 convs: tf.pad + VALID vs EXPLICIT padding
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { type Arch, createModel } from "../lib/models/model.ts";
import {
  bnReluTrain,
  crossEntropy,
  globalAvgPool,
  maxPool2x2,
  type MklFeature,
  setMklFeature,
  setMklOps,
  usingMklOps,
  usingNativeOps,
} from "../lib/models/ops.ts";
import { Rng } from "../lib/util/rng.ts";
import { createSgd } from "../lib/optim/sgd.ts";
import { makeTrainStep } from "../lib/training/train.ts";
import { at, type Method, sam, ST } from "../lib/training/method.ts";
import { loadAverages } from "../lib/util/load_average.ts";

await initBackend("tensorflow");
if (!usingNativeOps()) throw new Error("bench/micro.ts needs the tensorflow (tfjs-node) backend.");
console.log(`oneDNN kernels available: ${usingMklOps()}; load average ${loadAverages()}`);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Interleave the variants `rounds` times (after 2 warm-up calls each); median ms of each. */
function ab(
  label: string,
  variants: Record<string, () => void>,
  rounds = 30,
): Record<string, number> {
  const names = Object.keys(variants);
  for (const n of names) for (let i = 0; i < 2; i++) variants[n]();
  const times: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const n of r % 2 ? [...names].reverse() : names) {
      const t0 = performance.now();
      variants[n]();
      (times[n] ??= []).push(performance.now() - t0);
    }
  }
  const out = Object.fromEntries(names.map((n) => [n, median(times[n])]));
  console.log(
    `${label.padEnd(48)} ` + names.map((n) => `${n} ${out[n].toFixed(3)} ms`).join("  |  "),
  );
  return out;
}

// deno-lint-ignore no-explicit-any
const nb = tf.backend() as any;
const b = nb.binding;

function kernels(): void {
  for (
    const shape of [[128, 28, 28, 8], [128, 28, 28, 32], [128, 14, 14, 64]] as [
      number,
      number,
      number,
      number,
    ][]
  ) {
    const x = tf.relu(tf.randomNormal(shape)) as tf.Tensor4D;
    const [n, h, w, c] = shape;
    const dy = tf.randomNormal([n, h >> 1, w >> 1, c]);
    const grad = (mkl: boolean) => () => {
      const old = setMklOps(mkl);
      tf.tidy(() => {
        tf.grad((t: tf.Tensor) => tf.sum(tf.mul(maxPool2x2(t as tf.Tensor4D), dy)))(x).dataSync();
      });
      setMklOps(old);
    };
    ab(`max pool 2x2 fwd+grad [${shape}]`, {
      "MaxPool+MaxPoolGrad": grad(false),
      "with workspace": grad(true),
    });
    tf.dispose([x, dy]);
  }
  for (
    const shape of [[128, 32, 32, 16], [128, 32, 32, 64], [128, 8, 8, 256], [128, 28, 28, 8]] as [
      number,
      number,
      number,
      number,
    ][]
  ) {
    const x = tf.randomNormal(shape) as tf.Tensor4D;
    const c = shape[3];
    const g = tf.randomUniform([c], 0.5, 1.5) as tf.Tensor1D;
    const be = tf.randomNormal([c]) as tf.Tensor1D;
    const fwd = (mkl: boolean) => () => {
      const old = setMklOps(mkl);
      tf.tidy(() => {
        bnReluTrain(x, g, be).dataSync();
      });
      setMklOps(old);
    };
    ab(`BN-ReLU train forward [${shape}]`, {
      "FusedBatchNormV3+Relu": fwd(false),
      "FusedBatchNormEx(Relu)": fwd(true),
    });
    tf.dispose([x, g, be]);
  }
  for (
    const shape of [[128, 7, 7, 32], [128, 4, 4, 512], [128, 7, 7, 128]] as [
      number,
      number,
      number,
      number,
    ][]
  ) {
    const x = tf.randomNormal(shape) as tf.Tensor4D;
    const w = tf.randomNormal([shape[0], shape[3]]);
    ab(`global average pool fwd+grad [${shape}]`, {
      "tf.mean": () =>
        tf.tidy(() => {
          tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.mean(t, [1, 2]), w)))(x).dataSync();
        }),
      "globalAvgPool": () =>
        tf.tidy(() => {
          tf.grad((t: tf.Tensor) => tf.sum(tf.mul(globalAvgPool(t as tf.Tensor4D), w)))(x)
            .dataSync();
        }),
    }, 100);
    tf.dispose([x, w]);
  }
}

function buildModel(arch: Arch, width: number) {
  const [size, ch] = arch === "prn18" ? [32, 3] : [28, 1];
  const rng = Rng.fromSeed(0);
  const model = createModel({
    arch,
    width,
    inputShape: [size, size, ch],
    numClasses: 10,
    mean: new Array(ch).fill(0.5),
    std: new Array(ch).fill(0.25),
  }, rng);
  const x = tf.tensor4d(rng.fillUniform(new Float32Array(128 * size * size * ch), 0, 1), [
    128,
    size,
    size,
    ch,
  ]);
  const y = tf.tensor1d(Int32Array.from({ length: 128 }, () => rng.int(10)), "int32");
  return { model, x, y, rng };
}

/**
 * Whole training steps with the oneDNN replacements on vs off: all of them ("all"), or one of
 * them ("bnRelu", "maxPool", "paddedConv", "foldEvalBn") with the others left on. Method "EVAL"
 * times what one attack step asks of the model: an eval-mode forward pass and the input gradient.
 */
async function step(
  arch: Arch,
  width: number,
  method: string,
  rounds: number,
  steps: number,
  feature: MklFeature | "all",
) {
  if (!["ST", "SAM", "AT", "EVAL"].includes(method)) {
    throw new Error(`Unknown step method "${method}": use ST, SAM, AT or EVAL.`);
  }
  const { model, x, y, rng } = buildModel(arch, width);
  const opt = createSgd(model.params);
  const settings: Method = method === "SAM"
    ? sam(0.05)
    : method === "AT"
    ? at("linf", 8 / 255, 2 / 255, 10)
    : ST;
  const trainStep = makeTrainStep(model, opt, settings, "loss-pass", rng);
  const attackStep: typeof trainStep = () =>
    Promise.resolve(tf.tidy(() =>
      tf.sum(
        tf.grad((xx: tf.Tensor) => crossEntropy(model.forward(xx as tf.Tensor4D, "eval"), y))(x),
      ) as tf.Scalar
    ));
  const train = method === "EVAL" ? attackStep : trainStep;
  const set = (on: boolean) => feature === "all" ? setMklOps(on) : setMklFeature(feature, on);
  const run = (on: boolean) => async () => {
    const old = set(on);
    for (let i = 0; i < steps; i++) {
      const loss = await train(x, y, 0.01);
      await loss.data();
      loss.dispose();
    }
    set(old);
  };
  const names = { [`${feature} off`]: run(false), [`${feature} on`]: run(true) };
  const times: Record<string, number[]> = {};
  for (const f of Object.values(names)) await f();
  for (let r = 0; r < rounds; r++) {
    for (const [n, f] of r % 2 ? Object.entries(names).reverse() : Object.entries(names)) {
      const t0 = performance.now();
      await f();
      (times[n] ??= []).push((performance.now() - t0) / steps);
    }
  }
  console.log(
    `${arch} w${width} ${method} step (${rounds} x ${steps} steps each): ` +
      Object.entries(times).map(([n, t]) => `${n} ${median(t).toFixed(1)} ms`).join("  |  "),
  );
}

function sgd(): void {
  for (const [arch, width] of [["smallcnn", 8], ["prn18", 16], ["prn18", 64]] as const) {
    const { model, x, y } = buildModel(arch, width);
    const params = model.params;
    const grads = params.map((p) => tf.randomNormal(p.shape));
    const opt = createSgd(params);
    const wd = tf.scalar(5e-4), mom = tf.scalar(0.9);
    const total = params.reduce((s, p) => s + p.size, 0);
    const flatBuf = tf.variable(tf.zeros([total]), false);
    const sizes = params.map((p) => p.size);
    ab(`SGD update ${arch} w${width} (${params.length} tensors, ${total} values)`, {
      "per parameter (lib/optim/sgd.ts)": () => opt.step(grads, 0.01),
      "one flat vector": () =>
        tf.tidy(() => {
          const g = tf.concat(grads.map((t) => tf.reshape(t, [-1])));
          const w = tf.concat(params.map((t) => tf.reshape(t, [-1])));
          const buf = tf.add(tf.mul(flatBuf, mom), tf.add(g, tf.mul(w, wd)));
          flatBuf.assign(buf);
          const next = tf.sub(w, tf.mul(buf, tf.scalar(0.01)));
          tf.split(next, sizes).forEach((t, i) => params[i].assign(tf.reshape(t, params[i].shape)));
        }),
    }, width === 64 ? 20 : 100);
    opt.dispose();
    model.dispose();
    tf.dispose([...grads, wd, mom, flatBuf, x, y]);
  }
}

function stride2(width: number): void {
  const attrs = (padding: string, pads: number[]) => [
    { name: "T", type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    { name: "strides", type: b.TF_ATTR_INT, value: [1, 2, 2, 1] },
    { name: "use_cudnn_on_gpu", type: b.TF_ATTR_BOOL, value: true },
    { name: "padding", type: b.TF_ATTR_STRING, value: padding },
    { name: "explicit_paddings", type: b.TF_ATTR_INT, value: pads },
    { name: "data_format", type: b.TF_ATTR_STRING, value: "NHWC" },
    { name: "dilations", type: b.TF_ATTR_INT, value: [1, 1, 1, 1] },
  ];
  const run1 = (op: string, a: unknown[], ins: tf.Tensor[]) =>
    nb.executeMultipleOutputs(op, a, ins, 1)[0];
  const w = width;
  for (const [h, c, co] of [[32, w, 2 * w], [16, 2 * w, 4 * w], [8, 4 * w, 8 * w]]) {
    const x = tf.randomUniform([128, h, h, c]);
    const f = tf.randomUniform([3, 3, c, co]);
    const xp = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
    const dy = tf.randomUniform([128, h / 2, h / 2, co]);
    const xs = tf.tensor1d([128, h, h, c], "int32");
    const pads = [0, 0, 1, 1, 1, 1, 0, 0];
    const label = `3x3 stride-2 conv [128,${h},${h},${c}]->${co}`;
    ab(`${label} forward`, {
      "tf.pad + VALID": () =>
        tf.tidy(() => {
          run1("Conv2D", attrs("VALID", []), [tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), f]);
        }),
      "EXPLICIT": () => tf.tidy(() => run1("Conv2D", attrs("EXPLICIT", pads), [x, f])),
    }, 10);
    ab(`${label} input gradient`, {
      "VALID + slice": () =>
        tf.tidy(() => {
          const d = tf.conv2dTranspose(
            dy as tf.Tensor4D,
            f as tf.Tensor4D,
            xp.shape as [number, number, number, number],
            2,
            "valid",
          );
          tf.slice(d, [0, 1, 1, 0], [128, h, h, c]);
        }),
      "EXPLICIT": () =>
        tf.tidy(() => run1("Conv2DBackpropInput", attrs("EXPLICIT", pads), [xs, f, dy])),
    }, 10);
    tf.dispose([x, f, xp, dy, xs]);
  }
}

const [what = "kernels", ...rest] = Deno.args;
if (what === "kernels") kernels();
else if (what === "step") {
  await step(
    (rest[0] ?? "smallcnn") as Arch,
    Number(rest[1] ?? 8),
    rest[2] ?? "ST",
    Number(rest[3] ?? 10),
    Number(rest[4] ?? 5),
    (rest[5] ?? "all") as MklFeature | "all",
  );
} else if (what === "sgd") sgd();
else if (what === "stride2") stride2(Number(rest[0] ?? 16));
else throw new Error(`unknown micro-benchmark ${what}: kernels, step, sgd or stride2`);
console.log(`load average at end ${loadAverages()}`);
Deno.exit(0);
