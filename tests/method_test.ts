/**
 * A training method is optimizer x input perturbation: resolving and refusing methods, their
 * family names, descriptions and CSV columns, and training steps of the combinations.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { EXTRA_ROWS, GRID, rowById } from "../lib/experiments/grid.ts";
import { createModel, type ModelSpec } from "../lib/models/model.ts";
import { createSgd } from "../lib/optim/sgd.ts";
import {
  at,
  describeMethod,
  familyOf,
  type Method,
  methodColumns,
  pgdInputs,
  resolveMethod,
  sam,
  SAM_DEFAULT_RHO,
  ST,
} from "../lib/training/method.ts";
import { makeTrainStep } from "../lib/training/train.ts";
import { Rng } from "../lib/util/rng.ts";
import { toyDataset } from "./toy_data.ts";

await initBackend();

const linf8 = pgdInputs("linf", 8 / 255, 2 / 255, 10);
const SAM_AT: Method = { optimizer: sam(0.1).optimizer, perturb: linf8 };

/** One sentence: a single line ending in a full stop. */
function oneSentence(f: () => unknown, re: RegExp) {
  assert.throws(f, (e: Error) => {
    assert.equal(e.name, "OptionError");
    assert.match(e.message, re);
    assert.doesNotMatch(e.message, /\n/);
    assert.match(e.message, /\.$/);
    return true;
  });
}

Deno.test("method: resolveMethod fills every default and leaves its argument alone", () => {
  assert.deepEqual(resolveMethod(ST), { optimizer: { name: "sgd" }, perturb: null });
  const bare = { optimizer: { name: "sam" }, perturb: null } as Method;
  assert.deepEqual(resolveMethod(bare), {
    optimizer: { name: "sam", rho: SAM_DEFAULT_RHO, adaptive: false },
    perturb: null,
  });
  assert.deepEqual(bare, { optimizer: { name: "sam" }, perturb: null });
  assert.equal(SAM_DEFAULT_RHO, 0.05);
  // An attack's unset options take the attack's defaults (PGD: 10 steps of eps/4, random start).
  assert.deepEqual(
    resolveMethod({ optimizer: { name: "sgd" }, perturb: { attack: "pgd", norm: "l2", eps: 0.5 } }),
    {
      optimizer: { name: "sgd" },
      perturb: {
        attack: "pgd",
        norm: "l2",
        eps: 0.5,
        options: { steps: 10, alpha: 0.125, randomStart: true },
      },
    },
  );
  // A missing perturbation is clean inputs.
  assert.deepEqual(resolveMethod({ optimizer: { name: "sgd" } } as Method), ST);
  // Resolving twice changes nothing.
  const r = resolveMethod(SAM_AT);
  assert.deepEqual(resolveMethod(r), r);
  assert.ok(Object.isFrozen(ST));
});

Deno.test("method: unknown optimizer, bad rho, unknown attack: one sentence each", () => {
  oneSentence(
    () => resolveMethod({ optimizer: { name: "adam" }, perturb: null } as unknown as Method),
    /^Invalid option method\.optimizer\.name: got "adam", expected one of "sgd", "sam", "looksam"\.$/,
  );
  oneSentence(
    () => resolveMethod({ perturb: null } as unknown as Method),
    /^Invalid option method\.optimizer: got undefined, expected \{ name: one of sgd, sam, looksam \}\.$/,
  );
  oneSentence(
    () => resolveMethod(sam(-1)),
    /^Invalid option rho: got -1, expected a finite number >= 0\.$/,
  );
  oneSentence(
    () => resolveMethod(sam(NaN)),
    /^Invalid option rho: got NaN, expected a finite number >= 0\.$/,
  );
  oneSentence(
    () =>
      resolveMethod({
        optimizer: { name: "sgd" },
        perturb: { attack: "mim", norm: "linf", eps: 0.1 },
      }),
    /^Unknown attack "mim": use one of fgsm, pgd, apgd-ce, apgd-t, apgd-dlr, square\.$/,
  );
  // A protocol is an evaluation, not a way to make training inputs.
  oneSentence(
    () =>
      resolveMethod({
        optimizer: { name: "sgd" },
        perturb: { attack: "autoattack", norm: "linf", eps: 0.1 },
      }),
    /^Unknown attack "autoattack": use one of /,
  );
  oneSentence(
    () => resolveMethod(at("linf", 8 / 255, 2 / 255, 0)),
    /^Invalid option pgd\.steps: got 0, expected an integer >= 1\.$/,
  );
  oneSentence(() => resolveMethod("SAM" as unknown as Method), /^Invalid option method: got "SAM"/);
  oneSentence(() => resolveMethod(null as unknown as Method), /^Invalid option method: got null/);
});

Deno.test("method: family, description and CSV columns of ST, SAM, ASAM, AT, SAM+AT", () => {
  const cases: [Method, string, string, Record<string, unknown>][] = [
    [ST, "ST", "ST", {
      method: "ST",
      optimizer: "sgd",
      rho: null,
      adaptive: null,
      perturb: null,
      norm: null,
      eps: null,
      alpha: null,
      steps: null,
    }],
    [sam(0.1), "SAM", "SAM rho=0.1", {
      method: "SAM",
      optimizer: "sam",
      rho: 0.1,
      adaptive: false,
      perturb: null,
      norm: null,
      eps: null,
      alpha: null,
      steps: null,
    }],
    [sam(1, true), "ASAM", "ASAM rho=1", {
      method: "ASAM",
      optimizer: "sam",
      rho: 1,
      adaptive: true,
      perturb: null,
      norm: null,
      eps: null,
      alpha: null,
      steps: null,
    }],
    [at("linf", 8 / 255, 2 / 255, 10), "AT", "AT pgd L∞ 8/255 alpha=2/255 steps=10", {
      method: "AT",
      optimizer: "sgd",
      rho: null,
      adaptive: null,
      perturb: "pgd",
      norm: "linf",
      eps: 8 / 255,
      alpha: 2 / 255,
      steps: 10,
    }],
    [at("l2", 128 / 255, 64 / 255, 5), "AT", "AT pgd L2 128/255 alpha=64/255 steps=5", {
      method: "AT",
      optimizer: "sgd",
      rho: null,
      adaptive: null,
      perturb: "pgd",
      norm: "l2",
      eps: 128 / 255,
      alpha: 64 / 255,
      steps: 5,
    }],
    [SAM_AT, "SAM+AT", "SAM rho=0.1 + AT pgd L∞ 8/255 alpha=2/255 steps=10", {
      method: "SAM+AT",
      optimizer: "sam",
      rho: 0.1,
      adaptive: false,
      perturb: "pgd",
      norm: "linf",
      eps: 8 / 255,
      alpha: 2 / 255,
      steps: 10,
    }],
    [
      { optimizer: sam(0.5, true).optimizer, perturb: linf8 },
      "ASAM+AT",
      "ASAM rho=0.5 + AT pgd L∞ 8/255 alpha=2/255 steps=10",
      {
        method: "ASAM+AT",
        optimizer: "sam",
        rho: 0.5,
        adaptive: true,
        perturb: "pgd",
        norm: "linf",
        eps: 8 / 255,
        alpha: 2 / 255,
        steps: 10,
      },
    ],
  ];
  for (const [m, family, text, cols] of cases) {
    assert.equal(familyOf(m), family, text);
    assert.equal(describeMethod(m), text);
    assert.deepEqual(methodColumns(m), cols, text);
    // Resolved or not, a method reads the same.
    assert.equal(describeMethod(resolveMethod(m)), text);
    assert.deepEqual(methodColumns(resolveMethod(m)), cols);
  }
  // The first version's columns keep their names and meaning for the paper's rows.
  for (const r of GRID) {
    const c = methodColumns(r.method);
    assert.equal(c.method, r.group.startsWith("AT") ? "AT" : r.group, r.id);
  }
});

const spec: ModelSpec = {
  arch: "smallcnn",
  width: 2,
  inputShape: [8, 8, 1],
  numClasses: 3,
  mean: [0],
  std: [1],
};
const data = toyDataset(16, 8, 1, 3);

/** Parameters and running statistics after one training step of `method` from a fixed start. */
async function oneStep(method: Method): Promise<number[]> {
  const model = createModel(spec, Rng.fromSeed(4));
  const opt = createSgd(model.params, { momentum: 0.9, weightDecay: 5e-4 });
  const x = tf.tensor4d(data.images, [16, 8, 8, 1]);
  const y = tf.tensor1d(data.labels, "int32");
  try {
    const step = makeTrainStep(model, opt, method, "loss-pass", Rng.fromSeed(1));
    const loss = await step(x, y, 0.1);
    assert.ok(Number.isFinite(loss.dataSync()[0]));
    loss.dispose();
    return [...model.params, ...model.buffers].flatMap((p) => Array.from(p.dataSync()));
  } finally {
    tf.dispose([x, y]);
    opt.dispose();
    model.dispose();
  }
}

Deno.test("method: a SAM+AT step runs and differs from both the SAM-only and the AT-only step from the same start", async () => {
  const before = tf.memory().numTensors;
  const samOnly = await oneStep(sam(0.1));
  const atOnly = await oneStep({ optimizer: { name: "sgd" }, perturb: linf8 });
  const both = await oneStep(SAM_AT);
  const st = await oneStep(ST);
  assert.equal(tf.memory().numTensors, before, "no tensor leak");
  const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
  assert.ok(maxDiff(both, samOnly) > 1e-6, `SAM+AT vs SAM ${maxDiff(both, samOnly)}`);
  assert.ok(maxDiff(both, atOnly) > 1e-6, `SAM+AT vs AT ${maxDiff(both, atOnly)}`);
  assert.ok(maxDiff(samOnly, st) > 1e-6 && maxDiff(atOnly, st) > 1e-6);
  // The two halves compose exactly: SAM at rho 0 on PGD inputs is the AT step, and SAM on a
  // zero-radius "attack" (which returns x and draws nothing) is the SAM step.
  assert.deepEqual(await oneStep({ optimizer: sam(0).optimizer, perturb: linf8 }), atOnly);
  assert.deepEqual(
    await oneStep({ optimizer: sam(0.1).optimizer, perturb: pgdInputs("linf", 0, 2 / 255, 10) }),
    samOnly,
  );
  // The grid's SAM+AT row is this method.
  assert.deepEqual(rowById("SAM-0.1+AT-linf-8")!.method, SAM_AT);
});

Deno.test("method: ASAM is just sam(rho, true): a grid row, a training step, a family", async () => {
  assert.deepEqual(sam(1, true), {
    optimizer: { name: "sam", rho: 1, adaptive: true },
    perturb: null,
  });
  assert.deepEqual(
    EXTRA_ROWS.filter((r) => r.group === "ASAM").map((r) => [r.id, r.method]),
    [["ASAM-0.5", sam(0.5, true)], ["ASAM-1", sam(1, true)]],
  );
  const asam = await oneStep(sam(0.5, true));
  const samSame = await oneStep(sam(0.5));
  assert.ok(
    asam.some((v, i) => v !== samSame[i]),
    "the adaptive ball moves the weights differently",
  );
  assert.equal(familyOf(sam(0.5, true)), "ASAM");
});
