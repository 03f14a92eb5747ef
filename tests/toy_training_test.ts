/**
 * lib/theory/toy_training.ts: the Gaussian model's linear classifier trained with the project's SGD, SAM
 * and PGD. The wrapper and the steps are checked by hand; the trained w against Theorems 4.1/4.2
 * within a tolerance set by the sample size (asymptotic standard error of the logistic MLE).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { crossEntropy } from "../lib/models/ops.ts";
import { pgd } from "../lib/attacks/pgd.ts";
import { samStep } from "../lib/optim/sam.ts";
import { createSgd } from "../lib/optim/sgd.ts";
import { sampleGaussianModel, wAT, wST } from "../lib/theory/gaussian_model.ts";
import {
  attackNonRobust,
  createLinearToy,
  effectiveW,
  logisticOptimum,
  logisticPopulation,
  logisticSamExact,
  logisticSamFirstOrder,
  logisticStandardErrorW,
  samStepEndpoints,
  toyLearningRate,
  toyTensors,
  trainToy,
  validateToyOptions,
} from "../lib/theory/toy_training.ts";

await initBackend();

const M = { p: 0.9, eta: 0.1, d: 100 };
const SMALL = { p: 0.8, eta: 0.3, d: 4 };

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = "") {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol,
      `${what}[${i}]: ${actual[i]} vs ${expected[i]} (tol ${tol})`,
    );
  }
}

/** Model with given weights, data tensors and the loss closure for `x`. */
function fixture(theta: number[], n = 12, seed = 5) {
  const sample = sampleGaussianModel({ ...SMALL, d: theta.length - 1 }, n, seed);
  const { x, labels } = toyTensors(sample);
  const model = createLinearToy(theta.length - 1);
  model.theta1.assign(tf.tensor1d([theta[0]]));
  model.thetaRest.assign(tf.tensor1d(theta.slice(1)));
  const loss = () => crossEntropy(model.forward(x, "train"), labels);
  return { sample, x, labels, model, loss };
}

/** Mean logistic loss log(1 + exp(-y theta.x)) in float64. */
function logisticLoss(sample: { x: Float64Array[]; y: Int8Array }, theta: number[]): number {
  let total = 0;
  sample.x.forEach((row, i) => {
    const s = row.reduce((acc, v, j) => acc + v * theta[j], 0);
    total += Math.log1p(Math.exp(-sample.y[i] * s));
  });
  return total / sample.y.length;
}

Deno.test("the wrapper's logits are -s/2, +s/2, so cross-entropy is the logistic loss", () => {
  const theta = [0.7, 0.3, -0.2, 0.5, 0.1];
  const f = fixture(theta);
  const logits = f.model.forward(f.x, "eval").arraySync() as number[][];
  f.sample.x.forEach((row, i) => {
    const s = row.reduce((acc, v, j) => acc + v * theta[j], 0);
    close(logits[i], [-s / 2, s / 2], 1e-5, `logits row ${i}`);
  });
  const labels = f.labels.arraySync() as number[];
  assert.deepEqual(labels, Array.from(f.sample.y, (v) => (v > 0 ? 1 : 0)));
  const ce = f.loss().dataSync()[0];
  assert.ok(Math.abs(ce - logisticLoss(f.sample, theta)) < 1e-5, `${ce}`);
  assert.ok(Math.abs(effectiveW(0.6, [0.2, 0.4]) - 2) < 1e-12);
  assert.throws(
    () => f.model.forward(tf.zeros([2, 1, 1, 3]) as tf.Tensor4D, "eval"),
    /Invalid option x: got "a tensor of shape \[2,1,1,3\]", expected shape \[N, 1, 1, 5\]\./,
  );
  assert.throws(
    () => toyTensors({ x: [new Float64Array(2)], y: new Int8Array(2) }),
    /Invalid option sample: .*expected as many rows as labels/,
  );
  f.model.dispose();
  tf.dispose([f.x, f.labels]);
});

Deno.test("samStep perturbing all params is the default; perturbing theta1 only, every weight steps at the perturbed point", () => {
  const theta = [0.4, 0.3, -0.2, 0.5, 0.1];
  const rho = 0.3, lr = 0.5;
  // Over all params: the same weights as samStep.
  const a = fixture(theta), b = fixture(theta);
  const optA = createSgd(a.model.params, { momentum: 0, weightDecay: 0 });
  const optB = createSgd(b.model.params, { momentum: 0, weightDecay: 0 });
  samStep(optA, a.loss, rho, lr).dispose();
  samStep(optB, b.loss, rho, lr, b.model.params).dispose();
  close(b.model.theta1.dataSync(), a.model.theta1.dataSync(), 1e-7, "theta1");
  close(b.model.thetaRest.dataSync(), a.model.thetaRest.dataSync(), 1e-7, "thetaRest");
  // Over theta1 only, by hand: e = rho*sign(dL/dtheta1); every weight steps with grad L(theta1 + e).
  const c = fixture(theta);
  const optC = createSgd(c.model.params, { momentum: 0, weightDecay: 0 });
  const { grads } = tf.variableGrads(() => c.loss(), [c.model.theta1]);
  const e = rho * Math.sign(grads[c.model.theta1.name].dataSync()[0]);
  tf.dispose(Object.values(grads));
  const shifted = fixture([theta[0] + e, ...theta.slice(1)]);
  const g2 = tf.variableGrads(() => shifted.loss(), shifted.model.params as tf.Variable[]);
  const expected1 = theta[0] - lr * g2.grads[shifted.model.theta1.name].dataSync()[0];
  const expectedRest = Array.from(
    g2.grads[shifted.model.thetaRest.name].dataSync(),
    (g, i) => theta[i + 1] - lr * g,
  );
  samStep(optC, c.loss, rho, lr, [c.model.theta1]).dispose();
  close(c.model.theta1.dataSync(), [expected1], 1e-6, "theta1 (w-only)");
  close(c.model.thetaRest.dataSync(), expectedRest, 1e-6, "thetaRest (w-only)");
  assert.throws(
    () => samStep(optC, c.loss, rho, lr, [b.model.theta1]),
    /Invalid option perturbed: .*expected a non-empty subset of the optimiser's params\./,
  );
  for (const f of [a, b, c, shifted]) {
    f.model.dispose();
    tf.dispose([f.x, f.labels]);
  }
  tf.dispose([g2.value, ...Object.values(g2.grads)]);
  optA.dispose();
  optB.dispose();
  optC.dispose();
});

Deno.test("samStepEndpoints steps with the gradient at the end of [theta1 - rho, theta1 + rho] with the larger loss", () => {
  const theta = [0.4, 0.3, -0.2, 0.5, 0.1];
  const rho = 0.6, lr = 0.5;
  const f = fixture(theta);
  const opt = createSgd(f.model.params, { momentum: 0, weightDecay: 0 });
  const up = logisticLoss(f.sample, [theta[0] + rho, ...theta.slice(1)]);
  const down = logisticLoss(f.sample, [theta[0] - rho, ...theta.slice(1)]);
  const e = up >= down ? rho : -rho;
  const shifted = fixture([theta[0] + e, ...theta.slice(1)]);
  const g2 = tf.variableGrads(() => shifted.loss(), shifted.model.params as tf.Variable[]);
  const expected = [
    theta[0] - lr * g2.grads[shifted.model.theta1.name].dataSync()[0],
    ...Array.from(
      g2.grads[shifted.model.thetaRest.name].dataSync(),
      (g, i) => theta[i + 1] - lr * g,
    ),
  ];
  const first = samStepEndpoints(opt, f.model.theta1, f.loss, rho, lr);
  assert.ok(Math.abs(first.dataSync()[0] - logisticLoss(f.sample, theta)) < 1e-5);
  first.dispose();
  close(
    [...f.model.theta1.dataSync(), ...f.model.thetaRest.dataSync()],
    expected,
    1e-6,
    "weights",
  );
  assert.throws(
    () => samStepEndpoints(opt, f.model.thetaRest, f.loss, rho, lr),
    /Invalid option v: .*expected a one-element variable among the optimiser's params\./,
  );
  for (const g of [f, shifted]) {
    g.model.dispose();
    tf.dispose([g.x, g.labels]);
  }
  tf.dispose([g2.value, ...Object.values(g2.grads)]);
  opt.dispose();
});

Deno.test("attackNonRobust: x1 untouched, each non-robust feature moved to x - eps*y*sign(theta), no [0, 1] clamp", () => {
  const theta = [0.4, 0.3, -0.2, 0.5, 0.1];
  const eps = 0.25;
  const f = fixture(theta, 40, 9);
  const adv = attackNonRobust(f.model, f.x, f.labels, { eps, rng: 3 });
  const got = adv.dataSync();
  const width = theta.length;
  let outside = 0;
  f.sample.x.forEach((row, i) => {
    const expected = Array.from(
      row,
      (v, j) => j === 0 ? v : v - eps * f.sample.y[i] * Math.sign(theta[j]),
    );
    close(got.subarray(i * width, (i + 1) * width), expected, 1e-6, `example ${i}`);
    for (const v of expected) if (v < 0 || v > 1) outside++;
  });
  assert.ok(outside > 0, "some attacked features lie outside [0, 1]");
  adv.dispose();
  f.model.dispose();
  tf.dispose([f.x, f.labels]);
});

Deno.test("pgd's bounds option: default [0, 1] unchanged, custom box, null, bad values", () => {
  const model = createLinearToy(3);
  model.theta1.assign(tf.tensor1d([1]));
  model.thetaRest.assign(tf.tensor1d([1, -1, 1]));
  const x = tf.tensor4d([0.05, 0.5, 0.95, 0.5, 0.5, 0.98, 0.02, 0.5], [2, 1, 1, 4]);
  const y = tf.tensor1d([1, 0], "int32");
  const run = (bounds?: [number, number] | null) =>
    pgd(model, x, y, { norm: "linf", eps: 0.1, alpha: 0.1, steps: 2, rng: 1, bounds });
  const plain = pgd(model, x, y, { norm: "linf", eps: 0.1, alpha: 0.1, steps: 2, rng: 1 });
  const defaulted = run(undefined), unit = run([0, 1]), box = run([0.04, 0.96]), free = run(null);
  close(defaulted.dataSync(), plain.dataSync(), 0, "default");
  close(unit.dataSync(), plain.dataSync(), 0, "[0, 1]");
  // Every coordinate moves by eps against its class: label 1 lowers x.theta, label 0 raises it.
  const expected = [0.05 - 0.1, 0.4, 1.05, 0.4, 0.6, 1.08, -0.08, 0.6];
  close(free.dataSync(), expected, 1e-6, "null");
  close(box.dataSync(), expected.map((v) => Math.min(0.96, Math.max(0.04, v))), 1e-6, "box");
  close(plain.dataSync(), expected.map((v) => Math.min(1, Math.max(0, v))), 1e-6, "pixels");
  for (const bad of [[1, 0], [0, Infinity], [0], "0,1"]) {
    assert.throws(
      () => run(bad as unknown as [number, number]),
      /Invalid option bounds: got .*, expected null or \[lo, hi\] with finite lo < hi\./,
    );
  }
  tf.dispose([plain, defaulted, unit, box, free, x, y]);
  model.dispose();
});

Deno.test("training options: defaults and one-sentence errors", () => {
  const o = validateToyOptions({ method: "sam-w", rho: 0.5 });
  assert.equal(o.steps, 200);
  assert.equal(o.lr, 1);
  assert.equal(o.momentum, 0.9);
  assert.equal(o.pgdSteps, 2);
  assert.equal(toyLearningRate(2, 0, 10), 2);
  assert.equal(toyLearningRate(2, 4, 10), 2);
  assert.equal(toyLearningRate(2, 5, 10), 2);
  assert.equal(toyLearningRate(2, 9, 10), 0.4);
  const cases: [unknown, RegExp][] = [
    [{ method: "sgd" }, /Invalid option method: got "sgd", expected one of "st", "at", /],
    [{ method: "sam-all" }, /Invalid option rho: got undefined, expected a finite number >= 0\./],
    [{ method: "st", rho: 1 }, /Invalid option rho: got 1, expected no value for method "st"\./],
    [{ method: "at" }, /Invalid option eps: got undefined, expected a finite number >= 0 and <= 1/],
    [{ method: "sam-w", rho: 1, eps: 0.1 }, /Invalid option eps: got 0.1, expected no value/],
    [
      { method: "sam-all", rho: 1, fixRest: 0.2 },
      /Invalid option fixRest: got 0.2, expected no value for method "sam-all"/,
    ],
    [{ method: "st", fixRest: 0 }, /Invalid option fixRest: got 0, expected a finite number > 0\./],
    [{ method: "st", steps: 0 }, /Invalid option steps: got 0, expected an integer >= 1\./],
    [{ method: "st", lr: -1 }, /Invalid option lr: got -1, expected a finite number > 0\./],
    [{ method: "st", momentum: 1 }, /Invalid option momentum: got 1, expected a finite number/],
    [{ method: "st", stepz: 3 }, /Unknown toy training option "stepz": valid options are /],
    [null, /Invalid option options: got null, expected an object with a method\./],
  ];
  for (const [options, pattern] of cases) {
    assert.throws(() => validateToyOptions(options as never), pattern);
  }
  assert.throws(() => createLinearToy(0), /Invalid option d: got 0, expected an integer >= 1\./);
  assert.throws(
    () => logisticSamExact(M, 0),
    /Invalid option rho: got 0, expected a finite number > 0\./,
  );
});

Deno.test("population logistic loss: its optimum is (ln(p/(1-p)), 2 eta), i.e. w_ST; SAM references", () => {
  for (const m of [M, SMALL, { p: 0.7, eta: 0.5, d: 10 }]) {
    const opt = logisticOptimum(m);
    const logOdds = Math.log(m.p / (1 - m.p));
    assert.ok(Math.abs(opt.theta1 - logOdds) < 1e-6 * logOdds, `${opt.theta1}`);
    assert.ok(Math.abs(opt.c - 2 * m.eta) < 1e-6 * m.eta, `${opt.c}`);
    assert.ok(Math.abs(opt.w - wST(m)) < 1e-5 * wST(m));
    const g = logisticPopulation(m, logOdds, 2 * m.eta);
    assert.ok(Math.abs(g.g1) < 1e-10 && Math.abs(g.gc) < 1e-10, `${g.g1} ${g.gc}`);
  }
  // AT: the worst attack turns eta into eta - eps, so the optimum normalises to w_AT.
  const at = logisticOptimum({ ...M, eta: M.eta - 0.04 });
  assert.ok(Math.abs(at.w - wAT(M, 0.04)) < 1e-5 * wAT(M, 0.04));
  // First-order w-only SAM with the non-robust weights fixed at 2 eta does not move w.
  assert.ok(Math.abs(logisticSamFirstOrder(M, 0.8, 0.2).w - wST(M)) < 1e-6 * wST(M));
  // The exact min-max balances the two ends.
  const ex = logisticSamExact(M, 0.8, 0.2);
  const plus = logisticPopulation(M, ex.theta1 + 0.8, 0.2).loss;
  const minus = logisticPopulation(M, ex.theta1 - 0.8, 0.2).loss;
  assert.ok(Math.abs(plus - minus) < 1e-12, `${plus} vs ${minus}`);
  assert.ok(ex.w > wST(M));
});

// Sampling: the MLE's w has the asymptotic standard error logisticStandardErrorW (about 0.28 at
// n = 10000 here). Tolerance 4 standard errors: a correct implementation fails about 1 time in
// 16000; a wrong optimum (e.g. w off by 10%, 1.1 = 4 SE) fails.
const N = 10000;

Deno.test("ST on samples lands on w_ST within 4 standard errors", () => {
  const se = logisticStandardErrorW(M, N);
  assert.ok(se > 0.2 && se < 0.4, `${se}`);
  for (const seed of [21, 22]) {
    const r = trainToy(sampleGaussianModel(M, N, seed), { method: "st" });
    assert.ok(Math.abs(r.w - wST(M)) < 4 * se, `seed ${seed}: w = ${r.w}, w_ST = ${wST(M)}`);
    // The scale itself is inflated by a few % (the small-sample bias of the logistic MLE, of order
    // d/n); w, a ratio, is not.
    assert.ok(Math.abs(r.meanRest / (2 * M.eta) - 1) < 0.15, `mean(thetaRest) = ${r.meanRest}`);
  }
});

Deno.test("AT with PGD on the non-robust features lands on w_AT within 4 standard errors", () => {
  const eps = 0.04;
  const se = logisticStandardErrorW({ ...M, eta: M.eta - eps }, N);
  const r = trainToy(sampleGaussianModel(M, N, 23), { method: "at", eps, seed: 1 });
  assert.ok(Math.abs(r.w - wAT(M, eps)) < 4 * se, `w = ${r.w}, w_AT = ${wAT(M, eps)}, se ${se}`);
  assert.ok(r.w > wST(M) + 4 * logisticStandardErrorW(M, N), "clearly above w_ST");
});

Deno.test("with the non-robust weights fixed: library SAM leaves w at ST's, exact-ascent SAM raises it", () => {
  const sample = sampleGaussianModel(M, N, 24);
  const rho = 0.8, fixRest = 2 * M.eta;
  const st = trainToy(sample, { method: "st", fixRest });
  const first = trainToy(sample, { method: "sam-w", rho, fixRest });
  const exact = trainToy(sample, { method: "sam-w-exact", rho, fixRest });
  close(first.thetaRest, new Array(M.d).fill(fixRest), 1e-7, "fixed thetaRest");
  assert.ok(Math.abs(first.w - st.w) < 0.06, `first-order ${first.w} vs ST ${st.w}`);
  const predicted = logisticSamExact(M, rho, fixRest).w - wST(M);
  assert.ok(
    Math.abs(exact.w - st.w - predicted) < 0.1,
    `exact-ascent shift ${exact.w - st.w} vs population ${predicted}`,
  );
});
