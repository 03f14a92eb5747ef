import assert from "node:assert/strict";
import { join } from "node:path";
import { readSweep, summariseSweep } from "../lib/analysis/cifar_sweep.ts";
import { sweepChart } from "../lib/report/sweep_chart.ts";

const HEADER =
  "dataset,arch,width,train_size,test_size,epochs,epoch,lr,train_loss,clean_acc,epoch_seconds,threads,engine,seed";
const line = (w: number, n: number, e: number, ep: number, acc: number, s: number) =>
  `cifar10-jpeg,prn18,${w},${n},2000,${e},${ep},0.1,1.0,${acc},${s},1,graph,0`;

Deno.test("sweep: configs summarised in file order, rows of a config sorted by epoch, medians per image", () => {
  const dir = Deno.makeTempDirSync();
  const path = join(dir, "sweep.csv");
  Deno.writeTextFileSync(
    path,
    [
      HEADER,
      line(16, 1000, 3, 2, 0.5, 2),
      line(32, 500, 2, 1, 0.3, 4),
      line(16, 1000, 3, 1, 0.4, 1),
      line(16, 1000, 3, 3, 0.45, 30),
    ].join("\n") + "\n",
  );
  const configs = summariseSweep(readSweep(path));
  assert.deepEqual(configs.map((c) => c.label), ["w16 n1000 e3", "w32 n500 e2"]);
  const [a, b] = configs;
  assert.deepEqual(a.curve.map((r) => r.epoch), [1, 2, 3]);
  assert.equal(a.finalAcc, 0.45); // the last epoch's, not the best
  assert.equal(a.bestAcc, 0.5);
  assert.equal(a.epochSeconds, 2); // the median, robust to one slow epoch
  assert.equal(a.msPerImage, 2);
  assert.equal(a.totalSeconds, 33);
  assert.equal(b.done, 1);
  assert.equal(b.epochs, 2);
  const c = sweepChart(configs);
  assert.equal(c.data.length, 2);
  assert.deepEqual(c.data[0].y, [40, 50, 45]);
  assert.equal(summariseSweep(readSweep(join(dir, "absent.csv"))).length, 0);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("sweep findings: compared at the end of each schedule; the 85% sentence follows the numbers", async () => {
  const { sweepFindings, quietSeconds } = await import("../lib/report/notebook_cifar_sweep.ts");
  const dir = Deno.makeTempDirSync();
  const write = (rows: string[]) => {
    const path = join(dir, `s${rows.length}.csv`);
    Deno.writeTextFileSync(path, [HEADER, ...rows].join("\n") + "\n");
    return summariseSweep(readSweep(path));
  };
  const below = write([
    line(16, 1000, 2, 1, 0.5, 9),
    line(16, 1000, 2, 2, 0.84, 5),
    line(32, 500, 3, 1, 0.3, 9),
  ]);
  assert.equal(quietSeconds(below[0]), 10); // 2 epochs x the fastest later epoch (5 s)
  const text = sweepFindings(below).join(" ");
  assert.match(
    text,
    /No finished config reaches 85%; the best final accuracy is 84\.0% \(w16 n1000 e2\)/,
  );
  assert.match(text, /Still running or cut short: w32 n500 e3 \(1 of 3 epochs\)/);
  const above = write([line(16, 1000, 2, 1, 0.5, 9), line(16, 1000, 2, 2, 0.86, 5)]);
  assert.match(sweepFindings(above).join(" "), /The 85% aim is reached by w16 n1000 e2 \(86\.0%\)/);
  assert.match(sweepFindings([]).join(" "), /No sweep results yet/);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("the 85% aim: ST at or above says so; below it, the sweep's schedule that reached it prices it", async () => {
  const { cleanAimMarkdown } = await import("../lib/report/notebook_cifar_sweep.ts");
  const { rowById } = await import("../lib/experiments/grid.ts");
  const { planGrid } = await import("../lib/experiments/plan.ts");
  const plan = planGrid({ dataset: "cifar10-jpeg", preset: "cpu" });
  const st = (mean: number) =>
    [{
      row: rowById("ST")!,
      seeds: [0],
      metrics: { clean: { mean, std: NaN, n: 1 } },
    }] as unknown as Parameters<typeof cleanAimMarkdown>[1];
  const dir = Deno.makeTempDirSync();
  const path = join(dir, "s.csv");
  Deno.writeTextFileSync(
    path,
    [HEADER, line(16, 50000, 20, 1, 0.5, 70), line(16, 50000, 20, 20, 0.852, 70)].join("\n") + "\n",
  );
  // Only epoch 1 and 20 are written: the config counts as done when its last epoch is there.
  const configs = summariseSweep(readSweep(path)).map((c) => ({ ...c, done: c.epochs }));
  assert.match(cleanAimMarkdown(configs, st(0.86), plan), /86\.0%, at or above the 85% aim/);
  const below = cleanAimMarkdown(configs, st(0.847), plan);
  assert.match(below, /84\.7%, below the 85% aim\. In the sweep, w16 n50000 e20 reached 85\.2%/);
  assert.match(below, /20 epochs instead of 15, 1\.33x the training/);
  assert.match(cleanAimMarkdown([], st(0.847), plan), /no finished sweep schedule of width 16/);
  assert.match(cleanAimMarkdown(configs, [], plan), /No ST run of the grid has finished yet/);
  Deno.removeSync(dir, { recursive: true });
});
