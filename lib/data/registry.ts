/**
 * What a dataset is, in one place (RobustBench's pattern: datasets keyed by name, one loader
 * table): split sizes, classes, image shape, the normalisation the model applies inside its
 * forward pass, the default training augmentation, and the loader. Everything else (models,
 * training, experiments) asks this table; an unknown name is one sentence listing the known ones.
 */
import { resolve } from "node:path";
import type { AugmentName } from "./augment.ts";
import {
  cifarAbsence,
  cifarSource,
  type Dataset,
  DatasetError,
  type DatasetName,
  type DatasetSplits,
  defaultFashionMnistDir,
  fashionMnistAbsence,
  loadCifar10,
  loadCifar100,
  loadFashionMnist,
} from "./data.ts";
import type { DatasetLoader, Normalization } from "./dataset.ts";
import { cifar10JpegAbsence, cifar10JpegSource, loadCifar10Jpeg } from "./cifar10_jpeg.ts";
import { existsSync } from "./files.ts";

export interface DatasetSpec {
  name: DatasetName;
  title: string;
  trainSize: number;
  testSize: number;
  numClasses: number;
  /** [height, width, channels] of one image. */
  shape: [number, number, number];
  normalization: Normalization;
  augment: AugmentName;
  /** The loader seam (DatasetLoader, lib/data/dataset.ts): `dir` overrides the default location. */
  load: DatasetLoader;
  /** Why `load` would not find the files (one sentence with the fix), or null: presence only, reads nothing. */
  absence(dir?: string): string | null;
  /** The file or folder `load` would read (presence only, reads nothing), or undefined. */
  source(dir?: string): string | undefined;
}

export const DATASET_SPECS: Readonly<Record<DatasetName, DatasetSpec>> = Object.freeze({
  "fashion-mnist": {
    name: "fashion-mnist",
    title: "Fashion-MNIST",
    trainSize: 60000,
    testSize: 10000,
    numClasses: 10,
    shape: [28, 28, 1],
    // Training-set pixel mean and std.
    normalization: { mean: [0.2860], std: [0.3530] },
    augment: "fashion",
    load: loadFashionMnist,
    absence: fashionMnistAbsence,
    source: (dir?: string) =>
      fashionMnistAbsence(dir) ? undefined : resolve(dir ?? defaultFashionMnistDir()),
  },
  cifar10: {
    name: "cifar10",
    title: "CIFAR-10",
    trainSize: 50000,
    testSize: 10000,
    numClasses: 10,
    shape: [32, 32, 3],
    // The authors' constants.
    normalization: { mean: [0.4914, 0.4822, 0.4465], std: [0.2471, 0.2435, 0.2616] },
    augment: "cifar",
    load: loadCifar10,
    absence: (dir?: string) => cifarAbsence("cifar10", dir),
    source: (dir?: string) => cifarSource("cifar10", dir),
  },
  "cifar10-jpeg": {
    name: "cifar10-jpeg",
    title: "CIFAR-10 (JPEG q75 copy)",
    trainSize: 50000,
    testSize: 10000,
    numClasses: 10,
    shape: [32, 32, 3],
    // Measured on this copy's own 50000 training images (tests/cifar10_jpeg_test.ts recomputes
    // them); JPEG's colour loss moves them from CIFAR-10's (e.g. red mean 0.4868 vs 0.4914).
    normalization: {
      mean: [0.486814, 0.482181, 0.441432],
      std: [0.245082, 0.242545, 0.260488],
    },
    augment: "cifar",
    load: loadCifar10Jpeg,
    absence: cifar10JpegAbsence,
    source: cifar10JpegSource,
  },
  cifar100: {
    name: "cifar100",
    title: "CIFAR-100",
    trainSize: 50000,
    testSize: 10000,
    numClasses: 100,
    shape: [32, 32, 3],
    normalization: {
      mean: [0.5070751592371323, 0.48654887331495095, 0.4409178433670343],
      std: [0.2673342858792401, 0.2564384629170883, 0.27615047132568404],
    },
    augment: "cifar",
    load: loadCifar100,
    absence: (dir?: string) => cifarAbsence("cifar100", dir),
    source: (dir?: string) => cifarSource("cifar100", dir),
  },
});

export const DATASET_NAMES = Object.keys(DATASET_SPECS) as DatasetName[];

export function isDatasetName(name: unknown): name is DatasetName {
  return typeof name === "string" && Object.hasOwn(DATASET_SPECS, name);
}

/** The spec of a registered dataset; anything else is a DatasetError naming the known ones. */
export function datasetSpec(name: string): DatasetSpec {
  if (!isDatasetName(name)) {
    throw new DatasetError(
      `Unknown dataset ${JSON.stringify(name)}: use one of ${DATASET_NAMES.join(", ")}.`,
    );
  }
  return DATASET_SPECS[name];
}

/**
 * Why a registered dataset is not on this machine (the missing file and the fix), or null when it
 * is: a quick check for plans and dry runs, so a long plan does not hide that nothing can start.
 */
export function datasetAbsence(name: string, dir?: string): string | null {
  return datasetSpec(name).absence(dir);
}

/** The file or folder a registered dataset would load from (`dir` or its default place), if there. */
export function datasetSource(name: string, dir?: string): string | undefined {
  return datasetSpec(name).source(dir);
}

/**
 * Check a data path given by the user (--data-dir) before any work: it must exist and hold the
 * dataset. Throws a DatasetError of one sentence (the dataset's own absence sentence, which says
 * how to get it, when the path exists but does not hold it).
 */
export function checkDataDir(name: string, dir: string): void {
  const spec = datasetSpec(name);
  if (!existsSync(dir)) {
    throw new DatasetError(
      `--data-dir ${
        resolve(dir)
      } does not exist; give the folder (or archive) that holds ${spec.title}, or leave --data-dir out to look in the default place.`,
    );
  }
  const absent = spec.absence(dir);
  if (absent) throw new DatasetError(absent);
}

/** Load a registered dataset by name. */
export function loadDataset(name: string, dir?: string): Promise<DatasetSplits> {
  try {
    return datasetSpec(name).load(dir);
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * The registry entry a loaded split comes from: its `registryKey`, which every registered loader
 * sets and subset() keeps (never parsed from its name); undefined for data outside the registry.
 */
export function specOf(data: Pick<Dataset, "registryKey">): DatasetSpec | undefined {
  return isDatasetName(data.registryKey) ? DATASET_SPECS[data.registryKey] : undefined;
}

/**
 * The normalisation a model of this data applies: the one the Dataset carries (synthetic data),
 * else its registry entry's. Never a silent identity.
 */
export function normalizationOf(data: Dataset): Normalization {
  const found = data.normalization ?? specOf(data)?.normalization;
  if (!found || found.mean.length !== data.channels || found.std.length !== data.channels) {
    throw new DatasetError(
      `Dataset ${
        JSON.stringify(data.name)
      } has no normalisation for ${data.channels} channel(s): ` +
        `register it in lib/data/registry.ts or set its normalization field.`,
    );
  }
  return found;
}

/** The default training augmentation of this data (its registry entry's; "none" outside the registry). */
export function defaultAugmentOf(data: Pick<Dataset, "registryKey">): AugmentName {
  return specOf(data)?.augment ?? "none";
}
