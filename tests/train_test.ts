/** The training loop: exact resume, config mismatch, NaN stop, no tensor leak, schedule. */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { CHECKPOINT_FILE, loadCheckpoint } from "../lib/training/checkpoint.ts";
import { type BatchMoments, createModel } from "../lib/models/model.ts";
import { Rng } from "../lib/util/rng.ts";
import { createSgd } from "../lib/optim/sgd.ts";
import { at, type Method, sam, ST } from "../lib/training/method.ts";
import {
  makeTrainStep,
  piecewiseLr,
  type RunningStats,
  train,
  type TrainConfig,
  TrainingDivergedError,
} from "../lib/training/train.ts";
import { toyDataset } from "./toy_data.ts";

await initBackend();

const data = toyDataset(48, 8, 1, 3);
const base: Partial<TrainConfig> & { method: Method } = {
  method: at("linf", 8 / 255, 4 / 255, 2),
  arch: "smallcnn",
  width: 2,
  epochs: 3,
  batchSize: 16,
  lr: 0.05,
  augment: "fashion", // exercises the crop/flip draws
  seed: 11,
};

function weights(
  r: { model: { params: readonly tf.Variable[]; buffers: readonly tf.Variable[] } },
): number[] {
  return [...r.model.params, ...r.model.buffers].flatMap((p) => Array.from(p.dataSync()));
}

Deno.test("train: a run killed after epoch 1 and restarted ends bit-identical to an uninterrupted run", async () => {
  const full = await train(data, base, { progress: "none" });
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-resume-" });
  try {
    await assert.rejects(
      train(data, base, {
        progress: "none",
        checkpointDir: dir,
        onEpochEnd: ({ epoch }) => {
          if (epoch === 1) throw new Error("simulated kill");
        },
      }),
      /simulated kill/,
    );
    assert.equal(loadCheckpoint(`${dir}/${CHECKPOINT_FILE}`)?.epoch, 1);
    const resumed = await train(data, base, { progress: "none", checkpointDir: dir });
    assert.equal(resumed.resumedFromEpoch, 1);
    // tfjs-node on the CPU is bit-deterministic for a fixed machine and thread count (measured),
    // and every random draw comes from the checkpointed Rng: so exact equality, not a tolerance.
    assert.deepEqual(weights(resumed), weights(full));
    assert.deepEqual(resumed.metrics.map((m) => m.trainLoss), full.metrics.map((m) => m.trainLoss));
    assert.equal(resumed.metrics.length, 3);
    // A finished run resumes to "done" without training again.
    const again = await train(data, base, { progress: "none", checkpointDir: dir });
    assert.equal(again.resumedFromEpoch, 3);
    assert.deepEqual(weights(again), weights(full));
    // A different config is refused with one sentence naming the setting (the method, whose
    // attack radius differs) and both values.
    await assert.rejects(
      train(data, { ...base, method: at("linf", 4 / 255, 4 / 255, 2) }, {
        progress: "none",
        checkpointDir: dir,
      }),
      /^CheckpointError: Checkpoint .*checkpoint\.samat belongs to a different run \(method\.perturb\.eps was 0\.03137\d*, this run has 0\.01568\d*\); use another checkpoint directory or delete it to start afresh\.$/,
    );
    [full, resumed, again].forEach((r) => r.model.dispose());
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("train: no tensor leak across epochs (live tensor count after epoch 1 = after epoch 3)", async () => {
  const counts: number[] = [];
  const r = await train(
    data,
    { ...base, method: sam(0.1) },
    {
      progress: "none",
      evalData: data,
      evalSpecs: [{ attack: "pgd", norm: "l2", eps: 0.1 }],
      onEpochEnd: () => {
        counts.push(tf.memory().numTensors);
      },
    },
  );
  assert.equal(counts.length, 3);
  assert.equal(counts[2], counts[0], `tensors per epoch: ${counts}`);
  assert.ok(
    r.metrics.every((m) =>
      typeof m.evalClean === "number" && "pgd10_l2_eps0.1" in (m.evalRobust ?? {})
    ),
  );
  const before = tf.memory().numTensors;
  r.model.dispose();
  assert.ok(tf.memory().numTensors < before);
});

Deno.test("train: a NaN loss stops the run with one sentence and keeps the last good checkpoint", async () => {
  // A huge learning rate: diverges during epoch 1, before any checkpoint exists.
  await assert.rejects(
    train(data, { ...base, method: ST, lr: 1e30 }, { progress: "none" }),
    (err: Error) => {
      assert.ok(err instanceof TrainingDivergedError);
      assert.match(
        err.message,
        /^Training diverged at epoch 1, step \d of 3: the loss is (NaN|Infinity); lower the learning rate \(lr 1e\+30\) or check the input data\.$/,
      );
      return true;
    },
  );
  // A weight turned NaN after epoch 1 (a NaN bias reaches the loss on every backend, whereas NaN
  // pixels can vanish in a ReLU): the run stops in epoch 2 and the epoch-1 checkpoint survives.
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-nan-" });
  try {
    await assert.rejects(
      train(data, { ...base, method: ST }, {
        progress: "none",
        checkpointDir: dir,
        onEpochEnd: ({ model }) => {
          const bias = model.params[model.params.length - 1];
          tf.tidy(() => bias.assign(tf.fill(bias.shape, NaN)));
        },
      }),
      /^TrainingDivergedError: Training diverged at epoch 2, step 1 of 3: the loss is NaN; lower the learning rate \(lr 0\.05\) or check the input data \(the checkpoint of epoch 1 is kept\)\.$/,
    );
    const ck = loadCheckpoint(`${dir}/${CHECKPOINT_FILE}`);
    assert.equal(ck?.epoch, 1);
    assert.ok(Object.values(ck!.tensors).every((t) => t.data.every(Number.isFinite)));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("train: running-stat policy — 'loss-pass' commits only the training-loss pass, 'all-passes' every pass; weights are unaffected", async () => {
  const spec = {
    arch: "smallcnn" as const,
    width: 2,
    inputShape: [8, 8, 1] as [number, number, number],
    numClasses: 3,
    mean: [0],
    std: [1],
  };
  const x = tf.tensor4d(data.images.slice(0, 16 * 64), [16, 8, 8, 1]);
  const y = tf.tensor1d(data.labels.slice(0, 16), "int32");
  // Reference: one train-mode pass at the initial weights, committed once.
  const ref = createModel(spec, Rng.fromSeed(4));
  const m: BatchMoments[] = [];
  tf.dispose(ref.forward(x, "train", m));
  ref.commitMoments(m);
  const refStats = ref.buffers.flatMap((b) => Array.from(b.dataSync()));
  const after = async (method: Method, policy: RunningStats) => {
    const model = createModel(spec, Rng.fromSeed(4));
    const opt = createSgd(model.params);
    const step = makeTrainStep(model, opt, method, policy, Rng.fromSeed(1));
    tf.dispose(await step(x, y, 0.1));
    const out = {
      stats: model.buffers.flatMap((b) => Array.from(b.dataSync())),
      params: model.params.flatMap((p) => Array.from(p.dataSync())),
    };
    opt.dispose();
    model.dispose();
    return out;
  };
  const SAM = sam(0.5), AT = at("linf", 0.1, 0.05, 2);
  const samLoss = await after(SAM, "loss-pass"), samAll = await after(SAM, "all-passes");
  assert.deepEqual(samLoss.stats, refStats); // SAM's first pass is at w: the same statistics as the reference
  assert.notDeepEqual(samAll.stats, refStats);
  assert.deepEqual(samAll.params, samLoss.params);
  const atLoss = await after(AT, "loss-pass"), atAll = await after(AT, "all-passes");
  assert.notDeepEqual(atAll.stats, atLoss.stats);
  assert.deepEqual(atAll.params, atLoss.params);
  // SAM on AT inputs: the policy still changes only the statistics.
  const both: Method = { optimizer: SAM.optimizer, perturb: AT.perturb };
  const bothLoss = await after(both, "loss-pass"), bothAll = await after(both, "all-passes");
  assert.notDeepEqual(bothAll.stats, bothLoss.stats);
  assert.deepEqual(bothAll.params, bothLoss.params);
  ref.dispose();
  tf.dispose([x, y]);
});

Deno.test("train: piecewise learning rate (x0.1 at 75%, x0.01 at 90% of the epochs)", () => {
  const lrs = Array.from({ length: 100 }, (_, e) => piecewiseLr(e, 100, 0.1));
  assert.equal(lrs[74], 0.1);
  assert.ok(Math.abs(lrs[75] - 0.01) < 1e-12 && Math.abs(lrs[89] - 0.01) < 1e-12);
  assert.ok(Math.abs(lrs[90] - 0.001) < 1e-12 && Math.abs(lrs[99] - 0.001) < 1e-12);
  // The authors' rule is "epoch < 0.75 * epochs": a 2-epoch run never decays, a 4-epoch run at epoch 3.
  assert.deepEqual([0, 1].map((e) => piecewiseLr(e, 2, 0.2)), [0.2, 0.2]);
  assert.ok(Math.abs(piecewiseLr(3, 4, 0.2) - 0.02) < 1e-12 && piecewiseLr(2, 4, 0.2) === 0.2);
});

Deno.test("train: normalisation and default augmentation come from the dataset registry; unregistered data without its own normalisation is refused", async () => {
  await assert.rejects(
    train({ ...data, normalization: undefined }, { ...base, method: ST, epochs: 1 }, {
      progress: "none",
    }),
    /^DatasetError: Dataset "toy" has no normalisation for 1 channel\(s\): register it in lib\/data\/registry\.ts or set its normalization field\.$/,
  );
  // "auto" augmentation: none for unregistered data, the registry's for a registered key; the
  // model normalises with the registry's constants (Fashion-MNIST's here).
  const auto = await train(data, { ...base, method: ST, epochs: 1, augment: "auto" }, {
    progress: "none",
  });
  assert.equal(auto.augment, "none");
  assert.deepEqual([auto.model.spec.mean, auto.model.spec.std], [[0], [1]]);
  const fm = { ...data, registryKey: "fashion-mnist" as const, normalization: undefined };
  const named = await train(fm, { ...base, method: ST, epochs: 1, augment: "auto" }, {
    progress: "none",
  });
  assert.equal(named.augment, "fashion");
  assert.deepEqual([named.model.spec.mean, named.model.spec.std], [[0.286], [0.353]]);
  [auto, named].forEach((r) => r.model.dispose());
});
