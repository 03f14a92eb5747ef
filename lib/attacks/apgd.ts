/**
 * Auto-PGD (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of
 * diverse parameter-free attacks"), L-inf and L2, following fra31/auto-attack's autopgd_base.py:
 *
 * - start: x + eps * t / ||t|| (L-inf: t ~ U(-1, 1)^d scaled by its max; L2: t ~ N(0, I)),
 *   clamped to the box.
 * - step:  z = P(x_k + eta_k * dir(g_k)),  x_{k+1} = P(x_k + a (z - x_k) + (1 - a)(x_k - x_{k-1}))
 *   with a = 1 on the first step and 0.75 after (momentum), dir = sign (L-inf) or g / ||g||_2,
 *   P = projection onto the eps-ball ∩ box. eta starts at 2 * eps, per example.
 * - checkpoints: window lengths 0.22 n, then shrinking by 0.03 n down to 0.06 n (the paper's
 *   p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)). At each one, an example halves its step and
 *   restarts from its best point if (1) its loss rose in at most rho = 0.75 of the window's steps,
 *   or (2) its step was not halved at the last checkpoint and its best loss has not improved since.
 *   The increases are counted step to step from the start point (the reference compares the first
 *   step with a row of zeros instead).
 * - per example: best loss and its point; the point where it was (last) misclassified.
 * - restarts and (APGD-T) targets run only on the points not yet fooled, as the reference; several
 *   of them side by side in one taller batch where it fits (MAX_APGD_ROWS), which changes the
 *   work done, not the flags.
 *
 * Returned per example: its last misclassified iterate if any run fooled it (as the reference),
 * else its highest-loss point over the runs (the reference returns x there; the classification,
 * hence the accuracy, is the same, and the point is more useful). Points misclassified at x are
 * returned as x, unattacked.
 *
 * Registered as "apgd-ce" (cross-entropy), "apgd-dlr" (untargeted DLR) and "apgd-t" (targeted DLR
 * towards each of the nTargetClasses highest non-true classes at x in turn).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BatchMoments, Classifier, Mode } from "../models/model.ts";
import type { Rng } from "../util/rng.ts";
import { checkKnownKeys, checkNumber, fail, OptionError } from "../util/validate.ts";
import {
  type Attack,
  type AttackTarget,
  checkThreat,
  type Norm,
  type ThreatModel,
} from "./attack.ts";
import {
  ballGeometry,
  boxOf,
  gatherRows,
  indicesOf,
  projectOnto,
  unit,
  writeRows,
} from "./ball.ts";
import { iterate } from "./attack_graphs.ts";
import { dlrLoss, dlrTargetedLoss, perExampleCrossEntropy } from "./dlr.ts";

/** Per-example loss of the logits (targeted losses also take the targets): higher = closer to fooling. */
type Loss = (z: tf.Tensor2D, y: tf.Tensor1D, t?: tf.Tensor1D) => tf.Tensor1D;

interface Ctx {
  model: Classifier;
  mode: Mode;
  sink?: BatchMoments[];
  box: [number, number];
  norm: Norm;
  eps: number;
  steps: number;
  rho: number;
  rng: Rng;
  /** The loss's name, for the graph engine's keys. */
  lossName: ApgdLoss;
}

/**
 * APGD's checkpoints for n steps: the iteration (0-based) after which each one is checked and
 * the length of the window it closes. n = 100: after 22, 41, 57, 70, 80, 87, 93, 99 steps.
 */
export function apgdCheckpoints(n: number): { at: number; len: number }[] {
  const sizeDecr = Math.max(Math.floor(0.03 * n), 1);
  const minLen = Math.max(Math.floor(0.06 * n), 1);
  const out: { at: number; len: number }[] = [];
  for (let len = Math.max(Math.floor(0.22 * n), 1), at = len - 1; at < n;) {
    out.push({ at, len });
    len = Math.max(len - sizeDecr, minLen);
    at += len;
  }
  return out;
}

function startPoint(x: tf.Tensor4D, c: Ctx): tf.Tensor4D {
  const t = c.norm === "linf"
    ? c.rng.fillUniform(new Float32Array(x.size), -1, 1)
    : c.rng.fillNormal(new Float32Array(x.size));
  return tf.tidy(() =>
    tf.clipByValue(
      tf.add(x, tf.mul(unit(tf.tensor4d(t, x.shape), c.norm), c.eps)),
      c.box[0],
      c.box[1],
    ) as tf.Tensor4D
  );
}

/** Per-example loss, its gradient, and whether each example is classified correctly. */
function lossAndGrad(c: Ctx, loss: Loss, xa: tf.Tensor4D, y: tf.Tensor1D, t?: tf.Tensor1D) {
  let l!: tf.Tensor1D, correct!: tf.Tensor1D;
  const g = tf.grad((v: tf.Tensor) => {
    const z = c.model.forward(v as tf.Tensor4D, c.mode, c.sink);
    const per = loss(z, y, t);
    l = tf.keep(per);
    correct = tf.keep(tf.equal(tf.argMax(z, 1), y) as tf.Tensor1D);
    return tf.sum(per);
  })(xa) as tf.Tensor4D;
  return { l, g, correct };
}

type State = Record<string, tf.Tensor>;

/** st <- {...st, ...f()}; disposes the tensors no key holds any more. */
function advance(st: State, f: () => State): void {
  const next = tf.tidy(f) as State;
  const held = new Set(Object.values(next));
  for (const k of Object.keys(st)) if (!(k in next)) held.add(st[k]);
  for (const k of Object.keys(next)) if (!held.has(st[k])) st[k]?.dispose();
  Object.assign(st, next);
}

const rows = (t: tf.Tensor) => tf.reshape(t, [-1, 1, 1, 1]);

/** The state an APGD iteration reads, in the order it takes it (after it: y, the geometry, t). */
const READS = [
  "xAdv",
  "xOld",
  "grad",
  "step",
  "acc",
  "xBestAdv",
  "xBest",
  "gradBest",
  "lossBest",
  "prevLoss",
  "increases",
] as const;
/** The state an APGD iteration returns, in order. */
const WRITES = [
  "xOld",
  "xAdv",
  "grad",
  "acc",
  "xBestAdv",
  "increases",
  "prevLoss",
  "xBest",
  "gradBest",
  "lossBest",
] as const;

/**
 * One APGD iteration (the step, the projection, the loss and its gradient at the new point, the
 * bookkeeping of the best points) as a function of tensors only, so that
 * lib/backend/graph_replay.ts can replay it: [...READS, y, ...geometry, (t)] -> WRITES. `a` is the
 * momentum weight (1 on the first step, 0.75 after).
 */
function apgdIteration(c: Ctx, loss: Loss, targeted: boolean, a: number) {
  const nGeometry = c.norm === "linf" ? 2 : 1;
  return (inputs: readonly tf.Tensor[]): tf.Tensor[] => {
    const st = Object.fromEntries(READS.map((k, i) => [k, inputs[i]])) as State;
    const y = inputs[READS.length] as tf.Tensor1D;
    const geometry = inputs.slice(READS.length + 1, READS.length + 1 + nGeometry);
    const t = targeted ? inputs[READS.length + 1 + nGeometry] as tf.Tensor1D : undefined;
    const project = (v: tf.Tensor4D) => projectOnto(v, c.norm, c.eps, c.box, geometry);
    const dir = (g: tf.Tensor4D) => c.norm === "linf" ? tf.sign(g) : unit(g, "l2");
    const xNew = tf.tidy(() => {
      const xa = st.xAdv as tf.Tensor4D;
      const z = project(tf.add(xa, tf.mul(st.step, dir(st.grad as tf.Tensor4D))));
      const moved = tf.add(
        tf.add(xa, tf.mul(tf.sub(z, xa), a)),
        tf.mul(tf.sub(xa, st.xOld), 1 - a),
      );
      return project(moved as tf.Tensor4D);
    });
    const r = lossAndGrad(c, loss, xNew, y, t);
    const next = tf.tidy(() => {
      const improved = tf.greater(r.l, st.lossBest);
      return {
        xOld: st.xAdv,
        xAdv: xNew,
        grad: r.g,
        acc: tf.logicalAnd(st.acc, r.correct),
        xBestAdv: tf.where(rows(tf.logicalNot(r.correct)), xNew, st.xBestAdv),
        increases: tf.add(st.increases, tf.cast(tf.greater(r.l, st.prevLoss), "float32")),
        prevLoss: r.l,
        xBest: tf.where(rows(improved), xNew, st.xBest),
        gradBest: tf.where(rows(improved), r.g, st.gradBest),
        lossBest: tf.where(improved, r.l, st.lossBest),
      } as State;
    });
    r.correct.dispose();
    return WRITES.map((k) => next[k]);
  };
}

/** One APGD run: best point and loss, whether still robust, last misclassified iterate. */
async function apgdRun(
  c: Ctx,
  target: Pick<AttackTarget, "graphs" | "mode">,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  loss: Loss,
  t: tf.Tensor1D | null,
) {
  const n = x.shape[0];
  const geometry = ballGeometry(x, c.norm, c.eps, c.box);
  const windows = new Map(apgdCheckpoints(c.steps).map((w) => [w.at, w.len]));
  const x0 = startPoint(x, c);
  const first = lossAndGrad(c, loss, x0, y, t ?? undefined);
  const st: State = {
    xAdv: x0,
    xOld: x0,
    grad: first.g,
    acc: first.correct,
    xBestAdv: x0,
    xBest: x0,
    gradBest: first.g,
    lossBest: first.l,
    prevLoss: first.l,
    lossBestLastCheck: first.l,
    reducedLastCheck: tf.ones([n], "bool"),
    increases: tf.zeros([n]),
    step: tf.fill([n, 1, 1, 1], 2 * c.eps),
  };
  const steps = [1, 0.75].map((a) => apgdIteration(c, loss, t !== null, a));
  const key = (a: number) =>
    `apgd ${c.lossName} ${c.norm} eps=${c.eps} box=${c.box.join(",")} a=${a} ${c.mode}`;
  try {
    for (let i = 0; i < c.steps; i++) {
      const a = i > 0 ? 0.75 : 1;
      const inputs = [...READS.map((k) => st[k]), y, ...geometry, ...(t ? [t] : [])];
      const outs = await iterate(target, key(a), steps[i > 0 ? 1 : 0], inputs);
      const next = Object.fromEntries(WRITES.map((k, j) => [k, outs[j]])) as State;
      // Dispose what no key holds any more (several keys may share one tensor).
      const held = new Set([
        ...Object.values(next),
        st.step,
        st.reducedLastCheck,
        st.lossBestLastCheck,
      ]);
      for (const old of new Set(WRITES.map((k) => st[k]))) if (!held.has(old)) old.dispose();
      Object.assign(st, next);
      const len = windows.get(i);
      if (len !== undefined) {
        advance(st, () => {
          const oscillating = tf.lessEqual(st.increases, len * c.rho);
          const stalled = tf.logicalAnd(
            tf.logicalNot(st.reducedLastCheck),
            tf.greaterEqual(st.lossBestLastCheck, st.lossBest),
          );
          const halve = tf.logicalOr(oscillating, stalled);
          const h4 = rows(halve);
          return {
            reducedLastCheck: halve,
            lossBestLastCheck: st.lossBest,
            step: tf.where(h4, tf.div(st.step, 2), st.step),
            xAdv: tf.where(h4, st.xBest, st.xAdv),
            grad: tf.where(h4, st.gradBest, st.grad),
            increases: tf.zeros([n]),
          };
        });
      }
    }
  } catch (err) {
    for (const v of new Set(Object.values(st))) v.dispose();
    throw err;
  } finally {
    if (c.norm === "linf") tf.dispose(geometry);
  }
  const out = {
    xBest: st.xBest as tf.Tensor4D,
    lossBest: st.lossBest as tf.Tensor1D,
    acc: st.acc as tf.Tensor1D,
    xBestAdv: st.xBestAdv as tf.Tensor4D,
  };
  const keep = new Set<tf.Tensor>(Object.values(out));
  for (const v of new Set(Object.values(st))) if (!keep.has(v)) v.dispose();
  return out;
}

/** One run's target class per batch example (APGD-T), or null for an untargeted run. */
type RunTargets = Int32Array | null;

/**
 * At most this many rows (examples x side-by-side runs) in one APGD pass. Why side by side: on a
 * small model an iteration's cost is mostly per-op overhead (measured: ~12 ms fixed, ~0.1 ms per
 * example at width 8), so APGD-T's 9 targets run as one 9x-tall batch cost ~2.5x less than 9
 * passes in turn. Runs that share a pass all attack the points robust before it (the reference
 * drops a point as soon as one target fooled it): extra work on fooled points, the same flags.
 */
export const MAX_APGD_ROWS = 2048;

/**
 * Runs APGD once per entry of `runs` on the points not yet fooled, as many runs side by side as
 * fit in MAX_APGD_ROWS, and merges the results: per example the first run's point that fooled
 * it, else its highest-loss point. The model must have at least minClasses classes (checked
 * before any work).
 */
async function apgdRuns(
  c: Ctx,
  target: Pick<AttackTarget, "graphs" | "mode">,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  runs: RunTargets[],
  loss: Loss,
  minClasses: number,
): Promise<tf.Tensor4D> {
  const cleanHit = tf.tidy(() => {
    const z = c.model.forward(x, c.mode, c.sink);
    needClasses(z.shape[1], minClasses);
    return tf.equal(tf.argMax(z, 1), y);
  });
  const robust = Uint8Array.from(await cleanHit.data());
  cleanHit.dispose();
  const bestLoss = new Float32Array(x.shape[0]).fill(-Infinity);
  let out = tf.clone(x);
  for (let next = 0; next < runs.length;) {
    const ids = indicesOf(robust);
    const m = ids.length;
    if (m === 0) break;
    const k = Math.max(1, Math.min(runs.length - next, Math.floor(MAX_APGD_ROWS / m)));
    const group = runs.slice(next, next += k);
    // Row r*m + j = run r of example ids[j].
    const tiled = Int32Array.from({ length: k * m }, (_, i) => ids[i % m]);
    const xs = gatherRows(x, tiled), ys = gatherRows(y, tiled);
    const t = group[0] === null ? null : tf.tensor1d(
      Int32Array.from(tiled, (id, i) => group[Math.floor(i / m)]![id]),
      "int32",
    );
    try {
      const r = await apgdRun(c, target, xs, ys, loss, t);
      const [acc, lossBest] = await Promise.all([r.acc.data(), r.lossBest.data()]);
      // Per example: the first run that fooled it, else its best-loss run (if it beats earlier groups').
      const pick = new Int32Array(m), fooled = new Array<boolean>(m).fill(false);
      for (let j = 0; j < m; j++) {
        let best = j;
        for (let q = 0; q < k && !fooled[j]; q++) {
          const row = q * m + j;
          if (!acc[row]) [fooled[j], best] = [true, row];
          else if (lossBest[row] > lossBest[best]) best = row;
        }
        pick[j] = best;
      }
      const better = Array.from(ids, (id, j) => !fooled[j] && lossBest[pick[j]] > bestLoss[id]);
      ids.forEach((id, j) => {
        if (fooled[j]) robust[id] = 0;
        if (better[j]) bestLoss[id] = lossBest[pick[j]];
      });
      const [advRows, bestRows] = [gatherRows(r.xBestAdv, pick), gatherRows(r.xBest, pick)];
      tf.dispose([r.xBestAdv, r.xBest, r.lossBest, r.acc]);
      const merged = writeRows(out, ids, advRows, fooled);
      out.dispose();
      out = writeRows(merged, ids, bestRows, better);
      tf.dispose([merged, advRows, bestRows]);
    } catch (err) {
      out.dispose();
      throw err;
    } finally {
      tf.dispose([xs, ys]);
      t?.dispose();
    }
  }
  return out;
}

export type ApgdLoss = "ce" | "dlr" | "dlr-targeted";

export interface ApgdSettings {
  loss: ApgdLoss;
  /** Iterations per run (default 100). */
  steps: number;
  /** Runs (random starts) per target (default 1). */
  restarts: number;
  /** Step halving when the loss rose in at most this fraction of a window's steps (0.75). */
  rho: number;
  /** dlr-targeted only: the highest non-true classes to target in turn (default 9). */
  nTargetClasses?: number;
}

/**
 * The target classes of every example: column t-1 = the t-th highest non-true class at x, i.e.
 * the (t+1)-th largest logit (APGD-T attacks only points classified correctly, whose largest
 * logit is y). Computed once on the whole batch; the reference recomputes it on each subset,
 * which gives the same classes in eval mode.
 */
async function targetClasses(c: Ctx, x: tf.Tensor4D, nT: number): Promise<Int32Array[]> {
  const top = tf.tidy(() => {
    const z = c.model.forward(x, c.mode, c.sink);
    const classes = z.shape[1];
    needClasses(classes, 4);
    if (nT > classes - 1) {
      fail(
        "apgd-t.nTargetClasses",
        nT,
        `an integer <= ${
          classes - 1
        }: the model has ${classes} classes, so set nTargetClasses to at most ${classes - 1}`,
      );
    }
    return tf.topk(z, nT + 1).indices;
  });
  const idx = await top.data() as Int32Array;
  top.dispose();
  return Array.from(
    { length: nT },
    (_, t) => Int32Array.from({ length: x.shape[0] }, (_, i) => idx[i * (nT + 1) + t + 1]),
  );
}

function needClasses(classes: number, min: number): void {
  if (classes < min) {
    throw new OptionError(
      `The ${
        min === 4 ? "targeted " : ""
      }DLR loss needs at least ${min} classes but the model has ${classes}: use apgd-ce for this model.`,
    );
  }
}

/** APGD adversarial examples for the batch (the caller disposes them). */
export async function apgd(
  target: AttackTarget,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  threat: ThreatModel,
  s: ApgdSettings,
): Promise<tf.Tensor4D> {
  if (threat.eps === 0) return tf.clone(x); // the ball is the point x itself
  const c: Ctx = {
    model: target.model,
    mode: target.mode,
    sink: target.mode === "train" ? target.moments : undefined,
    box: boxOf(target),
    norm: threat.norm,
    eps: threat.eps,
    steps: s.steps,
    rho: s.rho,
    rng: target.rng,
    lossName: s.loss,
  };
  const minClasses = { ce: 2, dlr: 3, "dlr-targeted": 4 }[s.loss];
  if (s.loss !== "dlr-targeted") {
    const loss = s.loss === "ce" ? perExampleCrossEntropy : dlrLoss;
    return apgdRuns(c, target, x, y, new Array(s.restarts).fill(null), loss, minClasses);
  }
  const targets = await targetClasses(c, x, s.nTargetClasses ?? 9);
  const runs = targets.flatMap((classes) => new Array<RunTargets>(s.restarts).fill(classes));
  const loss: Loss = (z, yy, t) => dlrTargetedLoss(z, yy, t!);
  return apgdRuns(c, target, x, y, runs, loss, minClasses);
}

/** What APGD takes as an attack: iterations, restarts, rho; APGD-T also its number of targets. */
export interface ApgdOptions {
  steps: number;
  restarts: number;
  rho: number;
}
export interface ApgdTargetedOptions extends ApgdOptions {
  nTargetClasses: number;
}

function resolveCommon(name: string, o: Partial<ApgdOptions>, threat: ThreatModel): ApgdOptions {
  checkThreat(threat, `${name}.`);
  return {
    steps: checkNumber(`${name}.steps`, o.steps ?? 100, { integer: true, min: 1 }),
    restarts: checkNumber(`${name}.restarts`, o.restarts ?? 1, { integer: true, min: 1 }),
    rho: checkNumber(`${name}.rho`, o.rho ?? 0.75, { above: 0, max: 1 }),
  };
}

const restartTag = (o: ApgdOptions) => (o.restarts > 1 ? `r${o.restarts}` : "");

function untargeted(name: string, loss: "ce" | "dlr", summary: string): Attack<ApgdOptions> {
  return {
    name,
    summary,
    whiteBox: true,
    resolve(o, threat) {
      checkKnownKeys(name, o, ["steps", "restarts", "rho"]);
      return resolveCommon(name, o, threat);
    },
    tag: (o) => `${name.replace("-", "")}${o.steps}${restartTag(o)}`,
    // One gradient per iteration per run; restarts run only on the points not yet fooled, so
    // this is an upper bound, as the planner has always priced them.
    passes: (o) => ({ inputGradient: o.steps * o.restarts, forward: 0 }),
    run: (target, x, y, threat, o) => apgd(target, x, y, threat, { loss, ...o }),
  };
}

/** AutoAttack's first stage: APGD on the cross-entropy, 100 steps, 1 run. */
export const APGD_CE = untargeted(
  "apgd-ce",
  "ce",
  "APGD-CE (Croce & Hein 2020): step-size-free PGD with momentum on the cross-entropy",
);

/** APGD on the untargeted DLR loss (AutoAttack's "apgd-dlr", scale-invariant in the logits). */
export const APGD_DLR = untargeted(
  "apgd-dlr",
  "dlr",
  "APGD-DLR (Croce & Hein 2020): APGD on the untargeted difference-of-logits-ratio loss",
);

/** AutoAttack's second stage: APGD on the targeted DLR loss, one run per target class. */
export const APGD_T: Attack<ApgdTargetedOptions> = {
  name: "apgd-t",
  summary:
    "APGD-T (Croce & Hein 2020): APGD on the targeted DLR loss, 9 highest non-true classes in turn",
  whiteBox: true,
  resolve(o, threat) {
    checkKnownKeys("apgd-t", o, ["steps", "restarts", "rho", "nTargetClasses"]);
    const common = resolveCommon("apgd-t", o, threat);
    // The upper bound (classes - 1) needs the model: checked at run time from the logits.
    const nTargetClasses = checkNumber("apgd-t.nTargetClasses", o.nTargetClasses ?? 9, {
      integer: true,
      min: 1,
    });
    return { ...common, nTargetClasses };
  },
  tag: (o) =>
    `apgdt${o.steps}${restartTag(o)}${o.nTargetClasses !== 9 ? `t${o.nTargetClasses}` : ""}`,
  // One run of `steps` iterations per (target class, restart); upper bound as APGD's.
  passes: (o) => ({ inputGradient: o.steps * o.restarts * o.nTargetClasses, forward: 0 }),
  run: (target, x, y, threat, o) => apgd(target, x, y, threat, { loss: "dlr-targeted", ...o }),
};
