/**
 * The sweep the CIFAR-10 (JPEG q75 copy) preset rests on (scripts/cifar_sweep.ts writes it): ST
 * clean test accuracy after every epoch and seconds per epoch, per (width, training-set size,
 * epochs) config. Read into typed rows, summarised per config: final accuracy, best accuracy, cost
 * per image, and what a run of that config costs.
 */
import { readResults } from "../experiments/results.ts";

export interface SweepEpoch {
  width: number;
  trainSize: number;
  testSize: number;
  epochs: number;
  epoch: number;
  lr: number;
  trainLoss: number;
  cleanAcc: number;
  epochSeconds: number;
}

export interface SweepConfig {
  /** e.g. "w16 n50000 e20". */
  label: string;
  width: number;
  trainSize: number;
  epochs: number;
  /** Epochs written so far (a config still running has fewer than `epochs`). */
  done: number;
  finalAcc: number;
  bestAcc: number;
  /** Median seconds per epoch, and per training image (ms). */
  epochSeconds: number;
  msPerImage: number;
  /** Training seconds of the whole config (sum of its epochs). */
  totalSeconds: number;
  curve: SweepEpoch[];
}

/** The sweep's rows, typed; [] when the file does not exist. */
export function readSweep(path: string): SweepEpoch[] {
  return readResults(path).map((r) => ({
    width: Number(r.width),
    trainSize: Number(r.train_size),
    testSize: Number(r.test_size),
    epochs: Number(r.epochs),
    epoch: Number(r.epoch),
    lr: Number(r.lr),
    trainLoss: Number(r.train_loss),
    cleanAcc: Number(r.clean_acc),
    epochSeconds: Number(r.epoch_seconds),
  }));
}

/** One summary per config, in the order the configs first appear. */
export function summariseSweep(rows: readonly SweepEpoch[]): SweepConfig[] {
  const groups = new Map<string, SweepEpoch[]>();
  for (const r of rows) {
    const label = `w${r.width} n${r.trainSize} e${r.epochs}`;
    groups.set(label, [...(groups.get(label) ?? []), r]);
  }
  return [...groups].map(([label, rs]) => {
    const curve = [...rs].sort((a, b) => a.epoch - b.epoch);
    const last = curve[curve.length - 1];
    const seconds = curve.map((r) => r.epochSeconds).sort((a, b) => a - b);
    const median = seconds[Math.floor(seconds.length / 2)];
    return {
      label,
      width: last.width,
      trainSize: last.trainSize,
      epochs: last.epochs,
      done: curve.length,
      finalAcc: last.cleanAcc,
      bestAcc: Math.max(...curve.map((r) => r.cleanAcc)),
      epochSeconds: median,
      msPerImage: 1000 * median / last.trainSize,
      totalSeconds: curve.reduce((s, r) => s + r.epochSeconds, 0),
      curve,
    };
  });
}
