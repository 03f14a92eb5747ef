/**
 * Examples s..e-1 of a Dataset as tensors: images [e-s, H, W, C] and int32 labels, both copied
 * out of the Dataset's arrays (the caller disposes them). The one way evaluation, the masking
 * checks and the measurement objective cut a Dataset into batches.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Dataset } from "../data/dataset.ts";

export function datasetBatch(
  data: Dataset,
  s: number,
  e: number,
): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const plane = data.height * data.width * data.channels;
  return {
    x: tf.tensor4d(data.images.slice(s * plane, e * plane), [
      e - s,
      data.height,
      data.width,
      data.channels,
    ]),
    y: tf.tensor1d(data.labels.slice(s, e), "int32"),
  };
}
