/**
 * lib/backend/bf16_convs.ts: bfloat16 convolutions on tfjs-node agree with fp32 to bf16 precision
 * (values and gradients, stride 1 and the explicit-padding stride-2 conv; also at the channel
 * counts where oneDNN's bf16 kernels are wrong and fp32 must run instead), and switching back to
 * fp32 restores the original kernels bit for bit.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { bf16ConvsSupported, convPrecision, setConvPrecision } from "../lib/backend/bf16_convs.ts";
import { foldsEvalBn, paddedConv, usingNativeOps } from "../lib/models/ops.ts";

await initBackend();
const supported = usingNativeOps() && bf16ConvsSupported();

/** Values and gradients (dx, dw) of a stride-1 SAME conv and a stride-2 padded conv. */
function compute(): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.randomNormal([4, 8, 8, 8], 0, 1, "float32", 1) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 8, 16], 0, 0.3, "float32", 2) as tf.Tensor4D;
    const w2 = tf.randomNormal([3, 3, 8, 16], 0, 0.3, "float32", 3) as tf.Tensor4D;
    const out: Float32Array[] = [];
    const f1 = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "same")));
    const f2 = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(paddedConv(a as tf.Tensor4D, b as tf.Tensor4D, 2)));
    out.push(tf.conv2d(x, w, 1, "same").dataSync() as Float32Array);
    out.push(paddedConv(x, w2, 2).dataSync() as Float32Array);
    for (const g of tf.grads(f1)([x, w])) out.push(g.dataSync() as Float32Array);
    for (const g of tf.grads(f2)([x, w2])) out.push(g.dataSync() as Float32Array);
    // Channel counts libtensorflow's oneDNN bf16 kernels get wrong (odd input channels forward,
    // one output channel backward): these must fall back to fp32 and still agree.
    const x3 = tf.randomNormal([4, 8, 8, 3], 0, 1, "float32", 4) as tf.Tensor4D;
    const w3 = tf.randomNormal([3, 3, 3, 16], 0, 0.3, "float32", 5) as tf.Tensor4D;
    const w1 = tf.randomNormal([3, 3, 8, 1], 0, 0.3, "float32", 6) as tf.Tensor4D;
    for (const g of tf.grads(f1)([x3, w3])) out.push(g.dataSync() as Float32Array);
    for (const g of tf.grads(f1)([x, w1])) out.push(g.dataSync() as Float32Array);
    out.push(tf.conv2d(x3, w3, 1, "same").dataSync() as Float32Array);
    return out;
  });
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

Deno.test({
  name: "bf16 convs: values and gradients within bf16 precision of fp32; fp32 restored exactly",
  ignore: !supported,
  fn: () => {
    assert.equal(convPrecision(), "fp32");
    const ref = compute();
    const tensors = tf.memory().numTensors;
    // deno-lint-ignore no-explicit-any
    const native = () => (tf.backend() as any).binding.getNumOfTensors() as number;
    const handles = native();
    const folds = foldsEvalBn();
    assert.equal(setConvPrecision("bf16"), "fp32");
    let half: Float32Array[];
    try {
      half = compute();
      // The eval-mode conv-BN fold has its own kernel without a bf16 variant: off under bf16.
      assert.equal(foldsEvalBn(), false, "eval-mode fold still on under bf16");
    } finally {
      assert.equal(setConvPrecision("fp32"), "bf16");
    }
    assert.equal(foldsEvalBn(), folds, "eval-mode fold not restored with fp32");
    assert.equal(tf.memory().numTensors, tensors, "no tfjs tensor leaked");
    assert.equal(native(), handles, "no native (bf16) handle leaked");
    // bf16 rounds each input and each output to 8 mantissa bits (relative 2^-9 each); sums of
    // many products stay within a few 2^-8 of the largest value. Measured here: 3.2e-3 to 4.6e-3.
    half.forEach((h, i) => {
      const e = relErr(h, ref[i]);
      if (i < 6) assert.ok(e > 0, `output ${i} identical: bf16 did not run`);
      assert.ok(e < 3e-2, `output ${i}: relative error ${e}`);
    });
    const again = compute();
    again.forEach((a, i) => assert.deepEqual(a, ref[i], `output ${i} after restoring fp32`));
  },
});

Deno.test({
  name: "bf16 convs: an unknown precision is refused",
  fn: () => {
    assert.throws(() => setConvPrecision("fp16" as never), /fp32 or bf16/);
  },
});
