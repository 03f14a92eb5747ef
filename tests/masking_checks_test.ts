/**
 * Gradient-masking checks: each pure check on hand-made numbers, then maskingChecks() end to end
 * on a linear classifier (no masking: all pass) and on the same classifier behind a rounding
 * step (zero gradients everywhere: Square finds what APGD cannot, so the checks flag it).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import {
  checkLargeRadius,
  checkMoreSteps,
  checkOrdering,
  checkSquareAfterApgd,
  maskingChecks,
} from "../lib/attacks/masking_checks.ts";
import type { Dataset } from "../lib/data/data.ts";
import type { Classifier } from "../lib/models/model.ts";
import type { EvalResult } from "../lib/training/evaluate.ts";
import { Rng } from "../lib/util/rng.ts";

await initBackend();

type Column = EvalResult["evals"][string];

function column(attack: string, eps: number, accuracy: number, stages?: number[]): Column {
  const names = stages ? ["apgd-ce", "apgd-t", "square"] : [attack];
  return {
    key: `${attack}_${eps}`,
    label: `${attack} ${eps}`,
    spec: { attack, norm: "linf", eps, options: {} },
    accuracy,
    robust: new Uint8Array(),
    stages: (stages ?? [accuracy]).map((a, k) => ({ attack: names[k], accuracy: a })),
    seconds: 0,
  };
}

function result(clean: number, cols: Column[]): EvalResult {
  const evals = Object.fromEntries(cols.map((c) => [c.key, c]));
  return {
    n: 100,
    clean,
    correct: new Uint8Array(),
    evals,
    robust: Object.fromEntries(cols.map((c) => [c.key, c.accuracy])),
    seconds: 0,
  };
}

Deno.test("masking checks: each pure check against its stated threshold", () => {
  assert.equal(
    checkSquareAfterApgd(column("autoattack", 0.1, 0.445, [0.5, 0.45, 0.445])).passed,
    true,
  );
  const bad = checkSquareAfterApgd(column("autoattack", 0.1, 0.43, [0.5, 0.45, 0.43]));
  assert.equal(bad.passed, false);
  assert.match(bad.detail, /Square fooled 2\.00% .* flagged above 1\.00%/);
  assert.throws(() => checkSquareAfterApgd(column("pgd", 0.1, 0.4)), /AutoAttack column/);

  assert.equal(checkLargeRadius(0.005, "APGD-CE L∞ 0.5").passed, true);
  assert.equal(checkLargeRadius(0.01, "APGD-CE L∞ 0.5").passed, false); // must be below 1%

  const pgd10 = { label: "PGD-10", accuracy: 0.4 };
  assert.equal(checkMoreSteps(pgd10, [{ label: "PGD-50", accuracy: 0.409 }]).passed, true);
  const worse = checkMoreSteps(pgd10, [{ label: "PGD-50", accuracy: 0.38 }, {
    label: "APGD",
    accuracy: 0.42,
  }]);
  assert.equal(worse.passed, false);
  assert.match(worse.detail, /APGD is weaker/);

  const good = result(0.9, [
    column("pgd", 0.1, 0.5),
    column("pgd", 0.2, 0.3),
    column("fgsm", 0.1, 0.6),
  ]);
  assert.equal(checkOrdering(good).passed, true);
  const rising = result(0.9, [
    column("pgd", 0.1, 0.3),
    column("pgd", 0.2, 0.5),
    column("fgsm", 0.1, 0.95),
  ]);
  const r = checkOrdering(rising);
  assert.equal(r.passed, false);
  assert.match(
    r.detail,
    /fgsm 0\.1 95\.00% > clean 90\.00%; pgd 0\.2 50\.00% > pgd 0\.1 30\.00%\.$/,
  );
});

// 2x2 images, class = brightest pixel, gaps spread over [0, 0.4] so every radius has work to do.
function brightest(n: number): Dataset {
  const rng = Rng.fromSeed(4);
  const images = new Float32Array(n * 4), labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % 4;
    const base = 0.3 + 0.1 * rng.float();
    for (let k = 0; k < 4; k++) {
      images[i * 4 + k] = base + (k === y ? 0.4 * rng.float() : 0.05 * rng.float());
    }
    labels[i] = y;
  }
  return {
    name: "brightest",
    images,
    labels,
    n,
    height: 2,
    width: 2,
    channels: 1,
    numClasses: 4,
    normalization: { mean: [0], std: [1] },
  };
}

const linear: Classifier = {
  forward: (x) => tf.tidy(() => tf.mul(tf.reshape(x, [x.shape[0], 4]), 4)),
};
/** The same decisions, but through round(): zero gradient everywhere. */
const masked: Classifier = {
  forward: (x) =>
    tf.tidy(() => tf.mul(tf.div(tf.round(tf.mul(tf.reshape(x, [x.shape[0], 4]), 50)), 50), 4)),
};

const QUICK = {
  autoattack: {
    "apgd-ce": { steps: 20 },
    "apgd-t": { steps: 20, nTargetClasses: 3 },
    square: { queries: 300 },
  },
};

Deno.test("maskingChecks: a linear model passes all four; a zero-gradient model is flagged", async () => {
  const data = brightest(80);
  const threat = { norm: "linf" as const, eps: 0.05 };
  const before = tf.memory().numTensors;
  const ok = await maskingChecks(linear, data, threat, QUICK);
  assert.deepEqual(ok.checks.map((c) => c.name), [
    "square-after-apgd",
    "large-radius",
    "more-steps",
    "ordering",
  ]);
  for (const c of ok.checks) assert.ok(c.passed, c.detail);
  assert.equal(ok.largeRadiusAccuracy, 0);

  const bad = await maskingChecks(masked, data, threat, QUICK);
  const byName = Object.fromEntries(bad.checks.map((c) => [c.name, c]));
  assert.equal(byName["square-after-apgd"].passed, false, byName["square-after-apgd"].detail);
  assert.equal(byName["large-radius"].passed, false, byName["large-radius"].detail);

  // With a given main evaluation, AutoAttack is not rerun and its ordering is checked too.
  const again = await maskingChecks(linear, data, threat, { ...QUICK, result: ok.result });
  assert.deepEqual(again.checks.map((c) => c.name), [
    "square-after-apgd",
    "large-radius",
    "more-steps",
    "ordering",
    "ordering-main",
  ]);
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});
