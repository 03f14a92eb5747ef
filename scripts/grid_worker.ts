/**
 * One of runGrid's local worker processes (lib/jobs/workers.ts), started by the runner with
 * TensorFlow limited to one thread: it plans the grid described by the JSON argument and works
 * on the runs no other process holds. Not meant to be started by hand.
 */
import { runGrid } from "../lib/experiments/runner.ts";
import type { WorkerSpec } from "../lib/experiments/workers.ts";
import type { SharedSpec } from "../lib/jobs/workers.ts";
import { runCli } from "./cli.ts";

await runCli(async () => {
  const { share, ...spec } = JSON.parse(Deno.args[0] ?? "{}") as SharedSpec<WorkerSpec>;
  await runGrid({ ...spec, workers: 1, workerShare: share });
});
