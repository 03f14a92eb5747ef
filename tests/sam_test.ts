/**
 * SAM and SGD updates checked against the same updates computed by hand (float64 JavaScript,
 * analytic gradients of softmax regression), to 1e-5.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { crossEntropy } from "../lib/models/ops.ts";
import { Rng } from "../lib/util/rng.ts";
import { samPerturbation, samStep } from "../lib/optim/sam.ts";
import { createSgd, sgdStep } from "../lib/optim/sgd.ts";

await initBackend();

const N = 5, D = 3, C = 3;
const rng = Rng.fromSeed(3);
const X = Array.from({ length: N }, () => Array.from({ length: D }, () => 2 * rng.float() - 1));
const Y = [0, 2, 1, 1, 0];
const W0 = Array.from({ length: D * C }, () => rng.float() - 0.5);
const B0 = Array.from({ length: C }, () => rng.float() - 0.5);

/** Gradient of mean softmax cross-entropy of z = XW + b, by hand. */
function handGrad(W: number[], b: number[]): number[] {
  const gW = new Array(D * C).fill(0), gb = new Array(C).fill(0);
  for (let n = 0; n < N; n++) {
    const z = Array.from(
      { length: C },
      (_, c) => b[c] + X[n].reduce((s, x, d) => s + x * W[d * C + c], 0),
    );
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, v) => a + v, 0);
    for (let c = 0; c < C; c++) {
      const dz = (e[c] / s - (Y[n] === c ? 1 : 0)) / N;
      gb[c] += dz;
      for (let d = 0; d < D; d++) gW[d * C + c] += X[n][d] * dz;
    }
  }
  return [...gW, ...gb];
}

/** One hand SGD step (PyTorch semantics) on the flat [W, b] vector; mutates w and buf. */
function handSgd(w: number[], buf: number[], g: number[], lr: number, m: number, wd: number) {
  for (let i = 0; i < w.length; i++) {
    const d = g[i] + wd * w[i];
    buf[i] = m * buf[i] + d;
    w[i] -= lr * buf[i];
  }
}

function setup() {
  const W = tf.variable(tf.tensor2d(W0, [D, C]));
  const b = tf.variable(tf.tensor1d(B0));
  const x = tf.tensor2d(X.flat(), [N, D]);
  const y = tf.tensor1d(Y, "int32");
  const loss = () => crossEntropy(tf.add(tf.matMul(x, W), b) as tf.Tensor2D, y);
  return { W, b, x, y, loss };
}

function close(actual: ArrayLike<number>, expected: number[], tol = 1e-5) {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) < tol,
      `entry ${i}: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

Deno.test("sam: two SAM steps equal the hand-computed perturbation, second gradient and momentum/wd update", () => {
  const { W, b, x, y, loss } = setup();
  const [lr, rho, m, wd] = [0.1, 0.5, 0.9, 5e-4];
  const opt = createSgd([W, b], { momentum: m, weightDecay: wd });
  const w = [...W0, ...B0], buf = new Array(w.length).fill(0);
  for (let step = 0; step < 2; step++) {
    tf.dispose(samStep(opt, () => loss(), rho, lr));
    const g1 = handGrad(w.slice(0, D * C), w.slice(D * C));
    const norm = Math.sqrt(g1.reduce((s, v) => s + v * v, 0));
    const wp = w.map((v, i) => v + rho * g1[i] / (norm + 1e-12));
    const g2 = handGrad(wp.slice(0, D * C), wp.slice(D * C));
    handSgd(w, buf, g2, lr, m, wd);
    close([...W.dataSync(), ...b.dataSync()], w);
  }
  // Not vacuous: the gradient at w + e differs clearly from the gradient at w here.
  const g = handGrad(W0, B0);
  const n0 = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
  const wp = [...W0, ...B0].map((v, i) => v + rho * g[i] / n0);
  const gp = handGrad(wp.slice(0, D * C), wp.slice(D * C));
  assert.ok(Math.max(...gp.map((v, i) => Math.abs(v - g[i]))) > 1e-3);
  opt.dispose();
  tf.dispose([W, b, x, y]);
});

Deno.test("sam: weights are restored exactly before the base step; rho = 0 is plain SGD", () => {
  const a = setup(), c = setup();
  const optA = createSgd([a.W, a.b], { momentum: 0.9, weightDecay: 5e-4 });
  const optC = createSgd([c.W, c.b], { momentum: 0.9, weightDecay: 5e-4 });
  for (let i = 0; i < 3; i++) {
    tf.dispose(samStep(optA, () => a.loss(), 0, 0.1));
    tf.dispose(sgdStep(optC, () => c.loss(), 0.1));
  }
  assert.deepEqual(Array.from(a.W.dataSync()), Array.from(c.W.dataSync()));
  assert.deepEqual(Array.from(a.b.dataSync()), Array.from(c.b.dataSync()));
  optA.dispose();
  optC.dispose();
  tf.dispose([a.W, a.b, a.x, a.y, c.W, c.b, c.x, c.y]);
});

Deno.test("sam: the perturbation has global L2 norm rho", () => {
  const grads = [tf.tensor1d([3, 0]), tf.tensor2d([[0, 4]])];
  const e = samPerturbation(grads, 0.2);
  close([...e[0].dataSync(), ...e[1].dataSync()], [0.12, 0, 0, 0.16]);
  tf.dispose([...grads, ...e]);
});

Deno.test("sgd: PyTorch semantics d = g + wd*w, buf = m*buf + d, w -= lr*buf; state round-trips", () => {
  const w = tf.variable(tf.tensor1d([1, -2]));
  const opt = createSgd([w], { momentum: 0.9, weightDecay: 0.1 });
  const g = tf.tensor1d([0.5, 0.5]);
  opt.step([g], 0.1); // d = [0.6, 0.3]; buf = d; w = [0.94, -2.03]
  close(w.dataSync(), [0.94, -2.03], 1e-6);
  opt.step([g], 0.1); // d = [0.594, 0.297]; buf = [1.134, 0.567]; w = [0.8266, -2.0867]
  close(w.dataSync(), [0.8266, -2.0867], 1e-6);
  const state = opt.exportState(["w"]);
  close(state["momentum:w"].data, [1.134, 0.567], 1e-6);
  const opt2 = createSgd([w], { momentum: 0.9, weightDecay: 0.1 });
  opt2.importState(["w"], state);
  close(opt2.exportState(["w"])["momentum:w"].data, [1.134, 0.567], 1e-6);
  assert.throws(
    () => createSgd([w], { momentum: 1 }),
    /Invalid option momentum: got 1, expected a finite number >= 0 and < 1\./,
  );
  opt.dispose();
  opt2.dispose();
  tf.dispose([w, g]);
});
