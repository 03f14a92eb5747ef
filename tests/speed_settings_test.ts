/**
 * lib/backend/speed_settings.ts: the speed switches live in one place, the graph engine is the
 * default only where it is bit-identical (tensorflow), and the rules the algorithm code follows so
 * that its steps replay bit for bit hold (each rule stated here as a test).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { nodeBackend, recordOps } from "../lib/backend/op_trace.ts";
import {
  defaultEngine,
  oneDnn,
  REPLAY,
  setMklFeature as settingsSetMklFeature,
} from "../lib/backend/speed_settings.ts";
import { setMklFeature } from "../lib/models/ops.ts";
import { createModel } from "../lib/models/model.ts";
import { createSgd } from "../lib/optim/sgd.ts";
import { sam } from "../lib/training/method.ts";
import { makeTrainStep } from "../lib/training/train.ts";
import { Rng } from "../lib/util/rng.ts";

await initBackend("tensorflow");

Deno.test("speed settings: graph by default on tensorflow only, replays bit for bit (tolerance 0)", () => {
  assert.equal(defaultEngine("tensorflow"), "graph");
  assert.equal(defaultEngine("wasm"), "eager");
  assert.equal(defaultEngine("tensorflow-gpu"), "eager");
  assert.equal(defaultEngine(undefined), "eager");
  assert.equal(REPLAY.tolerance, 0);
  assert.ok(REPLAY.checkRuns >= 2, "a graph must be checked more than once");
  assert.ok(Object.isFrozen(REPLAY));
});

Deno.test("speed settings: the oneDNN switches of lib/models/ops.ts are the settings' own", () => {
  assert.equal(setMklFeature, settingsSetMklFeature);
  const old = setMklFeature("maxPool", false);
  try {
    assert.equal(oneDnn.features.maxPool, false);
  } finally {
    setMklFeature("maxPool", old);
  }
  assert.equal(oneDnn.features.maxPool, old);
});

Deno.test("rule: SAM's gradient norm is a sum over a stack, never an AddN (a session adds an AddN's terms in another order than eager, not the same on every run)", async () => {
  const model = createModel({
    arch: "smallcnn",
    width: 2,
    inputShape: [8, 8, 1],
    numClasses: 3,
    mean: [0.5],
    std: [0.25],
  }, Rng.fromSeed(0));
  const opt = createSgd(model.params);
  const step = makeTrainStep(model, opt, sam(0.1), "loss-pass", Rng.fromSeed(1));
  const rng = Rng.fromSeed(2);
  const x = tf.tensor4d(rng.fillUniform(new Float32Array(4 * 64), 0, 1), [4, 8, 8, 1]);
  const y = tf.tensor1d([0, 1, 2, 0], "int32");
  try {
    await step(x, y, 0.1); // uploads the constants
    const { result, record } = await recordOps(nodeBackend()!, () => step(x, y, 0.1));
    result.dispose();
    const names = new Set(record.ops.map((op) => op.name));
    assert.ok(!names.has("AddN"), "the SAM step has an AddN");
    assert.ok(names.has("Pack"), "the SAM step stacks nothing: where did its norm go?");
  } finally {
    tf.dispose([x, y]);
    model.dispose();
    opt.dispose();
  }
});
