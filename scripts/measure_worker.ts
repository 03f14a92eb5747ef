/**
 * One of computeMeasureCache's local worker processes (lib/experiments/workers.ts), started with
 * TensorFlow limited to one thread: it computes the mechanism measures of the runs named in its
 * JSON argument (runKeys) into the results file's cache. Not meant to be started by hand.
 */
import { type CacheOptions, computeMeasureCache } from "../lib/analysis/measure_run.ts";
import { runCli } from "./cli.ts";

await runCli(async () => {
  await computeMeasureCache(JSON.parse(Deno.args[0] ?? "{}") as CacheOptions);
});
