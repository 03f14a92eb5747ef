/** Bad options get one sentence naming the option, the bad value and the valid range. */
import assert from "node:assert/strict";
import { initBackend } from "../lib/backend/backend.ts";
import { evaluate } from "../lib/training/evaluate.ts";
import { createModel } from "../lib/models/model.ts";
import { Rng } from "../lib/util/rng.ts";
import { resolveTrainConfig, train, type TrainConfig } from "../lib/training/train.ts";
import { toyDataset } from "./toy_data.ts";

await initBackend();

const bad = (over: Record<string, any>) => () =>
  resolveTrainConfig({ method: "SAM", ...over } as Partial<TrainConfig> & { method: "SAM" });

Deno.test("validation: training options", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { rho: -0.1 },
      /^OptionError: Invalid option rho: got -0\.1, expected a finite number >= 0\.$/,
    ],
    [
      { rho: Infinity },
      /^OptionError: Invalid option rho: got Infinity, expected a finite number >= 0\.$/,
    ],
    [
      { method: "AT", eps: 2 },
      /^OptionError: Invalid option eps: got 2, expected a finite number >= 0 and <= 1\.$/,
    ],
    [
      { method: "AT", eps: -1 / 255 },
      /^OptionError: Invalid option eps: got -0\.0039\d*, expected a finite number >= 0 and <= 1\.$/,
    ],
    [
      { method: "AT", alpha: 0 },
      /^OptionError: Invalid option alpha: got 0, expected a finite number > 0\.$/,
    ],
    [
      { method: "AT", steps: 0 },
      /^OptionError: Invalid option steps: got 0, expected an integer >= 1\.$/,
    ],
    [
      { method: "AT", steps: 2.5 },
      /^OptionError: Invalid option steps: got 2\.5, expected an integer >= 1\.$/,
    ],
    [
      { method: "AT", norm: "l1" },
      /^OptionError: Invalid option norm: got "l1", expected one of "linf", "l2"\.$/,
    ],
    [
      { method: "MSAM" },
      /^OptionError: Invalid option method: got "MSAM", expected one of "ST", "SAM", "AT"\.$/,
    ],
    [
      { arch: "resnet50" },
      /^OptionError: Invalid option arch: got "resnet50", expected one of "prn18", "smallcnn"\.$/,
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
      /^OptionError: Unknown training option "rh0": valid options are method, rho, norm, eps, alpha, steps, arch, /,
    ],
  ];
  for (const [over, re] of cases) assert.throws(bad(over), re, JSON.stringify(over));
});

Deno.test("validation: defaults fill in and settings of other methods are dropped", () => {
  const sam = resolveTrainConfig(
    { method: "SAM", eps: 0.1 } as Partial<TrainConfig> & { method: "SAM" },
  );
  assert.equal(sam.rho, 0.05);
  assert.equal(sam.eps, undefined);
  assert.equal(sam.batchSize, 128);
  const at = resolveTrainConfig(
    { method: "AT", rho: 0.1 } as Partial<TrainConfig> & { method: "AT" },
  );
  assert.equal(at.rho, undefined);
  assert.deepEqual([at.norm, at.steps], ["linf", 10]);
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
  await assert.rejects(
    evaluate(model, data, { attacks: [{ norm: "linf", eps: 0 }] }),
    /^OptionError: Invalid option attacks\[0\]\.eps: got 0, expected a finite number > 0 and <= 1\.$/,
  );
  await assert.rejects(
    evaluate(model, data, { attacks: [{ norm: "lp" as "l2", eps: 0.1 }] }),
    /Invalid option attacks\[0\]\.norm: got "lp"/,
  );
  await assert.rejects(
    evaluate(model, data, { batchSize: 0 }),
    /Invalid option batchSize: got 0, expected an integer >= 1\./,
  );
  await assert.rejects(
    evaluate(model, data, { steps: -1 }),
    /Invalid option steps: got -1, expected an integer >= 1\./,
  );
  const broken = { ...data, labels: new Int32Array(2) };
  await assert.rejects(
    train(broken, { method: "ST", arch: "smallcnn", width: 2, epochs: 1 }, { progress: "none" }),
    /^OptionError: Invalid training data "toy": expected n >= 1 examples/,
  );
  model.dispose();
});
