/** evaluate(): clean accuracy, evaluations by column key, per-evaluation noise, protocol flags. */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { threatKey } from "../lib/attacks/attack.ts";
import { resolveEval } from "../lib/attacks/protocols.ts";
import { autoattack, PAPER_EVALS, pgd10 } from "../lib/experiments/columns.ts";
import { type EvalSpec, evaluate } from "../lib/training/evaluate.ts";
import type { Classifier } from "../lib/models/model.ts";
import { toyDataset } from "./toy_data.ts";

await initBackend();

Deno.test("eval: column keys name the attack, its budget and the threat, in the paper's column order", () => {
  assert.deepEqual(PAPER_EVALS.map((e) => resolveEval(e).key), [
    "pgd10_linf_1_255",
    "pgd10_linf_2_255",
    "pgd10_l2_16_255",
    "pgd10_l2_32_255",
  ]);
  assert.equal(threatKey("linf", 0.5 / 255), "linf_eps0.00196078");
  assert.equal(resolveEval(pgd10("linf", 0.5 / 255)).key, "pgd10_linf_eps0.00196078");
  assert.equal(resolveEval(autoattack("linf", 8 / 255)).key, "aa_linf_8_255");
  assert.equal(resolveEval(pgd10("l2", 128 / 255)).label, "PGD-10 L2 128/255");
});

const data = toyDataset(37, 8, 1, 3);
/** Logit k = sum of the pixels of quadrant k: a decent classifier for the toy data. */
function quadrantModel(classes: number): { model: Classifier; masks: tf.Tensor2D } {
  const masks = tf.tidy(() => {
    const m = new Float32Array(64 * classes);
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        const q = (y >= 4 ? 1 : 0) + (x >= 4 ? 2 : 0);
        if (q < classes) m[(y * 8 + x) * classes + q] = 1;
      }
    }
    return tf.keep(tf.tensor2d(m, [64, classes]));
  });
  return {
    masks,
    model: { forward: (x) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], 64]), masks)) },
  };
}
const { model, masks } = quadrantModel(3);
const sum = (a: Uint8Array) => a.reduce((s, v) => s + v, 0);

Deno.test("eval: clean accuracy counts argmax hits in batches; a linear model loses accuracy under attack", async () => {
  const expected = tf.tidy(() => {
    const x = tf.tensor4d(data.images, [37, 8, 8, 1]);
    const pred = tf.argMax(model.forward(x, "eval"), 1).dataSync();
    return Array.from(pred).filter((p, i) => p === data.labels[i]).length / 37;
  });
  const before = tf.memory().numTensors;
  const r = await evaluate(model, data, {
    evals: [{ attack: "pgd", norm: "linf", eps: 0.3 }, { attack: "pgd", norm: "l2", eps: 1e-4 }],
    batchSize: 10,
    progress: "none",
  });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(r.n, 37);
  assert.equal(r.clean, expected);
  assert.equal(sum(r.correct), Math.round(expected * 37));
  assert.ok(r.clean > 0.9);
  assert.deepEqual(Object.keys(r.robust), ["pgd10_linf_eps0.3", "pgd10_l2_eps0.0001"]);
  assert.ok(r.robust["pgd10_linf_eps0.3"] < 0.2, `robust ${r.robust["pgd10_linf_eps0.3"]}`);
  assert.ok(Math.abs(r.robust["pgd10_l2_eps0.0001"] - r.clean) <= 1 / 37);
  for (const [key, e] of Object.entries(r.evals)) {
    assert.equal(e.key, key);
    assert.equal(e.robust.length, 37);
    assert.equal(sum(e.robust) / 37, e.accuracy);
    assert.equal(r.robust[key], e.accuracy);
    // A single attack is one stage, and its options are resolved (PGD-10, step eps/4).
    assert.deepEqual(e.stages, [{ attack: "pgd", accuracy: e.accuracy }]);
    assert.deepEqual(e.spec.options, { steps: 10, alpha: e.spec.eps / 4, randomStart: true });
  }
  const limited = await evaluate(model, data, { limit: 5, progress: "none" });
  assert.equal(limited.n, 5);
  assert.deepEqual(limited.evals, {});
});

Deno.test("eval: each evaluation draws from its own Rng (seed, key): adding one never changes another", async () => {
  // A one-step attack at a radius where the random start decides a few points.
  const a: EvalSpec = {
    attack: "pgd",
    norm: "linf",
    eps: 0.22,
    options: { steps: 1, alpha: 0.22 },
  };
  const b: EvalSpec = { attack: "pgd", norm: "l2", eps: 1, options: { steps: 2 } };
  const alone = await evaluate(model, data, { evals: [a], seed: 5, progress: "none" });
  const both = await evaluate(model, data, { evals: [b, a], seed: 5, progress: "none" });
  const key = "pgd1_linf_eps0.22";
  assert.deepEqual(both.evals[key].robust, alone.evals[key].robust);
  assert.equal(both.evals[key].accuracy, alone.evals[key].accuracy);
  // Not vacuous: the noise matters here (another seed gives other flags), and the same seed and
  // key give the same stream.
  const other = await evaluate(model, data, { evals: [a], seed: 6, progress: "none" });
  assert.notDeepEqual(other.evals[key].robust, alone.evals[key].robust);
  const again = await evaluate(model, data, { evals: [a], seed: 5, progress: "none" });
  assert.deepEqual(again.evals[key].robust, alone.evals[key].robust);
  // Each evaluation once per call.
  await assert.rejects(
    evaluate(model, data, { evals: [a, { ...a }], progress: "none" }),
    /^OptionError: Invalid option evals: got "pgd1_linf_eps0\.22", expected each evaluation once\.$/,
  );
});

Deno.test("eval: a protocol (AutoAttack) attacks only the points still robust; its flags are the per-example worst case", async () => {
  // Four classes: APGD-T's targeted DLR loss needs at least 4.
  const data = toyDataset(37, 8, 1, 4);
  const { model, masks } = quadrantModel(4);
  const cheap = autoattack("linf", 0.18, undefined, {
    "apgd-ce": { steps: 5 },
    "apgd-t": { steps: 5, nTargetClasses: 2 },
    square: { queries: 20 },
  });
  const pgdSpec: EvalSpec = { attack: "pgd", norm: "linf", eps: 0.18, options: { steps: 5 } };
  const before = tf.memory().numTensors;
  const r = await evaluate(model, data, {
    evals: [cheap, pgdSpec],
    batchSize: 16,
    progress: "none",
  });
  assert.equal(tf.memory().numTensors, before);
  const e = r.evals["aa-apgdce5-apgdt5t2-square20_linf_eps0.18"]; // budgets named in the key
  assert.ok(e, Object.keys(r.evals).join(", "));
  assert.deepEqual(e.stages.map((s) => s.attack), ["apgd-ce", "apgd-t", "square"]);
  // Robust at the end => correct without attack (a misclassified point is never robust) ...
  e.robust.forEach((v, i) => assert.ok(v <= r.correct[i], `example ${i}`));
  // ... each stage can only lower the robust accuracy, and the last stage's is the evaluation's.
  const acc = [r.clean, ...e.stages.map((s) => s.accuracy)];
  for (let k = 1; k < acc.length; k++) assert.ok(acc[k] <= acc[k - 1], acc.join(" > "));
  assert.equal(e.stages.at(-1)!.accuracy, e.accuracy);
  assert.equal(sum(e.robust) / 37, e.accuracy);
  assert.ok(e.accuracy < r.clean, "the ensemble fools some points");
  // Measured here (seeded): APGD-CE alone is far stronger than PGD-5 at the same radius.
  assert.ok(e.accuracy < r.robust["pgd5_linf_eps0.18"], JSON.stringify(r.robust));
  // The resolved spec keeps every stage's options (for the evaluations file).
  assert.deepEqual(Object.keys(e.spec.options), ["apgd-ce", "apgd-t", "square"]);
  // Unknown stages of a protocol are refused in one sentence naming its stages.
  await assert.rejects(
    evaluate(model, data, { evals: [autoattack("linf", 0.1, undefined, { fab: {} })] }),
    /^OptionError: Unknown stage "fab" in the options of autoattack: its stages are apgd-ce, apgd-t, square\.$/,
  );
  masks.dispose();
});

Deno.test({
  name: "eval: cleanup",
  fn: () => masks.dispose(),
});
