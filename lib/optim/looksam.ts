/**
 * LookSAM (Liu, Mai, Chen, Hsieh, You, "Towards Efficient and Scalable Sharpness-Aware
 * Minimization", CVPR 2022; cited in the paper's related work): SAM's second gradient only every
 * k-th step. On that step, with g = grad L(w) and g_s = grad L(w + rho g/||g||), it keeps the part
 * of g_s orthogonal to g,  g_v = g_s - (g.g_s / ||g||^2) g,  and steps with g_s; on the k-1 steps
 * between it reuses that direction,  g + alpha (||g|| / ||g_v||) g_v,  at one gradient pass. Norms
 * and dot products are global over all parameters (as SAM's); the base SGD makes the update.
 *
 * Its steps are not all the same ops (every k-th differs), so it trains eager only
 * (sameOpsEveryStep false), and g_v and the step count are part of the checkpoint.
 * rho = 0 gives g_v = 0 and plain SGD steps.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { NamedArray } from "../models/model.ts";
import { checkNumber, OptionError } from "../util/validate.ts";
import type { Optimizer, Updater } from "./optimizer.ts";
import { checkRho, SAM_DEFAULT_RHO, samPerturbation } from "./sam.ts";
import { type Sgd, valueAndGrads } from "./sgd.ts";

export interface LookSamOptions extends Record<string, unknown> {
  rho: number;
  /** SAM's second gradient every k steps (the paper's k = 5). */
  k: number;
  /** Weight of the reused direction (the paper's alpha = 0.7). */
  alpha: number;
}

/** sum_i sum(a_i * b_i) over all tensors (a Sum over a stack: the project's rule, not AddN). */
function dot(a: readonly tf.Tensor[], b: readonly tf.Tensor[]): tf.Scalar {
  return tf.sum(tf.stack(a.map((t, i) => tf.sum(tf.mul(t, b[i])))));
}

function createLookSam(opt: Sgd, o: LookSamOptions): Updater {
  let t = 0;
  let gv: tf.Tensor[] | null = null;
  const params = opt.params;
  return {
    step(loss, lr) {
      const first = valueAndGrads(params, () => loss(1));
      const g = first.grads;
      try {
        if (t % o.k === 0 || gv === null) {
          const e = samPerturbation(g, o.rho);
          // clone() shares the buffer: restoring from it is exact, not w + e - e.
          const saved = params.map((p) => tf.clone(p));
          tf.tidy(() => params.forEach((p, i) => p.assign(tf.add(p, e[i]))));
          let second: { value: tf.Scalar; grads: tf.Tensor[] };
          try {
            second = valueAndGrads(params, () => loss(2));
          } finally {
            params.forEach((p, i) => p.assign(saved[i]));
            tf.dispose([...saved, ...e]);
          }
          const gs = second.grads;
          const next = tf.tidy(() => {
            const coef = tf.div(dot(g, gs), tf.add(dot(g, g), 1e-12));
            return gs.map((s, i) => tf.sub(s, tf.mul(coef, g[i])));
          });
          tf.dispose(gv ?? []);
          gv = next.map((v) => tf.keep(v)); // kept: it outlives any tidy the step runs in
          opt.step(gs, lr);
          tf.dispose([second.value, ...gs]);
        } else {
          const v = gv;
          const step = tf.tidy(() => {
            const scale = tf.mul(
              o.alpha,
              tf.div(tf.sqrt(dot(g, g)), tf.add(tf.sqrt(dot(v, v)), 1e-12)),
            );
            return g.map((gi, i) => tf.add(gi, tf.mul(scale, v[i])));
          });
          opt.step(step, lr);
          tf.dispose(step);
        }
      } finally {
        tf.dispose(g);
      }
      t++;
      return first.value;
    },
    exportState(names) {
      const out: Record<string, NamedArray> = {
        "looksam:step": { shape: [1], data: Float32Array.of(t) },
      };
      gv?.forEach((v, i) => {
        out[`looksam:gv:${names[i]}`] = { shape: [...v.shape], data: v.dataSync() as Float32Array };
      });
      return out;
    },
    importState(names, state) {
      const steps = state["looksam:step"]?.data[0];
      if (!Number.isInteger(steps) || steps < 0) {
        throw new RangeError("Optimizer state lacks LookSAM's step count (looksam:step).");
      }
      t = steps;
      if (t === 0) return;
      const restored = params.map((p, i) => {
        const entry = state[`looksam:gv:${names[i]}`];
        if (!entry || entry.data.length !== p.size) {
          throw new RangeError(
            `Optimizer state lacks a ${p.size}-element looksam:gv:${
              names[i]
            }; it was saved for a different model.`,
          );
        }
        return tf.keep(tf.tensor(entry.data.slice(), p.shape, "float32"));
      });
      tf.dispose(gv ?? []);
      gv = restored;
    },
    dispose() {
      tf.dispose(gv ?? []);
      gv = null;
    },
  };
}

export const LOOKSAM_OPTIMIZER: Optimizer<LookSamOptions> = {
  name: "looksam",
  optionNames: ["rho", "k", "alpha"],
  resolve: (o) => {
    const k = checkNumber("k", o.k ?? 5, { integer: true, min: 1 });
    const alpha = checkNumber("alpha", o.alpha ?? 0.7, { min: 0 });
    if (o.adaptive !== undefined) {
      throw new OptionError("LookSAM has no adaptive option; use the sam optimizer for ASAM.");
    }
    return { rho: checkRho(o.rho as number ?? SAM_DEFAULT_RHO), k, alpha };
  },
  gradientPasses: (o) => 1 + 1 / o.k,
  family: () => "LookSAM",
  label: (o) => `LookSAM rho=${o.rho} k=${o.k}`,
  columns: (o) => ({ rho: o.rho, adaptive: null }),
  sameOpsEveryStep: false,
  createUpdater: createLookSam,
};
