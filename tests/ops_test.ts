import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import {
  type BatchMoments,
  bnReluEval,
  bnReluTrain,
  crossEntropy,
  foldedConvBnReluEval,
  foldsEvalBn,
  globalAvgPool,
  maxPool2x2,
  paddedConv,
  setMklOps,
  setPortableOps,
  usingMklOps,
  usingNativeOps,
} from "../lib/models/ops.ts";

await initBackend();

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Values and gradients of the four ops on fixed inputs, with the oneDNN, native or portable path. */
function compute(portable: boolean, mkl = true): number[][] {
  const old = setPortableOps(portable);
  const oldMkl = setMklOps(mkl);
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
      // Max pooling: odd sizes (the last row/column dropped), ties (first maximum wins), ReLU zeros.
      const px = tf.relu(
        tf.round(tf.randomNormal([3, 7, 6, 4], 0, 2, "float32", 4)),
      ) as tf.Tensor4D;
      const pw = tf.randomNormal([3, 3, 3, 4], 0, 1, "float32", 5);
      const pool = tf.valueAndGrad((t: tf.Tensor) =>
        tf.sum(tf.mul(maxPool2x2(t as tf.Tensor4D), pw))
      )(
        px,
      );
      const gx = tf.randomNormal([3, 5, 4, 6], 0, 1, "float32", 6) as tf.Tensor4D;
      const gw = tf.randomNormal([3, 6], 0, 1, "float32", 7);
      const gap = tf.valueAndGrad((t: tf.Tensor) =>
        tf.sum(tf.mul(globalAvgPool(t as tf.Tensor4D), gw))
      )(
        gx,
      );
      const out = [
        ...train,
        ...evalG,
        sink[0].mean,
        sink[0].variance,
        ce.value,
        ce.grad,
        pool.value,
        pool.grad,
        maxPool2x2(px),
        gap.value,
        gap.grad,
      ].map((t) => Array.from(t.dataSync()));
      tf.dispose([sink[0].mean, sink[0].variance]);
      return out;
    });
  } finally {
    setPortableOps(old);
    setMklOps(oldMkl);
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

Deno.test("ops: the oneDNN kernels (fused BN-ReLU, max pooling with workspace) give the generic native kernels' bits", () => {
  if (!usingMklOps()) return; // tfjs-node built with oneDNN only
  const mkl = compute(false, true);
  const generic = compute(false, false);
  mkl.forEach((arr, i) => assert.deepEqual(arr, generic[i], `output ${i} differs`));
});

Deno.test("ops: max pooling sends each window's gradient to its first maximum", () => {
  for (const mkl of [true, false]) {
    const old = setMklOps(mkl);
    try {
      // A 5x4 image (the odd last row is dropped): windows of ties, of zeros, and a clear maximum.
      const image = [1, 1, 1, 1, 0, 0, 0, 0, 2, 3, 3, 1, 5, 5, 4, 4, 9, 9, 9, 9];
      const expected = [1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0];
      const x = tf.tensor4d(image, [1, 5, 4, 1]);
      const dy = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(maxPool2x2(t as tf.Tensor4D), dy)))(x);
      assert.deepEqual(Array.from(g.dataSync()), expected);
      assert.deepEqual(Array.from(maxPool2x2(x).dataSync()), [1, 1, 5, 4]);
      tf.dispose([x, dy, g]);
    } finally {
      setMklOps(old);
    }
  }
});

Deno.test("ops: global average pooling gives tf.mean's values and gradient bit for bit", () => {
  tf.tidy(() => {
    const x = tf.randomNormal([4, 7, 5, 3], 0, 1, "float32", 8) as tf.Tensor4D;
    const w = tf.randomNormal([4, 3], 0, 1, "float32", 9);
    const ours = tf.valueAndGrad((t: tf.Tensor) =>
      tf.sum(tf.mul(globalAvgPool(t as tf.Tensor4D), w))
    )(x);
    const ref = tf.valueAndGrad((t: tf.Tensor) => tf.sum(tf.mul(tf.mean(t, [1, 2]), w)))(x);
    assert.deepEqual(Array.from(ours.grad.dataSync()), Array.from(ref.grad.dataSync()));
    assert.deepEqual(
      Array.from(globalAvgPool(x).dataSync()),
      Array.from(tf.mean(x, [1, 2]).dataSync()),
    );
  });
});

Deno.test("ops: the padded strided conv gives tf.pad + tf.conv2d's values and gradients bit for bit", () => {
  tf.tidy(() => {
    for (const [shape, k] of [[[4, 9, 8, 3], 3], [[2, 8, 8, 16], 3], [[3, 7, 10, 5], 5]] as const) {
      const x = tf.randomNormal([...shape], 0, 1, "float32", 10) as tf.Tensor4D;
      const w = tf.randomNormal([k, k, shape[3], 6], 0, 0.3, "float32", 11) as tf.Tensor4D;
      const p = (k - 1) / 2;
      const ref = (a: tf.Tensor, f: tf.Tensor) =>
        tf.conv2d(
          tf.pad(a, [[0, 0], [p, p], [p, p], [0, 0]]) as tf.Tensor4D,
          f as tf.Tensor4D,
          2,
          "valid",
        );
      const ours = (a: tf.Tensor, f: tf.Tensor) =>
        paddedConv(a as tf.Tensor4D, f as tf.Tensor4D, 2);
      const probe = tf.randomNormal(ref(x, w).shape, 0, 1, "float32", 12);
      const run = (conv: typeof ref) => {
        const [gx, gw] = tf.grads((a: tf.Tensor, f: tf.Tensor) =>
          tf.sum(tf.mul(conv(a, f), probe))
        )([
          x,
          w,
        ]);
        // The input gradient alone (as in an attack, where no weight gradient is computed).
        const gxOnly = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(conv(a, w), probe)))(x);
        return [conv(x, w), gx, gw, gxOnly].map((t) => Array.from(t.dataSync()));
      };
      const a = run(ours), b = run(ref);
      a.forEach((arr, i) => assert.deepEqual(arr, b[i], `output ${i} differs for ${shape} k${k}`));
    }
  });
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

Deno.test("ops: eval-mode BN-ReLU (one affine map) agrees with libtensorflow's BatchNorm kernel to rounding", () => {
  tf.tidy(() => {
    for (const shape of [[32, 14, 14, 8], [16, 7, 7, 20]] as const) {
      const c = shape[3];
      const x = tf.randomNormal([...shape], 0.3, 1.2, "float32", 11) as tf.Tensor4D;
      const g = tf.randomUniform([c], 0.5, 1.5, "float32", 12) as tf.Tensor1D;
      const b = tf.randomNormal([c], 0, 0.3, "float32", 13) as tf.Tensor1D;
      const m = tf.randomNormal([c], 0, 0.3, "float32", 14) as tf.Tensor1D;
      const v = tf.randomUniform([c], 0.2, 2, "float32", 15) as tf.Tensor1D;
      const w = tf.randomNormal([...shape], 0, 1, "float32", 16);
      const ours = (t: tf.Tensor) => tf.sum(tf.mul(bnReluEval(t as tf.Tensor4D, g, b, m, v), w));
      const kernel = (t: tf.Tensor) =>
        tf.sum(tf.mul(tf.relu(tf.batchNorm(t as tf.Tensor4D, m, v, b, g, 1e-5)), w));
      const y = bnReluEval(x, g, b, m, v).dataSync();
      const yRef = tf.relu(tf.batchNorm(x, m, v, b, g, 1e-5)).dataSync();
      assert.ok(maxDiff(y, yRef) < 2e-6, `values differ by ${maxDiff(y, yRef)}`);
      const [dx, dxRef] = [tf.grad(ours)(x).dataSync(), tf.grad(kernel)(x).dataSync()];
      assert.ok(maxDiff(dx, dxRef) < 2e-5, `input gradients differ by ${maxDiff(dx, dxRef)}`);
    }
  });
});

Deno.test({
  name:
    "ops: eval-mode conv-BN-ReLU folded into one conv with bias agrees with conv then BN-ReLU to rounding (values and every gradient)",
  ignore: !foldsEvalBn(),
  fn: () => {
    tf.tidy(() => {
      for (
        const [shape, cout, stride] of [[[8, 9, 9, 1], 8, 1], [[4, 10, 10, 16], 32, 2]] as const
      ) {
        const x = tf.randomUniform([...shape], 0, 1, "float32", 21) as tf.Tensor4D;
        const f = tf.randomNormal([3, 3, shape[3], cout], 0, 0.4, "float32", 22) as tf.Tensor4D;
        const g = tf.randomUniform([cout], 0.5, 1.5, "float32", 23) as tf.Tensor1D;
        const b = tf.randomNormal([cout], 0, 0.3, "float32", 24) as tf.Tensor1D;
        const m = tf.randomNormal([cout], 0, 0.3, "float32", 25) as tf.Tensor1D;
        const v = tf.randomUniform([cout], 0.2, 2, "float32", 26) as tf.Tensor1D;
        const conv = (a: tf.Tensor4D, w: tf.Tensor4D) =>
          stride === 1 ? tf.conv2d(a, w, 1, "same") : paddedConv(a, w, stride);
        const probe = tf.randomNormal(conv(x, f).shape, 0, 1, "float32", 27);
        type Layer = (
          a: tf.Tensor4D,
          w: tf.Tensor4D,
          gg: tf.Tensor1D,
          bb: tf.Tensor1D,
        ) => tf.Tensor;
        const folded: Layer = (a, w, gg, bb) => foldedConvBnReluEval(a, w, stride, gg, bb, m, v);
        const unfolded: Layer = (a, w, gg, bb) => bnReluEval(conv(a, w), gg, bb, m, v);
        const run = (layer: Layer) => {
          const loss = (a: tf.Tensor, w: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
            tf.sum(
              tf.mul(
                layer(a as tf.Tensor4D, w as tf.Tensor4D, gg as tf.Tensor1D, bb as tf.Tensor1D),
                probe,
              ),
            );
          const grads = tf.grads(loss)([x, f, g, b]);
          const dxOnly = tf.grad((a: tf.Tensor) => loss(a, f, g, b))(x); // as an attack asks
          return [layer(x, f, g, b), ...grads, dxOnly].map((t) => t.dataSync());
        };
        const ours = run(folded), ref = run(unfolded);
        // Measured here: at most 1e-6 relative (the fold multiplies the weights before the sums).
        ["output", "dx", "dW", "dgamma", "dbeta", "dx alone"].forEach((what, i) => {
          const scale = Math.max(...Array.from(ref[i], Math.abs));
          const err = maxDiff(ours[i], ref[i]) / scale;
          assert.ok(
            err < 1e-5,
            `${what} differs by ${err} (relative) for ${shape} stride ${stride}`,
          );
          assert.ok(
            scale > 0.1,
            `${what} is degenerate (max ${scale}): the comparison would be empty`,
          );
        });
      }
    });
  },
});
