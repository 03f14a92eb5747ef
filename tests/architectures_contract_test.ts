/**
 * The contract every registered architecture keeps (lib/models/architectures.ts), patterned on
 * tests/attacks_contract_test.ts: a newly registered architecture runs here with no other change.
 * Parameter order stable and PyTorch-named, logits of the right shape in train and eval mode (eval
 * independent of the batch), a safetensors round trip with identical logits, no leaked tensors,
 * and its multiply-add count equal to an independent count of the convolutions and matrix products
 * libtensorflow actually runs (recorded at the binding, lib/backend/op_trace.ts).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { nodeBackend, probeMeta, recordOps } from "../lib/backend/op_trace.ts";
import { ARCHITECTURES, ARCHS } from "../lib/models/architectures.ts";
import { createModel, forwardMacs, type ModelSpec } from "../lib/models/model.ts";
import { loadModelFile, saveModelFile } from "../lib/models/model_file.ts";
import { Rng } from "../lib/util/rng.ts";

await initBackend("tensorflow");

/** A small instance of each architecture, at a size its minimum input allows. */
function specOf(arch: (typeof ARCHS)[number], side = 16): ModelSpec {
  return {
    arch,
    width: 2,
    inputShape: [Math.max(side, ARCHITECTURES[arch].minInputSide), side + 2, 3],
    numClasses: 7,
    mean: [0.4, 0.5, 0.6],
    std: [0.2, 0.25, 0.3],
  };
}

const input = (s: ModelSpec, n: number) =>
  tf.tensor4d(
    Rng.fromSeed(3).fillUniform(new Float32Array(n * s.inputShape.reduce((a, b) => a * b)), 0, 1),
    [n, ...s.inputShape],
  );

/** MACs per image of the Conv2D-like and MatMul ops a forward pass runs, from their shapes. */
async function countedMacs(s: ModelSpec, mode: "train" | "eval"): Promise<number> {
  const nb = nodeBackend()!;
  const model = createModel(s, Rng.fromSeed(1));
  const x = input(s, 2);
  const { record } = await recordOps(nb, () => Promise.resolve(model.forward(x, mode).dispose()));
  const shape = (id: number) => (record.meta.get(id) ?? probeMeta(nb, id)).shape;
  let macs = 0;
  for (const op of record.ops) {
    if (/Conv2D/.test(op.name) && !/Backprop/.test(op.name)) {
      const [n, ho, wo] = shape(op.outputs[0]);
      const [k1, k2, cin, cout] = shape(op.inputs[1]);
      macs += (n * ho * wo * k1 * k2 * cin * cout) / 2;
    } else if (/MatMul/.test(op.name)) {
      const [n, cin] = shape(op.inputs[0]);
      const [, cout] = shape(op.inputs[1]);
      macs += (n * cin * cout) / 2;
    }
  }
  x.dispose();
  model.dispose();
  return macs;
}

for (const arch of ARCHS) {
  const a = ARCHITECTURES[arch];
  Deno.test(`architecture ${arch}: stable PyTorch-named parameters, both modes, no leaks`, () => {
    assert.equal(a.name, arch, "the registry key is the architecture's name");
    const s = specOf(arch);
    const before = tf.memory().numTensors;
    const m1 = createModel(s, Rng.fromSeed(5));
    const m2 = createModel(s, Rng.fromSeed(5));
    assert.deepEqual(m1.paramNames, m2.paramNames);
    assert.ok(m1.paramNames.every((n) => /^[A-Za-z0-9_.]+$/.test(n)), "PyTorch-style names");
    assert.equal(new Set(m1.paramNames).size, m1.paramNames.length, "names are unique");
    assert.equal(m1.buffers.length % 2, 0);
    const x = input(s, 3);
    for (const mode of ["train", "eval"] as const) {
      const out = m1.forward(x, mode);
      assert.deepEqual(out.shape, [3, s.numClasses]);
      assert.ok((out.dataSync() as Float32Array).every(Number.isFinite));
      out.dispose();
    }
    // Eval mode uses running statistics: one example's logits do not depend on its batch.
    const all = m1.forward(x, "eval");
    const first = tf.slice(x, [0, 0, 0, 0], [1, ...s.inputShape]);
    const alone = m1.forward(first as tf.Tensor4D, "eval");
    const diff = tf.tidy(() =>
      tf.max(tf.abs(tf.sub(tf.slice(all, [0, 0], [1, s.numClasses]), alone)))
    );
    assert.ok(diff.dataSync()[0] < 1e-5);
    tf.dispose([all, first, alone, diff, x]);
    m1.dispose();
    m2.dispose();
    assert.equal(tf.memory().numTensors, before, "no tensor left behind");
  });

  Deno.test(`architecture ${arch}: safetensors round trip gives identical logits`, () => {
    const s = specOf(arch);
    const dir = Deno.makeTempDirSync();
    const path = join(dir, `${arch}.safetensors`);
    const m = createModel(s, Rng.fromSeed(9));
    saveModelFile(path, m);
    const back = loadModelFile(path).model;
    assert.deepEqual(back.paramNames, m.paramNames);
    const x = input(s, 2);
    const [a1, a2] = [m.forward(x, "eval"), back.forward(x, "eval")];
    assert.deepEqual(Array.from(a1.dataSync()), Array.from(a2.dataSync()));
    tf.dispose([a1, a2, x]);
    m.dispose();
    back.dispose();
    Deno.removeSync(dir, { recursive: true });
  });

  Deno.test(`architecture ${arch}: forward multiply-adds equal the ops libtensorflow runs`, async () => {
    for (const side of [16, 32]) {
      const s = specOf(arch, side);
      assert.equal(forwardMacs(s), await countedMacs(s, "train"), `side ${side}, train`);
      assert.equal(forwardMacs(s), await countedMacs(s, "eval"), `side ${side}, eval`);
    }
  });
}

Deno.test("architectures: an unknown name is one sentence listing the registered ones", () => {
  assert.throws(
    () => createModel({ ...specOf("prn18"), arch: "vgg" as "prn18" }, Rng.fromSeed(0)),
    new RegExp(
      `^OptionError: Invalid option arch: got "vgg", expected one of ${
        ARCHS.map((n) => `"${n}"`).join(", ")
      }\\.$`,
    ),
  );
});

Deno.test("architectures: WRN-16-k has the reference layout and initialisation", () => {
  const s: ModelSpec = { ...specOf("wrn16", 32), width: 2 };
  const m = createModel(s, Rng.fromSeed(2));
  // 1 stem conv + 6 blocks x (2 BN x 2 + 2 convs) + 3 shortcuts + final BN (2) + fc (2).
  assert.equal(m.paramNames.length, 1 + 6 * 6 + 3 + 2 + 2);
  assert.equal(m.paramNames[0], "conv1.weight");
  assert.ok(m.paramNames.includes("block2.layer.0.convShortcut.weight"));
  assert.deepEqual(m.paramNames.slice(-4), ["bn1.weight", "bn1.bias", "fc.weight", "fc.bias"]);
  assert.ok((m.params[m.params.length - 1].dataSync() as Float32Array).every((v) => v === 0));
  // Conv init N(0, 2 / (9 * 16)) for the 16-channel stem: sample std within 15%.
  const w = m.params[0].dataSync() as Float32Array;
  const std = Math.sqrt(w.reduce((t, v) => t + v * v, 0) / w.length);
  assert.ok(Math.abs(std / Math.sqrt(2 / (9 * 16)) - 1) < 0.15, `stem std ${std}`);
  m.dispose();
});
