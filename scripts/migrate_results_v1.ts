/**
 * Convert a first-version results CSV (one wide row per run) into the runs + evaluations files:
 *   bin/deno run -A scripts/migrate_results_v1.ts OLD.csv [--dataset D] [--preset P] [--results NEW.csv]
 * The old file is left as it is; NEW.csv (default: the preset's results path) must not exist yet.
 */
import { migrateV1 } from "../lib/experiments/migrate_v1.ts";
import { planGrid } from "../lib/experiments/plan.ts";
import { appendEval, appendRun, evalsPathFor, readResults } from "../lib/experiments/results.ts";
import { fail, parseCli, runCli } from "./cli.ts";

const HELP =
  "usage: bin/deno run -A scripts/migrate_results_v1.ts --old OLD.csv [--dataset D] [--preset P] [--results NEW.csv]";
const args = parseCli({
  old: { type: "string" },
  dataset: { type: "string", default: "fashion-mnist" },
  preset: { type: "string", default: "default" },
  results: { type: "string" },
}, HELP);

await runCli(async () => {
  if (!args.old) fail(`Give the old results file with --old; ${HELP}`);
  const oldRows = readResults(args.old);
  if (oldRows.length === 0) fail(`${args.old} holds no results rows.`);
  const plan = planGrid({ dataset: args.dataset, preset: args.preset, resultsPath: args.results });
  for (const p of [plan.resultsPath, evalsPathFor(plan.resultsPath)]) {
    try {
      Deno.statSync(p);
      fail(`${p} exists already; move it away or name another --results.`);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  const m = migrateV1(oldRows, plan);
  for (const r of m.runs) appendRun(plan.resultsPath, r);
  for (const e of m.evals) appendEval(plan.resultsPath, e);
  console.log(
    `${m.runs.length} runs and ${m.evals.length} evaluations written to ${plan.resultsPath} and ${
      evalsPathFor(plan.resultsPath)
    }.`,
  );
  await Promise.resolve();
});
