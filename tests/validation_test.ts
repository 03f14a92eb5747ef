/** Bad options get one sentence naming the option, the bad value and the valid range. */
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/backend.ts";
import { evaluate } from "../lib/training/evaluate.ts";
import { createModel } from "../lib/models/model.ts";
import { Rng } from "../lib/util/rng.ts";
import { type Method, sam, ST } from "../lib/training/method.ts";
import { resolveTrainConfig, train, type TrainConfig } from "../lib/training/train.ts";
import { toyDataset } from "./toy_data.ts";

await initBackend();

type Over = Partial<Record<keyof TrainConfig | "rho" | "rh0", unknown>>;
const bad = (over: Over) => () =>
  resolveTrainConfig({ method: sam(), ...over } as Partial<TrainConfig> & { method: Method });
/** An AT method whose PGD settings are overridden (norm and eps at the top, the rest options). */
const atWith = (o: Record<string, unknown>): Method => {
  const { norm = "linf", eps = 8 / 255, ...options } = o;
  return {
    optimizer: { name: "sgd" },
    perturb: { attack: "pgd", norm, eps, options: { alpha: 2 / 255, steps: 10, ...options } },
  } as Method;
};

Deno.test("validation: training options", () => {
  const cases: [Over, RegExp][] = [
    [
      { method: sam(-0.1) },
      /^OptionError: Invalid option rho: got -0\.1, expected a finite number >= 0\.$/,
    ],
    [
      { method: sam(Infinity) },
      /^OptionError: Invalid option rho: got Infinity, expected a finite number >= 0\.$/,
    ],
    [
      { method: { optimizer: { name: "sam", rho: 0.1, adaptive: "yes" }, perturb: null } },
      /^OptionError: Invalid option adaptive: got "yes", expected true or false\.$/,
    ],
    [
      { method: atWith({ eps: 2 }) },
      /^OptionError: Invalid option pgd\.eps: got 2, expected a finite number >= 0 and <= 1\.$/,
    ],
    [
      { method: atWith({ eps: -1 / 255 }) },
      /^OptionError: Invalid option pgd\.eps: got -0\.0039\d*, expected a finite number >= 0 and <= 1\.$/,
    ],
    [
      // A zero step never leaves the random start: refused when the method is resolved, not
      // at the first training step.
      { method: atWith({ alpha: 0 }) },
      /^OptionError: Invalid option pgd\.alpha: got 0, expected a finite number > 0\.$/,
    ],
    [
      { method: atWith({ steps: 0 }) },
      /^OptionError: Invalid option pgd\.steps: got 0, expected an integer >= 1\.$/,
    ],
    [
      { method: atWith({ steps: 2.5 }) },
      /^OptionError: Invalid option pgd\.steps: got 2\.5, expected an integer >= 1\.$/,
    ],
    [
      { method: atWith({ norm: "l1" }) },
      /^OptionError: Invalid option pgd\.norm: got "l1", expected one of "linf", "l2"\.$/,
    ],
    [
      { method: atWith({ step: 3 }) },
      /^OptionError: Unknown pgd option "step": valid options are steps, alpha, randomStart\.$/,
    ],
    [
      { method: { optimizer: { name: "sgd" }, perturb: { attack: "cw", norm: "linf", eps: 0.1 } } },
      /^OptionError: Unknown attack "cw": use one of fgsm, pgd, apgd-ce, apgd-t, apgd-dlr, square\.$/,
    ],
    [
      { method: { optimizer: { name: "msam" }, perturb: null } },
      /^OptionError: Invalid option method\.optimizer\.name: got "msam", expected one of "sgd", "sam", "looksam"\.$/,
    ],
    [
      // The first version's method names are not methods any more: one sentence, not a crash.
      { method: "SAM" },
      /^OptionError: Invalid option method: got "SAM", expected \{ optimizer, perturb \}\.$/,
    ],
    [
      { method: { optimizer: { name: "sam", rho: 0.1 }, perturb: null, rho: 0.1 } },
      /^OptionError: Unknown method option "rho": valid options are optimizer, perturb\.$/,
    ],
    [
      { arch: "resnet50" },
      /^OptionError: Invalid option arch: got "resnet50", expected one of "prn18", "smallcnn", "wrn16"\.$/,
    ],
    [{ epochs: 0 }, /^OptionError: Invalid option epochs: got 0, expected an integer >= 1\.$/],
    [
      { batchSize: 0 },
      /^OptionError: Invalid option batchSize: got 0, expected an integer >= 1\.$/,
    ],
    [
      { batchSize: "128" },
      /^OptionError: Invalid option batchSize: got "128", expected an integer >= 1\.$/,
    ],
    [{ lr: NaN }, /^OptionError: Invalid option lr: got NaN, expected a finite number > 0\.$/],
    [{ lr: 0 }, /^OptionError: Invalid option lr: got 0, expected a finite number > 0\.$/],
    [
      { momentum: 1.5 },
      /^OptionError: Invalid option momentum: got 1\.5, expected a finite number >= 0 and < 1\.$/,
    ],
    [
      { weightDecay: -1 },
      /^OptionError: Invalid option weightDecay: got -1, expected a finite number >= 0\.$/,
    ],
    [
      { width: 1.5 },
      /^OptionError: Invalid option width: got 1\.5, expected an integer >= 1 and <= 4096\.$/,
    ],
    [
      { augment: "mixup" },
      /^OptionError: Invalid option augment: got "mixup", expected one of "cifar", "fashion", "none"\.$/,
    ],
    [
      { runningStats: "never" },
      /^OptionError: Invalid option runningStats: got "never", expected one of "loss-pass", "all-passes"\.$/,
    ],
    [
      { seed: -3 },
      /^OptionError: Invalid option seed: got -3, expected an integer >= 0 and <= 4294967295\.$/,
    ],
    [
      { rh0: 0.1 },
      /^OptionError: Unknown training option "rh0": valid options are method, arch, width, epochs, /,
    ],
    [
      // The first version's flat rho is a training option no more (it lives in the method).
      { rho: 0.1 },
      /^OptionError: Unknown training option "rho": valid options are method, arch, /,
    ],
  ];
  // Every case is tried; the failure names all that did not throw as expected.
  const wrong = cases.flatMap(([over, re]) => {
    try {
      bad(over)();
      return [`${JSON.stringify(over)}: no error`];
    } catch (err) {
      const text = `${(err as Error).name}: ${(err as Error).message}`;
      return re.test(text) ? [] : [`${JSON.stringify(over)}: ${text}`];
    }
  });
  assert.deepEqual(wrong, []);
});

Deno.test("validation: defaults fill in; a setting of another optimizer is refused, not dropped", () => {
  const s = resolveTrainConfig({ method: { optimizer: { name: "sam" }, perturb: null } as Method });
  assert.deepEqual(s.method, {
    optimizer: { name: "sam", rho: 0.05, adaptive: false },
    perturb: null,
  });
  assert.equal(s.batchSize, 128);
  assert.equal(s.augment, "auto");
  const a = resolveTrainConfig({
    method: { optimizer: { name: "sgd" }, perturb: { attack: "pgd", norm: "linf", eps: 8 / 255 } },
  });
  assert.deepEqual(a.method.perturb, {
    attack: "pgd",
    norm: "linf",
    eps: 8 / 255,
    options: { steps: 10, alpha: 2 / 255, randomStart: true },
  });
  // Settings now live with the part they belong to: SGD has no radius to drop silently.
  assert.throws(
    () =>
      resolveTrainConfig({
        method: { optimizer: { name: "sgd", rho: 0.1 }, perturb: null } as Method,
      }),
    /^OptionError: Unknown method\.optimizer option "rho": valid options are name\.$/,
  );
  // Resolving does not change the caller's method object.
  const m = sam(0.1);
  resolveTrainConfig({ method: m });
  assert.deepEqual(m, sam(0.1));
});

Deno.test("validation: evaluation and data", async () => {
  const model = createModel({
    arch: "smallcnn",
    width: 2,
    inputShape: [8, 8, 1],
    numClasses: 3,
    mean: [0],
    std: [1],
  }, Rng.fromSeed(0));
  const data = toyDataset(4);
  // eps = 0 is a valid evaluation now (the ball is the point itself: robust = correct) ...
  const zero = await evaluate(model, data, {
    evals: [{ attack: "pgd", norm: "linf", eps: 0 }],
    progress: "none",
  });
  assert.deepEqual(zero.evals["pgd10_linf_0_255"].robust, zero.correct);
  // ... but a radius outside [0, 1], a bad norm, a bad attack option or an unknown attack is not.
  await assert.rejects(
    evaluate(model, data, { evals: [{ attack: "pgd", norm: "linf", eps: 2 }] }),
    /^OptionError: Invalid option pgd\.eps: got 2, expected a finite number >= 0 and <= 1\.$/,
  );
  await assert.rejects(
    evaluate(model, data, { evals: [{ attack: "pgd", norm: "lp" as "l2", eps: 0.1 }] }),
    /Invalid option pgd\.norm: got "lp"/,
  );
  await assert.rejects(
    evaluate(model, data, { batchSize: 0 }),
    /Invalid option batchSize: got 0, expected an integer >= 1\./,
  );
  await assert.rejects(
    evaluate(model, data, {
      evals: [{ attack: "pgd", norm: "l2", eps: 0.1, options: { steps: -1 } }],
    }),
    /Invalid option pgd\.steps: got -1, expected an integer >= 1\./,
  );
  await assert.rejects(
    evaluate(model, data, { evals: [{ attack: "cw", norm: "l2", eps: 0.1 }] }),
    /^OptionError: Unknown attack "cw": use one of fgsm, pgd, apgd-ce, apgd-t, apgd-dlr, square, autoattack\.$/,
  );
  const broken = { ...data, labels: new Int32Array(2) };
  await assert.rejects(
    train(broken, { method: ST, arch: "smallcnn", width: 2, epochs: 1 }, { progress: "none" }),
    /^OptionError: Invalid training data "toy": expected n >= 1 examples/,
  );
  model.dispose();
});
