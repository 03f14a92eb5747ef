/**
 * The mechanism notebook only reads the measure cache of a read-only results file (the CIFAR-10
 * (JPEG q75 copy) grid, whose PreActResNet-18 measures take minutes per model): it computes
 * nothing, writes no cache, and says how many runs are measured and how to measure the rest.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadMechanism, READ_ONLY_RESULTS } from "../lib/analysis/mechanism_data.ts";
import { filesMarkdown } from "../lib/report/mechanism_tables.ts";

const repo = new URL("..", import.meta.url).pathname;

Deno.test("mechanism: a read-only results file is read from its cache, never computed", async () => {
  assert.ok(READ_ONLY_RESULTS.includes("results/cifar10-jpeg-cpu.csv"));
  const dir = Deno.makeTempDirSync();
  // Two finished runs whose model files exist (the committed ones), and no measure cache beside.
  const [head, ...rows] = Deno.readTextFileSync(join(repo, "results/fashion-mnist-default.csv"))
    .trim().split("\n");
  const path = join(dir, "grid.csv");
  Deno.writeTextFileSync(path, [head, ...rows.slice(0, 2)].join("\n") + "\n");
  const data = await loadMechanism([path], { readOnly: [path], progress: "none" });
  assert.equal(data.files.length, 1);
  assert.deepEqual(
    { runs: data.files[0].runs, computed: data.files[0].computed, read: data.files[0].read },
    { runs: 2, computed: 0, read: 0 },
  );
  assert.equal(data.records.length, 0);
  assert.throws(() => Deno.statSync(join(dir, "grid.sharpness.csv")), Deno.errors.NotFound);
  const text = filesMarkdown({
    ...data,
    files: [{ ...data.files[0], path: READ_ONLY_RESULTS[0] }],
  });
  assert.match(text, /2 run\(s\) with a model file, 0 of them measured/);
  assert.match(
    text,
    /bin\/deno task sharpness --results results\/cifar10-jpeg-cpu\.csv` measures the other 2/,
  );
  Deno.removeSync(dir, { recursive: true });
});
