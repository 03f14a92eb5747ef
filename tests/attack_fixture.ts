/**
 * A small trained model for the attack tests: smallcnn width 8 trained with plain SGD for a few
 * epochs on 1000 Fashion-MNIST training images downsampled to 14x14 (2x2 means; 4x cheaper
 * attacks), about 78% test accuracy in a few seconds on 2 busy cores. Its own loop, not
 * lib/training/train.ts, so the attack tests depend only on the model, the optimiser and the data.
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../lib/backend/backend.ts";
import { type Dataset, loadFashionMnist, subset } from "../lib/data/data.ts";
import { datasetBatch } from "../lib/training/batch.ts";
import { type BatchMoments, createModel, type Model } from "../lib/models/model.ts";
import { crossEntropy } from "../lib/models/ops.ts";
import { createSgd } from "../lib/optim/sgd.ts";
import { Rng } from "../lib/util/rng.ts";

export interface Trained {
  model: Model;
  /** Held-out test images. */
  test: Dataset;
}

export function batchOf(d: Dataset, n = d.n): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return datasetBatch(d, 0, n);
}

/** Each image's 2x2 block means: 28x28 -> 14x14. */
export function halve(d: Dataset): Dataset {
  const [h, w] = [d.height >> 1, d.width >> 1];
  const images = new Float32Array(d.n * h * w);
  for (let i = 0; i < d.n; i++) {
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const at = (rr: number, cc: number) => d.images[(i * d.height + rr) * d.width + cc];
        images[(i * h + r) * w + c] =
          (at(2 * r, 2 * c) + at(2 * r, 2 * c + 1) + at(2 * r + 1, 2 * c) +
            at(2 * r + 1, 2 * c + 1)) / 4;
      }
    }
  }
  return { ...d, name: `${d.name}[14x14]`, images, height: h, width: w };
}

export async function trainSmallModel(
  { trainN = 1000, testN = 200, epochs = 12, batch = 50, width = 8, lr = 0.1 } = {},
): Promise<Trained> {
  await initBackend();
  const splits = await loadFashionMnist();
  const train = halve(subset(splits.train, trainN, 1));
  const test = halve(subset(splits.test, testN, 2));
  const rng = Rng.fromSeed(3);
  const model = createModel({
    arch: "smallcnn",
    width,
    inputShape: [train.height, train.width, 1],
    numClasses: 10,
    mean: [0.2860], // Fashion-MNIST training-set pixel mean and std
    std: [0.3530],
  }, rng);
  const opt = createSgd(model.params, { momentum: 0.9, weightDecay: 5e-4 });
  const plane = train.height * train.width;
  for (let e = 0; e < epochs; e++) {
    const order = rng.permutation(train.n);
    for (let s = 0; s + batch <= train.n; s += batch) {
      const ids = order.subarray(s, s + batch);
      const img = new Float32Array(batch * plane);
      ids.forEach((id, j) =>
        img.set(train.images.subarray(id * plane, (id + 1) * plane), j * plane)
      );
      const moments: BatchMoments[] = [];
      tf.tidy(() => {
        const x = tf.tensor4d(img, [batch, train.height, train.width, 1]);
        const y = tf.tensor1d(Int32Array.from(ids, (id) => train.labels[id]), "int32");
        const { grads } = tf.variableGrads(
          () => crossEntropy(model.forward(x, "train", moments), y),
          [...model.params],
        );
        opt.step(model.params.map((p) => grads[p.name]), lr);
      });
      model.commitMoments(moments);
    }
  }
  opt.dispose();
  return { model, test };
}

/** Fraction of (x, y) the model classifies correctly (eval mode). */
export async function accuracy(model: Model, x: tf.Tensor4D, y: tf.Tensor1D): Promise<number> {
  const hit = tf.tidy(() =>
    tf.sum(tf.cast(tf.equal(tf.argMax(model.forward(x, "eval"), 1), y), "int32"))
  );
  const v = (await hit.data())[0];
  hit.dispose();
  return v / x.shape[0];
}
