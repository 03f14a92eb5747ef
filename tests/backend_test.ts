import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, parseBackend } from "../lib/backend.ts";

Deno.test("the default tensorflow backend loads and computes", async () => {
  assert.equal(await initBackend("tensorflow"), "tensorflow");
  assert.equal(tf.getBackend(), "tensorflow");
  const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]]));
  assert.deepEqual(Array.from(y.dataSync()), [17, 39]);
});

Deno.test("an unknown backend name gets one sentence listing the valid ones", () => {
  assert.throws(() => parseBackend("cuda"), /Unknown backend "cuda": use one of tensorflow, tensorflow-gpu, wasm/);
});
