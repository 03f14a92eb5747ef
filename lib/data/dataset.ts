/**
 * What every dataset loader returns: images as float32 in [0, 1], NHWC, flattened into one
 * Float32Array, and labels as an Int32Array, so the training code can hand them to tf.tensor4d
 * without another copy or per-pixel objects. Also the dataset names and the one error a loader
 * throws.
 *
 * The loaders: lib/data/fashion_mnist.ts, lib/data/cifar.ts (download: lib/data/download.ts);
 * subsets: lib/data/subset.ts; one spec per dataset: lib/data/registry.ts.
 */
import { UserError } from "../util/user_error.ts";

export interface Dataset {
  /** e.g. "fashion-mnist/train"; subsets append "[n=…,seed=…]". A label only: nothing parses it. */
  name: string;
  /**
   * The registry entry (lib/data/registry.ts) this split was loaded through, set by every
   * registered loader (see `splitIdentity`) and kept by subset(): training takes the normalisation
   * and default augmentation from that entry. Absent for data outside the registry.
   */
  registryKey?: DatasetName;
  /** n*height*width*channels floats in [0, 1], NHWC order. */
  images: Float32Array;
  /** n class indices in 0..numClasses-1. */
  labels: Int32Array;
  n: number;
  height: number;
  width: number;
  channels: number;
  numClasses: number;
  /** Normalisation for data that is not in the registry (lib/data/registry.ts), e.g. synthetic sets. */
  normalization?: Normalization;
}

/** Per-channel mean and std the model subtracts and divides by inside its forward pass. */
export interface Normalization {
  mean: number[];
  std: number[];
}

export interface DatasetSplits {
  train: Dataset;
  test: Dataset;
  classNames: string[];
}

export type DatasetName = "fashion-mnist" | "cifar10" | "cifar10-jpeg" | "cifar100";
export const DATASETS: readonly DatasetName[] = [
  "fashion-mnist",
  "cifar10",
  "cifar10-jpeg",
  "cifar100",
];

/**
 * The loader seam. A registered dataset's loader (DatasetSpec.load in lib/data/registry.ts, e.g.
 * loadFashionMnist, loadCifar10, loadCifar10Jpeg through lib/data/image_folder.ts) takes an
 * optional folder or archive (undefined: the dataset's default place) and returns both splits,
 * each stamped with `splitIdentity(key, split)`: name "<key>/<split>" and `registryKey` key.
 */
export type DatasetLoader = (dir?: string) => Promise<DatasetSplits>;

/** The name and registry key of split `split` of registered dataset `key` (what every registered loader sets). */
export function splitIdentity(
  key: DatasetName,
  split: "train" | "test",
): { name: string; registryKey: DatasetName } {
  return { name: `${key}/${split}`, registryKey: key };
}

/** A missing, truncated or corrupt dataset file, or a bad request; the message names the file and the fix. */
export class DatasetError extends UserError {
  override name = "DatasetError";
}

/** byte -> byte/255 as float32, so decoding a pixel into a Dataset's [0, 1] is one table lookup. */
export const BYTE_TO_UNIT: Readonly<Float32Array> = Float32Array.from(
  { length: 256 },
  (_, b) => b / 255,
);
