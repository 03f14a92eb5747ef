/**
 * Run (or resume) the paper's grid, or any part of it: one runs-CSV row per trained run, one
 * evaluations-CSV row per (run, evaluation), one saved model per run.
 *
 *   bin/deno task experiment [--dataset fashion-mnist] [--preset default] [--rows all|ID,ID,...]
 *                            [--seeds 0,1,2] [--backend tensorflow] [--conv-precision fp32|bf16]
 *                            [--results PATH] [--data-dir PATH]
 *                            [--keep-checkpoints] [--dry-run] [--help]
 *   bin/deno task experiment ... --slurm [--partition P] [--gpus-per-task N] [--cpus-per-task N]
 *                                        [--time HH:MM:SS] [--dry-run]   (lib/experiments/slurm.ts)
 *   bin/deno task experiment ... --merge                                  (lib/experiments/shards.ts)
 *
 * Runs already in the results CSV with the same settings are skipped; a run that was interrupted
 * resumes from its checkpoint (under results/runs/<results name>/checkpoints/). All the logic is
 * runGrid in lib/experiments/runner.ts; this file only parses the command line.
 */
import type { ConvPrecision } from "../lib/backend/bf16_convs.ts";
import { DATASET_NAMES as DATASETS, datasetSpec } from "../lib/data/registry.ts";
import { ALL_ROWS, EXTRA_ROWS, RHO_NOTE } from "../lib/experiments/grid.ts";
import {
  describePlan,
  formatEstimate,
  presetsWithRow,
  readPlan,
  runComplete,
  shownPath,
} from "../lib/experiments/plan.ts";
import { workersEstimate } from "../lib/experiments/workers.ts";
import type { Workers } from "../lib/jobs/workers.ts";
import { DEFAULT_PRESET, getPreset, PRESETS } from "../lib/experiments/presets.ts";
import { checkGridOptions, runGrid } from "../lib/experiments/runner.ts";
import type { StepEngine } from "../lib/training/train.ts";
import { runShard } from "../lib/experiments/shards.ts";
import {
  mergeResults,
  prepareSlurm,
  slurmOptionsFrom,
  submitSlurm,
} from "../lib/experiments/slurm.ts";
import { parseCli, runCli } from "./cli.ts";

const HELP = `Run the paper's training grid (or part of it): train, save each model, evaluate.

usage: bin/deno task experiment [options]

  --dataset NAME      ${DATASETS.join(" | ")} (default fashion-mnist)
  --preset NAME       settings of the runs; without --preset, the first one listed:
${
  // The default first, not "(default: default)": fashion-mnist's default preset is named "default".
  DATASETS.map((d) =>
    `                        ${d}: ${
      [DEFAULT_PRESET[d], ...Object.keys(PRESETS[d]).filter((n) => n !== DEFAULT_PRESET[d])]
        .join(", ")
    }`
  ).join("\n")}
  --rows LIST         all (default: the preset's rows) or a comma list of the preset's row ids:
                        ${ALL_ROWS.map((r) => r.id).join(", ")}
                      (AT eps in 1/255 units; "AT-linf-1/255" is accepted too);
                      ${EXTRA_ROWS.map((r) => r.id).join(", ")} only in presets that list them (${
  DATASETS.map((d) =>
    [d, [...new Set(EXTRA_ROWS.flatMap((r) => presetsWithRow(d, r.id)))]] as const
  )
    .filter(([, names]) => names.length).map(([d, names]) => `${d}: ${names.join(", ")}`).join("; ")
})
  --seeds LIST        comma list of seeds (default: the preset's)
  --backend NAME      tensorflow | tensorflow-gpu | wasm (default: SAM_AT_BACKEND or tensorflow)
  --conv-precision P  fp32 (default) | bf16: train with bfloat16 convolutions (tensorflow backend;
                      evaluations stay fp32; results default to results/<dataset>-<preset>-bf16.csv)
  --step-engine E     graph (default on the tensorflow backend) | eager: graph runs each training
                      step and each attack iteration as one libtensorflow graph once it gave the
                      eager step's results bit for bit (else that step stays eager; speed in
                      bench/NOTES.md; rows say "+graph-steps"); eager (the default on other
                      backends) runs op by op, the reference the graph is checked against
  --results PATH      runs CSV (default results/<dataset>-<preset>.csv; evaluations go to
                      <name>.evals.csv beside it, models to models/<name>/)
  --data-dir PATH     where the dataset is: a folder (or, for cifar10-jpeg, an archive) instead
                      of the dataset's default place; worker processes and Slurm tasks get it
                      too. Where the data is read from only: runs and results are the same
  --workers N|auto    processes that share the runs (default auto: one per core, each with one
                      TensorFlow thread, ~1.5x the throughput of one process on 2 cores for the
                      small CNN; 1: this process alone, TensorFlow's own threads; the thread count
                      changes results in the last bits, so keep one setting per results file)
  --keep-checkpoints  keep each run's checkpoint after its row is written
  --dry-run           list the runs (done / resume / new) and the estimated time; run nothing
                      (with --slurm: print the job scripts; submit nothing)
  --help              this text

On a Slurm cluster (run on the login node; the repository on a shared file system):
  --slurm             submit one job array, one task per run with work left, each writing its own
                      results shard, and a merge job that runs after it (--dependency=afterany)
  --partition P       Slurm partition of the tasks and the merge job
  --gpus-per-task N   GPUs per task (use with --backend tensorflow-gpu)
  --cpus-per-task N   CPU cores per task
  --time T            time limit per task, e.g. 24:00:00 or 2-00:00:00
  --merge             merge the shards into the results file by hand (duplicates skipped; merging
                      twice changes nothing) and name the submitted runs that did not finish
  --shard             what an array task runs: train the one run of --rows/--seeds into its shard

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
  "conv-precision": { type: "string" },
  "step-engine": { type: "string" },
  results: { type: "string" },
  "data-dir": { type: "string" },
  workers: { type: "string", default: "auto" },
  "keep-checkpoints": { type: "boolean", default: false },
  "dry-run": { type: "boolean", default: false },
  slurm: { type: "boolean", default: false },
  partition: { type: "string" },
  "gpus-per-task": { type: "string" },
  "cpus-per-task": { type: "string" },
  time: { type: "string" },
  merge: { type: "boolean", default: false },
  shard: { type: "boolean", default: false },
}, HELP);

await runCli(async () => {
  const preset = getPreset(args.dataset, args.preset);
  const options = {
    dataset: args.dataset,
    preset: preset.name,
    rows: args.rows,
    seeds: args.seeds,
    backend: args.backend,
    convPrecision: args["conv-precision"] as ConvPrecision | undefined,
    stepEngine: args["step-engine"] as StepEngine | undefined,
    resultsPath: args.results,
    dataDir: args["data-dir"],
    keepCheckpoints: args["keep-checkpoints"],
    workers: args.workers as Workers,
  };
  // Every option (SAM_AT_BACKEND and the results path included) fails here, before any work:
  // the one check of the grid's options; runGrid takes the checked grid as it is.
  const grid = checkGridOptions(options);
  const slurm = slurmOptionsFrom(args, args.backend);
  if (args.slurm) {
    const job = prepareSlurm(options, slurm);
    if (!args["dry-run"]) await submitSlurm(job, slurm);
    else if (job.runs.length === 0) {
      console.log("Nothing to submit: every planned run is complete.");
    } else {
      console.log(`${job.arrayScript}\n# --- merge job (after the array) ---\n${job.mergeScript}`);
    }
  } else if (args.merge) {
    mergeResults(options);
  } else if (args.shard) {
    await runShard(options);
  } else if (args["dry-run"]) {
    const plan = readPlan(grid.spec);
    if (plan.datasetSource) {
      console.log(
        `Dataset ${datasetSpec(plan.preset.dataset).title}: found at ${
          shownPath(plan.datasetSource)
        }.`,
      );
    }
    console.log(describePlan(plan));
    const n = grid.workers;
    const left = plan.runs.filter((r) => !runComplete(r));
    if (n > 1 && left.length > 0) {
      const total = left.reduce((s, r) => s + r.estimatedSeconds, 0);
      const seconds = workersEstimate(total, left.length, n);
      console.log(
        `With ${Math.min(n, left.length)} worker${
          Math.min(n, left.length) === 1 ? "" : "s"
        } (--workers ${args.workers}): estimated ${
          formatEstimate(seconds)
        }.`,
      );
    }
    console.log(`\nPreset notes: ${preset.notes}`);
  } else {
    await runGrid(grid);
  }
});
