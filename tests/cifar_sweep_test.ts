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
