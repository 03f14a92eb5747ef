/**
 * Run (or resume) the paper's grid, or any part of it: one runs-CSV row per trained run, one
 * evaluations-CSV row per (run, evaluation), one saved model per run.
 *
 *   bin/deno task experiment [--dataset fashion-mnist] [--preset default] [--rows all|ID,ID,...]
 *                            [--seeds 0,1,2] [--backend tensorflow] [--results PATH]
 *                            [--keep-checkpoints] [--dry-run] [--help]
 *
 * Runs already in the results CSV with the same settings are skipped; a run that was interrupted
 * resumes from its checkpoint (under results/runs/<results name>/checkpoints/). All the logic is
 * runGrid in lib/experiments/runner.ts; this file only parses the command line.
 */
import { parseBackend } from "../lib/backend/backend.ts";
import { DATASET_NAMES as DATASETS } from "../lib/data/registry.ts";
import { ALL_ROWS, RHO_NOTE } from "../lib/experiments/grid.ts";
import { describePlan, planGrid } from "../lib/experiments/plan.ts";
import { DEFAULT_PRESET, getPreset, PRESETS } from "../lib/experiments/presets.ts";
import { runGrid } from "../lib/experiments/runner.ts";
import { parseCli, runCli } from "./cli.ts";

const HELP = `Run the paper's training grid (or part of it): train, save each model, evaluate.

usage: bin/deno task experiment [options]

  --dataset NAME      ${DATASETS.join(" | ")} (default fashion-mnist)
  --preset NAME       settings of the runs; per dataset:
${
  DATASETS.map((d) =>
    `                        ${d}: ${Object.keys(PRESETS[d]).join(", ")} (default: ${
      DEFAULT_PRESET[d]
    })`
  ).join("\n")
}
  --rows LIST         all (default: the preset's rows) or a comma list of row ids:
                        ${ALL_ROWS.map((r) => r.id).join(", ")}
                      (AT eps in 1/255 units; "AT-linf-1/255" is accepted too)
  --seeds LIST        comma list of seeds (default: the preset's)
  --backend NAME      tensorflow | tensorflow-gpu | wasm (default: SAM_AT_BACKEND or tensorflow)
  --results PATH      runs CSV (default results/<dataset>-<preset>.csv; evaluations go to
                      <name>.evals.csv beside it, models to models/<name>/)
  --keep-checkpoints  keep each run's checkpoint after its row is written
  --dry-run           list the runs (done / resume / new) and the estimated time; run nothing
  --help              this text

Runs already in the CSV with identical settings are not retrained; only their missing
evaluations run. Interrupted runs resume from their checkpoint. ${RHO_NOTE}

Examples:
  bin/deno task experiment --dry-run
  bin/deno task experiment --rows ST,SAM-0.1 --seeds 0
  bin/deno task experiment --dataset cifar10 --preset cpu`;

const args = parseCli({
  dataset: { type: "string", default: "fashion-mnist" },
  preset: { type: "string" },
  rows: { type: "string" },
  seeds: { type: "string" },
  backend: { type: "string" },
  results: { type: "string" },
  "keep-checkpoints": { type: "boolean", default: false },
  "dry-run": { type: "boolean", default: false },
}, HELP);

await runCli(async () => {
  const preset = getPreset(args.dataset, args.preset);
  if (args.backend !== undefined) parseBackend(args.backend); // a typo fails before any work
  const options = {
    dataset: args.dataset,
    preset: preset.name,
    rows: args.rows,
    seeds: args.seeds,
    backend: args.backend,
    resultsPath: args.results,
    keepCheckpoints: args["keep-checkpoints"],
  };
  if (args["dry-run"]) {
    const plan = planGrid(options);
    console.log(describePlan(plan));
    console.log(`\nPreset notes: ${preset.notes}`);
  } else {
    await runGrid(options);
  }
});
