/**
 * Run keys are identities: a committed results row is found again only while its key comes out
 * the same. These pins hold keys of committed runs (results/fashion-mnist-default.csv) and of
 * hashKey's own edge cases (sorted keys at any depth, an undefined member, a character outside
 * the BMP, whose first UTF-16 unit alone is hashed: how every committed key was computed).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { hashKey, planGrid } from "../lib/experiments/plan.ts";
import { readResults } from "../lib/experiments/results.ts";

const root = new URL("..", import.meta.url).pathname;

const COMMITTED: [row: string, seed: number, key: string][] = [
  ["ST", 0, "kbbbfbeb4"],
  ["SAM-0.1", 1, "k632c20ad"],
  ["AT-l2-128", 2, "k9770f704"],
];

Deno.test("run keys: planGrid still computes the committed runs' keys", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const plan = planGrid({
      dataset: "fashion-mnist",
      preset: "default",
      resultsPath: join(dir, "fashion-mnist-default.csv"),
    });
    for (const [row, seed, key] of COMMITTED) {
      const run = plan.runs.find((r) => r.row.id === row && r.seed === seed);
      assert.equal(run?.runKey, key, `${row} seed ${seed}`);
    }
    // The pins are the committed file's own keys.
    const committed = readResults(join(root, "results", "fashion-mnist-default.csv"));
    for (const [row, seed, key] of COMMITTED) {
      assert.ok(
        committed.some((r) => r.row_id === row && r.seed === seed && r.run_key === key),
        `${row} seed ${seed}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run keys: hashKey of canonical JSON, pinned", () => {
  assert.equal(
    hashKey({ b: [1, "é😀", null, { z: true, a: 0.1 }], a: undefined }),
    "k0e9baa78",
  );
  assert.equal(hashKey({ a: undefined, b: [1, "é😀", null, { a: 0.1, z: true }] }), "k0e9baa78");
  assert.equal(hashKey("x"), "kd3df591f");
  assert.equal(hashKey([]), "k741638a5");
});
