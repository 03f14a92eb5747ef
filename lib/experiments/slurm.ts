/**
 * The training grid on a Slurm cluster (the engine's Slurm: lib/jobs/slurm.ts): one array task
 * per planned run that still has work left, from the templates in scripts/slurm/, each running
 * `experiment --shard` for its run (shards.ts), and a merge job that folds the shards in and names
 * the runs that did not finish, by row and seed. The manifest of the submission
 * (<runs dir>/slurm/manifest.json) tells the merge which runs to expect.
 */
import { join, resolve } from "node:path";
import {
  checkSlurmOptions,
  fillTemplate,
  readManifest as readManifestAt,
  refuseSpaces,
  sbatchLines,
  shellWord,
  type SlurmManifest,
  type SlurmOptions,
  submitArray,
  type Submitted,
  unfinishedTasks,
} from "../jobs/slurm.ts";
import { REPO_ROOT as REPO_ROOT_SLASH } from "../util/repo_root.ts";
import { ExperimentError } from "./grid.ts";
import {
  defaultResultsPath,
  type GridPlan,
  planGrid,
  type PlanOptions,
  resolvePreset,
  runComplete,
  shownPath,
} from "./plan.ts";
import { describeProblems, mergeShards, shardPathFor, shardsDirFor } from "./shards.ts";

export {
  checkSlurmOptions,
  shellWord,
  type SlurmOptions,
  slurmOptionsFrom,
  type Submitted,
} from "../jobs/slurm.ts";

const REPO_ROOT = REPO_ROOT_SLASH.replace(/\/$/, "");

/** An array task's run, as the manifest records it. */
export interface ManifestRun {
  task: number;
  row: string;
  seed: number;
  runKey: string;
  shard: string;
}

export interface GridManifest extends SlurmManifest<ManifestRun> {
  dataset: string;
  preset: string;
  resultsPath: string;
}

export interface SlurmJob {
  plan: GridPlan;
  /** The runs with work left, in array-task order. */
  runs: GridPlan["runs"];
  dir: string;
  logDir: string;
  arrayScript: string;
  mergeScript: string;
}

/** Where a results file's Slurm scripts, logs and manifest live (git-ignored). */
export function slurmDirFor(plan: GridPlan): string {
  return join(plan.runsDir, "slurm");
}

/** The options every task and the merge repeat, so they plan exactly the runs planned here. */
function commonArgs(plan: GridPlan, s: SlurmOptions): string[] {
  return [
    "--dataset",
    plan.preset.dataset,
    "--preset",
    plan.preset.name,
    "--results",
    plan.resultsPath,
    ...(s.backend ? ["--backend", s.backend] : []),
    ...(plan.preset.train.convPrecision === "bf16" ? ["--conv-precision", "bf16"] : []),
    ...(s.stepEngine ? ["--step-engine", s.stepEngine] : []),
    ...(plan.dataDir !== undefined ? ["--data-dir", plan.dataDir] : []),
  ];
}

/**
 * The job array and merge job for the runs of a plan that have work left. Writes nothing.
 * The preset must be a named one (tasks find it by name).
 */
export function prepareSlurm(o: PlanOptions, s: SlurmOptions = {}): SlurmJob {
  checkSlurmOptions(s);
  // Tasks start in the repository: every path they are given is absolute.
  const preset = resolvePreset(o);
  const plan = planGrid({
    ...o,
    resultsPath: resolve(o.resultsPath ?? defaultResultsPath(preset.dataset, preset.name)),
  });
  const runs = plan.runs.filter((r) => !runComplete(r));
  const dir = slurmDirFor(plan);
  const logDir = join(dir, "logs");
  refuseSpaces([REPO_ROOT, logDir]);
  const args = commonArgs(plan, s).map(shellWord).join(" ");
  const name = `sam-at-${plan.preset.dataset}-${plan.preset.name}`;
  const arrayScript = fillTemplate("array.sbatch", {
    JOB_NAME: name,
    LAST_TASK: String(Math.max(0, runs.length - 1)),
    LOG_DIR: logDir,
    REPO: REPO_ROOT,
    SBATCH_OPTIONS: sbatchLines([
      ["partition", s.partition],
      ["cpus-per-task", s.cpusPerTask],
      ["gpus-per-task", s.gpusPerTask || undefined],
      ["time", s.time],
    ]),
    RUNS: runs.map((r) => shellWord(`${r.row.id} ${r.seed}`)).join(" "),
    ARGS: args + (s.keepCheckpoints ? " --keep-checkpoints" : ""),
  });
  const mergeScript = fillTemplate("merge.sbatch", {
    JOB_NAME: name,
    LOG_DIR: logDir,
    REPO: REPO_ROOT,
    SBATCH_OPTIONS: sbatchLines([["partition", s.partition], ["time", s.time]]),
    ARGS: args,
  });
  return { plan, runs, dir, logDir, arrayScript, mergeScript };
}

export function manifestPath(plan: GridPlan): string {
  return join(slurmDirFor(plan), "manifest.json");
}

export function readManifest(plan: GridPlan): GridManifest | null {
  return readManifestAt<ManifestRun>(manifestPath(plan)) as GridManifest | null;
}

/**
 * Write the scripts and submit the array, then the merge job depending on it. Refuses while the
 * previous submission's array is still queued or running: its tasks would share shards with the
 * new ones.
 */
export async function submitSlurm(
  job: SlurmJob,
  s: SlurmOptions = {},
  log: (line: string) => void = console.log,
): Promise<Submitted | null> {
  const { plan } = job;
  if (job.runs.length === 0) {
    log(`Nothing to submit: every planned run is complete in ${shownPath(plan.resultsPath)}.`);
    return null;
  }
  const manifest: GridManifest = {
    dataset: plan.preset.dataset,
    preset: plan.preset.name,
    resultsPath: plan.resultsPath,
    submittedAt: new Date().toISOString(),
    arrayJobId: null,
    mergeJobId: null,
    logDir: job.logDir,
    runs: job.runs.map((r, task) => ({
      task,
      row: r.row.id,
      seed: r.seed,
      runKey: r.runKey,
      shard: shardPathFor(plan.resultsPath, r),
    })),
  };
  return await submitArray(
    {
      dir: job.dir,
      logDir: job.logDir,
      folders: [shardsDirFor(plan.resultsPath)],
      arrayScript: job.arrayScript,
      mergeScript: job.mergeScript,
      manifestPath: manifestPath(plan),
      manifest,
      mergeCommand: `bin/deno task experiment ${
        commonArgs(plan, s).map(shellWord).join(" ")
      } --merge`,
      tasks: `${job.runs.length} task(s): ${
        job.runs.map((r) => `${r.row.id} seed ${r.seed}`).join(", ")
      }`,
      resultsPath: plan.resultsPath,
    },
    s,
    log,
  );
}

export interface MergeReport {
  runsAdded: number;
  evalsAdded: number;
  duplicates: number;
  shards: number;
  /** Runs of the last submission still not complete after the merge. */
  failed: { task: number; row: string; seed: number; log: string | null }[];
}

/**
 * Merge the shards into the results file, then check the last submission's runs: each one not
 * complete is reported by row and seed with its task's log. Throws one ExperimentError naming the
 * damaged shards and failed runs after everything mergeable was merged.
 */
export function mergeResults(
  o: PlanOptions & { backend?: string },
  log: (line: string) => void = console.log,
): MergeReport {
  const plan0 = planGrid(o);
  const merged = mergeShards(plan0.resultsPath);
  log(
    `Merged ${merged.shards.length} shard(s) into ${
      shownPath(plan0.resultsPath)
    }: ${merged.runsAdded} run row(s) and ${merged.evalsAdded} evaluation row(s) added, ${merged.duplicates} already there.`,
  );
  const manifest = readManifest(plan0);
  const failed: MergeReport["failed"] = [];
  if (manifest && manifest.runs.length) {
    const plan = planGrid({
      ...o,
      rows: [...new Set(manifest.runs.map((r) => r.row))],
      seeds: [...new Set(manifest.runs.map((r) => r.seed))],
    });
    const byKey = new Map(plan.runs.map((r) => [r.runKey, r]));
    const complete = (m: ManifestRun) => {
      const r = byKey.get(m.runKey);
      return r !== undefined && runComplete(r);
    };
    for (const f of unfinishedTasks(manifest, complete)) {
      failed.push({ task: f.task, row: f.row, seed: f.seed, log: f.log });
    }
  }
  const rerun = (row: string, seed: number) =>
    `bin/deno task experiment ${
      commonArgs(plan0, { backend: o.backend }).map(shellWord).join(" ")
    } --rows ${shellWord(row)} --seeds ${seed} --shard`;
  const messages: string[] = [];
  if (merged.problems.length) messages.push(describeProblems(merged.problems, rerun));
  if (failed.length) {
    messages.push(
      `${failed.length} of ${manifest!.runs.length} run(s) of job array ${
        manifest!.arrayJobId
      } did not finish: ${
        failed.map((f) =>
          `${f.row} seed ${f.seed} (task ${f.task}${f.log ? `, log ${shownPath(f.log)}` : ""})`
        ).join(", ")
      }. Read the logs, then submit again with --slurm (only runs with work left are submitted; they resume from their checkpoints).`,
    );
  }
  if (messages.length) throw new ExperimentError(messages.join("\n"));
  return {
    runsAdded: merged.runsAdded,
    evalsAdded: merged.evalsAdded,
    duplicates: merged.duplicates,
    shards: merged.shards.length,
    failed,
  };
}
