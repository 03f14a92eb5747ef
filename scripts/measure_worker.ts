/**
 * One of computeMeasureCache's local worker processes (lib/jobs/workers.ts), started with
 * TensorFlow limited to one thread: it plans the measures of the results file in its JSON
 * argument and computes those of the runs no other process holds into the file's cache. Not
 * meant to be started by hand.
 */
import { type CacheOptions, computeMeasureCache } from "../lib/analysis/measure_run.ts";
import type { SharedSpec } from "../lib/jobs/workers.ts";
import { runCli } from "./cli.ts";

await runCli(async () => {
  const { share, ...spec } = JSON.parse(Deno.args[0] ?? "{}") as SharedSpec<CacheOptions>;
  await computeMeasureCache({ ...spec, workers: 1, workerShare: share });
});
