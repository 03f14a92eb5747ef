/**
 * Square Attack (Andriushchenko et al. 2020), a score-based black-box attack: forward passes only,
 * random search over square-shaped updates, following fra31/auto-attack's square.py (the version
 * AutoAttack runs: p_init 0.8, 5000 queries, margin loss, schedule not rescaled to the budget).
 *
 * - loss: the margin z_y - max_{i != y} z_i; a proposal is kept if it lowers the margin or
 *   misclassifies; an example stops (is no longer queried) once its margin is <= 0.
 * - square side: s = round(sqrt(p * H * W)) with p = p_init halved at iterations 10, 50, 200, 500,
 *   1000, 2000, 4000, 6000, 8000 (p_init / 512 after 8000).
 * - L-inf: start at vertical stripes x + eps * (+-1 per column and channel); each proposal sets one
 *   s x s window to x +- eps (one sign per channel), clamped to the box.
 * - L2: start from a grid of (H/5)-sized windows each holding +-eta(s) (two opposite "pyramids"),
 *   scaled to radius eps; each proposal moves the mass of one window (its old content plus a
 *   fresh +-eta) onto another, keeping the radius, as the reference does.
 * - The window's position (and, for L-inf, its signs) is drawn once per iteration for the whole
 *   batch, as the reference does: each example still sees i.i.d. proposals. Positions are uniform
 *   on [0, H - s] (the reference's draw never reaches H - s).
 *
 * Returned per example: the first point found misclassified, else the lowest-margin point (the
 * reference returns x there; the classification is the same). Points misclassified at x are
 * returned as x. Noise comes from target.rng.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "../util/rng.ts";
import { checkBoolean, checkKnownKeys, checkNumber } from "../util/validate.ts";
import { type Attack, type AttackTarget, checkThreat, type ThreatModel } from "./attack.ts";
import { boxOf, gatherRows, indicesOf, l2Norms, unit, writeRows } from "./ball.ts";
import { marginLoss } from "./dlr.ts";
import { iterate } from "./attack_graphs.ts";

export interface SquareOptions {
  /** Proposals per example per restart (default 5000); one forward pass each. */
  queries: number;
  /** Initial fraction of the image a square covers (default 0.8). */
  pInit: number;
  restarts: number;
  /** Rescale the p schedule to the budget as if it were 10000 queries (the original repo's default; AutoAttack: false). */
  rescaleSchedule: boolean;
}

/** The fraction p of the image one square covers at iteration it (0-based). */
export function squareFraction(
  it: number,
  o: Pick<SquareOptions, "queries" | "pInit" | "rescaleSchedule">,
): number {
  const i = o.rescaleSchedule ? Math.floor((it / o.queries) * 10000) : it;
  const halvings = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000].filter((t) => i > t).length;
  return o.pInit / 2 ** halvings;
}

/** One half of eta: nested rectangles with weights 1/(k+1)^2 around the centre, unit L2 norm. */
function etaRectangles(rows: number, cols: number): Float64Array {
  const d = new Float64Array(rows * cols);
  const [rc, cc] = [Math.floor(rows / 2) + 1, Math.floor(cols / 2) + 1];
  let [r0, c0] = [rc - 1, cc - 1];
  for (let k = 0; k < Math.max(rc, cc); k++, r0--, c0--) {
    for (let r = Math.max(r0, 0); r < Math.min(r0 + 2 * k + 1, rows); r++) {
      for (let c = Math.max(c0, 0); c < Math.min(c0 + 2 * k + 1, cols); c++) {
        d[r * cols + c] += 1 / (k + 1) ** 2;
      }
    }
  }
  const n = Math.hypot(...d);
  return n > 0 ? d.map((v) => v / n) : d;
}

/** The L2 update shape eta(s): +rectangles on the top half, - on the bottom; transposed w.p. 1/2. */
export function eta(s: number, rng: Rng): Float32Array {
  const top = etaRectangles(Math.floor(s / 2), s);
  const bottom = etaRectangles(s - Math.floor(s / 2), s);
  const d = new Float64Array(s * s);
  d.set(top);
  bottom.forEach((v, i) => (d[top.length + i] = -v));
  const n = Math.hypot(...d);
  const out = new Float32Array(s * s);
  const transpose = rng.float() > 0.5;
  for (let r = 0; r < s; r++) {
    for (let c = 0; c < s; c++) out[r * s + c] = d[transpose ? c * s + r : r * s + c] / n;
  }
  return out;
}

const sign = (rng: Rng) => (rng.float() < 0.5 ? -1 : 1);
const signs = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => sign(rng));

/** A [1, H, W, 1] 0/1 mask of the s x s window at (r, c). */
function windowMask(h: number, w: number, r: number, c: number, s: number): tf.Tensor4D {
  const m = new Float32Array(h * w);
  for (let i = r; i < r + s; i++) m.fill(1, i * w + c, i * w + c + s);
  return tf.tensor4d(m, [1, h, w, 1]);
}

interface Ctx {
  target: AttackTarget;
  box: [number, number];
  eps: number;
  o: SquareOptions;
}

function margins(c: Ctx, xa: tf.Tensor4D, y: tf.Tensor1D): tf.Tensor1D {
  const { model, mode, moments } = c.target;
  return tf.tidy(() =>
    marginLoss(model.forward(xa, mode, mode === "train" ? moments : undefined), y)
  );
}

/**
 * One query as a function of tensors only (so that lib/backend/graph_replay.ts can replay it):
 * [candidates, best, margin, y] -> [best', margin']: the candidates' margins, and per example the
 * candidate where it lowers the margin or misclassifies.
 */
function scoreAndKeep(c: Ctx) {
  return ([cand, best, margin, y]: readonly tf.Tensor[]): tf.Tensor[] => {
    const m = margins(c, cand as tf.Tensor4D, y as tf.Tensor1D);
    const out = tf.tidy(() => {
      const take = tf.logicalOr(tf.less(m, margin), tf.lessEqual(m, 0));
      return [tf.where(tf.reshape(take, [-1, 1, 1, 1]), cand, best), tf.where(take, m, margin)];
    });
    m.dispose();
    return out;
  };
}

const scoreKey = (c: Ctx) => `square-score ${c.target.mode}`;

/** Queries an active-set size runs eager before its scoring is recorded as a graph. */
export const SQUARE_WARM_QUERIES = 8;

/** The starting point of each example (see the file comment). */
function start(c: Ctx, x: tf.Tensor4D, norm: "linf" | "l2"): tf.Tensor4D {
  const [n, h, w, ch] = x.shape;
  const rng = c.target.rng;
  if (norm === "linf") {
    return tf.tidy(() => {
      const stripes = tf.tensor4d(signs(rng, n * w * ch), [n, 1, w, ch]);
      return tf.clipByValue(tf.add(x, tf.mul(stripes, c.eps)), c.box[0], c.box[1]) as tf.Tensor4D;
    });
  }
  const d = new Float32Array(x.size);
  const s = Math.max(Math.floor(h / 5), 1);
  const offset = Math.max(Math.floor((h - 5 * s) / 2), 0);
  for (let vh = offset; vh + s <= h; vh += s) {
    for (let vw = offset; vw + s <= w; vw += s) {
      const e = eta(s, rng);
      const sg = signs(rng, n * ch);
      for (let i = 0; i < n; i++) {
        for (let r = 0; r < s; r++) {
          for (let q = 0; q < s; q++) {
            for (let k = 0; k < ch; k++) {
              d[((i * h + vh + r) * w + vw + q) * ch + k] += e[r * s + q] * sg[i * ch + k];
            }
          }
        }
      }
    }
  }
  return tf.tidy(() => {
    const delta = unit(tf.tensor4d(d, x.shape), "l2");
    return tf.clipByValue(tf.add(x, tf.mul(delta, c.eps)), c.box[0], c.box[1]) as tf.Tensor4D;
  });
}

/** One L-inf proposal for every active example: one window set to x +- eps. */
function proposeLinf(c: Ctx, x: tf.Tensor4D, best: tf.Tensor4D, it: number): tf.Tensor4D {
  const { mask, sg } = linfWindow(c, x, it);
  const cand = proposeLinfAt(c, x, best, mask, sg);
  tf.dispose([mask, sg]);
  return cand;
}

/** The host draws of one L-inf proposal: the window as a [1, H, W, 1] mask, its channel signs. */
function linfWindow(c: Ctx, x: tf.Tensor4D, it: number): { mask: tf.Tensor4D; sg: tf.Tensor4D } {
  const [, h, w, ch] = x.shape;
  const rng = c.target.rng;
  const p = squareFraction(it, c.o);
  const s = Math.min(Math.max(Math.round(Math.sqrt(p * h * w)), 1), h, w);
  const [r, q] = [rng.int(h - s + 1), rng.int(w - s + 1)];
  return { mask: windowMask(h, w, r, q, s), sg: tf.tensor4d(signs(rng, ch), [1, 1, 1, ch]) };
}

/** The L-inf proposal from its drawn window and signs (tensors only). */
function proposeLinfAt(
  c: Ctx,
  x: tf.Tensor,
  best: tf.Tensor,
  mask: tf.Tensor,
  sg: tf.Tensor,
): tf.Tensor4D {
  return tf.tidy(() => {
    const step = tf.mul(mask, sg);
    const moved = tf.add(best, tf.mul(step, 2 * c.eps));
    const lower = tf.maximum(tf.sub(x, c.eps), c.box[0]);
    const upper = tf.minimum(tf.add(x, c.eps), c.box[1]);
    return tf.minimum(tf.maximum(moved, lower), upper) as tf.Tensor4D;
  });
}

/** One L2 proposal: window 2's mass (and window 1's) re-spread in window 1, radius kept. */
function proposeL2(c: Ctx, x: tf.Tensor4D, best: tf.Tensor4D, it: number): tf.Tensor4D {
  const [m, h, w, ch] = x.shape;
  const rng = c.target.rng;
  const p = squareFraction(it, c.o);
  let s = Math.max(Math.round(Math.sqrt(p * h * w)), 3);
  if (s % 2 === 0) s++;
  s = Math.min(s, h, w);
  const [r1, q1] = [rng.int(h - s + 1), rng.int(w - s + 1)];
  const [r2, q2] = [rng.int(h - s + 1), rng.int(w - s + 1)];
  const e = eta(s, rng);
  const sg = signs(rng, m * ch);
  return tf.tidy(() => {
    const delta = tf.sub(best, x);
    const chanNorm = (t: tf.Tensor) => tf.sqrt(tf.sum(tf.square(t), [1, 2], true));
    const win1 = tf.slice(delta, [0, r1, q1, 0], [m, s, s, ch]);
    const mask1 = windowMask(h, w, r1, q1, s);
    const mask2 = windowMask(h, w, r2, q2, s);
    const both = tf.maximum(mask1, mask2);
    const normImage = l2Norms(delta);
    const normWindows = chanNorm(tf.mul(delta, both));
    let fresh = tf.add(
      tf.mul(tf.tensor4d(e, [1, s, s, 1]), tf.tensor4d(sg, [m, 1, 1, ch])),
      tf.div(win1, tf.add(chanNorm(win1), 1e-12)),
    );
    // Per channel: room left in the ball spread over the channels, plus the windows' old mass.
    const room = tf.maximum(tf.sub(c.eps * c.eps, tf.square(normImage)), 0);
    const radius = tf.sqrt(tf.add(tf.div(room, ch), tf.square(normWindows)));
    fresh = tf.mul(tf.div(fresh, tf.add(chanNorm(fresh), 1e-12)), radius);
    const placed = tf.pad(fresh, [[0, 0], [r1, h - r1 - s], [q1, w - q1 - s], [0, 0]]);
    const next = tf.add(tf.mul(tf.mul(delta, tf.sub(1, mask2)), tf.sub(1, mask1)), placed);
    return tf.clipByValue(
      tf.add(x, tf.mul(unit(next as tf.Tensor4D, "l2"), c.eps)),
      c.box[0],
      c.box[1],
    );
  }) as tf.Tensor4D;
}

/**
 * One run on points classified correctly: the best point of each and its margin. Examples leave
 * the active set (are no longer queried) once misclassified.
 */
async function squareRun(c: Ctx, norm: "linf" | "l2", x: tf.Tensor4D, y: tf.Tensor1D) {
  const n = x.shape[0];
  let act = {
    ids: Int32Array.from({ length: n }, (_, i) => i),
    x: tf.clone(x),
    y: tf.clone(y),
    best: start(c, x, norm),
  };
  let margin = margins(c, act.best, act.y);
  const doneIds: number[] = [];
  const doneRows: tf.Tensor4D[] = [];
  const finalMargin = new Float32Array(n);
  const propose = norm === "linf" ? proposeLinf : proposeL2;
  for (let it = 0;; it++) {
    const mh = await margin.data() as Float32Array;
    const finished = indicesOf(Array.from(mh, (v) => v <= 0 || it >= c.o.queries));
    if (finished.length > 0) {
      // Move the finished examples out of the active set.
      finished.forEach((j) => {
        doneIds.push(act.ids[j]);
        finalMargin[act.ids[j]] = mh[j];
      });
      doneRows.push(gatherRows(act.best, finished));
      const keep = indicesOf(Array.from(mh, (v) => !(v <= 0 || it >= c.o.queries)));
      const next = {
        ids: Int32Array.from(keep, (j) => act.ids[j]),
        x: gatherRows(act.x, keep),
        y: gatherRows(act.y, keep),
        best: gatherRows(act.best, keep),
      };
      const nextMargin = gatherRows(margin, keep);
      tf.dispose([act.x, act.y, act.best, margin]);
      act = next;
      margin = nextMargin;
    }
    if (act.ids.length === 0) break;
    // A query, through c.target.graphs when given: L-inf the proposal (its window and signs drawn
    // here, fed) and its scoring; L2 the scoring only (its proposal slices and pads at drawn
    // positions, which a graph would freeze). The active set shrinks as points are fooled: a size
    // is recorded only once it has lasted SQUARE_WARM_QUERIES queries, so short-lived sizes never
    // pay for a graph.
    let best: tf.Tensor, newMargin: tf.Tensor;
    if (norm === "linf") {
      const { mask, sg } = linfWindow(c, act.x, it);
      [best, newMargin] = await iterate(
        c.target,
        `square-query linf eps=${c.eps} box=${c.box}`,
        (
          [x, b, m, y, k, g],
        ) => {
          const cand = proposeLinfAt(c, x, b, k, g);
          const out = scoreAndKeep(c)([cand, b, m, y]);
          cand.dispose();
          return out;
        },
        [act.x, act.best, margin, act.y, mask, sg],
        { warmCalls: SQUARE_WARM_QUERIES },
      );
      tf.dispose([mask, sg]);
    } else {
      const cand = propose(c, act.x, act.best, it);
      [best, newMargin] = await iterate(c.target, scoreKey(c), scoreAndKeep(c), [
        cand,
        act.best,
        margin,
        act.y,
      ], { warmCalls: SQUARE_WARM_QUERIES });
      cand.dispose();
    }
    tf.dispose([act.best, margin]);
    act.best = best as tf.Tensor4D;
    margin = newMargin as tf.Tensor1D;
  }
  tf.dispose([act.x, act.y, act.best, margin]);
  // Rows back in the input order.
  const order = new Int32Array(doneIds.length);
  doneIds.forEach((id, k) => (order[id] = k));
  const all = tf.concat(doneRows) as tf.Tensor4D;
  const best = gatherRows(all, order);
  tf.dispose([all, ...doneRows]);
  return { best, margin: finalMargin };
}

/** Square Attack adversarial examples for the batch (the caller disposes them). */
export async function square(
  target: AttackTarget,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  threat: ThreatModel,
  o: SquareOptions,
): Promise<tf.Tensor4D> {
  if (threat.eps === 0) return tf.clone(x);
  const c: Ctx = { target, box: boxOf(target), eps: threat.eps, o };
  const m0 = margins(c, x, y);
  const robust = Uint8Array.from(await m0.data(), (v) => (v > 0 ? 1 : 0));
  m0.dispose();
  const bestMargin = new Float32Array(x.shape[0]).fill(Infinity);
  let out = tf.clone(x);
  for (let r = 0; r < o.restarts; r++) {
    const ids = indicesOf(robust);
    if (ids.length === 0) break;
    const xs = gatherRows(x, ids), ys = gatherRows(y, ids);
    try {
      const run = await squareRun(c, threat.norm, xs, ys);
      const take = Array.from(ids, (id, j) => run.margin[j] <= 0 || run.margin[j] < bestMargin[id]);
      ids.forEach((id, j) => {
        if (take[j]) bestMargin[id] = run.margin[j];
        if (run.margin[j] <= 0) robust[id] = 0;
      });
      const merged = writeRows(out, ids, run.best, take);
      tf.dispose([out, run.best]);
      out = merged;
    } finally {
      tf.dispose([xs, ys]);
    }
  }
  return out;
}

/** Square Attack behind the attack interface: AutoAttack's third, black-box stage. */
export const SQUARE: Attack<SquareOptions> = {
  name: "square",
  summary:
    "Square Attack (Andriushchenko et al. 2020): black-box random search, margin loss, 5000 queries",
  whiteBox: false,
  resolve(o, threat) {
    checkKnownKeys("square", o, ["queries", "pInit", "restarts", "rescaleSchedule"]);
    checkThreat(threat, "square.");
    return {
      queries: checkNumber("square.queries", o.queries ?? 5000, { integer: true, min: 1 }),
      pInit: checkNumber("square.pInit", o.pInit ?? 0.8, { above: 0, max: 1 }),
      restarts: checkNumber("square.restarts", o.restarts ?? 1, { integer: true, min: 1 }),
      rescaleSchedule: checkBoolean("square.rescaleSchedule", o.rescaleSchedule ?? false),
    };
  },
  tag: (o) => `square${o.queries}${o.restarts > 1 ? `r${o.restarts}` : ""}`,
  // Black-box: one forward pass per query (per restart; restarts run only on the points still
  // robust, so an upper bound); no gradients.
  passes: (o) => ({ inputGradient: 0, forward: o.queries * o.restarts }),
  run: (target, x, y, threat, o) => square(target, x, y, threat, o),
};
