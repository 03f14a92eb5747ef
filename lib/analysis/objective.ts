/**
 * The function the weight-space measures (sharpness, Hessian, landscapes) look at: a loss of the
 * parameters on a FIXED set of examples, split into chunks (batches). The loss is the mean over
 * chunks of each chunk's mean cross-entropy; chunk c alone is what m-sharpness uses (m = chunk
 * size).
 *
 * For a model, `mode` picks the BatchNorm statistics: "train" (each chunk normalised with its own
 * batch statistics, as SAM's two passes see the loss during training; the running statistics are
 * never touched) or "eval" (the stored running statistics, as the attacks see the model). The
 * chunks are fixed, so in either mode the loss is a deterministic function of the weights.
 *
 * Anything with this interface can be measured: tests use quadratics with known Hessians.
 *
 * A model's objective runs each chunk's loss and its gradient on the engine asked for (default:
 * lib/backend/speed_settings.ts defaultEngine, "graph" on the tensorflow backend): with "graph",
 * each is replayed as one libtensorflow graph once it gave the eager computation's results bit for
 * bit (lib/backend/graph_replay.ts), so the measures (sharpness, Hessian-vector products,
 * landscapes) are the same numbers on either engine.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Mode, Model } from "../models/model.ts";
import { crossEntropy } from "../models/ops.ts";
import type { Dataset } from "../data/data.ts";
import { datasetBatch } from "../training/batch.ts";
import { checkNumber } from "../util/validate.ts";
import { type ReplayableSync, replayableSync } from "../backend/graph_replay.ts";
import { defaultEngine, type Engine } from "../backend/speed_settings.ts";

export interface Objective {
  /** The parameters the measures move (all of them together form "w"). */
  readonly params: readonly tf.Variable[];
  /** Number of chunks (>= 1). */
  readonly chunks: number;
  /** The loss at the current parameters: over all chunks, or over chunk `chunk` only. */
  loss(chunk?: number): number;
  /** The loss and its gradient (one tensor per param; the caller disposes them). */
  lossAndGrad(chunk?: number): { loss: number; grads: tf.Tensor[] };
  /** Release the examples' tensors. */
  dispose(): void;
}

export interface Batch {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
}

/** Chunks of `size` examples from the first `n` of `data` (the last chunk may be smaller). */
export function batchesOf(data: Dataset, n: number, size: number): Batch[] {
  checkNumber("n", n, { integer: true, min: 1, max: data.n });
  checkNumber("batchSize", size, { integer: true, min: 1 });
  const out: Batch[] = [];
  for (let s = 0; s < n; s += size) out.push(datasetBatch(data, s, Math.min(n, s + size)));
  return out;
}

/**
 * The training loss of `model` on fixed batches, in `mode`. Owns the batches it is given (dispose()
 * releases them); the model stays the caller's. All chunks weigh the same (give equal-size chunks).
 */
export function modelObjective(
  model: Model,
  batches: Batch[],
  mode: Mode = "train",
  engine: Engine = defaultEngine(tf.getBackend()),
): Objective & { graphCalls(): number; eagerReasons(): string[] } {
  if (batches.length === 0) throw new RangeError("modelObjective needs at least one batch.");
  const params = model.params;
  // A chunk's loss, and its loss and gradient, as functions of [x, y] (replayable).
  const lossFn = ([x, y]: readonly tf.Tensor[]) => [
    crossEntropy(model.forward(x as tf.Tensor4D, mode), y as tf.Tensor1D),
  ];
  const gradFn = ([x, y]: readonly tf.Tensor[]) => {
    const { value, grads } = tf.variableGrads(
      () => crossEntropy(model.forward(x as tf.Tensor4D, mode), y as tf.Tensor1D),
      params as tf.Variable[],
    );
    return [value, ...params.map((p) => grads[p.name])];
  };
  const replays: ReplayableSync[] = engine === "graph"
    ? [replayableSync(lossFn), replayableSync(gradFn)]
    : [];
  const [lossRun, gradRun] = replays.length ? replays : [lossFn, gradFn];
  const lossOf = (b: Batch) => lossRun([b.x, b.y])[0] as tf.Scalar;
  const pick = (chunk?: number) => {
    if (chunk === undefined) return batches;
    checkNumber("chunk", chunk, { integer: true, min: 0, max: batches.length - 1 });
    return [batches[chunk]];
  };
  return {
    params,
    chunks: batches.length,
    loss(chunk) {
      const bs = pick(chunk);
      const total = tf.tidy(() => tf.addN(bs.map((b) => lossOf(b))));
      const v = total.dataSync()[0] / bs.length;
      total.dispose();
      return v;
    },
    lossAndGrad(chunk) {
      const bs = pick(chunk);
      let sum: tf.Tensor[] | null = null;
      let total = 0;
      for (const b of bs) {
        const [value, ...g] = gradRun([b.x, b.y]);
        total += value.dataSync()[0];
        value.dispose();
        if (sum === null) sum = g;
        else {
          const next: tf.Tensor[] = tf.tidy(() => sum!.map((s, i) => tf.add(s, g[i])));
          tf.dispose([...sum, ...g]);
          sum = next;
        }
      }
      const k = bs.length;
      const grads = k === 1 ? sum! : tf.tidy(() => sum!.map((s) => tf.div(s, k)));
      if (k > 1) tf.dispose(sum!);
      return { loss: total / k, grads };
    },
    /** Losses and gradients computed by a graph so far (engine "graph"). */
    graphCalls: () => replays.reduce((s, r) => s + r.status().graphCalls, 0),
    /** Why a loss or gradient stayed eager (engine "graph"), one line per input shape. */
    eagerReasons: () =>
      replays.flatMap((r, i) =>
        Object.entries(r.status().eager).map(([k, why]) =>
          `${["loss", "gradient"][i]} ${k}: ${why}`
        )
      ),
    dispose() {
      for (const r of replays) r.dispose();
      tf.dispose(batches.flatMap((b) => [b.x, b.y]));
    },
  };
}
