/**
 * Any repeated step (a function of some tensors that returns tensors and may update variables)
 * run as one libtensorflow graph once it has been seen to be replayable (tfjs-node only).
 * lib/training/graph_step.ts wraps training steps with it, lib/attacks/attack_graphs.ts the
 * iterations of the attacks (PGD, FGSM, APGD's step) and lib/analysis the Hessian-vector
 * products. Why: TensorFlow's eager runtime costs ~20 µs per op on these machines, a
 * PreActResNet-18 step is 600-1000 ops, and the graph executor also frees dead buffers at once
 * and runs independent ops side by side (bench/NOTES.md).
 *
 * How, per key (by default the inputs' shapes and dtypes):
 * 1. The first call runs the eager function plainly: tfjs uploads host data lazily, so tensors made
 *    from host arrays (weights, constants) only become native during it. The next two calls run it
 *    while recording its native ops (lib/backend/op_trace.ts). All three are real calls.
 * 2. The two records must match op for op: names, attributes, wiring, and the content of every
 *    upload except the Rng's draws (below). Otherwise the function depends on something that
 *    changes between calls, and that key stays eager for good.
 * 3. The second record becomes a graph (lib/backend/session_graph.ts):
 *    - the inputs, the variables it reads, the random draws and the float constants (see
 *      floatConstants) become its feeds;
 *    - the variables it changes and the function's results become its fetches.
 * 4. The graph runs twice from the second call's starting state. Both results must match that
 *    call's eager results within `tolerance` (relative to each tensor's largest value; the
 *    settings' default is 0, bit for bit), else that key stays eager.
 * 5. From the fourth call on, a call is one session run plus a variable assignment per updated
 *    variable.
 *
 * Random draws (PGD's random start in AT): the function's Rng logs its fillUniform and fillNormal
 * calls while a call is recorded. A draw uploaded unchanged is a graph input: each graph call
 * first draws the same kinds and lengths from the same Rng, so the Rng advances and the graph sees
 * exactly the numbers the eager call would have drawn. The Rng's state after a recorded call must
 * be what those draws alone give, else the function drew some other way (e.g. rng.int) and the key
 * stays eager.
 *
 * A call runs plainly eager, without changing any phase, while another recording is open (a
 * replayable called inside a recorded step: the outer record sees its ops) and when two inputs
 * are the same native tensor (their roles could not be told apart).
 *
 * Bit for bit: the graph must not let the session's optimiser rewrite what eager computes. The
 * measures (each with a test, bench/NOTES.md): float constants are fed, not written as Consts;
 * Sqrt outputs that are divided by and BatchNorm outputs a Relu takes are fetched too
 * (session_graph.ts); see lib/backend/speed_settings.ts for the rules the algorithms follow.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { NodeBackendHandle } from "./node_backend.ts";
import {
  isRecording,
  nodeBackend,
  type OpRecord,
  outsideValue,
  realBinding,
  recordOps,
  recordOpsSync,
  tensorId,
} from "./op_trace.ts";
import { buildSessionGraph, type GraphFeed, type SessionGraph } from "./session_graph.ts";
import { REPLAY } from "./speed_settings.ts";
import { checkNumber } from "../util/validate.ts";
import { redraw, Rng, type RngDraw } from "../util/rng.ts";
import { fnv1a } from "../util/fnv1a.ts";

export interface ReplayStatus {
  /** Keys ("128x28x28x1/128") whose calls run as a graph. */
  graphs: string[];
  /** Keys that stay eager, with the reason. */
  eager: Record<string, string>;
  /** Largest relative difference seen when a graph was checked against its eager call. */
  worstDifference: number;
  /** Calls run as a graph so far. */
  graphCalls: number;
}

/** The eager function: tensors in, tensors out (the caller disposes the results). */
export type ReplayFn = (inputs: readonly tf.Tensor[]) => Promise<tf.Tensor[]> | tf.Tensor[];

export interface ReplayOptions {
  /** Agreement asked of the graph against the eager call it was built from (default REPLAY.tolerance, 0). */
  tolerance?: number;
  /** The Rng the function draws its noise from, if any (see the top of this file). */
  rng?: Rng;
  /** The key of a call (default: its inputs' shapes and dtypes). */
  keyOf?: (inputs: readonly tf.Tensor[]) => string;
  /**
   * Plain eager calls of a key before it is recorded (default 1, the minimum: tfjs uploads lazily).
   * More for steps whose keys are often short-lived (Square's shrinking active set), so that a key
   * seen only a few times never pays for its recording, graph build and check.
   */
  warmCalls?: number;
}

export type Replayable = ((inputs: readonly tf.Tensor[]) => Promise<tf.Tensor[]>) & {
  status(): ReplayStatus;
  dispose(): void;
};

interface Compiled {
  graph: SessionGraph;
  /** Variables fed, in feed order (after them: the inputs). */
  reads: tf.Variable[];
  /** Variables assigned from the first fetches (the function's results follow). */
  writes: tf.Variable[];
  /**
   * Per result of the function: -1 = the next fetch, k >= 0 = feed k itself (a result that is one
   * of the inputs unchanged: a session cannot fetch what it is fed).
   */
  results: number[];
  /** The draws in order; `shape` set for those fed to the graph (after the inputs, in order). */
  draws: { draw: RngDraw; shape: number[] | null }[];
  /** The float constants, fed last (see floatConstants). */
  constants: tf.Tensor[];
}

type Phase =
  | { phase: "warm"; calls: number }
  | { phase: "trace1"; signature: string }
  | { phase: "graph"; compiled: Compiled }
  | { phase: "eager" };

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
 * - a variable's value before the call by its name;
 * - an upload by its order and content;
 * - the inputs and fed draws by their roles;
 * - any other outside tensor by its id (the same long-lived tensor both times).
 */
function signatureOf(record: OpRecord, roles: Map<number, string>, outputs: number[]): string {
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
  parts.push(`out ${outputs.map((id) => where.get(id) ?? roles.get(id) ?? `ext${id}`).join(",")}`);
  return parts.join("\n");
}

/** FNV-1a of a buffer's bytes, as hex (uploads are compared by content, cheaply). */
function hashBytes(d: ArrayBufferView): string {
  const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  return `${bytes.length}:${fnv1a(bytes).toString(16)}`;
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

/** Largest |a - b| / max|b| over the tensors (0 = bit-identical; NaN where b has none counts). */
function relativeDifference(a: readonly tf.Tensor[], b: readonly ArrayLike<number>[]): number {
  let worst = 0;
  a.forEach((t, i) => {
    const x = t.dataSync();
    const e = b[i];
    let scale = 0;
    let diff = 0;
    for (let j = 0; j < e.length; j++) {
      scale = Math.max(scale, Math.abs(e[j]));
      if (Object.is(x[j], e[j]) || (Number.isNaN(x[j]) && Number.isNaN(e[j]))) continue;
      const d = Math.abs(x[j] - e[j]);
      if (!(d <= diff)) diff = d; // NaN counts as the worst
    }
    if (Number.isNaN(diff)) worst = Infinity;
    else if (diff > 0) worst = Math.max(worst, scale > 0 ? diff / scale : Infinity);
  });
  return worst;
}

const defaultKey = (inputs: readonly tf.Tensor[]) =>
  inputs.map((t) => `${t.dtype === "float32" ? "" : `${t.dtype}:`}${t.shape.join("x")}`).join("/");

type Recorder = <T>(f: () => T) => { result: T; record: OpRecord };

/**
 * `eager` run as one graph per key once that is safe (see the top of this file). On a backend
 * other than tfjs-node every call is `eager`'s. Inputs must be float32, int32 or bool tensors.
 */
export function replayable(eager: ReplayFn, options: ReplayOptions = {}): Replayable {
  const core = replayCore(options);
  const plain = async (inputs: readonly tf.Tensor[]) => [...await eager(inputs)];
  const call = async (inputs: readonly tf.Tensor[]): Promise<tf.Tensor[]> => {
    const what = core.next(inputs);
    if (what.kind === "plain") return plain(inputs);
    if (what.kind === "graph") return core.runGraph(what.compiled, inputs);
    const nb = core.nb!;
    const t = core.beginTrace(inputs);
    let rec: { result: tf.Tensor[]; record: OpRecord };
    try {
      rec = await core.withDraws(() => recordOps(nb, () => plain(inputs)));
    } catch (err) {
      tf.dispose(t.before);
      throw err;
    }
    return core.afterTrace(what, inputs, t, rec);
  };
  return Object.assign(call, { status: core.status, dispose: core.dispose });
}

/** replayable() for a synchronous function (the Hessian-vector products' gradients). */
export function replayableSync(
  eager: (inputs: readonly tf.Tensor[]) => tf.Tensor[],
  options: ReplayOptions = {},
): ReplayableSync {
  const core = replayCore(options);
  const plain = (inputs: readonly tf.Tensor[]) => [...eager(inputs)];
  const call = (inputs: readonly tf.Tensor[]): tf.Tensor[] => {
    const what = core.next(inputs);
    if (what.kind === "plain") return plain(inputs);
    if (what.kind === "graph") return core.runGraph(what.compiled, inputs);
    const nb = core.nb!;
    const t = core.beginTrace(inputs);
    let rec: { result: tf.Tensor[]; record: OpRecord };
    try {
      rec = core.withDrawsSync(() => recordOpsSync(nb, () => plain(inputs)));
    } catch (err) {
      tf.dispose(t.before);
      throw err;
    }
    return core.afterTrace(what, inputs, t, rec);
  };
  return Object.assign(call, { status: core.status, dispose: core.dispose });
}

export type ReplayableSync = ((inputs: readonly tf.Tensor[]) => tf.Tensor[]) & {
  status(): ReplayStatus;
  dispose(): void;
};

/** What a call does: run plainly, run the graph, or record (first or second time). */
type Next =
  | { kind: "plain" }
  | { kind: "graph"; compiled: Compiled }
  | { kind: "trace1"; key: string }
  | { kind: "trace2"; key: string; signature: string };

/** The engine-independent part of replayable() and replayableSync(): everything but the call. */
function replayCore(options: ReplayOptions) {
  const tolerance = checkNumber("tolerance", options.tolerance ?? REPLAY.tolerance, { min: 0 });
  const rng = options.rng;
  const keyOf = options.keyOf ?? defaultKey;
  const warmCalls = checkNumber("warmCalls", options.warmCalls ?? 1, { integer: true, min: 1 });
  const nb = nodeBackend();
  const phases = new Map<string, Phase>();
  const status: ReplayStatus = { graphs: [], eager: {}, worstDifference: 0, graphCalls: 0 };
  const stayEager = (key: string, reason: string) => {
    phases.set(key, { phase: "eager" });
    status.eager[key] = reason;
  };

  function next(inputs: readonly tf.Tensor[]): Next {
    if (nb === null || tf.getBackend() !== "tensorflow" || isRecording()) return { kind: "plain" };
    const key = keyOf(inputs);
    const state = phases.get(key);
    if (state === undefined || (state.phase === "warm" && state.calls < warmCalls)) {
      phases.set(key, { phase: "warm", calls: state?.phase === "warm" ? state.calls + 1 : 1 });
      return { kind: "plain" };
    }
    if (state.phase === "eager") return { kind: "plain" };
    if (state.phase === "graph") return { kind: "graph", compiled: state.compiled };
    nb.getInputTensorIds([...inputs]);
    const ids = inputs.map((t) => tensorId(nb, t));
    if (new Set(ids).size !== ids.length) return { kind: "plain" }; // roles ambiguous: not traced
    return state.phase === "warm"
      ? { kind: "trace1", key }
      : { kind: "trace2", key, signature: state.signature };
  }

  /** Before a recorded call: the variables, their tensors before it, and the roles of the ids. */
  function beginTrace(inputs: readonly tf.Tensor[]) {
    const backend = nb!;
    const vars = allVariables();
    // Make lazily uploaded tensors native now, so the record sees them as inputs, not uploads.
    backend.getInputTensorIds([...vars, ...inputs]);
    // clone() shares the native tensor: the pre-call values stay alive under their ids.
    const before = vars.map((v) => tf.keep(tf.clone(v)));
    const roles = new Map<number, string>();
    before.forEach((t, i) => roles.set(tensorId(backend, t), `var:${vars[i].name}`));
    inputs.forEach((t, i) => roles.set(tensorId(backend, t), `in${i}`));
    return { vars, before, roles };
  }

  /** Start logging the Rng's draws; returns the function that stops and reads the log. */
  function drawLog(): (record: OpRecord) => Draws {
    if (!rng) return () => ({ draws: [], uploads: [], complete: true });
    const start = rng.getState();
    const outer = rng.draws;
    rng.draws = [];
    let list: RngDraw[] | null = null;
    return (record) => {
      list ??= rng.draws ?? [];
      rng.draws = outer;
      const replay = Rng.fromState(start);
      for (const d of list) redraw(replay, d);
      const end = rng.getState();
      const complete = replay.getState().every((w, i) => w === end[i]);
      return { draws: list, uploads: matchUploads(list, record.uploads), complete };
    };
  }

  /** A recording with the draws made from the Rng meanwhile (async). */
  async function withDraws<T>(
    rec: () => Promise<{ result: T; record: OpRecord }>,
  ): Promise<{ result: T; record: OpRecord; draws: Draws }> {
    const stop = drawLog();
    let r: { result: T; record: OpRecord };
    try {
      r = await rec();
    } catch (err) {
      stop({ ops: [], uploads: new Map(), meta: new Map() });
      throw err;
    }
    return { ...r, draws: stop(r.record) };
  }

  /** withDraws for a synchronous recording. */
  function withDrawsSync<T>(
    rec: () => { result: T; record: OpRecord },
  ): { result: T; record: OpRecord; draws: Draws } {
    const stop = drawLog();
    let r: { result: T; record: OpRecord };
    try {
      r = rec();
    } catch (err) {
      stop({ ops: [], uploads: new Map(), meta: new Map() });
      throw err;
    }
    return { ...r, draws: stop(r.record) };
  }

  /** After a recorded call: its signature, then (second record) the graph built and checked. */
  function afterTrace(
    what: Next & { kind: "trace1" | "trace2" },
    inputs: readonly tf.Tensor[],
    begun: ReturnType<typeof beginTrace>,
    rec: { result: tf.Tensor[]; record: OpRecord; draws?: Draws },
  ): tf.Tensor[] {
    const backend = nb!;
    const draws = rec.draws!;
    const { roles } = begun;
    draws.uploads.forEach((id, k) => id !== null && roles.set(id, `draw${k}`));
    const outIds = rec.result.map((o) => tensorId(backend, o));
    const signature = `${signatureOf(rec.record, roles, outIds)}\ndraws ${
      drawSignature(draws.draws, draws.uploads)
    }`;
    if (what.kind === "trace1") {
      tf.dispose(begun.before);
      phases.set(what.key, { phase: "trace1", signature });
      return rec.result;
    }
    try {
      compile(backend, what.key, what.signature, inputs, {
        ...begun,
        outputs: rec.result,
        record: rec.record,
        draws,
        signature,
      });
    } finally {
      tf.dispose(begun.before);
    }
    return rec.result;
  }

  function compile(
    backend: NodeBackendHandle,
    key: string,
    firstSignature: string,
    inputs: readonly tf.Tensor[],
    t: {
      vars: tf.Variable[];
      before: tf.Tensor[];
      outputs: tf.Tensor[];
      record: OpRecord;
      draws: Draws;
      signature: string;
    },
  ): void {
    if (t.signature !== firstSignature) {
      stayEager(key, "the step's ops or uploaded values differ between calls");
      return;
    }
    if (!t.draws.complete) {
      stayEager(key, "the step draws from its Rng other than by fillUniform or fillNormal");
      return;
    }
    const fedDraws = t.draws.uploads.flatMap((id) => id === null ? [] : [id]);
    const used = new Set(t.record.ops.flatMap((op) => op.inputs));
    const preIds = t.before.map((b) => tensorId(backend, b));
    const readAt = t.vars.flatMap((_, i) => used.has(preIds[i]) ? [i] : []);
    const reads = readAt.map((i) => t.vars[i]);
    const writes = t.vars.filter((v, i) => tensorId(backend, v) !== preIds[i]);
    const dtypeOf = (d: tf.DataType): GraphFeed["dtype"] => {
      if (d !== "float32" && d !== "int32" && d !== "bool") {
        throw new Error(`a ${d} input cannot be fed`);
      }
      return d;
    };
    let feeds: GraphFeed[];
    try {
      feeds = [
        ...readAt.map((i) => ({ id: preIds[i], dtype: dtypeOf(t.vars[i].dtype) })),
        ...inputs.map((x) => ({ id: tensorId(backend, x), dtype: dtypeOf(x.dtype) })),
        ...fedDraws.map((id) => ({ id, dtype: "float32" as const })),
      ];
    } catch (err) {
      stayEager(key, `its graph did not build: ${(err as Error).message}`);
      return;
    }
    const constants = floatConstants(backend, t.record, used, new Set(feeds.map((f) => f.id)));
    feeds.push(...constants.ids.map((id) => ({ id, dtype: "float32" as const })));
    const feedAt = new Map(feeds.map((f, k) => [f.id, k]));
    const results = t.outputs.map((o) => feedAt.get(tensorId(backend, o)) ?? -1);
    const fetches = [
      ...writes.map((v) => tensorId(backend, v)),
      ...t.outputs.flatMap((o, j) => results[j] < 0 ? [tensorId(backend, o)] : []),
    ];
    let graph: SessionGraph;
    try {
      graph = buildSessionGraph(backend, { record: t.record, feeds, fetches });
    } catch (err) {
      tf.dispose(constants.tensors);
      stayEager(key, `its graph did not build: ${(err as Error).message}`);
      return;
    }
    // Check: the graph from this call's starting state against this call's eager results.
    const expected = [...writes, ...t.outputs.filter((_, j) => results[j] < 0)].map((v) =>
      v.dataSync()
    );
    const drawn = fedDraws.map((id) =>
      tf.tensor(t.record.uploads.get(id) as Float32Array, t.record.meta.get(id)!.shape)
    );
    // Twice: a graph whose kernels do not give the same result on every run must not pass.
    let diff = 0;
    let failure: string | null = null;
    try {
      for (let run = 0; run < REPLAY.checkRuns; run++) {
        const outs = graph.run([
          ...readAt.map((i) => t.before[i]),
          ...inputs,
          ...drawn,
          ...constants.tensors,
        ]);
        diff = Math.max(diff, relativeDifference(outs, expected));
        tf.dispose(outs);
      }
      status.worstDifference = Math.max(status.worstDifference, diff);
      if (!(diff <= tolerance)) {
        failure = `its graph differs from the eager step by ${
          diff.toExponential(1)
        } (tolerance ${tolerance})`;
      }
    } catch (err) {
      failure = `its graph did not run: ${(err as Error).message}`;
    } finally {
      tf.dispose(drawn);
    }
    if (failure !== null) {
      graph.dispose();
      tf.dispose(constants.tensors);
      stayEager(key, failure);
    } else {
      const draws = t.draws.draws.map((draw, k) => {
        const id = t.draws.uploads[k];
        return { draw, shape: id === null ? null : t.record.meta.get(id)!.shape };
      });
      phases.set(key, {
        phase: "graph",
        compiled: { graph, reads, writes, results, draws, constants: constants.tensors },
      });
      status.graphs.push(key);
    }
  }

  /** One call of a compiled graph. */
  function runGraph(c: Compiled, inputs: readonly tf.Tensor[]): tf.Tensor[] {
    const { graph, reads, writes, results, draws, constants } = c;
    // The eager call's draws, in its order, from its Rng (only those it uploaded are fed).
    const drawn = draws.flatMap(({ draw, shape }) => {
      const values = redraw(rng!, draw);
      return shape ? [tf.tensor(values, shape)] : [];
    });
    const fed = [...reads, ...inputs, ...drawn, ...constants];
    const outs = graph.run(fed);
    writes.forEach((v, i) => v.assign(outs[i]));
    tf.dispose(outs.slice(0, writes.length));
    let next = writes.length;
    const values = results.map((k) => k < 0 ? outs[next++] : tf.clone(fed[k]));
    tf.dispose(drawn);
    status.graphCalls++;
    return values;
  }

  return {
    nb,
    next,
    beginTrace,
    withDraws,
    withDrawsSync,
    afterTrace,
    runGraph,
    status: () => structuredClone(status),
    dispose: () => {
      for (const s of phases.values()) {
        if (s.phase === "graph") {
          s.compiled.graph.dispose();
          tf.dispose(s.compiled.constants);
        }
      }
      phases.clear();
    },
  };
}
