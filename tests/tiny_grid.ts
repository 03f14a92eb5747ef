/**
 * The tiny synthetic grid the runner tests share: a two-epoch preset on toy data
 * (experiments_test, integrity_test) and a one-epoch one for tests that only need a finished run
 * (csv_rows_test, results_paths_test, model_file_run_test).
 */
import type { DatasetSplits } from "../lib/data/data.ts";
import { pgd10 } from "../lib/experiments/columns.ts";
import { getPreset, type Preset } from "../lib/experiments/presets.ts";
import { toyDataset } from "./toy_data.ts";

const base = getPreset("fashion-mnist");

export const TINY: Preset = {
  ...base,
  name: "test-tiny",
  train: { ...base.train, width: 2, epochs: 2, batchSize: 32, lr: 0.05 },
  trainSize: 96,
  testSize: 32,
  seeds: [0],
  evals: [pgd10("linf", 8 / 255)],
  notes: "test only",
};

export const TINY_QUICK: Preset = {
  ...TINY,
  train: { ...TINY.train, epochs: 1 },
  trainSize: 64,
  testSize: 16,
};

/** Toy data for TINY (160 / 48 images) or TINY_QUICK (96 / 24), 8x8x1, 3 classes. */
export function toySplits(preset: Preset): DatasetSplits {
  const [nTrain, nTest] = preset.train.epochs === 1 ? [96, 24] : [160, 48];
  return {
    train: { ...toyDataset(nTrain, 8, 1, 3, 1), name: "toy/train" },
    test: { ...toyDataset(nTest, 8, 1, 3, 2), name: "toy/test" },
    classNames: ["a", "b", "c"],
  };
}
