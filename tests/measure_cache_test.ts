/**
 * Issue 31 #2: the mechanism cache (<name>.sharpness.csv) is verified whole. A group is written as
 * one unit and counts as cached only when every measure of it is there with a finite value; a cut,
 * deleted or malformed row makes its group computed again (the line named), and the temp and lock
 * files a killed writer left are removed. One real run of a tiny Fashion-MNIST-format dataset.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cachePathFor, type CacheRow, hasGroup, readCache } from "../lib/analysis/measure_cache.ts";
import {
  computeMeasureCache,
  expectedMeasures,
  resolveSettings,
  settingsKey,
} from "../lib/analysis/measure_run.ts";
import { pgd10 } from "../lib/experiments/columns.ts";
import { getPreset, type Preset } from "../lib/experiments/presets.ts";
import { runGrid } from "../lib/experiments/runner.ts";
import { concat, u32be } from "./idx_bytes.ts";

function writeTinyFashion(dir: string, n: number): void {
  for (const prefix of ["train", "t10k"]) {
    const pixels = Uint8Array.from({ length: n * 784 }, (_, j) => (Math.floor(j / 784) % 10) * 20);
    Deno.writeFileSync(
      join(dir, `${prefix}-images-idx3-ubyte`),
      concat(u32be(2051, n, 28, 28), pixels),
    );
    const labels = Uint8Array.from({ length: n }, (_, k) => k % 10);
    Deno.writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), concat(u32be(2049, n), labels));
  }
}

const base = getPreset("fashion-mnist");
const TINY: Preset = {
  ...base,
  name: "test-cache",
  seeds: [0],
  rows: ["ST"],
  rowSeeds: undefined,
  evals: [pgd10("linf", 8 / 255)],
  train: { ...base.train, width: 2, epochs: 1, batchSize: 32, lr: 0.05 },
  trainSize: 64,
  testSize: 32,
};
const SETTINGS = { testImages: 32, pgdImages: 16 };

Deno.test("measure cache: a group killed between rows, a cut or deleted row, a NaN or 'abc' value is computed again and named; leftovers of a killed writer are removed (issue 31 #2)", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-cache-" });
  const before = Deno.env.get("FASHION_MNIST_DIR");
  writeTinyFashion(dir, 96);
  Deno.env.set("FASHION_MNIST_DIR", dir);
  const results = join(dir, "r.csv");
  const cache = cachePathFor(results);
  const lines: string[] = [];
  const measure = () =>
    computeMeasureCache({
      resultsPath: results,
      settings: SETTINGS,
      groups: ["input"],
      workers: 1,
      progress: "none",
      log: (l) => lines.push(l),
    });
  try {
    await runGrid({
      preset: TINY,
      resultsPath: results,
      workers: 1,
      progress: "none",
      log: () => {},
    });
    const first = await measure();
    assert.equal(first.computed.length, 1);
    const text = Deno.readTextFileSync(cache);
    const rows = text.split("\n").filter(Boolean); // header + the group's 4 rows
    assert.equal(rows.length, 5);
    const s = resolveSettings(SETTINGS);
    assert.deepEqual(expectedMeasures(s, "input"), [
      "grad_l1|",
      "grad_l2|",
      "test_loss|",
      "pgd_line|linf_8_255",
    ]);
    const key = settingsKey(s, "input");
    const runKey = first.runs[0].run_key as string;
    assert.ok(hasGroup(readCache(results), runKey, "input", key, expectedMeasures(s, "input")));

    const again = async (damaged: string, named?: RegExp) => {
      Deno.writeTextFileSync(cache, damaged);
      lines.length = 0;
      const r = await measure();
      assert.equal(r.computed.length, 1, `recomputed after: ${JSON.stringify(damaged.slice(-80))}`);
      if (named) assert.match(lines.join("\n"), named);
      // The result holds the group once, whole and finite, whatever the file still holds.
      assert.deepEqual(
        r.rows.map((x: CacheRow) => `${x.measure}|${x.variant}`).sort(),
        expectedMeasures(s, "input").slice().sort(),
      );
      assert.ok(r.rows.every((x) => Number.isFinite(x.value)));
      assert.equal((await measure()).computed.length, 0, "and then read from the cache");
    };
    // Killed after the first row of the group (the old writer appended one row at a time).
    await again(rows.slice(0, 2).join("\n") + "\n");
    // The last row cut short; one row deleted; a value NaN; a value abc.
    await again(text.slice(0, -30), /r\.sharpness\.csv line 5 is cut/);
    await again([rows[0], rows[1], rows[2], rows[4]].join("\n") + "\n");
    const value = (row: string, v: string) => {
      const cells = row.split(",");
      cells[8] = v; // the value column
      return cells.join(",");
    };
    await again(
      [rows[0], rows[1], value(rows[2], "NaN"), rows[3], rows[4]].join("\n") + "\n",
      /grad_l2 of run .* is NaN; its group is computed again/,
    );
    await again(
      [rows[0], rows[1], value(rows[2], "abc"), rows[3], rows[4]].join("\n") + "\n",
      /line 3 holds "abc" in column value, not a number/,
    );

    // A killed writer's temp file and lock are removed (its pid is not alive).
    const dead = 2 ** 22 + 12345;
    Deno.writeTextFileSync(`${cache}.tmp-${dead}`, "half");
    Deno.writeTextFileSync(
      `${cache}.lock`,
      JSON.stringify({ host: Deno.hostname(), pid: dead, start: null, token: "t", since: "" }),
    );
    lines.length = 0;
    await measure();
    assert.throws(() => Deno.statSync(`${cache}.tmp-${dead}`), Deno.errors.NotFound);
    assert.throws(() => Deno.statSync(`${cache}.lock`), Deno.errors.NotFound);
    assert.match(lines.join("\n"), /removed 2 file\(s\) left by killed writers/);
  } finally {
    if (before === undefined) Deno.env.delete("FASHION_MNIST_DIR");
    else Deno.env.set("FASHION_MNIST_DIR", before);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("measure cache: every group of the committed caches is whole under the default settings (nothing recomputed)", () => {
  const root = new URL("..", import.meta.url).pathname;
  const s = resolveSettings();
  for (const name of ["fashion-mnist-default", "fashion-mnist-full"]) {
    const results = `${root}results/${name}.csv`;
    const rows = readCache(results);
    const runs = [...new Set(rows.map((r) => r.run_key))];
    assert.ok(runs.length >= 17, name);
    for (const k of runs) {
      const row = rows.find((r) => r.run_key === k)!.row_id;
      for (const g of ["sharpness", "hessian", "input", "equivalence"] as const) {
        assert.ok(hasGroup(rows, k, g, settingsKey(s, g), expectedMeasures(s, g)), `${k} ${g}`);
      }
      const landscape = hasGroup(
        rows,
        k,
        "landscape",
        settingsKey(s, "landscape"),
        expectedMeasures(s, "landscape"),
      );
      assert.equal(landscape, ["ST", "SAM-0.2", "AT-linf-8"].includes(row), `${k} landscape`);
    }
  }
});
