import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import {
  type BatchMoments,
  conv,
  countParams,
  createModel,
  exportModel,
  importModel,
  type ModelSpec,
} from "../lib/models/model.ts";
import { DatasetError, type DatasetName } from "../lib/data/data.ts";
import { normalizationOf } from "../lib/data/registry.ts";
import { toyDataset } from "./toy_data.ts";
import { Rng } from "../lib/util/rng.ts";
import { createSgd } from "../lib/optim/sgd.ts";

await initBackend();

const spec = (over: Partial<ModelSpec> = {}): ModelSpec => ({
  arch: "prn18",
  width: 2,
  inputShape: [8, 8, 3],
  numClasses: 5,
  mean: [0.4914, 0.4822, 0.4465],
  std: [0.2471, 0.2435, 0.2616],
  ...over,
});

Deno.test("model: PreActResNet-18 has PyTorch's parameter count and layout at width 64", () => {
  const m = createModel(spec({ width: 64, numClasses: 10 }), Rng.fromSeed(0));
  // weizeming/SAM_AT model.py PreActResNet18 for CIFAR-10 (kuangliu's 11,171,146 plus the final
  // BatchNorm's 2*512): conv1 1728 + layers 11,164,288 + bn 1024 + linear 5130.
  assert.equal(countParams(m), 11172170);
  assert.equal(m.params.length, 56); // 1 + 8 blocks x 6 + 3 shortcuts + bn 2 + linear 2
  assert.equal(m.paramNames[0], "conv1.weight");
  assert.equal(m.paramNames[m.paramNames.length - 1], "linear.bias");
  assert.ok(
    m.paramNames.includes("layer2.0.shortcut.0.weight") &&
      !m.paramNames.includes("layer1.0.shortcut.0.weight"),
  );
  assert.equal(m.buffers.length, 2 * 17); // 16 block BNs + the final one
  // Default init bound 1/sqrt(fan_in): conv1 has fan_in 27.
  const w = m.params[0].dataSync();
  const bound = 1 / Math.sqrt(27);
  assert.ok(w.every((v) => Math.abs(v) <= bound) && Math.max(...w) > 0.9 * bound);
  m.dispose();
});

Deno.test("model: forward shapes for both architectures, odd sizes, any channels", () => {
  for (
    const s of [
      spec(),
      spec({ inputShape: [28, 28, 1], mean: [0.286], std: [0.353] }),
      spec({ arch: "smallcnn", inputShape: [28, 28, 1], mean: [0], std: [1] }),
      spec({ arch: "smallcnn", width: 3, inputShape: [9, 7, 3] }),
    ]
  ) {
    const m = createModel(s, Rng.fromSeed(1));
    const x = tf.zeros([2, ...s.inputShape]) as tf.Tensor4D;
    for (const mode of ["train", "eval"] as const) {
      const out = m.forward(x, mode);
      assert.deepEqual(out.shape, [2, s.numClasses]);
      out.dispose();
    }
    x.dispose();
    m.dispose();
  }
  assert.throws(
    () => createModel(spec({ arch: "vgg" as "prn18" }), Rng.fromSeed(0)),
    /Invalid option arch: got "vgg", expected one of "prn18", "smallcnn", "wrn16"\./,
  );
  assert.throws(
    () => createModel(spec({ width: 0 }), Rng.fromSeed(0)),
    /Invalid option width: got 0, expected an integer >= 1 and <= 4096\./,
  );
});

Deno.test("model: same seed, same weights; normalisation happens inside forward", () => {
  const a = createModel(spec(), Rng.fromSeed(5));
  const b = createModel(spec({ mean: [0, 0, 0], std: [1, 1, 1] }), Rng.fromSeed(5));
  assert.deepEqual(Array.from(a.params[3].dataSync()), Array.from(b.params[3].dataSync()));
  const x = tf.randomUniform([3, 8, 8, 3], 0, 1, "float32", 2) as tf.Tensor4D;
  const xn = tf.div(tf.sub(x, tf.tensor1d(spec().mean)), tf.tensor1d(spec().std)) as tf.Tensor4D;
  const ya = a.forward(x, "eval").dataSync();
  const yb = b.forward(xn, "eval").dataSync();
  for (let i = 0; i < ya.length; i++) assert.ok(Math.abs(ya[i] - yb[i]) < 1e-4);
  tf.dispose([x, xn]);
  a.dispose();
  b.dispose();
});

Deno.test("model: running statistics change only through commitMoments, with momentum 0.1 and unbiased variance", () => {
  const m = createModel(
    spec({ arch: "smallcnn", width: 2, inputShape: [4, 4, 1], mean: [0], std: [1] }),
    Rng.fromSeed(3),
  );
  const x = tf.randomUniform([4, 4, 4, 1], 0, 1, "float32", 7) as tf.Tensor4D;
  const before = m.buffers.map((b) => Array.from(b.dataSync()));
  tf.dispose(m.forward(x, "train")); // no moments array: nothing collected, nothing changes
  assert.deepEqual(m.buffers.map((b) => Array.from(b.dataSync())), before);
  const moments: BatchMoments[] = [];
  tf.dispose(m.forward(x, "train", moments));
  assert.equal(moments.length, 3);
  const mean0 = Array.from(moments[0].mean.dataSync());
  const var0 = Array.from(moments[0].variance.dataSync());
  // Layer 1 input is conv1(x): check its moments directly.
  const h = tf.conv2d(x, m.params[0] as unknown as tf.Tensor4D, 1, "same");
  const hv = h.dataSync();
  const c = h.shape[3];
  for (let k = 0; k < c; k++) {
    const vals = Array.from(hv).filter((_, i) => i % c === k);
    const mu = vals.reduce((s, v) => s + v, 0) / vals.length;
    const unbiased = vals.reduce((s, v) => s + (v - mu) ** 2, 0) / (vals.length - 1);
    assert.ok(Math.abs(mean0[k] - mu) < 1e-5 && Math.abs(var0[k] - unbiased) < 1e-5);
  }
  m.commitMoments(moments);
  assert.equal(moments.length, 0);
  const rm = m.buffers[0].dataSync(), rv = m.buffers[1].dataSync();
  for (let k = 0; k < c; k++) {
    assert.ok(Math.abs(rm[k] - 0.1 * mean0[k]) < 1e-6);
    assert.ok(Math.abs(rv[k] - (0.9 + 0.1 * var0[k])) < 1e-6);
  }
  tf.dispose([x, h]);
  m.dispose();
});

Deno.test("model: export/import round-trips; a different width is rejected with a sentence", () => {
  const a = createModel(spec(), Rng.fromSeed(1));
  const b = createModel(spec(), Rng.fromSeed(2));
  importModel(b, exportModel(a));
  a.params.forEach((p, i) =>
    assert.deepEqual(Array.from(p.dataSync()), Array.from(b.params[i].dataSync()))
  );
  const c = createModel(spec({ width: 3 }), Rng.fromSeed(1));
  assert.throws(
    () => importModel(c, exportModel(a)),
    /Model state param:conv1.weight has shape \[3,3,3,2\], the model needs \[3,3,3,3\]/,
  );
  [a, b, c].forEach((m) => m.dispose());
});

Deno.test("model: creating and disposing a model and its optimizer leaves no tensor behind", () => {
  const before = tf.memory().numTensors;
  const m = createModel(spec(), Rng.fromSeed(1));
  const opt = createSgd(m.params);
  // params + BN buffers + momentum buffers + 2 normalisation constants + 2 SGD scalars, nothing else
  assert.equal(tf.memory().numTensors - before, 2 * m.params.length + m.buffers.length + 4);
  opt.dispose();
  m.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("model: stride-2 convs pad one pixel on every side, like PyTorch (not TF's 'same')", () => {
  const x = tf.ones([1, 8, 8, 1]) as tf.Tensor4D;
  const w = tf.ones([3, 3, 1, 1]) as tf.Tensor4D;
  const y = conv(x, w, 2);
  assert.deepEqual(y.shape, [1, 4, 4, 1]);
  // Top-left window covers rows/cols -1..1: 4 real pixels (TF 'same' would start at 0 and see 9).
  // Bottom-right window covers rows/cols 5..7: 9 real pixels (TF 'same' would see 4).
  const v = y.dataSync();
  assert.equal(v[0], 4);
  assert.equal(v[15], 9);
  const odd = conv(tf.ones([1, 7, 7, 1]) as tf.Tensor4D, w, 2);
  assert.deepEqual(odd.shape, [1, 4, 4, 1]); // floor((7 + 2 - 3) / 2) + 1
  tf.dispose([x, w, y, odd]);
});

Deno.test("model: normalisation constants come from the dataset's registry entry (registryKey, not its name); unregistered data must carry its own", () => {
  const keyed = (registryKey: DatasetName | undefined, channels: number, name = "toy") =>
    normalizationOf({ ...toyDataset(1, 2, channels), name, registryKey, normalization: undefined });
  const named = (name: string, channels: number) => keyed(undefined, channels, name);
  assert.deepEqual(keyed("cifar10", 3).mean, [0.4914, 0.4822, 0.4465]);
  assert.equal(keyed("cifar100", 3, "cifar100/test[n=100,seed=1]").mean[0], 0.5070751592371323);
  assert.deepEqual(keyed("fashion-mnist", 1), { mean: [0.286], std: [0.353] });
  // A registry-like name alone is not parsed: without the key it is unregistered data.
  assert.throws(() => named("cifar10/train", 3), /Dataset "cifar10\/train" has no normalisation/);
  // No silent identity any more: unknown data without a normalization field is refused, in one
  // sentence, as is a registered name whose channel count does not match.
  assert.throws(
    () => named("toy", 2),
    (e) =>
      e instanceof DatasetError &&
      e.message ===
        'Dataset "toy" has no normalisation for 2 channel(s): register it in lib/data/registry.ts or set its normalization field.',
  );
  assert.throws(
    () => keyed("cifar10", 1, "cifar10/train"),
    /Dataset "cifar10\/train" has no normalisation for 1 channel/,
  );
  // Synthetic data carries its own (tests/toy_data.ts), and a carried one wins over the registry.
  assert.deepEqual(normalizationOf(toyDataset(1, 2, 2)), { mean: [0, 0], std: [1, 1] });
  assert.deepEqual(
    normalizationOf({ ...toyDataset(1, 2, 1), registryKey: "fashion-mnist" }),
    { mean: [0], std: [1] },
  );
  // A carried normalisation of the wrong length is refused too.
  assert.throws(
    () => normalizationOf({ ...toyDataset(1, 2, 3), normalization: { mean: [0], std: [1] } }),
    DatasetError,
  );
});
