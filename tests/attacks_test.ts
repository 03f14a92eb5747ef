/**
 * APGD, APGD-T, Square and the AutoAttack protocol: the DLR losses against hand-computed values,
 * the schedules, relative strength on a small trained model, the protocol's robust flags on a
 * hand-made classifier whose decisions are known, one-sentence errors, and no tensor leaks.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { apgdCheckpoints } from "../lib/attacks/apgd.ts";
import type { Norm } from "../lib/attacks/attack.ts";
import {
  dlrLoss,
  dlrTargetedLoss,
  marginLoss,
  perExampleCrossEntropy,
} from "../lib/attacks/dlr.ts";
import { resolveAttack, runAttack } from "../lib/attacks/registry.ts";
import { eta, squareFraction } from "../lib/attacks/square.ts";
import type { Dataset } from "../lib/data/data.ts";
import type { Classifier } from "../lib/models/model.ts";
import { evaluate } from "../lib/training/evaluate.ts";
import { Rng } from "../lib/util/rng.ts";
import { OptionError } from "../lib/util/validate.ts";
import { accuracy, batchOf, trainSmallModel } from "./attack_fixture.ts";

const close = (a: ArrayLike<number>, b: number[], tol = 1e-5) =>
  b.every((v, i) => Math.abs(a[i] - v) <= tol);

Deno.test("dlr: untargeted and targeted DLR, margin and CE against hand-computed values", () => {
  const z = tf.tensor2d([[3, 1, 2, 0.5], [3, 1, 2, 0.5]]);
  const y = tf.tensor1d([0, 2], "int32");
  // Sorted: 3, 2, 1, 0.5. Row 0 (y top): -(3 - 2) / (3 - 1); row 1: -(2 - 3) / (3 - 1).
  assert.ok(close(dlrLoss(z, y).dataSync(), [-0.5, 0.5]));
  // Target 3: -(z_y - z_3) / (3 - (1 + 0.5) / 2) = row 0: -2.5 / 2.25; row 1: -1.5 / 2.25.
  const t = tf.tensor1d([3, 3], "int32");
  assert.ok(close(dlrTargetedLoss(z, y, t).dataSync(), [-2.5 / 2.25, -1.5 / 2.25]));
  assert.ok(close(marginLoss(z, y).dataSync(), [1, -1]));
  const lse = Math.log(Math.exp(3) + Math.exp(1) + Math.exp(2) + Math.exp(0.5));
  assert.ok(close(perExampleCrossEntropy(z, y).dataSync(), [lse - 3, lse - 2]));
  // d/dz of -(z0 - z2) / (z0 - z1) at (3, 1, 2, 0.5): (-(z2 - z1), -(z0 - z2), (z0 - z1), 0) / 4.
  const g = tf.grad((v) => tf.sum(dlrLoss(v as tf.Tensor2D, tf.tensor1d([0], "int32"))))(
    tf.tensor2d([[3, 1, 2, 0.5]]),
  );
  assert.ok(close(g.dataSync(), [-0.25, -0.25, 0.5, 0]), `${g.dataSync()}`);
  assert.throws(
    () => dlrTargetedLoss(tf.zeros([1, 3]), tf.tensor1d([0], "int32"), t),
    /at least 4 classes/,
  );
});

Deno.test("apgd and square schedules: checkpoints, square fraction, eta", () => {
  assert.deepEqual(apgdCheckpoints(100).map((c) => c.at + 1), [22, 41, 57, 70, 80, 87, 93, 99]);
  assert.deepEqual(apgdCheckpoints(100).map((c) => c.len), [22, 19, 16, 13, 10, 7, 6, 6]);
  assert.deepEqual(apgdCheckpoints(1), [{ at: 0, len: 1 }]);
  const o = { queries: 5000, pInit: 0.8, rescaleSchedule: false };
  assert.deepEqual([0, 10, 11, 50, 51, 4001, 8001].map((i) => squareFraction(i, o)), [
    0.8,
    0.8,
    0.4,
    0.4,
    0.2,
    0.8 / 128,
    0.8 / 512,
  ]);
  assert.equal(squareFraction(11, { ...o, queries: 100, rescaleSchedule: true }), 0.8 / 32);
  const e = eta(5, Rng.fromSeed(1));
  assert.ok(Math.abs(Math.hypot(...e) - 1) < 1e-6);
  // Two halves of opposite signs, each of squared norm 1/2.
  const half = (sign: number) => e.reduce((a, v) => (Math.sign(v) === sign ? a + v * v : a), 0);
  assert.ok(Math.abs(half(1) - 0.5) < 1e-6 && Math.abs(half(-1) - 0.5) < 1e-6, `${e}`);
});

Deno.test("attack options: one sentence naming the fix", async () => {
  const sentence = (m: string) => m.endsWith(".") && !/\.\s+[A-Z]/.test(m);
  const one = (f: () => unknown, re: RegExp) =>
    assert.throws(
      f,
      (e: Error) => e instanceof OptionError && re.test(e.message) && sentence(e.message),
    );
  one(
    () => resolveAttack({ attack: "apgd-ce", norm: "linf", eps: 0.1, options: { step: 5 } }),
    /Unknown apgd-ce option "step"/,
  );
  one(
    () => resolveAttack({ attack: "apgd-ce", norm: "linf", eps: 1.5 }),
    /eps: got 1.5, expected .* <= 1/,
  );
  one(() => resolveAttack({ attack: "apgd-ce", norm: "l2", eps: -0.1 }), /eps/);
  one(
    () => resolveAttack({ attack: "apgd-ce", norm: "linf", eps: 0.1, options: { steps: 0 } }),
    /steps: got 0/,
  );
  one(
    () => resolveAttack({ attack: "square", norm: "l2", eps: 0.1, options: { queries: -5 } }),
    /queries: got -5/,
  );
  one(
    () => resolveAttack({ attack: "apgd-t", norm: "l2", eps: 0.1, options: { nTargetClasses: 0 } }),
    /nTargetClasses: got 0/,
  );
  // The class count is known only at run time: 4 classes allow at most 3 targets.
  const r = resolveAttack({
    attack: "apgd-t",
    norm: "linf",
    eps: 0.1,
    options: { nTargetClasses: 4, steps: 2 },
  });
  const { x, y } = toyBatch();
  const before = tf.memory().numTensors;
  await assert.rejects(
    () => runAttack(r, { model: linear, mode: "eval", rng: Rng.fromSeed(0) }, x, y),
    (e: Error) => e instanceof OptionError && /at most 3/.test(e.message) && sentence(e.message),
  );
  assert.equal(tf.memory().numTensors, before, "the failed run leaked tensors");
  tf.dispose([x, y]);
});

// ---------------------------------------------------------------------------------------------
// A hand-made classifier: 2x2 grey images, class = brightest pixel (logit k = 4 * pixel k).
// L-inf eps: a point of class y is robust iff x_y - max_{k != y} x_k > 2 eps (pixel y down by
// eps, pixel k up; every point stays eps away from the box's faces). L2: iff the gap > sqrt(2) eps.

const linear: Classifier = {
  forward: (x) => tf.tidy(() => tf.mul(tf.reshape(x, [x.shape[0], 4]), 4)),
};

const TOY = [
  { y: 0, px: [0.8, 0.3, 0.3, 0.3], robust: 1 }, // gap 0.5
  { y: 1, px: [0.4, 0.44, 0.4, 0.4], robust: 0 }, // gap 0.04
  { y: 2, px: [0.2, 0.2, 0.7, 0.25], robust: 1 }, // gap 0.45
  { y: 3, px: [0.5, 0.5, 0.5, 0.55], robust: 0 }, // gap 0.05
  { y: 0, px: [0.3, 0.6, 0.3, 0.3], robust: 0 }, // misclassified at x
  { y: 1, px: [0.45, 0.48, 0.45, 0.2], robust: 0 }, // gap 0.03
];

const toyData: Dataset = {
  name: "toy-brightest",
  images: Float32Array.from(TOY.flatMap((p) => p.px)),
  labels: Int32Array.from(TOY.map((p) => p.y)),
  n: TOY.length,
  height: 2,
  width: 2,
  channels: 1,
  numClasses: 4,
  normalization: { mean: [0], std: [1] },
};

function toyBatch() {
  return batchOf(toyData);
}

/** Fast stage budgets for the protocol on the toy classifier. */
const AA_QUICK = {
  "apgd-ce": { steps: 10 },
  "apgd-t": { steps: 10, nTargetClasses: 3 },
  square: { queries: 50 },
};

Deno.test("autoattack protocol: robust flags and stage accuracies on a hand-made classifier", async () => {
  const before = tf.memory().numTensors;
  for (const [norm, eps] of [["linf", 0.1], ["l2", 0.1]] as [Norm, number][]) {
    const r = await evaluate(linear, toyData, {
      evals: [{ attack: "autoattack", norm, eps, options: AA_QUICK }],
      batchSize: 4, // two batches: the per-batch bookkeeping is merged
      progress: "none",
    });
    assert.deepEqual(Array.from(r.correct), [1, 1, 1, 1, 0, 1]);
    const col = Object.values(r.evals)[0];
    // Non-default stage budgets are named in the key: two budgets never share a column.
    assert.equal(col.key, `aa-apgdce10-apgdt10t3-square50_${norm}_eps0.1`);
    assert.deepEqual(Array.from(col.robust), TOY.map((p) => p.robust), `${norm}`);
    assert.deepEqual(col.stages.map((s) => s.attack), ["apgd-ce", "apgd-t", "square"]);
    assert.ok(
      col.stages.every((s) => Math.abs(s.accuracy - 2 / 6) < 1e-12),
      JSON.stringify(col.stages),
    );
  }
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

Deno.test("every new attack alone on the hand-made classifier: the known robust points, no leak", async () => {
  const { x, y } = toyBatch();
  const before = tf.memory().numTensors;
  for (const attack of ["apgd-ce", "apgd-t", "apgd-dlr", "square"]) {
    for (const norm of ["linf", "l2"] as Norm[]) {
      const options = {
        "apgd-ce": { steps: 20 },
        "apgd-dlr": { steps: 20 },
        "apgd-t": { steps: 20, nTargetClasses: 3 },
        square: { queries: 100 },
      }[attack] ?? {};
      const r = resolveAttack({ attack, norm, eps: 0.1, options });
      const adv = await runAttack(r, { model: linear, mode: "eval", rng: Rng.fromSeed(5) }, x, y);
      const hit = tf.tidy(() => tf.equal(tf.argMax(linear.forward(adv, "eval"), 1), y).dataSync());
      assert.deepEqual(Array.from(hit, Number), TOY.map((p) => p.robust), `${attack} ${norm}`);
      adv.dispose();
    }
  }
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  tf.dispose([x, y]);
});

// ---------------------------------------------------------------------------------------------
// Relative strength on the small trained model (deterministic: fixed seeds, fixed training).

const trained = await trainSmallModel();
const batch = batchOf(trained.test, 100);

async function robustAccuracy(attack: string, norm: Norm, eps: number, options = {}, seed = 3) {
  const r = resolveAttack({ attack, norm, eps, options });
  const adv = await runAttack(
    r,
    { model: trained.model, mode: "eval", rng: Rng.fromSeed(seed) },
    batch.x,
    batch.y,
  );
  const acc = await accuracy(trained.model, adv, batch.y);
  adv.dispose();
  return acc;
}

// APGD-T alone optimises another loss than APGD-CE, so neither dominates per example (AutoAttack
// runs it after APGD-CE, where it can only lower; the protocol test checks that). Alone, at the
// reference's settings (100 steps, 9 targets), it must be as strong up to one example of the 100:
// measured 0.13 vs 0.13 (L-inf) and 0.10 vs 0.10 (L2) with oneDNN, 0.19 vs 0.18 and 0.12 vs 0.11
// with Eigen kernels (TF_ENABLE_ONEDNN_OPTS=0) on an AVX2 CPU; 50 steps x 5 targets was 0.01
// weaker than APGD-CE there.
Deno.test("strength: APGD-CE-100 >= PGD-10, and APGD-T (100 steps, 9 targets) >= APGD-CE up to one example", async () => {
  const before = tf.memory().numTensors;
  for (const [norm, eps] of [["linf", 0.05], ["l2", 0.5]] as [Norm, number][]) {
    const pgd10 = await robustAccuracy("pgd", norm, eps);
    const ce = await robustAccuracy("apgd-ce", norm, eps);
    const t = await robustAccuracy("apgd-t", norm, eps, { steps: 100, nTargetClasses: 9 });
    assert.ok(pgd10 > 0.1, `${norm}: PGD-10 leaves too little (${pgd10}) to compare`);
    assert.ok(ce <= pgd10, `${norm}: APGD-CE ${ce} > PGD-10 ${pgd10}`);
    assert.ok(t <= ce + 0.01 + 1e-6, `${norm}: APGD-T ${t} > APGD-CE ${ce} + one example`);
  }
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

Deno.test("strength: Square lowers accuracy with more queries (same seed)", async () => {
  const acc = [];
  for (const queries of [20, 100, 400]) {
    acc.push(await robustAccuracy("square", "linf", 0.1, { queries }));
  }
  assert.ok(acc[0] > acc[1] && acc[1] > acc[2], `accuracy by queries 20, 100, 400: ${acc}`);
});
