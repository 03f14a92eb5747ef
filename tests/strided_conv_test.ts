/**
 * The model's strided 1x1 convolution (lib/models/model.ts conv) against a matmul reference, for
 * the channel counts where libtensorflow's oneDNN kernels on AVX2-only CPUs return a wrong weight
 * gradient (1-4 input channels at stride 2) and beside them. On a CPU without that bug the direct
 * conv is right too; on one with it, this fails if conv() stops routing around it.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { conv, subsample } from "../lib/models/model.ts";

await initBackend();

Deno.test("subsample is x[:, ::s, ::s, :] for even and odd sizes", () => {
  for (const [h, w, s] of [[8, 8, 2], [7, 9, 2], [9, 9, 3]]) {
    tf.tidy(() => {
      const x = tf.randomUniform([2, h, w, 3], -1, 1, "float32", 7) as tf.Tensor4D;
      const want = tf.stridedSlice(x, [0, 0, 0, 0], x.shape, [1, s, s, 1]);
      const got = subsample(x, s);
      assert.deepEqual(got.shape, want.shape);
      assert.deepEqual(Array.from(got.dataSync()), Array.from(want.dataSync()));
    });
  }
});

Deno.test("strided 1x1 conv: input and weight gradients match the matmul reference for 1-16 input channels", () => {
  for (const cin of [1, 2, 3, 4, 5, 6, 7, 8, 16]) {
    for (const size of [7, 8, 14]) {
      tf.tidy(() => {
        const cout = 5;
        const x = tf.randomUniform([2, size, size, cin], -1, 1, "float32", 1) as tf.Tensor4D;
        const w = tf.randomUniform([1, 1, cin, cout], -1, 1, "float32", 2) as tf.Tensor4D;
        const xs = tf.stridedSlice(x, [0, 0, 0, 0], x.shape, [1, 2, 2, 1]) as tf.Tensor4D;
        const dy = tf.randomUniform([...xs.shape.slice(0, 3), cout], -1, 1, "float32", 3);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D, 2), dy))
        )([x, w]);
        const dwRef = tf.reshape(
          tf.matMul(tf.reshape(xs, [-1, cin]), tf.reshape(dy, [-1, cout]), true),
          w.shape,
        );
        const err = (a: tf.Tensor, b: tf.Tensor) =>
          tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / tf.max(tf.abs(b)).dataSync()[0];
        assert.ok(
          err(dw, dwRef) < 1e-5,
          `cin ${cin} size ${size}: dW relative error ${err(dw, dwRef)}`,
        );
        // dx: the reference's transpose, placed on the subsampled pixels, zero elsewhere.
        const dxs = tf.matMul(tf.reshape(dy, [-1, cout]), tf.reshape(w, [cin, cout]), false, true);
        const picked = tf.stridedSlice(dx, [0, 0, 0, 0], dx.shape, [1, 2, 2, 1]);
        assert.ok(err(picked, tf.reshape(dxs, picked.shape)) < 1e-5, `cin ${cin} size ${size}: dx`);
        const total = tf.sum(tf.abs(dx)).dataSync()[0];
        assert.ok(
          Math.abs(total - tf.sum(tf.abs(dxs)).dataSync()[0]) < 1e-3 * total,
          "dx off the grid",
        );
      });
    }
  }
});

Deno.test("strided 1x1 conv: weight gradients at odd batch sizes for 8-15 input channels (libtensorflow's oneDNN kernel crashed the process there on an AVX-512 CPU)", () => {
  for (const cin of [8, 9, 12, 15]) {
    for (const n of [1, 3, 5, 7, 13]) {
      tf.tidy(() => {
        const x = tf.randomUniform([n, 32, 32, cin], 0, 1, "float32", n) as tf.Tensor4D;
        const w = tf.randomUniform([1, 1, cin, 2 * cin], -0.5, 0.5, "float32", cin) as tf.Tensor4D;
        const dw = tf.grad((ww) => tf.sum(conv(x, ww as tf.Tensor4D, 2)))(w);
        // Reference: d sum(conv)/dw[c, o] = sum of x[:, ::2, ::2, c] over batch and positions.
        const want = tf.sum(subsample(x, 2), [0, 1, 2]).dataSync();
        const got = dw.dataSync();
        for (let c = 0; c < cin; c++) {
          for (let o = 0; o < 2 * cin; o++) {
            assert.ok(Math.abs(got[c * 2 * cin + o] - want[c]) <= 1e-4 * Math.abs(want[c]));
          }
        }
      });
    }
  }
});
