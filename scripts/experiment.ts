/**
 * Run (or resume) the paper's grid, or any part of it, and append one CSV row per finished run.
 *
 *   bin/deno task experiment [--dataset fashion-mnist] [--preset default] [--rows all|ID,ID,...]
 *                            [--seeds 0,1,2] [--backend tensorflow] [--results PATH]
 *                            [--keep-checkpoints] [--dry-run] [--help]
 *
 * Runs already in the results CSV with the same settings are skipped; a run that was interrupted
 * resumes from its checkpoint (under results/runs/<results name>/checkpoints/). All the logic is
 * runGrid in lib/experiments/experiments.ts; this file only parses the command line.
 */
import { parseBackend } from "../lib/backend/backend.ts";
import { DATASETS } from "../lib/data/data.ts";
import {
  DEFAULT_PRESET,
  describePlan,
  getPreset,
  planGrid,
  PRESETS,
  RHO_NOTE,
  ROW_IDS,
  runGrid,
} from "../lib/experiments/experiments.ts";
import { parseCli, runCli } from "./cli.ts";

const HELP = `Run the paper's training grid (or part of it) and write one CSV row per finished run.

usage: bin/deno task experiment [options]

  --dataset NAME      ${DATASETS.join(" | ")} (default fashion-mnist)
  --preset NAME       settings of the runs; per dataset:
${
  DATASETS.map((d) =>
    `                        ${d}: ${Object.keys(PRESETS[d]).join(", ")} (default ${
      DEFAULT_PRESET[d]
    })`
  ).join("\n")
}
  --rows LIST         all (default) or a comma list of row ids:
                        ${ROW_IDS.join(", ")}
                      (AT eps in 1/255 units; "AT-linf-1/255" is accepted too)
  --seeds LIST        comma list of seeds (default: the preset's)
  --backend NAME      tensorflow | tensorflow-gpu | wasm (default: SAM_AT_BACKEND or tensorflow)
  --results PATH      results CSV (default results/<dataset>-<preset>.csv)
  --keep-checkpoints  keep each run's checkpoint after its row is written
  --dry-run           list the runs (done / resume / new) and the estimated time; run nothing
  --help              this text

Runs already in the CSV with identical settings are skipped; interrupted runs resume from their
checkpoint. ${RHO_NOTE}

Examples:
  bin/deno task experiment --dry-run
  bin/deno task experiment --rows ST,SAM-0.1 --seeds 0
  bin/deno task experiment --dataset cifar10 --preset cpu`;

const args = parseCli({
  dataset: { type: "string", default: "fashion-mnist" },
  preset: { type: "string" },
  rows: { type: "string", default: "all" },
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
