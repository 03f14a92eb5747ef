/**
 * Clean and robust accuracy of a model under a list of evaluations, each one attack or one
 * protocol (an ensemble of attacks, e.g. AutoAttack: APGD-CE -> APGD-T -> Square).
 *
 * - The model runs in eval mode (running BatchNorm statistics), as the paper evaluates.
 * - A single attack attacks every example, correct or not (the paper's PGD-10 columns).
 * - A protocol keeps AutoAttack's per-example robust flags: a point starts robust if it is
 *   classified correctly, each stage attacks only the points still robust, and a point is robust
 *   at the end only if no stage fooled it (the worst case per example). The accuracy after each
 *   stage is reported.
 * - Each evaluation draws its noise from its own Rng, seeded by (seed, its key): adding or
 *   removing one evaluation never changes another's numbers.
 * - The attacks' iterations run on the engine asked for (default: lib/backend/speed_settings.ts
 *   defaultEngine, "graph" on the tensorflow backend): "graph" replays each iteration as one
 *   libtensorflow graph once it gave the eager iteration's results bit for bit
 *   (lib/attacks/attack_graphs.ts), so both engines give the same flags; each column says how many
 *   iterations ran as a graph.
 * Accuracies are fractions in [0, 1]; robust flags are one byte per example (1 = robust).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { AttackTarget } from "../attacks/attack.ts";
import { AttackGraphs } from "../attacks/attack_graphs.ts";
import { defaultEngine, type Engine, ENGINES } from "../backend/speed_settings.ts";
import { type EvalSpec, type ResolvedEval, resolveEval } from "../attacks/protocols.ts";
import { runAttack } from "../attacks/registry.ts";
import type { Dataset } from "../data/data.ts";
import { datasetBatch } from "./batch.ts";
import type { Classifier } from "../models/model.ts";
import { createProgress, type ProgressStyle } from "../util/progress.ts";
import { Rng, seedFromString } from "../util/rng.ts";
import { checkChoice, checkNumber, fail, OptionError } from "../util/validate.ts";

export type { EvalSpec };

export interface EvalOptions {
  evals?: readonly EvalSpec[];
  /** Examples per batch (default 256). */
  batchSize?: number;
  /** Seed of the attacks' noise (default 0); each evaluation derives its own stream from it. */
  seed?: number;
  /** Evaluate only the first n examples (default: all). */
  limit?: number;
  progress?: ProgressStyle;
  label?: string;
  /**
   * How the attacks' iterations run: "eager", or "graph" (tensorflow backend only; the same
   * results bit for bit). Default: "graph" on the tensorflow backend, else "eager".
   */
  engine?: Engine;
  /**
   * With engine "graph": replays to use (and keep) instead of fresh ones per evaluation, so that
   * repeated calls on one model (bench/bench.ts) compile each attack iteration once; the caller
   * disposes them. Only for calls on the same model.
   */
  attackGraphs?: AttackGraphs;
}

export interface StageResult {
  attack: string;
  /** Robust accuracy after this stage (all earlier stages included). */
  accuracy: number;
}

export interface EvalColumnResult {
  key: string;
  label: string;
  spec: ResolvedEval["spec"];
  accuracy: number;
  /** 1 = this example survived every stage. */
  robust: Uint8Array;
  stages: StageResult[];
  seconds: number;
  /** The engine the attack iterations ran on, and how many of them ran as a graph (absent: eager). */
  engine?: Engine;
  graphSteps?: number;
  /** With engine "graph": the iterations that stayed eager, by key, with the reason. */
  eagerReasons?: Record<string, string>;
}

export interface EvalResult {
  /** Examples evaluated. */
  n: number;
  clean: number;
  /** 1 = classified correctly without attack. */
  correct: Uint8Array;
  /** By column key, e.g. "pgd10_linf_8_255". */
  evals: Record<string, EvalColumnResult>;
  /** Accuracy by column key (the same numbers, for tables). */
  robust: Record<string, number>;
  seconds: number;
}

export function validateEvalOptions(o: EvalOptions): ResolvedEval[] {
  if (o.batchSize !== undefined) checkNumber("batchSize", o.batchSize, { integer: true, min: 1 });
  if (o.seed !== undefined) checkNumber("seed", o.seed, { integer: true, min: 0, max: 4294967295 });
  if (o.limit !== undefined) checkNumber("limit", o.limit, { integer: true, min: 1 });
  if (o.engine !== undefined) {
    checkChoice("engine", o.engine, ENGINES);
    if (o.engine === "graph" && tf.getBackend() !== "tensorflow") {
      throw new OptionError(
        `engine graph needs the tensorflow (tfjs-node) backend, not ${tf.getBackend()}; use eager here.`,
      );
    }
  }
  const resolved = (o.evals ?? []).map((e) => resolveEval(e));
  const keys = resolved.map((r) => r.key);
  const twice = keys.find((k, i) => keys.indexOf(k) !== i);
  if (twice) fail("evals", twice, "each evaluation once");
  return resolved;
}

/** Per-example argmax(logits) == y, as 0/1 bytes. */
async function correctFlags(
  model: Classifier,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
): Promise<Uint8Array> {
  const hit = tf.tidy(() => tf.cast(tf.equal(tf.argMax(model.forward(x, "eval"), 1), y), "int32"));
  const flags = Uint8Array.from(await hit.data());
  hit.dispose();
  return flags;
}

/** Robust flags of one batch under one evaluation; stage counts are added to `stageHits`. */
async function evalBatch(
  model: Classifier,
  ev: ResolvedEval,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  clean: Uint8Array,
  rng: Rng,
  stageHits: number[],
  graphs: AttackGraphs | undefined,
): Promise<Uint8Array> {
  const target: AttackTarget = { model, mode: "eval", rng, graphs };
  if (ev.stages.length === 1 && !ev.protocol) {
    const xAdv = await runAttack(ev.stages[0], target, x, y);
    const flags = await correctFlags(model, xAdv, y);
    xAdv.dispose();
    stageHits[0] += flags.reduce((s, v) => s + v, 0);
    return flags;
  }
  const robust = Uint8Array.from(clean);
  for (let k = 0; k < ev.stages.length; k++) {
    const idx = [...robust.keys()].filter((i) => robust[i] === 1);
    if (idx.length > 0) {
      const ids = tf.tensor1d(Int32Array.from(idx), "int32");
      const xs = tf.gather(x, ids) as tf.Tensor4D;
      const ys = tf.gather(y, ids) as tf.Tensor1D;
      ids.dispose();
      try {
        const xAdv = await runAttack(ev.stages[k], target, xs, ys);
        const still = await correctFlags(model, xAdv, ys);
        xAdv.dispose();
        idx.forEach((i, j) => (robust[i] = still[j]));
      } finally {
        tf.dispose([xs, ys]);
      }
    }
    stageHits[k] += robust.reduce((s, v) => s + v, 0);
  }
  return robust;
}

/** Clean accuracy and every asked evaluation of `model` on `data`. */
export async function evaluate(
  model: Classifier,
  data: Dataset,
  options: EvalOptions = {},
): Promise<EvalResult> {
  const evals = validateEvalOptions(options);
  const batchSize = options.batchSize ?? 256;
  const seed = options.seed ?? 0;
  const n = Math.min(data.n, options.limit ?? data.n);
  const engine = options.engine ?? defaultEngine(tf.getBackend());
  if (n < 1) fail("data", data.name, "a dataset with at least one example");
  const start = performance.now();
  // Work units for the progress bar: one clean pass plus each evaluation's passes over the data.
  const progress = createProgress({
    label: options.label ?? `eval ${data.name}`,
    total: n * (1 + evals.length),
    unit: "img",
    style: options.progress ?? "auto",
  });

  const correct = new Uint8Array(n);
  for (let s = 0; s < n; s += batchSize) {
    const e = Math.min(n, s + batchSize);
    const { x, y } = datasetBatch(data, s, e);
    try {
      correct.set(await correctFlags(model, x, y), s);
    } finally {
      tf.dispose([x, y]);
    }
    await progress.update(e);
  }
  const clean = correct.reduce((a, v) => a + v, 0) / n;

  const results: Record<string, EvalColumnResult> = {};
  for (const [j, ev] of evals.entries()) {
    const t0 = performance.now();
    const rng = Rng.fromSeed(seedFromString(`${seed}:${ev.key}`));
    const robust = new Uint8Array(n);
    const stageHits = new Array(ev.stages.length).fill(0);
    const owned = engine === "graph" && !options.attackGraphs;
    const graphs = engine === "graph" ? options.attackGraphs ?? new AttackGraphs() : undefined;
    const callsBefore = options.attackGraphs?.status().graphCalls ?? 0;
    let graphStatus;
    try {
      for (let s = 0; s < n; s += batchSize) {
        const e = Math.min(n, s + batchSize);
        const { x, y } = datasetBatch(data, s, e);
        try {
          robust.set(
            await evalBatch(model, ev, x, y, correct.subarray(s, e), rng, stageHits, graphs),
            s,
          );
        } finally {
          tf.dispose([x, y]);
        }
        await progress.update(n * (1 + j) + e, ev.label);
      }
      graphStatus = graphs?.status();
    } finally {
      if (owned) graphs?.dispose();
    }
    results[ev.key] = {
      key: ev.key,
      label: ev.label,
      spec: ev.spec,
      accuracy: robust.reduce((a, v) => a + v, 0) / n,
      robust,
      stages: ev.stages.map((st, k) => ({ attack: st.spec.attack, accuracy: stageHits[k] / n })),
      seconds: (performance.now() - t0) / 1000,
      engine,
      graphSteps: (graphStatus?.graphCalls ?? 0) - callsBefore,
      ...(graphStatus && Object.keys(graphStatus.eager).length
        ? { eagerReasons: graphStatus.eager }
        : {}),
    };
  }
  const robust = Object.fromEntries(Object.values(results).map((r) => [r.key, r.accuracy]));
  await progress.finish(
    `clean ${(100 * clean).toFixed(2)}%` +
      Object.entries(robust).map(([k, v]) => ` ${k} ${(100 * v).toFixed(2)}%`).join(""),
  );
  return { n, clean, correct, evals: results, robust, seconds: (performance.now() - start) / 1000 };
}
