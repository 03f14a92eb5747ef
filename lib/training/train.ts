/**
 * Training with standard training (ST), SAM(rho) or PGD adversarial training AT(norm, eps, alpha,
 * steps), sharing one loop: seeded shuffling and augmentation, SGD with momentum and weight decay,
 * the authors' piecewise learning rate (base until 75% of the epochs, x0.1 until 90%, then x0.01),
 * a checkpoint after every epoch (exact resume), and a clear stop on a NaN/infinite loss.
 *
 * BatchNorm running statistics — policy "loss-pass" (default): only the pass that computes the
 * training loss updates them: ST its one pass; SAM its FIRST pass (at w, not at w + e); AT the
 * training pass on the adversarial batch, not the attack's K passes. All of these passes still
 * NORMALISE with batch statistics (train mode), as in the authors' code. In PyTorch every
 * train-mode forward updates the running statistics, so the authors' SAM updates them twice per
 * step (the second time with the perturbed weights' statistics) and their AT K+1 times (K of them
 * on partly-attacked inputs); "all-passes" reproduces that, committing the passes in the same
 * order. The policy changes only the running statistics, i.e. eval-mode results, never the
 * training trajectory.
 */
import * as tf from "@tensorflow/tfjs-core";
import { activeBackend } from "../backend/backend.ts";
import {
  bf16ConvsSupported,
  CONV_PRECISIONS,
  type ConvPrecision,
  setConvPrecision,
} from "../backend/bf16_convs.ts";
import { AUGMENT_PRESETS, type AugmentName, checkAugment, gatherBatch } from "../data/augment.ts";
import {
  checkFingerprint,
  checkpointPath,
  loadCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
} from "./checkpoint.ts";
import type { Dataset } from "../data/data.ts";
import { defaultAugmentOf, normalizationOf } from "../data/registry.ts";
import { type EvalSpec, evaluate } from "./evaluate.ts";
import { describeMethod, type Method, resolveMethod } from "./method.ts";
import {
  type Arch,
  ARCHS,
  type BatchMoments,
  createModel,
  exportModel,
  importModel,
  type Model,
  type ModelSpec,
} from "../models/model.ts";
import { crossEntropy } from "../models/ops.ts";
import { type GraphStepStatus, type GraphTrainStep, graphTrainStep } from "./graph_step.ts";
import { resolveAttack, runAttack } from "../attacks/registry.ts";
import { createProgress, type ProgressStyle } from "../util/progress.ts";
import { Rng } from "../util/rng.ts";
import { fnv1a, fnv1aMix, hex8 } from "../util/fnv1a.ts";
import type { Updater } from "../optim/optimizer.ts";
import { createUpdater, resolveOptimizer } from "../optim/registry.ts";
import { createSgd, type LearningRate, type Sgd } from "../optim/sgd.ts";
import { checkChoice, checkKnownKeys, checkNumber, fail, OptionError } from "../util/validate.ts";
import { defaultEngine, type Engine, ENGINES } from "../backend/speed_settings.ts";
import { UserError } from "../util/user_error.ts";

export const RUNNING_STATS = ["loss-pass", "all-passes"] as const;
export type RunningStats = typeof RUNNING_STATS[number];

/**
 * How a training step runs: op by op (eager), or as one checked libtensorflow graph. The engines
 * and the default are lib/backend/speed_settings.ts's.
 */
export const STEP_ENGINES = ENGINES;
export type StepEngine = Engine;

export interface TrainConfig {
  /** Optimizer (SGD, SAM, ASAM) x training inputs (clean, or an attack's). */
  method: Method;
  arch: Arch;
  width: number;
  epochs: number;
  batchSize: number;
  /** Base learning rate of the piecewise schedule. */
  lr: number;
  momentum: number;
  weightDecay: number;
  /** "auto" takes the dataset's default augmentation from the dataset registry. */
  augment: AugmentName | "auto";
  runningStats: RunningStats;
  seed: number;
  /**
   * "bf16" runs the training steps' convolutions in bfloat16 (lib/backend/bf16_convs.ts; the
   * evaluations stay fp32). Absent means fp32: an fp32 config leaves the field out, so the run
   * keys and checkpoints of fp32 runs are the same as before the option existed.
   */
  convPrecision?: ConvPrecision;
}

/** The paper's training settings (the method and seed come from the experiment). */
export const TRAIN_DEFAULTS: Omit<TrainConfig, "method"> = {
  arch: "prn18",
  width: 64,
  epochs: 100,
  batchSize: 128,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 5e-4,
  augment: "auto",
  runningStats: "loss-pass",
  seed: 0,
};

// convPrecision last: it is the newest option, and the error message lists the established ones first.
const CONFIG_KEYS = ["method", ...Object.keys(TRAIN_DEFAULTS), "convPrecision"];

/**
 * The configs resolveTrainConfig returned (frozen): train() takes one of them as it is, so a
 * config checked once where it entered (the grid's plan) is not checked again inside.
 */
const resolvedConfigs = new WeakSet<TrainConfig>();

/** Fill defaults and check every option. Throws an OptionError naming the first bad option. */
export function resolveTrainConfig(
  partial: Partial<TrainConfig> & { method: Method },
): TrainConfig {
  if (resolvedConfigs.has(partial as TrainConfig)) return partial as TrainConfig;
  if (partial === null || typeof partial !== "object") fail("config", partial, "an object");
  checkKnownKeys("training", partial, CONFIG_KEYS);
  const method = resolveMethod(partial.method);
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const c = { ...TRAIN_DEFAULTS, ...defined } as TrainConfig;
  checkChoice("arch", c.arch, ARCHS);
  checkNumber("width", c.width, { integer: true, min: 1, max: 4096 });
  checkNumber("epochs", c.epochs, { integer: true, min: 1 });
  checkNumber("batchSize", c.batchSize, { integer: true, min: 1 });
  checkNumber("lr", c.lr, { above: 0 });
  checkNumber("momentum", c.momentum, { min: 0, below: 1 });
  checkNumber("weightDecay", c.weightDecay, { min: 0 });
  if (c.augment !== "auto") checkAugment(c.augment);
  checkChoice("runningStats", c.runningStats, RUNNING_STATS);
  checkNumber("seed", c.seed, { integer: true, min: 0, max: 4294967295 });
  const precision = checkChoice("convPrecision", c.convPrecision ?? "fp32", CONV_PRECISIONS);
  const resolved: TrainConfig = Object.freeze({
    method,
    arch: c.arch,
    width: c.width,
    epochs: c.epochs,
    batchSize: c.batchSize,
    lr: c.lr,
    momentum: c.momentum,
    weightDecay: c.weightDecay,
    augment: c.augment,
    runningStats: c.runningStats,
    seed: c.seed,
    ...(precision === "bf16" ? { convPrecision: precision } : {}),
  });
  resolvedConfigs.add(resolved);
  return resolved;
}

/** Learning rate of `epoch` (0-based): base before 75% of the epochs, x0.1 before 90%, then x0.01. */
export function piecewiseLr(epoch: number, epochs: number, base: number): number {
  if (epoch < epochs * 0.75) return base;
  if (epoch < epochs * 0.9) return base * 0.1;
  return base * 0.01;
}

/**
 * x [N,H,W,C] in [0, 1], y int32 [N], learning rate -> training loss (caller disposes). The rate
 * may be a scalar tensor (lib/training/graph_step.ts passes one). `rng`, when set, is the
 * generator the step draws its noise from (an attack's random start), so that the graph step can
 * draw the same numbers itself.
 */
export type TrainStep =
  & ((x: tf.Tensor4D, y: tf.Tensor1D, lr: LearningRate) => Promise<tf.Scalar>)
  & { rng?: Rng };

/**
 * One training step of the method: the perturbation (if any) makes the training inputs with the
 * model in train mode, then the optimizer (SGD or (A)SAM) updates parameters, optimizer state and
 * BN running statistics (policy as described at the top of this file). Attacks draw from `rng`.
 */
export function makeTrainStep(
  model: Model,
  opt: Sgd,
  method: Method,
  runningStats: RunningStats = "loss-pass",
  rng: Rng = Rng.fromSeed(0),
  updater: Updater = createUpdater(opt, resolveMethod(method).optimizer),
): TrainStep {
  const m = resolveMethod(method);
  const allPasses = checkChoice("runningStats", runningStats, RUNNING_STATS) === "all-passes";
  const inputs = m.perturb ? resolveAttack(m.perturb) : null;
  const step: TrainStep = async (x, y, lr) => {
    if (typeof lr === "number") checkNumber("lr", lr, { above: 0 });
    const moments: BatchMoments[] = [];
    try {
      const xTrain = inputs
        ? await runAttack(
          inputs,
          { model, mode: "train", rng, moments: allPasses ? moments : undefined },
          x,
          y,
        )
        : x;
      try {
        const lossAt = (keep: boolean) => () =>
          crossEntropy(model.forward(xTrain, "train", keep ? moments : undefined), y);
        // Pass 1 (the loss at w) always updates the running statistics; later passes only under
        // "all-passes".
        const loss = updater.step((pass) => lossAt(pass === 1 || allPasses)(), lr);
        model.commitMoments(moments);
        return loss;
      } finally {
        if (xTrain !== x) xTrain.dispose();
      }
    } finally {
      tf.dispose(moments.flatMap((mo) => [mo.mean, mo.variance]));
    }
  };
  return Object.assign(step, { rng });
}

export interface EpochMetrics {
  /** 1-based epoch number. */
  epoch: number;
  lr: number;
  /** Mean training loss over the epoch's examples (on the method's training inputs). */
  trainLoss: number;
  /** Seconds of training in this epoch (evaluation excluded). */
  seconds: number;
  /** Per-epoch evaluation on options.evalData, if asked. */
  evalClean?: number;
  evalRobust?: Record<string, number>;
}

export interface EpochInfo {
  epoch: number;
  epochs: number;
  metrics: readonly EpochMetrics[];
  model: Model;
}

export interface TrainOptions {
  /** Directory for the checkpoint; a run finds and resumes its own checkpoint there. */
  checkpointDir?: string;
  /** Called after each epoch's checkpoint is written. */
  onEpochEnd?: (info: EpochInfo) => void | Promise<void>;
  progress?: ProgressStyle;
  /** Progress label (default: the method and its settings). */
  label?: string;
  /** Evaluate on this set after each epoch (clean accuracy, plus each of `evalSpecs`). */
  evalData?: Dataset;
  evalSpecs?: readonly EvalSpec[];
  /** Examples of evalData to use per epoch (default all). */
  evalLimit?: number;
  /**
   * "graph" runs each training step as one libtensorflow graph once it has been checked against
   * the eager step (lib/training/graph_step.ts; tensorflow backend only; speed in bench/NOTES.md).
   * This project's steps (PreActResNet-18 and the small CNN; ST, SAM, AT) replay bit for bit;
   * a step that does not stays eager. Default: "graph" on the tensorflow backend, else "eager"
   * (speed_settings.ts defaultEngine). An execution choice, not part of the run's settings.
   */
  stepEngine?: StepEngine;
}

export interface TrainResult {
  model: Model;
  config: TrainConfig;
  /** The augmentation actually used ("auto" resolved). */
  augment: AugmentName;
  metrics: EpochMetrics[];
  /** Training seconds summed over all epochs, across resumes. */
  trainSeconds: number;
  /** Epochs that were already done in the checkpoint this call resumed from (0 = fresh). */
  resumedFromEpoch: number;
  /** With stepEngine "graph": which batch shapes ran as a graph, and how many steps did. */
  graph?: GraphStepStatus;
}

/** The training loss became NaN or infinite. */
export class TrainingDivergedError extends UserError {
  override name = "TrainingDivergedError";
}

/** The model a config trains on this data: its arch and width, the data's shape and normalisation. */
export function modelSpecFor(cfg: Pick<TrainConfig, "arch" | "width">, data: Dataset): ModelSpec {
  const norm = normalizationOf(data);
  return {
    arch: cfg.arch,
    width: cfg.width,
    inputShape: [data.height, data.width, data.channels],
    numClasses: data.numClasses,
    mean: norm.mean,
    std: norm.std,
  };
}

/** A cheap content hash (FNV-1a over labels and a strided sample of pixels). */
export function dataFingerprint(data: Dataset): string {
  let h = fnv1a(data.labels);
  const bits = new Uint32Array(data.images.buffer, data.images.byteOffset, data.images.length);
  for (let i = 0; i < bits.length; i += 97) h = fnv1aMix(h, bits[i]);
  return hex8(h);
}

function validateData(data: Dataset): void {
  const ok = data && Number.isInteger(data.n) && data.n >= 1 &&
    data.images instanceof Float32Array && data.labels instanceof Int32Array &&
    data.images.length === data.n * data.height * data.width * data.channels &&
    data.labels.length === data.n;
  if (!ok) {
    throw new OptionError(
      `Invalid training data ${
        JSON.stringify(data?.name)
      }: expected n >= 1 examples with images of length n*height*width*channels and n int32 labels.`,
    );
  }
}

/** The step with its convolutions in `p`, the previous precision restored after each call. */
function inConvPrecision(p: ConvPrecision, step: TrainStep): TrainStep {
  if (p === "fp32") return step;
  const inP: TrainStep = async (x, y, lr) => {
    const old = setConvPrecision(p);
    try {
      return await step(x, y, lr);
    } finally {
      setConvPrecision(old);
    }
  };
  return Object.assign(inP, { rng: step.rng });
}

/**
 * Train a fresh model (or resume the run whose checkpoint is in options.checkpointDir) on `data`.
 * The model is built from the config (arch, width) and the data (input shape, classes,
 * normalisation from the dataset name), initialised from the run's Rng.
 */
export async function train(
  data: Dataset,
  config: Partial<TrainConfig> & { method: Method },
  options: TrainOptions = {},
): Promise<TrainResult> {
  const cfg = resolveTrainConfig(config);
  validateData(data);
  if (options.evalLimit !== undefined) {
    checkNumber("evalLimit", options.evalLimit, { integer: true, min: 1 });
  }
  const engine = checkChoice(
    "stepEngine",
    options.stepEngine ?? defaultEngine(tf.getBackend()),
    STEP_ENGINES,
  );
  if (engine === "graph" && tf.getBackend() !== "tensorflow") {
    throw new OptionError(
      `stepEngine graph needs the tensorflow (tfjs-node) backend, not ${tf.getBackend()}; use eager (the default there) here.`,
    );
  }
  if (cfg.convPrecision === "bf16" && !bf16ConvsSupported()) {
    throw new OptionError(
      "convPrecision bf16 needs the tensorflow (tfjs-node) backend on the CPU; use fp32 (the default) here.",
    );
  }
  const augment = cfg.augment === "auto" ? defaultAugmentOf(data) : cfg.augment;
  const augSpec = AUGMENT_PRESETS[augment];
  const fingerprint: Record<string, unknown> = {
    ...cfg,
    augment,
    data: {
      name: data.name,
      n: data.n,
      shape: [data.height, data.width, data.channels],
      numClasses: data.numClasses,
      hash: dataFingerprint(data),
    },
  };

  const rng = Rng.fromSeed(cfg.seed);
  const model = createModel(modelSpecFor(cfg, data), rng);
  const opt = createSgd(model.params, { momentum: cfg.momentum, weightDecay: cfg.weightDecay });
  const optimizer = resolveOptimizer(cfg.method.optimizer);
  const updater = optimizer.plugin.createUpdater(opt, optimizer.options);
  let graph: GraphTrainStep | null = null;
  try {
    let metrics: EpochMetrics[] = [];
    let trainSeconds = 0;
    let startEpoch = 0;
    const ckPath = options.checkpointDir ? checkpointPath(options.checkpointDir) : undefined;
    if (ckPath) {
      const ck = loadCheckpoint<EpochMetrics>(ckPath);
      if (ck) {
        checkFingerprint(ckPath, ck.fingerprint, fingerprint);
        restoreCheckpoint(ckPath, () => { // a state that does not fit: "delete it", not a RangeError
          importModel(model, ck.tensors);
          opt.importState(model.paramNames, ck.tensors);
          updater.importState(model.paramNames, ck.tensors);
          rng.setState(ck.rng);
        });
        metrics = ck.metrics;
        trainSeconds = ck.trainSeconds;
        startEpoch = ck.epoch;
      }
    }

    const eagerStep = inConvPrecision(
      cfg.convPrecision ?? "fp32",
      makeTrainStep(model, opt, cfg.method, cfg.runningStats, rng, updater),
    );
    // An optimizer whose steps are not all the same ops (LookSAM) cannot be one replayed graph.
    if (engine === "graph" && optimizer.plugin.sameOpsEveryStep) graph = graphTrainStep(eagerStep);
    const step = graph ?? eagerStep;
    const label = options.label ?? describeMethod(cfg.method);
    const progress = createProgress({
      label,
      total: (cfg.epochs - startEpoch) * data.n,
      unit: "img",
      style: options.progress ?? "auto",
    });
    const stepsPerEpoch = Math.ceil(data.n / cfg.batchSize);

    for (let epoch = startEpoch; epoch < cfg.epochs; epoch++) {
      const lr = piecewiseLr(epoch, cfg.epochs, cfg.lr);
      const epochStart = performance.now();
      const order = rng.permutation(data.n);
      let lossSum = 0;
      for (let s = 0, k = 0; s < data.n; s += cfg.batchSize, k++) {
        const e = Math.min(data.n, s + cfg.batchSize);
        const xs = gatherBatch(data, order, s, e, augSpec, rng);
        const ys = new Int32Array(e - s);
        for (let i = s; i < e; i++) ys[i - s] = data.labels[order[i]];
        const x = tf.tensor4d(xs, [e - s, data.height, data.width, data.channels]);
        const y = tf.tensor1d(ys, "int32");
        let value: number;
        try {
          const loss = await step(x, y, lr);
          value = (await loss.data())[0];
          loss.dispose();
        } finally {
          x.dispose();
          y.dispose();
        }
        if (!Number.isFinite(value)) {
          const kept = ckPath && epoch > 0 ? ` (the checkpoint of epoch ${epoch} is kept)` : "";
          throw new TrainingDivergedError(
            `Training diverged at epoch ${epoch + 1}, step ${
              k + 1
            } of ${stepsPerEpoch}: the loss is ${value}; ` +
              `lower the learning rate (lr ${cfg.lr}${
                "rho" in optimizer.options ? `, rho ${optimizer.options.rho}` : ""
              }) or check the input data${kept}.`,
          );
        }
        lossSum += value * (e - s);
        await progress.update(
          (epoch - startEpoch) * data.n + e,
          `epoch ${epoch + 1}/${cfg.epochs} loss ${(lossSum / e).toFixed(4)}`,
        );
      }
      const seconds = (performance.now() - epochStart) / 1000;
      trainSeconds += seconds;
      const m: EpochMetrics = { epoch: epoch + 1, lr, trainLoss: lossSum / data.n, seconds };
      if (options.evalData) {
        const r = await evaluate(model, options.evalData, {
          evals: options.evalSpecs ?? [],
          limit: options.evalLimit,
          seed: (cfg.seed + epoch + 1) >>> 0,
          progress: "none",
          engine,
        });
        m.evalClean = r.clean;
        m.evalRobust = r.robust;
      }
      metrics.push(m);
      if (ckPath) {
        saveCheckpoint(ckPath, {
          fingerprint,
          epoch: epoch + 1,
          rng: rng.getState(),
          metrics,
          trainSeconds,
          tensors: {
            ...exportModel(model),
            ...opt.exportState(model.paramNames),
            ...updater.exportState(model.paramNames),
          },
          backend: activeBackend() ?? tf.getBackend(),
        });
      }
      await options.onEpochEnd?.({ epoch: epoch + 1, epochs: cfg.epochs, metrics, model });
    }
    await progress.finish(
      metrics.length ? `loss ${metrics[metrics.length - 1].trainLoss.toFixed(4)}` : undefined,
    );
    return {
      model,
      config: cfg,
      augment,
      metrics,
      trainSeconds,
      resumedFromEpoch: startEpoch,
      ...(graph ? { graph: graph.status() } : {}),
    };
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    graph?.dispose();
    opt.dispose();
    updater.dispose();
  }
}
