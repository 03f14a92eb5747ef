/**
 * Recording what tfjs-node asks libtensorflow to do: every executeOp (op name, attributes, input
 * and output tensor ids) and every upload of host data, while a recording is open. It is the
 * input of lib/backend/session_graph.ts, which replays such a record as one graph.
 *
 * How: the backend gets a stand-in binding whose executeOp and createTensor record and then call
 * the real ones. (The napi object's own properties are read-only, so it cannot be patched in
 * place.) Everything else is inherited unchanged. It is installed on the first recording and stays:
 * outside a recording it only forwards.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { NodeBackendHandle } from "./node_backend.ts";

/** tfjs-node's attribute format: { name, type: binding.TF_ATTR_*, value }. */
export interface OpAttr {
  name: string;
  type: number;
  // deno-lint-ignore no-explicit-any
  value: any;
}

export interface RecordedOp {
  name: string;
  attrs: OpAttr[];
  inputs: number[];
  outputs: number[];
}

/** Shape and TF_DataType of a native tensor. */
export interface TensorMeta {
  shape: number[];
  dtype: number;
}

export interface OpRecord {
  ops: RecordedOp[];
  /** Host data uploaded during the recording, by tensor id. */
  uploads: Map<number, ArrayBufferView>;
  /** Shape and dtype of every tensor created during the recording. */
  meta: Map<number, TensorMeta>;
}

type Binding = NodeBackendHandle["binding"];

let current: OpRecord | null = null;
let installedOn: NodeBackendHandle | null = null;

/** The active backend when it is tfjs-node's, else null. */
export function nodeBackend(): NodeBackendHandle | null {
  if (tf.getBackend() !== "tensorflow") return null;
  const b = tf.backend() as unknown as NodeBackendHandle;
  return b.binding && typeof b.runSavedModel === "function" ? b : null;
}

/** The real binding (under the stand-in, once installed). */
export function realBinding(nb: NodeBackendHandle): Binding {
  return installedOn === nb ? Object.getPrototypeOf(nb.binding) : nb.binding;
}

function install(nb: NodeBackendHandle): void {
  if (installedOn === nb) return;
  const real = nb.binding;
  nb.binding = Object.create(real, {
    executeOp: {
      value: (name: string, attrs: OpAttr[], inputs: number[], n: number) => {
        const out = real.executeOp(name, attrs, inputs, n);
        if (current) {
          for (const o of out) current.meta.set(o.id, { shape: [...o.shape], dtype: o.dtype });
          current.ops.push({
            name,
            attrs,
            inputs: [...inputs],
            outputs: out.map((o: { id: number }) => o.id),
          });
        }
        return out;
      },
    },
    createTensor: {
      value: (
        shape: number[],
        dtype: number,
        data: ArrayBufferView & { slice(): ArrayBufferView },
      ) => {
        const id = real.createTensor(shape, dtype, data);
        if (current) {
          current.meta.set(id, { shape: [...shape], dtype });
          current.uploads.set(id, data.slice());
        }
        return id;
      },
    },
  });
  installedOn = nb;
}

/** Run f while recording every native op and upload it causes; returns f's result and the record. */
export async function recordOps<T>(
  nb: NodeBackendHandle,
  f: () => Promise<T>,
): Promise<{ result: T; record: OpRecord }> {
  if (current) throw new Error("recordOps: a recording is already open; they do not nest.");
  install(nb);
  const record: OpRecord = { ops: [], uploads: new Map(), meta: new Map() };
  current = record;
  try {
    return { result: await f(), record };
  } finally {
    current = null;
  }
}

/** recordOps for a synchronous f. */
export function recordOpsSync<T>(
  nb: NodeBackendHandle,
  f: () => T,
): { result: T; record: OpRecord } {
  if (current) throw new Error("recordOps: a recording is already open; they do not nest.");
  install(nb);
  const record: OpRecord = { ops: [], uploads: new Map(), meta: new Map() };
  current = record;
  try {
    return { result: f(), record };
  } finally {
    current = null;
  }
}

/** The native tensor id behind a tfjs tensor (tfjs-node). */
export function tensorId(nb: NodeBackendHandle, t: tf.Tensor): number {
  return nb.tensorMap.get(t.dataId).id;
}

/**
 * Shape, dtype and bytes of a tensor a record reads without making it: its upload if the record
 * uploaded it, else the native tensor's current value (made before the recording).
 */
export function outsideValue(
  nb: NodeBackendHandle,
  record: OpRecord,
  id: number,
): { meta: TensorMeta; data: ArrayBufferView } {
  const meta = record.meta.get(id) ?? probeMeta(nb, id);
  return { meta, data: record.uploads.get(id) ?? realBinding(nb).tensorDataSync(id) };
}

/**
 * Shape and dtype of a native tensor made before a recording: an Identity op reports them (its
 * type attribute is inferred from the input), and its output is deleted again.
 */
export function probeMeta(nb: NodeBackendHandle, id: number): TensorMeta {
  const real = realBinding(nb);
  const [out] = real.executeOp("Identity", [], [id], 1);
  real.deleteTensor(out.id);
  return { shape: [...out.shape], dtype: out.dtype };
}

/** Whether a recording is open now (a replayable called inside one runs plainly eager). */
export function isRecording(): boolean {
  return current !== null;
}
