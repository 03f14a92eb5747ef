/**
 * A training step that runs as one libtensorflow graph once it has been seen to be replayable
 * (tfjs-node only). Why: TensorFlow's eager runtime costs ~20 µs per op on these machines. A
 * PreActResNet-18 step is 600-1000 ops, and the graph executor also frees dead buffers at once and
 * runs independent ops side by side. The graph ran PRN-18 width 16 steps 1.3-1.4x faster than
 * eager with bit-identical results (bench/NOTES.md).
 *
 * How, per input shape:
 * 1. The first call runs the eager step plainly: tfjs uploads host data lazily, so tensors made
 *    from host arrays (weights, constants) only become native during it. The next two calls run
 *    the eager step while recording its native ops (lib/backend/op_trace.ts). All three are real
 *    training steps.
 * 2. The two records must match op for op: names, attributes, wiring, and the content of every
 *    upload except the step's random draws (below). Otherwise the step depends on something that
 *    changes between calls, and that shape stays eager for good.
 * 3. The second record becomes a graph (lib/backend/session_graph.ts):
 *    - the variables it reads, the batch, the learning rate, the random draws and the float
 *      constants (see floatConstants) become its inputs;
 *    - the variables it changes and the loss become its outputs.
 * 4. The graph runs twice from the second call's starting state. Both results must match that
 *    call's eager result within `tolerance` (relative to each tensor's largest value), else that
 *    shape stays eager.
 * 5. From the fourth call on, the step is one session run plus a variable assignment per updated
 *    tensor.
 *
 * Random draws (PGD's random start in AT): the step's Rng (TrainStep.rng) logs its fillUniform and
 * fillNormal calls while a call is recorded. A draw uploaded unchanged is a graph input: each graph
 * step first draws the same kinds and lengths from the same Rng, so the Rng advances and the graph
 * sees exactly the numbers the eager step would have drawn. The Rng's state after a recorded call
 * must be what those draws alone give, else the step draws in some other way and stays eager.
 *
 * What may differ from eager, as measured: nothing, for this project's steps. PreActResNet-18
 * (widths 8, 16, 64) and the small CNN replay ST, SAM and AT (L-inf and L2) bit for bit. That
 * took four measures against the session's graph optimiser and kernels (bench/NOTES.md):
 * - float constants are fed, not written as Consts (x / c would become x * (1/c));
 * - Sqrt outputs that are divided by, and BatchNorm outputs that a Relu takes, are fetched too
 *   (lib/backend/session_graph.ts: else they would be rewritten or fused);
 * - lib/optim/sam.ts sums a stack, not an AddN (the graph adds an AddN's terms in another order
 *   than eager, and not the same order on every run).
 * The check in step 4 stays: a step with other such ops stays eager rather than drift.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { NodeBackendHandle } from "../backend/node_backend.ts";
import {
  nodeBackend,
  type OpRecord,
  outsideValue,
  realBinding,
  recordOps,
  tensorId,
} from "../backend/op_trace.ts";
import { buildSessionGraph, type GraphFeed, type SessionGraph } from "../backend/session_graph.ts";
import type { LearningRate } from "../optim/sgd.ts";
import type { TrainStep } from "./train.ts";
import { checkNumber } from "../util/validate.ts";
import { redraw, Rng, type RngDraw } from "../util/rng.ts";

/** Default agreement asked of the graph against the eager step it was built from. */
export const GRAPH_STEP_TOLERANCE = 1e-5;

export interface GraphStepStatus {
  /** Input shapes ("128x28x28x1") whose step runs as a graph. */
  graphs: string[];
  /** Input shapes that stay eager, with the reason. */
  eager: Record<string, string>;
  /** Largest relative difference seen when a graph was checked against its eager step. */
  worstDifference: number;
  /** Steps run as a graph so far. */
  graphSteps: number;
}

export type GraphTrainStep = TrainStep & { status(): GraphStepStatus; dispose(): void };

interface Compiled {
  graph: SessionGraph;
  /** Variables fed, in feed order (after them: x, y, lr). */
  reads: tf.Variable[];
  /** Variables assigned from the outputs, in output order (the loss is last). */
  writes: tf.Variable[];
  /** The step's draws in order; `shape` set for those fed to the graph (after lr, in order). */
  draws: { draw: RngDraw; shape: number[] | null }[];
  /** The step's float constants, fed last (see floatConstants). */
  constants: tf.Tensor[];
}

type Shape =
  | { phase: "warm" }
  | { phase: "trace1"; first: Trace }
  | { phase: "graph"; compiled: Compiled }
  | { phase: "eager" };

interface Trace {
  record: OpRecord;
  /** Canonical form of the record: equal for two calls iff their op sequences match. */
  signature: string;
}

/** A call's draws from its Rng, each with the upload that carried it unchanged (or null). */
interface Draws {
  draws: RngDraw[];
  uploads: (number | null)[];
  /** Whether the Rng's state after the call is what these draws alone give. */
  complete: boolean;
}

/** Pair each draw with an upload of the same bytes (each upload used once). */
function matchUploads(draws: RngDraw[], uploads: Map<number, ArrayBufferView>): (number | null)[] {
  const byHash = new Map<string, number[]>();
  for (const [id, data] of uploads) {
    const h = hashBytes(data);
    byHash.set(h, [...byHash.get(h) ?? [], id]);
  }
  return draws.map((d) => byHash.get(hashBytes(d.values))?.shift() ?? null);
}

/** Canonical form of the draws' kinds and parameters (their values are inputs, not structure). */
function drawSignature(draws: RngDraw[], uploads: (number | null)[]): string {
  return draws.map((d, k) =>
    `${d.kind}${d.kind === "uniform" ? `(${d.lo},${d.hi})` : ""}x${d.values.length}` +
    (uploads[k] === null ? "" : "->fed")
  ).join(" ");
}

/** The variables tfjs knows of (models, BN statistics, optimizer buffers). */
function allVariables(): tf.Variable[] {
  return Object.values(tf.engine().registeredVariables) as tf.Variable[];
}

/**
 * A record with tensor ids replaced by their role:
 * - an op output by "op index:output index";
 * - a variable's value before the step by its name;
 * - an upload by its order and content;
 * - the batch and learning rate by x, y, lr;
 * - any other outside tensor by its id (the same long-lived tensor both times).
 */
function signatureOf(record: OpRecord, roles: Map<number, string>): string {
  const where = new Map<number, string>();
  const uploadOrder = new Map<number, number>();
  for (const id of record.uploads.keys()) uploadOrder.set(id, uploadOrder.size);
  const parts: string[] = [];
  record.ops.forEach((op, k) => {
    const ins = op.inputs.map((id) => {
      const w = where.get(id) ?? roles.get(id);
      if (w) return w;
      const u = uploadOrder.get(id);
      if (u !== undefined) {
        return `u${u}=${hashBytes(record.uploads.get(id)!)}`;
      }
      return `ext${id}`;
    });
    parts.push(`${op.name}${JSON.stringify(op.attrs)}(${ins.join(",")})`);
    op.outputs.forEach((id, j) => where.set(id, `${k}:${j}`));
  });
  return parts.join("\n");
}

/** FNV-1a of a buffer's bytes, as hex (uploads are compared by content, cheaply). */
function hashBytes(d: ArrayBufferView): string {
  const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return `${bytes.length}:${(h >>> 0).toString(16)}`;
}

/**
 * The float tensors from outside the record that no feed covers (uploaded scalars such as the
 * weight decay, 1/(H*W) of a global average pool), as tensors of their own, to be fed.
 * Why not Consts: libtensorflow's graph optimiser rewrites arithmetic with constants (x / c becomes
 * x * (1/c)), which changes the last bit. Integer constants (shapes, axes) stay Consts, so that
 * shapes are still known when the graph is built.
 */
function floatConstants(
  backend: NodeBackendHandle,
  record: OpRecord,
  used: Set<number>,
  fed: Set<number>,
): { ids: number[]; tensors: tf.Tensor[] } {
  const produced = new Set(record.ops.flatMap((op) => op.outputs));
  const floats = [...used].filter((id) => !produced.has(id) && !fed.has(id))
    .map((id) => ({ id, ...outsideValue(backend, record, id) }))
    .filter((c) => c.meta.dtype === realBinding(backend).TF_FLOAT);
  return {
    ids: floats.map((c) => c.id),
    tensors: floats.map((c) => tf.keep(tf.tensor(c.data as Float32Array, c.meta.shape))),
  };
}

/** Largest |a - b| / max|b| over the tensors (0 = bit-identical). */
function relativeDifference(a: readonly tf.Tensor[], b: readonly Float32Array[]): number {
  let worst = 0;
  a.forEach((t, i) => {
    const x = t.dataSync();
    const e = b[i];
    let scale = 0;
    let diff = 0;
    for (let j = 0; j < e.length; j++) {
      scale = Math.max(scale, Math.abs(e[j]));
      const d = Math.abs(x[j] - e[j]);
      if (!(d <= diff)) diff = d; // NaN counts as the worst
    }
    if (diff > 0) worst = Math.max(worst, scale > 0 ? diff / scale : Infinity);
  });
  return worst;
}

/**
 * `eager` (a lib/training/train.ts TrainStep) that runs as one graph per input shape once that is
 * safe (see the top of this file). On a backend other than tfjs-node it is `eager` unchanged.
 */
export function graphTrainStep(
  eager: TrainStep,
  tolerance = GRAPH_STEP_TOLERANCE,
): GraphTrainStep {
  checkNumber("tolerance", tolerance, { min: 0 });
  const nb = nodeBackend();
  const shapes = new Map<string, Shape>();
  const status: GraphStepStatus = { graphs: [], eager: {}, worstDifference: 0, graphSteps: 0 };
  const stayEager = (key: string, reason: string) => {
    shapes.set(key, { phase: "eager" });
    status.eager[key] = reason;
  };

  /** One eager call, recorded; with the variables' tensors before and after it. */
  async function traced(
    backend: NodeBackendHandle,
    x: tf.Tensor4D,
    y: tf.Tensor1D,
    lr: tf.Scalar,
  ) {
    const vars = allVariables();
    // Make lazily uploaded tensors native now, so the record sees them as inputs, not uploads.
    backend.getInputTensorIds([...vars, x, y, lr]);
    // clone() shares the native tensor: the pre-step values stay alive under their ids.
    const before = vars.map((v) => tf.keep(tf.clone(v)));
    const roles = new Map<number, string>();
    before.forEach((t, i) => roles.set(tensorId(backend, t), `var:${vars[i].name}`));
    roles.set(tensorId(backend, x), "x");
    roles.set(tensorId(backend, y), "y");
    roles.set(tensorId(backend, lr), "lr");
    const { result: loss, record, draws } = await recordWithDraws(backend, () => eager(x, y, lr));
    draws.uploads.forEach((id, k) => id !== null && roles.set(id, `draw${k}`));
    const signature = `${signatureOf(record, roles)}\ndraws ${
      drawSignature(draws.draws, draws.uploads)
    }`;
    return { vars, before, roles, loss, record, draws, signature };
  }

  /** recordOps, with the draws the step made from its Rng meanwhile. */
  async function recordWithDraws<T>(backend: NodeBackendHandle, f: () => Promise<T>) {
    const rng = eager.rng;
    if (!rng) {
      const r = await recordOps(backend, f);
      return { ...r, draws: { draws: [], uploads: [], complete: true } as Draws };
    }
    const start = rng.getState();
    const outer = rng.draws;
    rng.draws = [];
    let list: RngDraw[];
    let r: Awaited<ReturnType<typeof recordOps<T>>>;
    try {
      r = await recordOps(backend, f);
    } finally {
      list = rng.draws;
      rng.draws = outer;
    }
    const replay = Rng.fromState(start);
    for (const d of list) redraw(replay, d);
    const end = rng.getState();
    const complete = replay.getState().every((w, i) => w === end[i]);
    return {
      ...r,
      draws: { draws: list, uploads: matchUploads(list, r.record.uploads), complete },
    };
  }

  async function compile(
    backend: NodeBackendHandle,
    key: string,
    first: Trace,
    x: tf.Tensor4D,
    y: tf.Tensor1D,
    lr: tf.Scalar,
  ): Promise<tf.Scalar> {
    const t = await traced(backend, x, y, lr);
    try {
      if (t.signature !== first.signature) {
        stayEager(key, "the step's ops or uploaded values differ between calls");
        return t.loss;
      }
      if (!t.draws.complete) {
        stayEager(key, "the step draws from its Rng other than by fillUniform or fillNormal");
        return t.loss;
      }
      const fedDraws = t.draws.uploads.flatMap((id) => id === null ? [] : [id]);
      const used = new Set(t.record.ops.flatMap((op) => op.inputs));
      const preIds = t.before.map((b) => tensorId(backend, b));
      const readAt = t.vars.flatMap((_, i) => used.has(preIds[i]) ? [i] : []);
      const reads = readAt.map((i) => t.vars[i]);
      const writes = t.vars.filter((v, i) => tensorId(backend, v) !== preIds[i]);
      const feeds: GraphFeed[] = [
        ...readAt.map((i) => ({ id: preIds[i], dtype: t.vars[i].dtype as GraphFeed["dtype"] })),
        { id: tensorId(backend, x), dtype: "float32" },
        { id: tensorId(backend, y), dtype: "int32" },
        { id: tensorId(backend, lr), dtype: "float32" },
        ...fedDraws.map((id) => ({ id, dtype: "float32" as const })),
      ];
      const constants = floatConstants(backend, t.record, used, new Set(feeds.map((f) => f.id)));
      feeds.push(...constants.ids.map((id) => ({ id, dtype: "float32" as const })));
      const fetches = [...writes.map((v) => tensorId(backend, v)), tensorId(backend, t.loss)];
      let graph: SessionGraph;
      try {
        graph = buildSessionGraph(backend, { record: t.record, feeds, fetches });
      } catch (err) {
        tf.dispose(constants.tensors);
        stayEager(key, `its graph did not build: ${(err as Error).message}`);
        return t.loss;
      }
      // Check: the graph from this call's starting state against this call's eager result.
      const expected = [
        ...writes.map((v) => v.dataSync() as Float32Array),
        t.loss.dataSync() as Float32Array,
      ];
      const drawn = fedDraws.map((id) =>
        tf.tensor(t.record.uploads.get(id) as Float32Array, t.record.meta.get(id)!.shape)
      );
      // Twice: a graph whose kernels do not give the same result on every run must not pass.
      let diff = 0;
      for (let run = 0; run < 2; run++) {
        const outs = graph.run([
          ...readAt.map((i) => t.before[i]),
          x,
          y,
          lr,
          ...drawn,
          ...constants.tensors,
        ]);
        diff = Math.max(diff, relativeDifference(outs, expected));
        tf.dispose(outs);
      }
      tf.dispose(drawn);
      status.worstDifference = Math.max(status.worstDifference, diff);
      if (!(diff <= tolerance)) {
        graph.dispose();
        tf.dispose(constants.tensors);
        stayEager(
          key,
          `its graph differs from the eager step by ${
            diff.toExponential(1)
          } (tolerance ${tolerance})`,
        );
      } else {
        const draws = t.draws.draws.map((draw, k) => {
          const id = t.draws.uploads[k];
          return { draw, shape: id === null ? null : t.record.meta.get(id)!.shape };
        });
        shapes.set(key, {
          phase: "graph",
          compiled: { graph, reads, writes, draws, constants: constants.tensors },
        });
        status.graphs.push(key);
      }
      return t.loss;
    } finally {
      tf.dispose(t.before);
    }
  }

  const step = async (x: tf.Tensor4D, y: tf.Tensor1D, lr: LearningRate): Promise<tf.Scalar> => {
    if (nb === null) return eager(x, y, lr);
    const key = `${x.shape.join("x")}/${y.shape.join("x")}`;
    const state = shapes.get(key);
    if (state?.phase === "eager") return eager(x, y, lr);
    const lrT = typeof lr === "number" ? tf.scalar(lr) : lr;
    try {
      if (state === undefined) {
        shapes.set(key, { phase: "warm" });
        return await eager(x, y, lrT);
      }
      if (state.phase === "warm") {
        const t = await traced(nb, x, y, lrT);
        tf.dispose(t.before);
        shapes.set(key, { phase: "trace1", first: { record: t.record, signature: t.signature } });
        return t.loss;
      }
      if (state.phase === "trace1") return await compile(nb, key, state.first, x, y, lrT);
      const { graph, reads, writes, draws, constants } = state.compiled;
      // The eager step's draws, in its order, from its Rng (only those it uploaded are fed).
      const drawn = draws.flatMap(({ draw, shape }) => {
        const values = redraw(eager.rng!, draw);
        return shape ? [tf.tensor(values, shape)] : [];
      });
      const outs = graph.run([...reads, x, y, lrT, ...drawn, ...constants]);
      tf.dispose(drawn);
      writes.forEach((v, i) => v.assign(outs[i]));
      tf.dispose(outs.slice(0, -1));
      status.graphSteps++;
      return outs.at(-1) as tf.Scalar;
    } finally {
      if (lrT !== lr) lrT.dispose();
    }
  };
  return Object.assign(step, {
    status: () => structuredClone(status),
    dispose: () => {
      for (const s of shapes.values()) {
        if (s.phase === "graph") {
          s.compiled.graph.dispose();
          tf.dispose(s.compiled.constants);
        }
      }
      shapes.clear();
    },
  });
}
