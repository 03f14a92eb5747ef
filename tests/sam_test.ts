/**
 * SAM, ASAM and SGD updates checked against the same updates computed by hand (float64 JavaScript,
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

Deno.test("asam: two ASAM steps equal the hand-computed e = rho * w^2 g / ||(|w| g)||, second gradient and momentum/wd update", () => {
  const { W, b, x, y, loss } = setup();
  const [lr, rho, m, wd] = [0.1, 0.5, 0.9, 5e-4];
  const opt = createSgd([W, b], { momentum: m, weightDecay: wd });
  const w = [...W0, ...B0], buf = new Array(w.length).fill(0);
  const handE = (w: number[]) => {
    const g1 = handGrad(w.slice(0, D * C), w.slice(D * C));
    const norm = Math.sqrt(g1.reduce((s, v, i) => s + (Math.abs(w[i]) * v) ** 2, 0));
    return w.map((v, i) => rho * v * v * g1[i] / (norm + 1e-12));
  };
  for (let step = 0; step < 2; step++) {
    tf.dispose(samStep(opt, () => loss(), rho, lr, opt.params, true));
    const e = handE(w);
    const wp = w.map((v, i) => v + e[i]);
    const g2 = handGrad(wp.slice(0, D * C), wp.slice(D * C));
    handSgd(w, buf, g2, lr, m, wd);
    close([...W.dataSync(), ...b.dataSync()], w);
  }
  // Not vacuous: ASAM's ascent direction differs clearly from SAM's at the same radius.
  const e = handE([...W0, ...B0]);
  const g = handGrad(W0, B0);
  const n0 = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
  assert.ok(Math.max(...e.map((v, i) => Math.abs(v - rho * g[i] / n0))) > 1e-2);
  opt.dispose();
  tf.dispose([W, b, x, y]);
});

Deno.test("asam: the perturbation is invariant to rescaling a layer (w -> c*w, g -> g/c gives e -> c*e, e/w unchanged); SAM's is not", () => {
  const w = [tf.tensor2d([[0.5, -1], [2, 0.25]]), tf.tensor1d([0.3, -0.7])];
  const g = [tf.tensor2d([[0.2, 0.1], [-0.4, 0.3]]), tf.tensor1d([-0.5, 0.6])];
  const c = 3;
  // Scale only the first layer, as a layer followed by BatchNorm can be without changing the loss.
  const wc = [tf.mul(w[0], c), w[1]];
  const gc = [tf.div(g[0], c), g[1]];
  const flat = (ts: tf.Tensor[]) => ts.flatMap((t) => Array.from(t.dataSync()));
  const e = samPerturbation(g, 0.5, w), ec = samPerturbation(gc, 0.5, wc);
  const ratio = (es: tf.Tensor[], ws: tf.Tensor[]) => flat(es).map((v, i) => v / flat(ws)[i]);
  close(ratio(ec, wc), ratio(e, w), 1e-6);
  close(flat(ec), [...flat([e[0]]).map((v) => c * v), ...flat([e[1]])], 1e-6);
  // The ball's radius in the |w|-scaled metric is rho: ||e / |w| ||_2 = rho.
  const r = ratio(e, w);
  assert.ok(Math.abs(Math.sqrt(r.reduce((s, v) => s + v * v, 0)) - 0.5) < 1e-6);
  // Plain SAM moves the rescaled layer differently (its e/w changes): the invariance is ASAM's.
  const s = samPerturbation(g, 0.5), sc = samPerturbation(gc, 0.5);
  const dr = ratio(sc, wc).map((v, i) => Math.abs(v - ratio(s, w)[i]));
  assert.ok(Math.max(...dr) > 1e-2);

  // End to end on a scale-invariant loss (logits from W / ||W||): the ASAM ascent loss
  // L(w + e) is the same at W and 3W; SAM's is not.
  const xs = tf.tensor2d(X.flat(), [N, D]);
  const ys = tf.tensor1d(Y, "int32");
  const ascentLoss = (scale: number, adaptive: boolean) =>
    tf.tidy(() => {
      const Wv = tf.variable(tf.mul(tf.tensor2d(W0, [D, C]), scale));
      const bv = tf.variable(tf.tensor1d(B0));
      const f = (Wt: tf.Tensor, bt: tf.Tensor) =>
        crossEntropy(
          tf.add(tf.matMul(xs, tf.div(Wt, tf.norm(Wt))), bt) as tf.Tensor2D,
          ys,
        );
      const { grads } = tf.variableGrads(() => f(Wv, bv), [Wv, bv]);
      const ep = samPerturbation(
        [grads[Wv.name], grads[bv.name]],
        0.5,
        adaptive ? [Wv, bv] : undefined,
      );
      const out = f(tf.add(Wv, ep[0]), tf.add(bv, ep[1])).dataSync()[0];
      Wv.dispose();
      bv.dispose();
      return out;
    });
  assert.ok(Math.abs(ascentLoss(1, true) - ascentLoss(3, true)) < 1e-5);
  assert.ok(Math.abs(ascentLoss(1, false) - ascentLoss(3, false)) > 1e-3);
  tf.dispose([...w, ...g, ...wc, ...gc, ...e, ...ec, ...s, ...sc, xs, ys]);
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
