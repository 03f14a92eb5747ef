/**
 * Issue 31 #5: a runs shard cut inside its header is damage, not an empty shard: the merge names
 * it, refuses (exit 2 from the CLI) and never merges that run's evaluations without its run row.
 * No training: the shards are written by hand with the project's own appenders.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ExperimentError } from "../lib/experiments/grid.ts";
import {
  appendEval,
  appendRun,
  evalsPathFor,
  readEvals,
  readResults,
} from "../lib/experiments/results.ts";
import { mergeShards, shardsDirFor } from "../lib/experiments/shards.ts";
import { mergeResults } from "../lib/experiments/slurm.ts";
import { getPreset } from "../lib/experiments/presets.ts";

const KEYS = ["k0000000a", "k0000000b", "k0000000c", "k0000000d"];

function writeShards(resultsPath: string): string[] {
  const dir = shardsDirFor(resultsPath);
  return KEYS.map((key, seed) => {
    const shard = join(dir, `ST-seed${seed}-${key}.csv`);
    appendRun(shard, { run_key: key, row_id: "ST", seed, clean: 0.5 });
    appendEval(shard, {
      run_key: key,
      eval_key: "pgd10_linf_8_255",
      n: 8,
      accuracy: 0.25,
      robust_flags: "Aw==",
    });
    return shard;
  });
}

Deno.test("merge: a runs shard cut inside its header is named and refused; its run's evaluation row is not merged without its run row (issue 31 #5)", () => {
  const dir = Deno.makeTempDirSync({ prefix: "sam-at-merge-header-" });
  try {
    const results = join(dir, "r.csv");
    const shards = writeShards(results);
    const victim = shards[2];
    Deno.writeTextFileSync(victim, "run_id,run_key,finis"); // the copy stopped in the header
    const m = mergeShards(results);
    assert.deepEqual([m.runsAdded, m.evalsAdded], [3, 3]);
    assert.deepEqual(readResults(results).map((r) => r.run_key), [
      "k0000000a",
      "k0000000b",
      "k0000000d",
    ]);
    assert.deepEqual(
      readEvals(results).map((r) => r.run_key),
      ["k0000000a", "k0000000b", "k0000000d"],
      "no evaluation of a run without its run row",
    );
    assert.deepEqual(m.problems.map((p) => [p.path, p.message]), [
      [victim, "is damaged: its header is cut (the file does not end with a newline)"],
      [
        evalsPathFor(victim),
        "has 1 evaluation row(s) of run k0000000c, whose run row is in neither the results file nor its runs shard; they were not merged",
      ],
    ]);
    // The CLI's merge reports it as an error (exit 2), naming the shard and the rerun.
    assert.throws(
      () =>
        mergeResults(
          { preset: getPreset("fashion-mnist", "smoke"), resultsPath: results },
          () => {},
        ),
      (e) =>
        e instanceof ExperimentError &&
        /^Results shard .*ST-seed2-k0000000c\.csv is damaged: its header is cut .*--rows ST --seeds 2 --shard/
          .test(e.message),
    );
    // A header that is not a runs header at all, with a newline, is named too.
    Deno.writeTextFileSync(victim, "run_id,run_key\n");
    assert.match(mergeShards(results).problems[0].message, /^is damaged: .*not a results CSV/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
