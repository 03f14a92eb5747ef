/**
 * How much faster a training step runs as one libtensorflow graph than op by op (issue 15).
 *
 *   bin/deno run -A bench/graph_replay.ts [--arch smallcnn|prn18] [--width 8] [--method ST|SAM]
 *                                         [--batch 128] [--rounds 15]
 *   (threads: TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS, read when the backend loads)
 *
 * A measurement, not yet a training path. It records one eager step of lib/training/train.ts at
 * tfjs-node's binding: every executeOp (name, attributes, input and output tensor ids) and every
 * upload. It writes those ops as a GraphDef. Tensors from before the step (weights, BN statistics,
 * momentum buffers, the batch) become Placeholders. Uploads inside the step and other long-lived
 * tensors become Consts. The graph goes into a SavedModel written with the protobuf classes
 * tfjs-node ships (dist/proto/api_pb.js), and it runs through tfjs-node's own SavedModel session
 * API. That session is the only graph entry point the binding has.
 *
 * It prints how many state tensors come out bit-identical to the eager step, and the interleaved
 * median step time of both. Why the graph is faster: no per-op eager dispatch (~20 µs each here),
 * buffers freed and reused as soon as they are dead, and independent ops (a layer's input and
 * weight gradients) running side by side on the inter-op threads.
 *
 * Limits of this replay: shapes and the learning rate are frozen into the graph. Uploads inside
 * the step become constants, so a PGD random start would be frozen too; AT is not offered.
 */
import * as tf from "@tensorflow/tfjs-core";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { initBackend } from "../lib/backend/backend.ts";
import { type Arch, createModel } from "../lib/models/model.ts";
import { Rng } from "../lib/util/rng.ts";
import { createSgd } from "../lib/optim/sgd.ts";
import { makeTrainStep } from "../lib/training/train.ts";
import { sam, ST } from "../lib/training/method.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    arch: { type: "string", default: "smallcnn" },
    width: { type: "string", default: "8" },
    method: { type: "string", default: "ST" },
    batch: { type: "string", default: "128" },
    rounds: { type: "string", default: "15" },
  },
});
if (!["ST", "SAM"].includes(a.method!)) {
  console.error(`--method: "${a.method}" is not ST or SAM (AT's random start cannot be replayed).`);
  Deno.exit(2);
}
if (!["smallcnn", "prn18"].includes(a.arch!)) {
  console.error(`--arch: "${a.arch}" is not smallcnn or prn18.`);
  Deno.exit(2);
}

await initBackend("tensorflow");
const nodeDist = new URL("../node_modules/@tensorflow/tfjs-node/dist/", import.meta.url);
const pb = createRequire(nodeDist)("./proto/api_pb.js");
// deno-lint-ignore no-explicit-any
type Any = any;
const backend = tf.backend() as Any;
const binding = backend.binding;

// --- Recording: a stand-in binding (the napi object's own properties are read-only). ---------
interface RecordedOp {
  name: string;
  attrs: { name: string; type: number; value: Any }[];
  inputs: number[];
  outputs: number[];
}
const meta = new Map<number, { shape: number[]; dtype: number }>();
const ops: RecordedOp[] = [];
const uploads = new Map<number, Any>();
let recording = false;
backend.binding = Object.create(binding, {
  executeOp: {
    value: (name: string, attrs: RecordedOp["attrs"], inputs: number[], n: number) => {
      const out = binding.executeOp(name, attrs, inputs, n);
      for (const o of out) meta.set(o.id, { shape: [...o.shape], dtype: o.dtype });
      if (recording) {
        ops.push({ name, attrs, inputs: [...inputs], outputs: out.map((o: Any) => o.id) });
      }
      return out;
    },
  },
  createTensor: {
    value: (shape: number[], dtype: number, data: Any) => {
      const id = binding.createTensor(shape, dtype, data);
      meta.set(id, { shape: [...shape], dtype });
      if (recording) uploads.set(id, data.slice());
      return id;
    },
  },
});

const rng = Rng.fromSeed(0);
const arch = a.arch as Arch;
const [size, channels] = arch === "smallcnn" ? [28, 1] : [32, 3];
const batch = Number(a.batch);
const model = createModel({
  arch,
  width: Number(a.width),
  inputShape: [size, size, channels],
  numClasses: 10,
  mean: new Array(channels).fill(0.5),
  std: new Array(channels).fill(0.25),
}, rng);
const opt = createSgd(model.params);
const step = makeTrainStep(model, opt, a.method === "SAM" ? sam(0.05) : ST, "loss-pass", rng);
const x = tf.tensor4d(
  rng.fillUniform(new Float32Array(batch * size * size * channels), 0, 1),
  [batch, size, size, channels],
);
const y = tf.tensor1d(Int32Array.from({ length: batch }, () => rng.int(10)), "int32");
for (let i = 0; i < 2; i++) (await step(x, y, 0.01)).dispose();

const idOf = (t: tf.Tensor): number => backend.tensorMap.get(t.dataId).id;
const state = Object.values(tf.engine().registeredVariables) as tf.Variable[];
// clone() shares the native tensor, so the pre-step state stays alive under its ids.
const before = state.map((v) => tf.keep(tf.clone(v)));
const feedIds = new Map<number, tf.Tensor>([...before.map((t) => [idOf(t), t] as const)]);
feedIds.set(idOf(x), x);
feedIds.set(idOf(y), y);

recording = true;
const eagerLoss = await step(x, y, 0.01);
recording = false;
const eagerState = state.map((v) => v.dataSync().slice());
const fetchIds = [...state.map(idOf), idOf(eagerLoss)];

// --- The graph. ------------------------------------------------------------------------------
function shapeProto(dims: number[]) {
  const s = new pb.TensorShape();
  for (const d of dims) {
    const dim = new pb.TensorShape.Dim();
    dim.setSize(d);
    s.addDim(dim);
  }
  return s;
}

function attrValue(at: RecordedOp["attrs"][number]) {
  const v = new pb.AttrValue();
  const many = Array.isArray(at.value);
  const list = () => {
    const l = new pb.AttrValue.ListValue();
    v.setList(l);
    return l;
  };
  if (at.type === binding.TF_ATTR_TYPE) {
    if (many) {
      const l = list();
      at.value.forEach((t: number) => l.addType(t));
    } else v.setType(at.value);
  } else if (at.type === binding.TF_ATTR_INT) {
    if (many) {
      const l = list();
      at.value.forEach((i: number) => l.addI(i));
    } else v.setI(at.value);
  } else if (at.type === binding.TF_ATTR_FLOAT) {
    if (many) {
      const l = list();
      at.value.forEach((f: number) => l.addF(f));
    } else v.setF(at.value);
  } else if (at.type === binding.TF_ATTR_BOOL) v.setB(at.value);
  else if (at.type === binding.TF_ATTR_STRING) v.setS(new TextEncoder().encode(at.value));
  else if (at.type === binding.TF_ATTR_SHAPE) v.setShape(shapeProto(at.value));
  else throw new Error(`attribute ${at.name} has a type (${at.type}) this replay does not write`);
  return v;
}

function newNode(name: string, op: string, attrs: Record<string, Any>) {
  const n = new pb.NodeDef();
  n.setName(name);
  n.setOp(op);
  for (const [k, v] of Object.entries(attrs)) n.getAttrMap().set(k, v);
  return n;
}

const graph = new pb.GraphDef();
const produced = new Map<number, string>();
const placeholders: { name: string; tensor: tf.Tensor; dtype: number }[] = [];
/** The graph name of tensor `id`: an op output, or a new Placeholder / Const for an outside one. */
function ref(id: number): string {
  const known = produced.get(id);
  if (known) return known;
  const name = `t${id}`;
  const { shape, dtype } = meta.get(id)!;
  const dt = new pb.AttrValue();
  dt.setType(dtype);
  const feed = feedIds.get(id);
  if (feed) {
    graph.addNode(newNode(name, "Placeholder", { dtype: dt }));
    placeholders.push({ name: `${name}:0`, tensor: feed, dtype });
  } else {
    const data = uploads.get(id) ?? binding.tensorDataSync(id);
    const t = new pb.Tensor();
    t.setDtype(dtype);
    t.setTensorShape(shapeProto(shape));
    t.setTensorContent(new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice());
    const value = new pb.AttrValue();
    value.setTensor(t);
    graph.addNode(newNode(name, "Const", { dtype: dt, value }));
  }
  produced.set(id, `${name}:0`);
  return `${name}:0`;
}
ops.forEach((op, k) => {
  const inputs = op.inputs.map(ref);
  const n = newNode(
    `op${k}`,
    op.name,
    Object.fromEntries(op.attrs.map((at) => [at.name, attrValue(at)])),
  );
  inputs.forEach((i) => n.addInput(i));
  graph.addNode(n);
  op.outputs.forEach((o, j) => produced.set(o, `op${k}:${j}`));
});
const info = new pb.MetaGraphDef.MetaInfoDef();
info.addTags("serve");
const metaGraph = new pb.MetaGraphDef();
metaGraph.setMetaInfoDef(info);
metaGraph.setGraphDef(graph);
const savedModel = new pb.SavedModel();
savedModel.setSavedModelSchemaVersion(1);
savedModel.addMetaGraphs(metaGraph);
const dir = Deno.makeTempDirSync({ prefix: "graph_replay_" });
Deno.writeFileSync(`${dir}/saved_model.pb`, savedModel.serializeBinary());

const session = backend.loadSavedModelMetaGraph(dir, "serve");
const feeds = placeholders.map((p) => p.tensor);
const feedInfo = placeholders.map((p) => ({
  name: p.name,
  tfDtype: p.dtype === binding.TF_INT32 ? "DT_INT32" : "DT_FLOAT",
}));
const fetches = fetchIds.map((id) => {
  const name = produced.get(id);
  if (!name) throw new Error(`state tensor ${id} was not produced inside the step`);
  return name;
});
const runGraph = () => backend.runSavedModel(session, feeds, feedInfo, fetches) as tf.Tensor[];

// --- Same numbers? ---------------------------------------------------------------------------
const label = `${arch} w${a.width} ${a.method} batch ${batch}`;
console.log(
  `${label}: ${ops.length} ops, ${uploads.size} uploads in the step, ${placeholders.length} ` +
    `placeholders; intra-op threads ${Deno.env.get("TF_NUM_INTRAOP_THREADS") ?? "default"}, ` +
    `inter-op ${Deno.env.get("TF_NUM_INTEROP_THREADS") ?? "default"}`,
);
const out = runGraph();
let identical = 0;
let worst = 0;
out.slice(0, -1).forEach((t, i) => {
  const g = t.dataSync();
  const e = eagerState[i];
  let scale = 0;
  let diff = 0;
  for (let j = 0; j < g.length; j++) {
    scale = Math.max(scale, Math.abs(e[j]));
    diff = Math.max(diff, Math.abs(g[j] - e[j]));
  }
  if (diff === 0) identical++;
  else worst = Math.max(worst, diff / scale);
});
const graphLoss = out.at(-1)!.dataSync()[0];
console.log(
  `state after one step: ${identical}/${state.length} tensors bit-identical to eager` +
    (identical < state.length
      ? `, the others within ${worst.toExponential(1)} of each tensor's largest value`
      : "") +
    `; loss ${graphLoss} (eager ${eagerLoss.dataSync()[0]})`,
);
tf.dispose(out);
eagerLoss.dispose();

// --- Speed, interleaved. ---------------------------------------------------------------------
const times = { graph: [] as number[], eager: [] as number[] };
for (let r = 0; r < Number(a.rounds); r++) {
  let t0 = performance.now();
  const o = runGraph();
  o.at(-1)!.dataSync();
  tf.dispose(o);
  times.graph.push(performance.now() - t0);
  t0 = performance.now();
  const l = await step(x, y, 0.01);
  await l.data();
  l.dispose();
  times.eager.push(performance.now() - t0);
}
const median = (v: number[]) => [...v].sort((p, q) => p - q)[v.length >> 1];
const [g, e] = [median(times.graph), median(times.eager)];
console.log(
  `step median over ${a.rounds} interleaved rounds: graph ${g.toFixed(1)} ms, eager ${
    e.toFixed(1)
  } ms (${(e / g).toFixed(2)}x)`,
);
Deno.removeSync(dir, { recursive: true });
// tfjs-node keeps native threads alive; leave explicitly.
Deno.exit(0);
