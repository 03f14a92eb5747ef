/**
 * The grid on a Slurm cluster: one job array with one task per planned run that still has work
 * left, and a merge job that runs after every task has ended (--dependency=afterany), both from
 * the templates in scripts/slurm/. Tasks write results shards (shards.ts), never the results
 * file; the merge folds them in and names the runs that did not finish, by row and seed. A
 * manifest of the submission (<runs dir>/slurm/manifest.json) tells the merge which runs to expect.
 */
import { dirname, join, resolve } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.ts";
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
import { REPO_ROOT as REPO_ROOT_SLASH } from "../util/repo_root.ts";

const REPO_ROOT = REPO_ROOT_SLASH.replace(/\/$/, "");
const TEMPLATES = join(REPO_ROOT, "scripts", "slurm");

export interface SlurmOptions {
  partition?: string;
  gpusPerTask?: number;
  cpusPerTask?: number;
  /** Slurm time limit of each array task: "HH:MM:SS", "D-HH:MM:SS", minutes, ... */
  time?: string;
  /** Passed to every task (default: SAM_AT_BACKEND, which sbatch exports, or tensorflow). */
  backend?: string;
  /** Passed to every task when set: "graph" or "eager" (default: each task's backend's, speed_settings.ts). */
  stepEngine?: string;
  keepCheckpoints?: boolean;
  /** The sbatch and squeue commands (tests point them elsewhere). */
  sbatch?: string;
  squeue?: string;
}

export interface SlurmManifest {
  dataset: string;
  preset: string;
  resultsPath: string;
  submittedAt: string;
  arrayJobId: string | null;
  mergeJobId: string | null;
  logDir: string;
  /** Array task i trains runs[i]. */
  runs: { task: number; row: string; seed: number; runKey: string; shard: string }[];
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

/** A word for a POSIX shell, quoted only when it needs to be. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

const TIME = /^(\d+-)?\d+(:\d+){0,2}$|^\d+-\d+$/;
const NAME = /^[A-Za-z0-9_.,-]+$/;

/** Check the Slurm options before anything is written or submitted; returns them. */
export function checkSlurmOptions(s: SlurmOptions): SlurmOptions {
  const count = (flag: string, v: number | undefined, min: number) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min)) {
      throw new ExperimentError(`${flag} must be a whole number of at least ${min}, not ${v}.`);
    }
  };
  count("--gpus-per-task", s.gpusPerTask, 0);
  count("--cpus-per-task", s.cpusPerTask, 1);
  if (s.time !== undefined && !TIME.test(s.time)) {
    throw new ExperimentError(
      `--time must be a Slurm time limit such as 24:00:00 or 2-00:00:00, not ${
        JSON.stringify(s.time)
      }.`,
    );
  }
  if (s.partition !== undefined && !NAME.test(s.partition)) {
    throw new ExperimentError(
      `--partition must be a partition name (letters, digits, '_', '.', '-'; a comma list for several), not ${
        JSON.stringify(s.partition)
      }.`,
    );
  }
  return s;
}

/** The Slurm options of the command line (strings), checked; an option without --slurm is refused. */
export function slurmOptionsFrom(
  a: Record<string, string | boolean | undefined>,
  backend?: string,
): SlurmOptions {
  const given = ["partition", "gpus-per-task", "cpus-per-task", "time"].filter((k) =>
    a[k] !== undefined
  );
  if (!a.slurm && given.length) {
    throw new ExperimentError(`--${given[0]} applies only with --slurm; add --slurm or drop it.`);
  }
  const modes = ["slurm", "merge", "shard"].filter((k) => a[k]);
  if (modes.length > 1) {
    throw new ExperimentError(`--${modes[0]} and --${modes[1]} do different things; give one.`);
  }
  if ((a.merge || a.shard) && a["dry-run"]) {
    throw new ExperimentError(
      `--dry-run lists runs or prints the --slurm scripts; --${
        a.merge ? "merge" : "shard"
      } has no dry run.`,
    );
  }
  const int = (k: string) => {
    const v = a[k];
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(String(v))) {
      throw new ExperimentError(
        `--${k} must be a whole number (e.g. 1), not ${JSON.stringify(v)}.`,
      );
    }
    return Number(v);
  };
  return checkSlurmOptions({
    partition: a.partition as string | undefined,
    gpusPerTask: int("gpus-per-task"),
    cpusPerTask: int("cpus-per-task"),
    time: a.time as string | undefined,
    backend,
    stepEngine: a["step-engine"] as string | undefined,
    keepCheckpoints: a["keep-checkpoints"] === true,
  });
}

function fill(template: string, values: Record<string, string>): string {
  const text = Deno.readTextFileSync(join(TEMPLATES, template));
  return text.replace(/@([A-Z_]+)@/g, (m, k) => {
    if (!(k in values)) throw new Error(`${template}: no value for ${m}`);
    return values[k];
  });
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
  // #SBATCH lines are not shell: a path with spaces cannot be written there safely.
  for (const p of [REPO_ROOT, logDir]) {
    if (/\s/.test(p)) {
      throw new ExperimentError(
        `Slurm scripts cannot name a folder with spaces (${p}): move the repository or pass --results in a folder without spaces.`,
      );
    }
  }
  const sbatch = (lines: [string, unknown][]) =>
    lines.filter(([, v]) => v !== undefined).map(([k, v]) => `#SBATCH --${k}=${v}`).join("\n");
  const args = commonArgs(plan, s).map(shellWord).join(" ");
  const name = `sam-at-${plan.preset.dataset}-${plan.preset.name}`;
  const arrayScript = fill("array.sbatch", {
    JOB_NAME: name,
    LAST_TASK: String(Math.max(0, runs.length - 1)),
    LOG_DIR: logDir,
    REPO: REPO_ROOT,
    SBATCH_OPTIONS: sbatch([
      ["partition", s.partition],
      ["cpus-per-task", s.cpusPerTask],
      ["gpus-per-task", s.gpusPerTask || undefined],
      ["time", s.time],
    ]),
    RUNS: runs.map((r) => shellWord(`${r.row.id} ${r.seed}`)).join(" "),
    ARGS: args + (s.keepCheckpoints ? " --keep-checkpoints" : ""),
  });
  const mergeScript = fill("merge.sbatch", {
    JOB_NAME: name,
    LOG_DIR: logDir,
    REPO: REPO_ROOT,
    SBATCH_OPTIONS: sbatch([["partition", s.partition], ["time", s.time]]),
    ARGS: args,
  });
  return { plan, runs, dir, logDir, arrayScript, mergeScript };
}

/** Run a Slurm command; a missing command is the user's to fix, in one sentence. */
async function slurmCommand(
  cmd: string,
  args: string[],
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const dec = new TextDecoder();
    return { ok: out.success, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new ExperimentError(
        `${cmd} is not on PATH: run --slurm on a Slurm login node (for one machine: bash scripts/setup_slurm.sh), or add --dry-run to only print the job script.`,
      );
    }
    throw err;
  }
}

/** sbatch's refusal as one sentence that names the fix. */
function sbatchError(stderr: string, s: SlurmOptions): ExperimentError {
  const said = stderr.split("\n").map((l) => l.replace(/^sbatch: (error: )?/, "").trim())
    .filter(Boolean);
  const text = said.join("; ") || "no message";
  if (
    /configuration source|slurm\.conf|contact slurm controller|Zero Bytes were transmitted/i.test(
      text,
    )
  ) {
    return new ExperimentError(
      `sbatch cannot reach a Slurm controller (sbatch: ${text}): run --slurm on the cluster's login node, or point SLURM_CONF at the cluster's slurm.conf.`,
    );
  }
  if (/partition/i.test(text)) {
    return new ExperimentError(
      s.partition === undefined
        ? `Slurm needs a partition (sbatch: ${text}): name one that \`sinfo -s\` lists with --partition.`
        : `Slurm has no usable partition ${
          JSON.stringify(s.partition)
        } (sbatch: ${text}): pick one that \`sinfo -s\` lists with --partition.`,
    );
  }
  if (/gres|gpu/i.test(text)) {
    return new ExperimentError(
      `Slurm refused --gpus-per-task ${s.gpusPerTask} (sbatch: ${text}): pick a GPU partition with --partition (\`sinfo -o "%P %G"\` lists them) or drop --gpus-per-task.`,
    );
  }
  if (/time limit/i.test(text)) {
    return new ExperimentError(
      `Slurm refused --time ${s.time} (sbatch: ${text}): pick a limit within the partition's (\`sinfo -s\` shows it).`,
    );
  }
  return new ExperimentError(
    `sbatch refused the job (${text}): fix the option it names, or see the script with --dry-run.`,
  );
}

async function submit(
  s: SlurmOptions,
  script: string,
  extra: string[] = [],
): Promise<string> {
  const out = await slurmCommand(s.sbatch ?? "sbatch", ["--parsable", ...extra, script]);
  if (!out.ok) throw sbatchError(out.stderr, s);
  const id = /^(\d+)/.exec(out.stdout.trim())?.[1];
  if (!id) {
    throw new ExperimentError(
      `sbatch printed no job id (${out.stdout.trim() || out.stderr.trim()}).`,
    );
  }
  return id;
}

export function manifestPath(plan: GridPlan): string {
  return join(slurmDirFor(plan), "manifest.json");
}

export function readManifest(plan: GridPlan): SlurmManifest | null {
  try {
    return JSON.parse(Deno.readTextFileSync(manifestPath(plan)));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new ExperimentError(
      `${
        shownPath(manifestPath(plan))
      } is not readable (${err}): delete it; it only lists the runs the last --slurm submitted.`,
    );
  }
}

function writeJson(path: string, value: unknown): void {
  Deno.mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n"));
}

export interface Submitted {
  arrayJobId: string;
  mergeJobId: string;
  tasks: number;
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
  const previous = readManifest(plan);
  if (previous?.arrayJobId) {
    const q = await slurmCommand(s.squeue ?? "squeue", [
      "-h",
      "-o",
      "%i",
      "-j",
      previous.arrayJobId,
    ])
      .catch(() => null);
    if (q?.ok && q.stdout.trim() !== "") {
      const jobs = [previous.arrayJobId, previous.mergeJobId].filter(Boolean).join(" ");
      throw new ExperimentError(
        `Job array ${previous.arrayJobId} of the previous --slurm is still queued or running: wait for it (squeue -j ${previous.arrayJobId}) or cancel it (scancel ${jobs}) before submitting again.`,
      );
    }
  }
  Deno.mkdirSync(job.logDir, { recursive: true });
  Deno.mkdirSync(shardsDirFor(plan.resultsPath), { recursive: true });
  const arrayPath = join(job.dir, "array.sbatch");
  const mergePath = join(job.dir, "merge.sbatch");
  Deno.writeTextFileSync(arrayPath, job.arrayScript);
  Deno.writeTextFileSync(mergePath, job.mergeScript);
  const manifest: SlurmManifest = {
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
  const arrayJobId = await submit(s, arrayPath);
  manifest.arrayJobId = arrayJobId;
  writeJson(manifestPath(plan), manifest);
  let mergeJobId: string;
  try {
    mergeJobId = await submit(s, mergePath, [`--dependency=afterany:${arrayJobId}`]);
  } catch (err) {
    throw new ExperimentError(
      `Job array ${arrayJobId} was submitted but its merge job was not (${
        err instanceof Error ? err.message : err
      }); when the array has ended, merge by hand: bin/deno task experiment ${
        commonArgs(plan, s).map(shellWord).join(" ")
      } --merge`,
    );
  }
  manifest.mergeJobId = mergeJobId;
  writeJson(manifestPath(plan), manifest);
  log(
    `Submitted job array ${arrayJobId} (${job.runs.length} task(s): ${
      job.runs.map((r) => `${r.row.id} seed ${r.seed}`).join(", ")
    }) and merge job ${mergeJobId} (after the array ends). Watch: squeue -j ${arrayJobId},${mergeJobId}; task logs in ${
      shownPath(job.logDir)
    }; merged results in ${shownPath(plan.resultsPath)}.`,
  );
  return { arrayJobId, mergeJobId, tasks: job.runs.length };
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
    for (const m of manifest.runs) {
      const r = byKey.get(m.runKey);
      if (r && runComplete(r)) continue;
      failed.push({
        task: m.task,
        row: m.row,
        seed: m.seed,
        log: manifest.arrayJobId
          ? join(manifest.logDir, `${manifest.arrayJobId}_${m.task}.out`)
          : null,
      });
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
