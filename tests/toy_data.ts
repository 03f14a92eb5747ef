/** Tiny synthetic datasets for the library tests (no files, a few KB). */
import type { Dataset } from "../lib/data/data.ts";
import { Rng } from "../lib/util/rng.ts";

/**
 * n images of size side x side x channels in [0, 1] whose class is encoded by a brighter
 * quadrant, so a small CNN can learn something in a few steps. Not a registered dataset, so it
 * carries its normalisation: the identity (pixels go into the model as they are), stated here.
 */
export function toyDataset(n: number, side = 8, channels = 1, numClasses = 3, seed = 7): Dataset {
  const rng = Rng.fromSeed(seed);
  const images = new Float32Array(n * side * side * channels);
  const labels = new Int32Array(n);
  const half = side >> 1;
  for (let i = 0; i < n; i++) {
    const label = rng.int(numClasses);
    labels[i] = label;
    const qy = label & 1 ? half : 0;
    const qx = label & 2 ? half : 0;
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const bright = y >= qy && y < qy + half && x >= qx && x < qx + half;
        for (let c = 0; c < channels; c++) {
          const v = (bright ? 0.6 : 0.2) + 0.3 * rng.float();
          images[((i * side + y) * side + x) * channels + c] = Math.min(1, v);
        }
      }
    }
  }
  return {
    name: "toy",
    images,
    labels,
    n,
    height: side,
    width: side,
    channels,
    numClasses,
    normalization: { mean: new Array(channels).fill(0), std: new Array(channels).fill(1) },
  };
}

/**
 * n uniform-noise 28x28x1 images in [0, 1] with labels of 10 classes, drawn from `seed` (images
 * first, then labels): inputs for engine tests that compare two paths, where what is learned
 * does not matter. Normalised with mean 0.5, std 0.25.
 */
export function noiseDataset(n: number, seed: number): Dataset {
  const rng = Rng.fromSeed(seed);
  return {
    name: "synthetic",
    images: rng.fillUniform(new Float32Array(n * 28 * 28), 0, 1),
    labels: Int32Array.from({ length: n }, () => rng.int(10)),
    n,
    height: 28,
    width: 28,
    channels: 1,
    numClasses: 10,
    normalization: { mean: [0.5], std: [0.25] },
  };
}
