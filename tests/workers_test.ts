/**
 * Local parallel workers (lib/experiments/workers.ts): the option's bad values, and a real grid
 * run by two single-threaded child processes on a tiny Fashion-MNIST-format dataset written here:
 * every run trained and evaluated exactly once, the same numbers whichever worker took a run, a
 * failing worker reported in one sentence with the finished runs kept.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { getPreset, type Preset } from "../lib/experiments/presets.ts";
import { pgd10 } from "../lib/experiments/columns.ts";
import { readEvals, readResults } from "../lib/experiments/results.ts";
import { runGrid } from "../lib/experiments/runner.ts";
import { resolveWorkers, WORKER_ENV } from "../lib/jobs/workers.ts";
import { computeMeasureCache } from "../lib/analysis/measure_run.ts";
import { readCache } from "../lib/analysis/measure_cache.ts";
import { isUserError } from "../scripts/cli.ts";
import { concat, u32be } from "./idx_bytes.ts";

/** A Fashion-MNIST folder (raw IDX files) with n images per split: class = index mod 10. */
function writeTinyFashion(dir: string, nTrain: number, nTest: number): void {
  for (const [prefix, n] of [["train", nTrain], ["t10k", nTest]] as const) {
    const pixels = Uint8Array.from({ length: n * 784 }, (_, j) => {
      const k = Math.floor(j / 784);
      return (k % 10) * 20 + ((j * 7 + k * 13) % 40); // brighter with the class: learnable
    });
    Deno.writeFileSync(
      join(dir, `${prefix}-images-idx3-ubyte`),
      concat(u32be(2051, n, 28, 28), pixels),
    );
    const labels = Uint8Array.from({ length: n }, (_, k) => k % 10);
    Deno.writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), concat(u32be(2049, n), labels));
  }
}

const base = getPreset("fashion-mnist");
const tiny = (over: Partial<Preset["train"]> = {}): Preset => ({
  ...base,
  name: "test-workers",
  seeds: [0, 1],
  rows: ["ST", "SAM-0.1"],
  rowSeeds: undefined,
  evals: [pgd10("linf", 8 / 255)],
  train: { ...base.train, width: 2, epochs: 2, batchSize: 32, lr: 0.05, ...over },
  trainSize: 100,
  testSize: 40,
});

function withFashionDir<T>(f: (dir: string) => Promise<T>): () => Promise<T> {
  return async () => {
    const dir = Deno.makeTempDirSync({ prefix: "sam-at-workers-" });
    const before = Deno.env.get("FASHION_MNIST_DIR");
    writeTinyFashion(dir, 200, 60);
    Deno.env.set("FASHION_MNIST_DIR", dir); // the workers inherit it
    try {
      return await f(dir);
    } finally {
      if (before === undefined) Deno.env.delete("FASHION_MNIST_DIR");
      else Deno.env.set("FASHION_MNIST_DIR", before);
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

Deno.test("workers: 'auto' is one per core (1 on the GPU backend); bad values get one sentence", () => {
  assert.equal(resolveWorkers(undefined), 1);
  assert.equal(resolveWorkers(3), 3);
  assert.equal(resolveWorkers("2"), 2);
  assert.equal(resolveWorkers("auto"), navigator.hardwareConcurrency);
  assert.equal(resolveWorkers("auto", "tensorflow-gpu"), 1);
  for (const bad of [0, -1, 1.5, "0", "two", ""]) {
    assert.throws(
      () => resolveWorkers(bad),
      (e: Error) =>
        isUserError(e) &&
        /^--workers must be a positive whole number or auto, not .*; e\.g\. --workers 2\.$/.test(
          e.message,
        ),
    );
  }
  assert.deepEqual(WORKER_ENV, {
    TF_NUM_INTRAOP_THREADS: "1",
    TF_NUM_INTEROP_THREADS: "1",
    OMP_NUM_THREADS: "1",
  });
});

Deno.test("workers: an in-memory dataset cannot reach a child process: one sentence, no work", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-workers-" });
  try {
    await assert.rejects(
      runGrid({
        preset: tiny(),
        data: { train: {} as never, test: {} as never, classNames: [] },
        resultsPath: join(dir, "r.csv"),
        workers: 2,
        log: () => {},
      }),
      (e: Error) =>
        isUserError(e) && /cannot receive data; use workers: 1 with this option\.$/.test(e.message),
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test(
  "workers: two single-threaded processes run a grid once each run, with the same numbers whichever worker took it",
  withFashionDir(async (dir) => {
    const lines: string[] = [];
    const run = (csv: string) =>
      runGrid({
        preset: tiny(),
        resultsPath: join(dir, csv),
        workers: 2,
        progress: "none",
        log: (l) => lines.push(l),
      });
    const g = await run("a.csv");
    assert.equal(g.trained, 4);
    assert.equal(g.evaluated, 4);
    assert.equal(g.rows.length, 4);
    assert.equal(g.heldElsewhere, 0);
    assert.ok(
      lines.some((l) => l.startsWith("[worker 1/2] ")) &&
        lines.some((l) => l.startsWith("[worker 2/2] ")),
      lines.join("\n"),
    );
    assert.equal(readResults(join(dir, "a.csv")).length, 4);
    assert.equal(readEvals(join(dir, "a.csv")).length, 4);
    // Nothing left: no worker starts, nothing is added.
    lines.length = 0;
    const again = await run("a.csv");
    assert.equal(again.trained + again.evaluated, 0);
    assert.ok(!lines.some((l) => l.startsWith("[worker")), lines.join("\n"));
    // A second grid: which worker trains which run depends on timing, the numbers must not.
    await run("b.csv");
    const loss = (csv: string) =>
      new Map(readResults(join(dir, csv)).map((r) => [r.run_key, [r.final_train_loss, r.clean]]));
    assert.deepEqual(loss("b.csv"), loss("a.csv"));
    const acc = (csv: string) =>
      new Map(readEvals(join(dir, csv)).map((r) => [`${r.run_key} ${r.eval_key}`, r.accuracy]));
    assert.deepEqual(acc("b.csv"), acc("a.csv"));
  }),
);

Deno.test(
  "workers: a worker that fails is named in one sentence with its own error; finished runs are kept",
  withFashionDir(async (dir) => {
    const csv = join(dir, "r.csv");
    await runGrid({
      preset: tiny(),
      rows: "ST",
      seeds: "0",
      resultsPath: csv,
      workers: 2,
      progress: "none",
      log: () => {},
    });
    await assert.rejects(
      runGrid({
        preset: tiny({ lr: 1e30 }),
        rows: "ST,SAM-0.1",
        resultsPath: csv,
        workers: 2,
        progress: "none",
        log: () => {},
      }),
      (e: Error) =>
        isUserError(e) &&
        /^Worker [12] of 2 stopped: Training diverged at epoch 1, .*lower the learning rate.* \(every finished run is kept in .*r\.csv; rerun to go on\)\.$/
          .test(e.message),
    );
    assert.equal(readResults(csv).length, 1); // the earlier run, untouched
  }),
);

Deno.test(
  "workers: mechanism measures computed by two workers, each run once, the same values as again",
  withFashionDir(async (dir) => {
    const grid = (csv: string) =>
      runGrid({
        preset: tiny(),
        resultsPath: join(dir, csv),
        workers: 2,
        progress: "none",
        log: () => {},
      });
    await grid("a.csv");
    await grid("b.csv");
    const settings = {
      trainImages: 64,
      batchSize: 32,
      rhos: [0.05],
      steps: 1,
      adaptiveRhos: [],
      mRhos: [],
    };
    const lines: string[] = [];
    const measure = (csv: string) =>
      computeMeasureCache({
        resultsPath: join(dir, csv),
        settings,
        groups: ["sharpness"],
        workers: 2,
        progress: "none",
        log: (l) => lines.push(l),
      });
    const a = await measure("a.csv");
    assert.equal(a.computed.length, 4, JSON.stringify(a.computed));
    assert.ok(lines.some((l) => l.startsWith("[worker 2/2]")), lines.join("\n"));
    const again = await measure("a.csv");
    assert.equal(again.computed.length, 0);
    await measure("b.csv");
    const values = (csv: string) =>
      readCache(join(dir, csv)).map((r) => `${r.run_key} ${r.measure} ${r.variant} ${r.value}`)
        .sort();
    assert.equal(values("a.csv").length, new Set(values("a.csv")).size); // no run measured twice
    assert.deepEqual(values("b.csv"), values("a.csv"));
  }),
);
