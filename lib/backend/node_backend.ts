/**
 * The tfjs-node backend object, as far as this project reaches past tfjs-core into it: its napi
 * binding (libtensorflow's op runner), its tensor bookkeeping and its SavedModel sessions. One
 * type for lib/models/ops.ts (fused native ops), lib/backend/bf16_convs.ts (bfloat16 convolutions)
 * and lib/backend/op_trace.ts + session_graph.ts (the graph step). tfjs-node ships no types for it.
 */
import type * as tf from "@tensorflow/tfjs-core";

/** What the binding's executeOp returns for each output: a native tensor's id, shape, dtype. */
export interface NativeOutput {
  id: number;
  shape: number[];
  /** TF_DataType. */
  dtype: number;
}

/** The napi binding: typed where callers rely on a signature, the rest (TF_* constants) as any. */
export interface NativeBinding {
  executeOp(name: string, attrs: unknown[], inputIds: number[], numOutputs: number): NativeOutput[];
  deleteTensor(id: number): void;
  // deno-lint-ignore no-explicit-any
  [member: string]: any;
}

export interface NodeBackendHandle {
  binding: NativeBinding;
  tensorMap: { get(dataId: object): { id: number } };
  /** Native ids of these tensors, uploading any whose host data is still pending. */
  getInputTensorIds(tensors: tf.TensorInfo[]): number[];
  createOutputTensor(meta: NativeOutput): tf.Tensor;
  executeSingleOutput(name: string, attrs: unknown[], inputs: tf.TensorInfo[]): tf.Tensor;
  executeMultipleOutputs(
    name: string,
    attrs: unknown[],
    inputs: tf.TensorInfo[],
    numOutputs: number,
  ): tf.Tensor[];
  isUsingGpuDevice?: boolean;
  loadSavedModelMetaGraph(path: string, tags: string): number;
  deleteSavedModel(id: number): void;
  runSavedModel(
    id: number,
    inputs: tf.Tensor[],
    inputInfos: { name: string; tfDtype: string }[],
    outputNames: string[],
  ): tf.Tensor[];
}
