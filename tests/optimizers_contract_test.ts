/**
 * The contract every registered optimizer keeps (lib/optim/registry.ts), patterned on
 * tests/attacks_contract_test.ts: a newly registered optimizer runs here with no other change.
 * rho = 0 is plain SGD bit for bit (where it has a rho); its state survives a checkpoint (an
 * interrupted run continues exactly as an uninterrupted one); a graph step replays it bit for bit
 * when it says every step is the same ops; no tensor is left behind.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { createModel, exportModel, importModel, type Model } from "../lib/models/model.ts";
import type { OptimizerSpec } from "../lib/optim/optimizer.ts";
import { OPTIMIZER_NAMES, OPTIMIZERS_BY_NAME, resolveOptimizer } from "../lib/optim/registry.ts";
import { createSgd } from "../lib/optim/sgd.ts";
import { graphTrainStep } from "../lib/training/graph_step.ts";
import { makeTrainStep } from "../lib/training/train.ts";
import { Rng } from "../lib/util/rng.ts";

await initBackend("tensorflow");

/** A non-default setting of each optimizer that exercises all of its code (LookSAM: k = 2). */
const EXERCISE: Record<string, Record<string, unknown>> = {
  sam: { rho: 0.1 },
  looksam: { rho: 0.1, k: 2 },
};

function spec(name: string, extra: Record<string, unknown> = {}): OptimizerSpec {
  return { name, ...(EXERCISE[name] ?? {}), ...extra };
}

function smallModel(): Model {
  return createModel({
    arch: "smallcnn",
    width: 2,
    inputShape: [12, 12, 1],
    numClasses: 4,
    mean: [0.5],
    std: [0.25],
  }, Rng.fromSeed(4));
}

function batches(count: number): { x: tf.Tensor4D; y: tf.Tensor1D }[] {
  const rng = Rng.fromSeed(11);
  return Array.from({ length: count }, () => ({
    x: tf.tensor4d(rng.fillUniform(new Float32Array(16 * 144), 0, 1), [16, 12, 12, 1]),
    y: tf.tensor1d(Int32Array.from({ length: 16 }, () => rng.int(4)), "int32"),
  }));
}

/** Train `steps` steps from a fresh model; returns the final weights, buffers and momentum. */
async function trainSteps(
  optimizer: OptimizerSpec,
  data: { x: tf.Tensor4D; y: tf.Tensor1D }[],
  resumeAt?: number,
): Promise<Float32Array[]> {
  let model = smallModel();
  let opt = createSgd(model.params);
  let updater = resolveOptimizer(optimizer).plugin.createUpdater(
    opt,
    resolveOptimizer(optimizer).options,
  );
  let step = makeTrainStep(
    model,
    opt,
    { optimizer, perturb: null },
    "loss-pass",
    undefined,
    updater,
  );
  for (const [i, b] of data.entries()) {
    if (i === resumeAt) { // a checkpoint round trip: everything through plain arrays, fresh objects
      const saved = {
        ...exportModel(model),
        ...opt.exportState(model.paramNames),
        ...updater.exportState(model.paramNames),
      };
      const names = model.paramNames;
      model.dispose();
      opt.dispose();
      updater.dispose();
      model = smallModel();
      opt = createSgd(model.params);
      const r = resolveOptimizer(optimizer);
      updater = r.plugin.createUpdater(opt, r.options);
      importModel(model, saved);
      opt.importState(names, saved);
      updater.importState(names, saved);
      step = makeTrainStep(
        model,
        opt,
        { optimizer, perturb: null },
        "loss-pass",
        undefined,
        updater,
      );
    }
    (await step(b.x, b.y, 0.05)).dispose();
  }
  const out = [
    ...model.params.map((p) => p.dataSync() as Float32Array),
    ...model.buffers.map((p) => p.dataSync() as Float32Array),
    ...Object.values(opt.exportState(model.paramNames)).map((a) => a.data),
  ];
  model.dispose();
  opt.dispose();
  updater.dispose();
  return out;
}

const same = (a: Float32Array[], b: Float32Array[]) =>
  a.length === b.length && a.every((t, i) => t.every((v, j) => v === b[i][j]));

for (const name of OPTIMIZER_NAMES) {
  const plugin = OPTIMIZERS_BY_NAME[name];

  Deno.test(`optimizer ${name}: named as registered; passes, family and label from its options`, () => {
    assert.equal(plugin.name, name);
    const r = resolveOptimizer(spec(name));
    assert.deepEqual(resolveOptimizer(r.spec).spec, r.spec, "resolving twice changes nothing");
    const passes = plugin.gradientPasses(r.options);
    assert.ok(passes >= 1 && Number.isFinite(passes));
    assert.equal(typeof plugin.family(r.options), "string");
    assert.throws(() => resolveOptimizer({ ...r.spec, bogus: 1 }), /Invalid option|bogus/);
  });

  if (plugin.optionNames.includes("rho")) {
    Deno.test(`optimizer ${name}: rho 0 is plain SGD, bit for bit`, async () => {
      const data = batches(4);
      const base = await trainSteps({ name: "sgd" }, data);
      const zero = await trainSteps(spec(name, { rho: 0 }), data);
      assert.ok(same(base, zero));
      const moved = await trainSteps(spec(name), data);
      assert.ok(!same(base, moved), "and a rho > 0 does move it");
      tf.dispose(data.flatMap((b) => [b.x, b.y]));
    });
  }

  Deno.test(`optimizer ${name}: its state survives a checkpoint; no tensor left behind`, async () => {
    const data = batches(5);
    const before = tf.memory().numTensors;
    const straight = await trainSteps(spec(name), data);
    const resumed = await trainSteps(spec(name), data, 3);
    assert.ok(same(straight, resumed), "resuming after step 3 changes nothing");
    assert.equal(tf.memory().numTensors, before);
    tf.dispose(data.flatMap((b) => [b.x, b.y]));
  });

  Deno.test(`optimizer ${name}: a graph step replays it bit for bit, or it says it cannot`, async () => {
    if (!plugin.sameOpsEveryStep) {
      // The trainer keeps it eager (lib/training/train.ts); nothing to replay.
      return;
    }
    const data = batches(6);
    const run = async (graph: boolean) => {
      const model = smallModel();
      const opt = createSgd(model.params);
      const method = { optimizer: spec(name), perturb: null };
      const eager = makeTrainStep(model, opt, method, "loss-pass", Rng.fromSeed(3));
      const step = graph ? graphTrainStep(eager, 0) : eager;
      for (const b of data) (await step(b.x, b.y, 0.05)).dispose();
      const steps = graph ? (step as ReturnType<typeof graphTrainStep>).status().graphSteps : 0;
      if (graph) (step as ReturnType<typeof graphTrainStep>).dispose();
      const out = model.params.map((p) => p.dataSync() as Float32Array);
      model.dispose();
      opt.dispose();
      return { out, steps };
    };
    const e = await run(false);
    const g = await run(true);
    assert.ok(g.steps > 0, "some steps ran as a graph");
    assert.ok(same(e.out, g.out));
    tf.dispose(data.flatMap((b) => [b.x, b.y]));
  });
}

Deno.test("optimizers: LookSAM reuses its direction between SAM steps and costs 1 + 1/k passes", async () => {
  const r = resolveOptimizer({ name: "looksam", rho: 0.1, k: 4 });
  assert.equal(r.plugin.gradientPasses(r.options), 1.25);
  assert.equal(r.plugin.family(r.options), "LookSAM");
  // With k = 1 every step is a SAM step: the same weights as SAM.
  const data = batches(3);
  const look1 = await trainSteps({ name: "looksam", rho: 0.1, k: 1 }, data);
  const samW = await trainSteps({ name: "sam", rho: 0.1 }, data);
  assert.ok(same(look1, samW), "LookSAM with k = 1 is SAM");
  const look2 = await trainSteps({ name: "looksam", rho: 0.1, k: 2 }, data);
  assert.ok(!same(look2, samW), "with k = 2 the reused steps differ from SAM's");
  assert.throws(() => resolveOptimizer({ name: "looksam", k: 0 }), /Invalid option k/);
  tf.dispose(data.flatMap((b) => [b.x, b.y]));
});
