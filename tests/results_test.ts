/** The runs and evaluations CSV files: stable headers, atomic appends, typed read-back, flags. */
import assert from "node:assert/strict";
import {
  appendEval,
  appendRun,
  base64ToFlags,
  EVAL_COLUMNS,
  evalsPathFor,
  flagsToBase64,
  parseCsv,
  readEvals,
  readResults,
  type ResultRow,
  RUN_COLUMNS,
} from "../lib/experiments/results.ts";
import { resolveEval } from "../lib/attacks/protocols.ts";
import { at, methodColumns } from "../lib/training/method.ts";
import { resolveTrainConfig } from "../lib/training/train.ts";

/** A runs row as the runner writes it (settings from a resolved config, the method flattened). */
function row(over: ResultRow = {}): ResultRow {
  const c = resolveTrainConfig({
    method: at("l2", 16 / 255, 8 / 255, 5),
    arch: "smallcnn",
    width: 16,
    epochs: 2,
  });
  return {
    run_id: "t1",
    run_key: "k0000abcd",
    finished_at: "2026-01-01T00:00:00.000Z",
    dataset: "fashion-mnist",
    preset: "test",
    row_id: "AT-l2-16",
    train_size: 1000,
    test_size: 500,
    subset_seed: 0,
    arch: c.arch,
    width: c.width,
    ...methodColumns(c.method),
    epochs: c.epochs,
    batch_size: c.batchSize,
    lr: c.lr,
    momentum: c.momentum,
    weight_decay: c.weightDecay,
    augment: "fashion",
    running_stats: c.runningStats,
    seed: c.seed,
    backend: "tensorflow",
    final_train_loss: 0.9,
    clean: 0.8,
    train_seconds: 6,
    median_epoch_seconds: 3,
    resumed_from_epoch: 0,
    load_avg_1m: null,
    model_file: "results/models/x/AT-l2-16-seed0-k0000abcd.safetensors",
    ...over,
  };
}

Deno.test("results: runs rows append atomically under a stable header and read back typed", () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-results-" });
  const path = `${dir}/sub/results.csv`;
  try {
    assert.deepEqual(readResults(path), []);
    appendRun(path, row());
    appendRun(path, row({ run_id: 't2 "quoted", with comma', run_key: "k0000abce" }));
    const text = Deno.readTextFileSync(path);
    assert.equal(text.split("\n")[0], RUN_COLUMNS.join(","));
    // Every column the runner writes is a header column (no silent extension by a typo).
    assert.deepEqual(Object.keys(row()).filter((k) => !RUN_COLUMNS.includes(k as any)), []);
    const rows = readResults(path);
    assert.equal(rows.length, 2);
    assert.equal(rows[0].method, "AT");
    assert.equal(rows[0].optimizer, "sgd");
    assert.equal(rows[0].perturb, "pgd");
    assert.equal(rows[0].norm, "l2");
    assert.equal(rows[0].eps, 16 / 255);
    assert.equal(rows[0].alpha, 8 / 255);
    assert.equal(rows[0].steps, 5);
    assert.equal(rows[0].rho, null);
    assert.equal(rows[0].adaptive, null);
    assert.equal(rows[0].clean, 0.8);
    assert.equal(rows[0].load_avg_1m, null);
    assert.equal(rows[0].run_key, "k0000abcd"); // a key reads back as text, never as a number
    assert.equal(rows[0].final_train_loss, 0.9);
    assert.equal(rows[1].run_id, 't2 "quoted", with comma');
    // A SAM row: booleans read back as booleans.
    appendRun(
      path,
      row({
        ...methodColumns({ optimizer: { name: "sam", rho: 1, adaptive: true }, perturb: null }),
        run_key: "k0000abcf",
      }),
    );
    const asam = readResults(path)[2];
    assert.deepEqual([asam.method, asam.rho, asam.adaptive, asam.norm], ["ASAM", 1, true, null]);
    // A new column extends the header at the end; older rows get empty cells.
    appendRun(path, { ...row(), run_key: "k0000abd0", note: "extra" });
    const header = parseCsv(Deno.readTextFileSync(path))[0];
    assert.deepEqual(header, [...RUN_COLUMNS, "note"]);
    const again = readResults(path);
    assert.equal(again[0].note, null);
    assert.equal(again[3].note, "extra");
    assert.equal(again[1].run_id, 't2 "quoted", with comma');
    assert.deepEqual([...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name), ["results.csv"]); // no temp or lock left
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("results: evaluation rows go to <name>.evals.csv, one per (run, evaluation), robust flags as a base64 bit mask", () => {
  assert.equal(
    evalsPathFor("results/fashion-mnist-default.csv"),
    "results/fashion-mnist-default.evals.csv",
  );
  assert.equal(evalsPathFor("x/r"), "x/r.evals.csv");
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-evals-" });
  const path = `${dir}/r.csv`;
  try {
    assert.deepEqual(readEvals(path), []);
    const flags = Uint8Array.from({ length: 13 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const ev = resolveEval({ attack: "pgd", norm: "linf", eps: 8 / 255 });
    appendEval(path, {
      run_key: "k0000abcd",
      eval_key: ev.key,
      attack: ev.spec.attack,
      norm: ev.spec.norm,
      eps: ev.spec.eps,
      options: JSON.stringify(ev.spec.options),
      n: flags.length,
      accuracy: 5 / 13,
      stages: null,
      robust_flags: flagsToBase64(flags),
      seconds: 1.5,
      seed: 0,
      backend: "tensorflow",
      finished_at: "2026-01-01T00:00:00.000Z",
    });
    // The runs file is untouched; the evaluations file has its own header.
    assert.deepEqual(readResults(path), []);
    const text = Deno.readTextFileSync(evalsPathFor(path));
    assert.equal(text.split("\n")[0], EVAL_COLUMNS.join(","));
    const [e] = readEvals(path);
    assert.equal(e.eval_key, "pgd10_linf_8_255");
    assert.equal(e.accuracy, 5 / 13);
    assert.equal(e.stages, null);
    // The options JSON (quotes, commas) survives the CSV quoting.
    assert.deepEqual(JSON.parse(e.options as string), {
      steps: 10,
      alpha: 2 / 255,
      randomStart: true,
    });
    assert.deepEqual(base64ToFlags(e.robust_flags as string, e.n as number), flags);
    assert.equal(flags.reduce((s, v) => s + v, 0) / 13, e.accuracy); // 0, 3, 6, 9, 12
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("results: robust flags round-trip at every length (bit i of byte i>>3, least significant first)", () => {
  for (const n of [0, 1, 7, 8, 9, 1000]) {
    const flags = Uint8Array.from({ length: n }, (_, i) => ((i * 2654435761) >>> 7) & 1);
    const text = flagsToBase64(flags);
    assert.equal(atob(text).length, Math.ceil(n / 8));
    assert.deepEqual(base64ToFlags(text, n), flags, `n = ${n}`);
  }
  assert.equal(flagsToBase64(Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 1])), btoa("\x01\x01"));
});
