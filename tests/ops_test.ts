import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend.ts";
import {
  type BatchMoments,
  bnReluEval,
  bnReluTrain,
  crossEntropy,
  setPortableOps,
  usingNativeOps,
} from "../lib/ops.ts";

await initBackend();

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Values and gradients of the three ops on fixed inputs, with the native or portable path. */
function compute(portable: boolean): number[][] {
  const old = setPortableOps(portable);
  try {
    return tf.tidy(() => {
      const x = tf.randomNormal([4, 5, 5, 3], 0.3, 1.5, "float32", 1) as tf.Tensor4D;
      const g = tf.tensor1d([1.2, 0.7, -0.4]);
      const b = tf.tensor1d([0.1, -0.2, 0.3]);
      const w = tf.randomNormal([4, 5, 5, 3], 0, 1, "float32", 2);
      const rm = tf.tensor1d([0.2, 0.1, -0.1]);
      const rv = tf.tensor1d([1.5, 0.8, 2.0]);
      const sink: BatchMoments[] = [];
      const train = tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(
          tf.mul(bnReluTrain(xx as tf.Tensor4D, gg as tf.Tensor1D, bb as tf.Tensor1D, sink), w),
        )
      )([x, g, b]);
      const evalG = tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(
          tf.mul(bnReluEval(xx as tf.Tensor4D, gg as tf.Tensor1D, bb as tf.Tensor1D, rm, rv), w),
        )
      )([x, g, b]);
      const logits = tf.randomNormal([6, 4], 0, 2, "float32", 3);
      const y = tf.tensor1d([0, 1, 2, 3, 1, 0], "int32");
      const ce = tf.valueAndGrad((z: tf.Tensor) => crossEntropy(z as tf.Tensor2D, y))(logits);
      const out = [...train, ...evalG, sink[0].mean, sink[0].variance, ce.value, ce.grad].map((t) =>
        Array.from(t.dataSync())
      );
      tf.dispose([sink[0].mean, sink[0].variance]);
      return out;
    });
  } finally {
    setPortableOps(old);
  }
}

Deno.test("ops: the fused libtensorflow path agrees with the portable tfjs path", () => {
  if (!usingNativeOps()) return; // only the tensorflow backend has a second path
  const native = compute(false);
  const portable = compute(true);
  native.forEach((arr, i) =>
    assert.ok(
      maxDiff(arr, portable[i]) < 2e-5,
      `output ${i} differs by ${maxDiff(arr, portable[i])}`,
    )
  );
});

Deno.test("ops: batch moments are the mean and the unbiased variance", () => {
  const x = tf.tensor4d([1, 2, 3, 6], [1, 2, 2, 1]);
  const sink: BatchMoments[] = [];
  tf.tidy(() => bnReluTrain(x, tf.ones([1]), tf.zeros([1]), sink));
  assert.ok(Math.abs(sink[0].mean.dataSync()[0] - 3) < 1e-6);
  // unbiased variance of 1,2,3,6 = (4+1+0+9)/3
  assert.ok(Math.abs(sink[0].variance.dataSync()[0] - 14 / 3) < 1e-5);
  tf.dispose([x, sink[0].mean, sink[0].variance]);
});

Deno.test("ops: cross-entropy equals -mean log softmax of the true class", () => {
  const logits = tf.tensor2d([[1, 2, 3], [0, 0, 0]]);
  const y = tf.tensor1d([2, 0], "int32");
  const v = crossEntropy(logits, y).dataSync()[0];
  const l1 = -(3 - Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)));
  const l2 = Math.log(3);
  assert.ok(Math.abs(v - (l1 + l2) / 2) < 1e-6);
  tf.dispose([logits, y]);
});
