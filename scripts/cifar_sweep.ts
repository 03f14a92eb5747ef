/**
 * The short measurement the CIFAR-10 (JPEG q75 copy) preset rests on: ST clean test accuracy after
 * every epoch, and seconds per epoch, for PreActResNet-18 at a given width on a class-stratified
 * training subset, trained exactly as the preset's runs are (SGD momentum 0.9, weight decay 5e-4,
 * batch 128, the paper's piecewise schedule over the run's epochs, crop + flip, graph steps, one
 * TensorFlow thread per process as in the grid's workers).
 *
 *   bin/deno run -A scripts/cifar_sweep.ts --width 16 --train-size 50000 --epochs 12
 *       [--test-size 2000] [--out results/cifar10-jpeg-sweep.csv]
 *
 * One config a process (run two at once on 2 cores, as the grid does). Rows are appended after
 * every epoch; an interrupted config resumes from its checkpoint and skips epochs already written.
 */
import { join } from "node:path";
import { initBackend } from "../lib/backend/backend.ts";
import { loadDataset } from "../lib/data/registry.ts";
import { readResults } from "../lib/experiments/results.ts";
import { subset } from "../lib/data/subset.ts";
import { ST } from "../lib/training/method.ts";
import { train } from "../lib/training/train.ts";
import { fail, parseCli, runCli } from "./cli.ts";

const HELP = `Measure ST clean accuracy per epoch on CIFAR-10 (JPEG q75 copy) for one width and subset.

usage: bin/deno run -A scripts/cifar_sweep.ts --width N --train-size N --epochs N
                                              [--test-size 2000] [--out PATH]`;

const COLUMNS = [
  "dataset",
  "arch",
  "width",
  "train_size",
  "test_size",
  "epochs",
  "epoch",
  "lr",
  "train_loss",
  "clean_acc",
  "epoch_seconds",
  "threads",
  "engine",
  "seed",
];

await runCli(async () => {
  const args = parseCli({
    width: { type: "string" },
    "train-size": { type: "string" },
    epochs: { type: "string" },
    "test-size": { type: "string", default: "2000" },
    out: { type: "string", default: "results/cifar10-jpeg-sweep.csv" },
  }, HELP);
  const int = (name: "width" | "train-size" | "epochs" | "test-size"): number => {
    const v = Number(args[name]);
    if (args[name] === undefined || !Number.isInteger(v) || v < 1) {
      fail(`--${name} must be a whole number >= 1 (see --help).`);
    }
    return v;
  };
  const width = int("width");
  const trainSize = int("train-size");
  const epochs = int("epochs");
  const testSize = int("test-size");
  const out = args.out;
  const tag = `w${width}-n${trainSize}-e${epochs}`;
  // The epochs of this config already written (the project's strict CSV reader; [] if absent).
  const done = new Set(
    readResults(out)
      .filter((r) => r.width === width && r.train_size === trainSize && r.epochs === epochs)
      .map((r) => Number(r.epoch)),
  );
  try {
    Deno.statSync(out);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    Deno.writeTextFileSync(out, COLUMNS.join(",") + "\n");
  }
  if (done.size === epochs) return console.error(`${tag}: all ${epochs} epochs are in ${out}.`);

  const splits = await loadDataset("cifar10-jpeg");
  await initBackend("tensorflow");
  const threads = Deno.env.get("TF_NUM_INTRAOP_THREADS") ?? "default";
  await train(subset(splits.train, trainSize, 0), {
    method: ST,
    arch: "prn18",
    width,
    epochs,
    seed: 0,
  }, {
    checkpointDir: join("results", "runs", "cifar10-jpeg-sweep", "checkpoints", tag),
    evalData: subset(splits.test, testSize, 0),
    stepEngine: "graph",
    progress: "lines",
    label: `sweep ${tag}`,
    onEpochEnd: ({ metrics }) => {
      const m = metrics[metrics.length - 1];
      if (done.has(m.epoch)) return;
      const row = [
        "cifar10-jpeg",
        "prn18",
        width,
        trainSize,
        testSize,
        epochs,
        m.epoch,
        m.lr,
        m.trainLoss.toFixed(5),
        m.evalClean!.toFixed(4),
        m.seconds.toFixed(1),
        threads,
        "graph",
        0,
      ];
      Deno.writeTextFileSync(out, row.join(",") + "\n", { append: true });
      console.error(
        `${tag} epoch ${m.epoch}/${epochs}: clean ${(100 * m.evalClean!).toFixed(1)}% (${
          m.seconds.toFixed(0)
        } s)`,
      );
    },
  });
});
