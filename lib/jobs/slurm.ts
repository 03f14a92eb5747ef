/**
 * Jobs on a Slurm cluster: one job array with one task per job that has work left, each task
 * writing its own results shard (shards.ts), and a merge job that runs after every task has ended
 * (--dependency=afterany). A kind fills the scripts from its templates in scripts/slurm/; this
 * file checks the options, submits, keeps a manifest of the submission (which tasks to expect)
 * and names, after the merge, the tasks whose jobs did not finish.
 */
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { REPO_ROOT } from "../util/repo_root.ts";
import { shownPath } from "../util/shown_path.ts";
import { JobError } from "./job_error.ts";

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

/** What was submitted: `runs[i]` is array task i's job (the kind's fields; `task` is i). */
export interface SlurmManifest<T extends { task: number } = { task: number }> {
  submittedAt: string;
  arrayJobId: string | null;
  mergeJobId: string | null;
  logDir: string;
  runs: T[];
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
      throw new JobError(`${flag} must be a whole number of at least ${min}, not ${v}.`);
    }
  };
  count("--gpus-per-task", s.gpusPerTask, 0);
  count("--cpus-per-task", s.cpusPerTask, 1);
  if (s.time !== undefined && !TIME.test(s.time)) {
    throw new JobError(
      `--time must be a Slurm time limit such as 24:00:00 or 2-00:00:00, not ${
        JSON.stringify(s.time)
      }.`,
    );
  }
  if (s.partition !== undefined && !NAME.test(s.partition)) {
    throw new JobError(
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
    throw new JobError(`--${given[0]} applies only with --slurm; add --slurm or drop it.`);
  }
  const modes = ["slurm", "merge", "shard"].filter((k) => a[k]);
  if (modes.length > 1) {
    throw new JobError(`--${modes[0]} and --${modes[1]} do different things; give one.`);
  }
  if ((a.merge || a.shard) && a["dry-run"]) {
    throw new JobError(
      `--dry-run lists runs or prints the --slurm scripts; --${
        a.merge ? "merge" : "shard"
      } has no dry run.`,
    );
  }
  const int = (k: string) => {
    const v = a[k];
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(String(v))) {
      throw new JobError(`--${k} must be a whole number (e.g. 1), not ${JSON.stringify(v)}.`);
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

/** A template of scripts/slurm/ with every @NAME@ replaced; a name without a value is a bug. */
export function fillTemplate(template: string, values: Record<string, string>): string {
  const text = Deno.readTextFileSync(join(TEMPLATES, template));
  return text.replace(/@([A-Z_]+)@/g, (m, k) => {
    if (!(k in values)) throw new Error(`${template}: no value for ${m}`);
    return values[k];
  });
}

/** "#SBATCH --k=v" lines of the options that are set. */
export function sbatchLines(lines: [string, unknown][]): string {
  return lines.filter(([, v]) => v !== undefined).map(([k, v]) => `#SBATCH --${k}=${v}`)
    .join("\n");
}

/** #SBATCH lines are not shell: a path with spaces cannot be written there safely. */
export function refuseSpaces(paths: readonly string[]): void {
  for (const p of paths) {
    if (/\s/.test(p)) {
      throw new JobError(
        `Slurm scripts cannot name a folder with spaces (${p}): move the repository or pass --results in a folder without spaces.`,
      );
    }
  }
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
      throw new JobError(
        `${cmd} is not on PATH: run --slurm on a Slurm login node (for one machine: bash scripts/setup_slurm.sh), or add --dry-run to only print the job script.`,
      );
    }
    throw err;
  }
}

/** sbatch's refusal as one sentence that names the fix. */
function sbatchError(stderr: string, s: SlurmOptions): JobError {
  const said = stderr.split("\n").map((l) => l.replace(/^sbatch: (error: )?/, "").trim())
    .filter(Boolean);
  const text = said.join("; ") || "no message";
  if (
    /configuration source|slurm\.conf|contact slurm controller|Zero Bytes were transmitted/i.test(
      text,
    )
  ) {
    return new JobError(
      `sbatch cannot reach a Slurm controller (sbatch: ${text}): run --slurm on the cluster's login node, or point SLURM_CONF at the cluster's slurm.conf.`,
    );
  }
  if (/partition/i.test(text)) {
    return new JobError(
      s.partition === undefined
        ? `Slurm needs a partition (sbatch: ${text}): name one that \`sinfo -s\` lists with --partition.`
        : `Slurm has no usable partition ${
          JSON.stringify(s.partition)
        } (sbatch: ${text}): pick one that \`sinfo -s\` lists with --partition.`,
    );
  }
  if (/gres|gpu/i.test(text)) {
    return new JobError(
      `Slurm refused --gpus-per-task ${s.gpusPerTask} (sbatch: ${text}): pick a GPU partition with --partition (\`sinfo -o "%P %G"\` lists them) or drop --gpus-per-task.`,
    );
  }
  if (/time limit/i.test(text)) {
    return new JobError(
      `Slurm refused --time ${s.time} (sbatch: ${text}): pick a limit within the partition's (\`sinfo -s\` shows it).`,
    );
  }
  return new JobError(
    `sbatch refused the job (${text}): fix the option it names, or see the script with --dry-run.`,
  );
}

async function submit(s: SlurmOptions, script: string, extra: string[] = []): Promise<string> {
  const out = await slurmCommand(s.sbatch ?? "sbatch", ["--parsable", ...extra, script]);
  if (!out.ok) throw sbatchError(out.stderr, s);
  const id = /^(\d+)/.exec(out.stdout.trim())?.[1];
  if (!id) {
    throw new JobError(`sbatch printed no job id (${out.stdout.trim() || out.stderr.trim()}).`);
  }
  return id;
}

/** The manifest of the last submission, or null when there was none. */
export function readManifest<T extends { task: number }>(path: string): SlurmManifest<T> | null {
  try {
    return JSON.parse(Deno.readTextFileSync(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new JobError(
      `${
        shownPath(path)
      } is not readable (${err}): delete it; it only lists the runs the last --slurm submitted.`,
    );
  }
}

function writeJson(path: string, value: unknown): void {
  Deno.mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n"));
}

/** A job array and its merge job, filled in by a kind, with what the manifest records. */
export interface ArraySubmission<T extends { task: number }> {
  /** Where the scripts go (its logs under logDir). */
  dir: string;
  logDir: string;
  /** Folders the tasks write to, made before anything is submitted (the shards folder). */
  folders: readonly string[];
  arrayScript: string;
  mergeScript: string;
  manifestPath: string;
  /** The manifest to write; its job ids are filled in as they are known. */
  manifest: SlurmManifest<T>;
  /** The command that merges by hand, should the merge job not be submitted. */
  mergeCommand: string;
  /** "3 task(s): ST seed 0, ...": what the array does, for the last line. */
  tasks: string;
  /** Where the merged results go, for the last line. */
  resultsPath: string;
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
export async function submitArray<T extends { task: number }>(
  a: ArraySubmission<T>,
  s: SlurmOptions,
  log: (line: string) => void,
): Promise<Submitted> {
  const previous = readManifest(a.manifestPath);
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
      throw new JobError(
        `Job array ${previous.arrayJobId} of the previous --slurm is still queued or running: wait for it (squeue -j ${previous.arrayJobId}) or cancel it (scancel ${jobs}) before submitting again.`,
      );
    }
  }
  for (const d of [a.logDir, ...a.folders]) Deno.mkdirSync(d, { recursive: true });
  const arrayPath = join(a.dir, "array.sbatch");
  const mergePath = join(a.dir, "merge.sbatch");
  Deno.writeTextFileSync(arrayPath, a.arrayScript);
  Deno.writeTextFileSync(mergePath, a.mergeScript);
  const manifest = a.manifest;
  const arrayJobId = await submit(s, arrayPath);
  manifest.arrayJobId = arrayJobId;
  writeJson(a.manifestPath, manifest);
  let mergeJobId: string;
  try {
    mergeJobId = await submit(s, mergePath, [`--dependency=afterany:${arrayJobId}`]);
  } catch (err) {
    throw new JobError(
      `Job array ${arrayJobId} was submitted but its merge job was not (${
        err instanceof Error ? err.message : err
      }); when the array has ended, merge by hand: ${a.mergeCommand}`,
    );
  }
  manifest.mergeJobId = mergeJobId;
  writeJson(a.manifestPath, manifest);
  log(
    `Submitted job array ${arrayJobId} (${a.tasks}) and merge job ${mergeJobId} (after the array ends). Watch: squeue -j ${arrayJobId},${mergeJobId}; task logs in ${
      shownPath(a.logDir)
    }; merged results in ${shownPath(a.resultsPath)}.`,
  );
  return { arrayJobId, mergeJobId, tasks: manifest.runs.length };
}

/** The tasks of a submission whose job `finished` says is not complete, each with its log. */
export function unfinishedTasks<T extends { task: number }>(
  manifest: SlurmManifest<T>,
  finished: (entry: T) => boolean,
): (T & { log: string | null })[] {
  return manifest.runs.filter((m) => !finished(m)).map((m) => ({
    ...m,
    log: manifest.arrayJobId ? join(manifest.logDir, `${manifest.arrayJobId}_${m.task}.out`) : null,
  }));
}
