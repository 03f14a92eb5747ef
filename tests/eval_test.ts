import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { attackKey, evaluate, PAPER_EVAL_ATTACKS } from "../lib/training/evaluate.ts";
import type { Classifier } from "../lib/models/model.ts";
import { toyDataset } from "./toy_data.ts";

await initBackend();

Deno.test("eval: attack keys follow the paper's columns", () => {
  assert.deepEqual(PAPER_EVAL_ATTACKS.map((a) => attackKey(a.norm, a.eps)), [
    "linf_1_255",
    "linf_2_255",
    "l2_16_255",
    "l2_32_255",
  ]);
  assert.equal(attackKey("linf", 0.5 / 255), "linf_eps0.00196078");
});

Deno.test("eval: clean accuracy counts argmax hits in batches; a linear model loses accuracy under attack", async () => {
  const data = toyDataset(37, 8, 1, 3);
  // Logit k = sum of the pixels of quadrant k (k=0,1,2): a decent classifier for the toy data.
  const masks = tf.tidy(() => {
    const m = new Float32Array(64 * 3);
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        const q = (y >= 4 ? 1 : 0) + (x >= 4 ? 2 : 0);
        if (q < 3) m[(y * 8 + x) * 3 + q] = 1;
      }
    }
    return tf.keep(tf.tensor2d(m, [64, 3]));
  });
  const model: Classifier = {
    forward: (x) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], 64]), masks)),
  };
  const expected = tf.tidy(() => {
    const x = tf.tensor4d(data.images, [37, 8, 8, 1]);
    const pred = tf.argMax(model.forward(x, "eval"), 1).dataSync();
    return Array.from(pred).filter((p, i) => p === data.labels[i]).length / 37;
  });
  const before = tf.memory().numTensors;
  const r = await evaluate(model, data, {
    attacks: [{ norm: "linf", eps: 0.3 }, { norm: "l2", eps: 1e-4 }],
    batchSize: 10,
    progress: "none",
  });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(r.n, 37);
  assert.equal(r.clean, expected);
  assert.ok(r.clean > 0.9);
  assert.ok(r.robust["linf_eps0.3"] < 0.2, `robust ${r.robust["linf_eps0.3"]}`);
  assert.ok(Math.abs(r.robust["l2_eps0.0001"] - r.clean) <= 1 / 37);
  const limited = await evaluate(model, data, { limit: 5, progress: "none" });
  assert.equal(limited.n, 5);
  masks.dispose();
});
