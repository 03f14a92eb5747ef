import assert from "node:assert/strict";
import {
  appendResult,
  makeResultRow,
  parseCsv,
  readResults,
  RESULT_COLUMNS,
} from "../lib/experiments/results.ts";
import { resolveTrainConfig } from "../lib/training/train.ts";

function row(over: Record<string, number | string> = {}) {
  return makeResultRow({
    runId: "t1",
    dataset: "fashion-mnist",
    trainSize: 1000,
    testSize: 500,
    train: {
      config: resolveTrainConfig({
        method: "AT",
        norm: "l2",
        eps: 16 / 255,
        alpha: 8 / 255,
        steps: 5,
        arch: "smallcnn",
        width: 16,
        epochs: 2,
      }),
      metrics: [{ epoch: 1, lr: 0.1, trainLoss: 1.5, seconds: 3 }, {
        epoch: 2,
        lr: 0.1,
        trainLoss: 0.9,
        seconds: 3,
      }],
      trainSeconds: 6,
      augment: "fashion",
    },
    eval: { n: 500, clean: 0.8, robust: { linf_1_255: 0.7, l2_16_255: 0.6 }, seconds: 2 },
    backend: "tensorflow",
    extra: over,
  });
}

Deno.test("results: rows append atomically under a stable header and read back typed", () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-results-" });
  const path = `${dir}/sub/results.csv`;
  try {
    assert.deepEqual(readResults(path), []);
    appendResult(path, row());
    appendResult(path, row({ run_id: 't2 "quoted", with comma' }));
    const text = Deno.readTextFileSync(path);
    assert.equal(text.split("\n")[0], RESULT_COLUMNS.join(","));
    const rows = readResults(path);
    assert.equal(rows.length, 2);
    assert.equal(rows[0].method, "AT");
    assert.equal(rows[0].norm, "l2");
    assert.equal(rows[0].eps, 16 / 255);
    assert.equal(rows[0].rho, null);
    assert.equal(rows[0].clean, 0.8);
    assert.equal(rows[0].linf_2_255, null);
    assert.equal(rows[0].final_train_loss, 0.9);
    assert.equal(rows[1].run_id, 't2 "quoted", with comma');
    // A new metric column extends the header at the end; older rows get empty cells.
    appendResult(path, { ...row(), linf_8_255: 0.1 });
    const header = parseCsv(Deno.readTextFileSync(path))[0];
    assert.deepEqual(header, [...RESULT_COLUMNS, "linf_8_255"]);
    const again = readResults(path);
    assert.equal(again[0].linf_8_255, null);
    assert.equal(again[2].linf_8_255, 0.1);
    assert.equal(again[1].run_id, 't2 "quoted", with comma');
    assert.deepEqual([...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name), ["results.csv"]); // no temp or lock left
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
