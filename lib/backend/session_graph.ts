/**
 * A recorded op sequence (lib/backend/op_trace.ts) replayed as one libtensorflow graph.
 *
 * Why a graph: libtensorflow's graph executor has no per-op eager dispatch (measured 1.4 µs per op
 * against 20 µs through tfjs eager). It frees and reuses dead buffers at once, and it runs
 * independent ops side by side on its inter-op threads. bench/NOTES.md has the measurements.
 *
 * How: the only graph entry point of tfjs-node's binding is loading a SavedModel. This file writes
 * one with the protobuf classes tfjs-node ships (dist/proto/api_pb.js). Each recorded op becomes a
 * node with the same op name and attributes, so the same kernels run. Tensors from outside the
 * record become Placeholders (the feeds the caller names) or Consts (all others, with the value
 * they had at build time). The directory is deleted once the session has loaded it.
 */
import * as tf from "@tensorflow/tfjs-core";
import { createRequire } from "node:module";
import type { NodeBackendHandle } from "./node_backend.ts";
import { type OpAttr, type OpRecord, outsideValue, realBinding } from "./op_trace.ts";
import { REPLAY } from "./speed_settings.ts";

// deno-lint-ignore no-explicit-any
type Proto = any;

let protoModule: Proto | undefined;
/** tfjs-node's generated protobuf classes (GraphDef, NodeDef, AttrValue, SavedModel, ...). */
function proto(): Proto {
  if (!protoModule) {
    const dist = new URL("../../node_modules/@tensorflow/tfjs-node/dist/", import.meta.url);
    protoModule = createRequire(dist)("./proto/api_pb.js");
  }
  return protoModule;
}

export interface GraphFeed {
  id: number;
  dtype: "float32" | "int32" | "bool";
}

export interface SessionGraphSpec {
  record: OpRecord;
  /** Outside tensors that become Placeholders, in the order run() takes them. */
  feeds: GraphFeed[];
  /** Tensor ids run() returns, in order: outputs of recorded ops, or feeds. */
  fetches: number[];
}

export interface SessionGraph {
  /** One run with these tensors as the feeds (spec order); returns the fetches (caller disposes). */
  run(feeds: readonly tf.Tensor[]): tf.Tensor[];
  /** Node count of the graph (ops + Placeholders + Consts). */
  nodes: number;
  consts: number;
  /** Close the session. */
  dispose(): void;
}

function shapeProto(dims: readonly number[]): Proto {
  const pb = proto();
  const s = new pb.TensorShape();
  for (const d of dims) {
    const dim = new pb.TensorShape.Dim();
    dim.setSize(d);
    s.addDim(dim);
  }
  return s;
}

// deno-lint-ignore no-explicit-any
function attrValue(b: Record<string, any>, at: OpAttr): Proto {
  const pb = proto();
  const v = new pb.AttrValue();
  const many = Array.isArray(at.value);
  const list = () => {
    const l = new pb.AttrValue.ListValue();
    v.setList(l);
    return l;
  };
  if (at.type === b.TF_ATTR_TYPE) {
    if (many) {
      const l = list();
      for (const t of at.value) l.addType(t);
    } else v.setType(at.value);
  } else if (at.type === b.TF_ATTR_INT) {
    if (many) {
      const l = list();
      for (const i of at.value) l.addI(i);
    } else v.setI(at.value);
  } else if (at.type === b.TF_ATTR_FLOAT) {
    if (many) {
      const l = list();
      for (const f of at.value) l.addF(f);
    } else v.setF(at.value);
  } else if (at.type === b.TF_ATTR_BOOL) v.setB(at.value);
  else if (at.type === b.TF_ATTR_STRING) v.setS(new TextEncoder().encode(at.value));
  else if (at.type === b.TF_ATTR_SHAPE) v.setShape(shapeProto(at.value));
  else {throw new Error(
      `attribute ${at.name} has a type (${at.type}) the graph writer does not know`,
    );}
  return v;
}

function node(name: string, op: string, attrs: Record<string, Proto>): Proto {
  const n = new (proto().NodeDef)();
  n.setName(name);
  n.setOp(op);
  for (const [k, v] of Object.entries(attrs)) n.getAttrMap().set(k, v);
  return n;
}

function typeAttr(dtype: number): Proto {
  const v = new (proto().AttrValue)();
  v.setType(dtype);
  return v;
}

/**
 * Tensors whose producer the session's graph optimiser (Grappler) would rewrite in a way that
 * changes the last bit, unless they are fetched too (fetched nodes are kept as they are); run()
 * fetches them and drops them:
 * - a Sqrt that something divides by: x / sqrt(y) would become x * rsqrt(y);
 * - a FusedBatchNormV3 output that a Relu takes: the two would become one fused kernel, which
 *   differs in the last bit for channel counts that are not multiples of 8 (lib/models/ops.ts).
 * (Float constants are the other such case: lib/backend/graph_replay.ts feeds them, not Consts.)
 * Both switches are in lib/backend/speed_settings.ts (REPLAY).
 */
function rewriteGuards(record: OpRecord): number[] {
  const made = (name: string) =>
    new Set(record.ops.filter((op) => op.name === name).map((op) => op.outputs[0]));
  const [sqrts, bns] = [made("Sqrt"), made("FusedBatchNormV3")];
  const guards = record.ops.flatMap((op) =>
    (op.name === "RealDiv" || op.name === "Div") && REPLAY.fetchSqrtDivisors
      ? op.inputs.slice(1).filter((id) => sqrts.has(id))
      : op.name === "Relu" && REPLAY.fetchBnBeforeRelu
      ? op.inputs.filter((id) => bns.has(id))
      : []
  );
  return [...new Set(guards)];
}

/** Build the graph of `spec` and load it as a session of tfjs-node's backend `nb`. */
export function buildSessionGraph(nb: NodeBackendHandle, spec: SessionGraphSpec): SessionGraph {
  const pb = proto();
  const b = realBinding(nb);
  const dtypeOf = {
    float32: b.TF_FLOAT as number,
    int32: b.TF_INT32 as number,
    bool: b.TF_BOOL as number,
  };
  const graph = new pb.GraphDef();
  const names = new Map<number, string>();
  let consts = 0;

  spec.feeds.forEach((f) => {
    graph.addNode(node(`feed${f.id}`, "Placeholder", { dtype: typeAttr(dtypeOf[f.dtype]) }));
    names.set(f.id, `feed${f.id}:0`);
  });
  /** The graph name of an input that no recorded op produced: a Const with its value. */
  const constant = (id: number): string => {
    const { meta, data } = outsideValue(nb, spec.record, id);
    const t = new pb.Tensor();
    t.setDtype(meta.dtype);
    t.setTensorShape(shapeProto(meta.shape));
    t.setTensorContent(new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice());
    const value = new pb.AttrValue();
    value.setTensor(t);
    graph.addNode(node(`const${id}`, "Const", { dtype: typeAttr(meta.dtype), value }));
    names.set(id, `const${id}:0`);
    consts++;
    return `const${id}:0`;
  };
  spec.record.ops.forEach((op, k) => {
    const inputs = op.inputs.map((id) => names.get(id) ?? constant(id));
    const n = node(
      `op${k}`,
      op.name,
      Object.fromEntries(op.attrs.map((at) => [at.name, attrValue(b, at)])),
    );
    for (const i of inputs) n.addInput(i);
    graph.addNode(n);
    op.outputs.forEach((id, j) => names.set(id, `op${k}:${j}`));
  });
  const fetchNames = spec.fetches.map((id) => {
    const name = names.get(id);
    if (!name) {
      throw new Error(
        `buildSessionGraph: fetch ${id} is neither a feed nor a recorded op's output.`,
      );
    }
    return name;
  });
  const guards = rewriteGuards(spec.record).map((id) => names.get(id)!);

  const info = new pb.MetaGraphDef.MetaInfoDef();
  info.addTags("serve");
  const metaGraph = new pb.MetaGraphDef();
  metaGraph.setMetaInfoDef(info);
  metaGraph.setGraphDef(graph);
  const savedModel = new pb.SavedModel();
  savedModel.setSavedModelSchemaVersion(1);
  savedModel.addMetaGraphs(metaGraph);
  const dir = Deno.makeTempDirSync({ prefix: "sam_at_graph_" });
  let session: number;
  try {
    Deno.writeFileSync(`${dir}/saved_model.pb`, savedModel.serializeBinary());
    session = nb.loadSavedModelMetaGraph(dir, "serve");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  const feedInfo = spec.feeds.map((f) => ({
    name: `feed${f.id}:0`,
    tfDtype: { float32: "DT_FLOAT", int32: "DT_INT32", bool: "DT_BOOL" }[f.dtype],
  }));
  return {
    run: (feeds) => {
      if (feeds.length !== spec.feeds.length) {
        throw new RangeError(
          `SessionGraph.run got ${feeds.length} feeds for ${spec.feeds.length} placeholders.`,
        );
      }
      const outs = nb.runSavedModel(session, [...feeds], feedInfo, [...fetchNames, ...guards]);
      tf.dispose(outs.slice(fetchNames.length));
      return outs.slice(0, fetchNames.length);
    },
    nodes: spec.feeds.length + consts + spec.record.ops.length,
    consts,
    dispose: () => nb.deleteSavedModel(session),
  };
}
