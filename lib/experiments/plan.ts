/**
 * What an experiment asks for and what of it is done: one planned run per (row, seed), keyed by
 * everything that changes the trained model (run_key), and per run the evaluations still missing
 * from the evaluations file. Planning reads files; it never trains. Time estimates come from the
 * preset's measured cost model.
 *
 * Two steps: resolveGrid is the edge, where the options are checked once (preset, rows, seeds,
 * each run's training config); readPlan reads what the files say of a checked grid, as often as
 * the runner needs (once per run it takes), without checking anything again.
 */
import { basename, dirname, join, resolve } from "node:path";
import type { AttackPasses } from "../attacks/attack.ts";
import { evalPasses, type ResolvedEval, resolveEval } from "../attacks/protocols.ts";
import { attackPasses, resolveAttack } from "../attacks/registry.ts";
import { CONV_PRECISIONS, type ConvPrecision } from "../backend/bf16_convs.ts";
import { datasetAbsence, datasetSource as datasetSourceOf, datasetSpec } from "../data/registry.ts";
import type { DatasetSplits } from "../data/data.ts";
import { checkpointPath } from "../training/checkpoint.ts";
import { familyOf, optimizerPasses } from "../training/method.ts";
import { resolveTrainConfig, type TrainConfig } from "../training/train.ts";
import { realPathOf } from "../util/atomic_write.ts";
import { formatDuration } from "../util/progress.ts";
import { checkChoice } from "../util/validate.ts";
import { canonicalJson } from "../util/canonical_json.ts";
import { fnv1a, hex8 } from "../util/fnv1a.ts";
import type { PresetEval } from "./columns.ts";
import { ALL_ROWS, ExperimentError, type GridRow, parseRows, parseSeeds, rowById } from "./grid.ts";
import {
  type CostModel,
  getPreset,
  type Preset,
  PRESETS,
  seedsOf,
  validatePreset,
} from "./presets.ts";
import { readEvals, readResults, type ResultRow } from "./results.ts";
import { REAL_REPO_ROOT as REPO_ROOT, shownPath } from "../util/shown_path.ts";

export interface PlannedEval {
  eval: ResolvedEval;
  /** Test points it runs on. */
  n: number;
}

/** One (row, seed) of a grid as its settings make it: checked once, when the grid is resolved. */
export interface RunSpec {
  row: GridRow;
  seed: number;
  /** The run's training config, resolved (what train() runs and the run key hashes). */
  config: TrainConfig;
  /** Everything that changes the trained model, hashed: a runs row with the same key is this run. */
  runKey: string;
  runId: string;
  checkpointDir: string;
  /** The trained model (safetensors). */
  modelPath: string;
}

/** A run of the plan: its settings, and what of it the files say is done. */
export interface PlannedRun extends RunSpec {
  /** "done": trained (a runs row exists); "resume": a checkpoint exists; "new": nothing yet. */
  status: "done" | "resume" | "new";
  /** Evaluations of the preset not yet in the evaluations file for this run. */
  missingEvals: PlannedEval[];
  estimatedSeconds: number;
}

/**
 * A grid's settings, checked once at the edge (resolveGrid): which runs, their configs and keys,
 * where their files go. Planning (readPlan) and the runner work from it without checking again.
 */
export interface GridSpec {
  preset: Preset;
  runs: RunSpec[];
  /** The preset's evaluations, resolved, with the test points each runs on. */
  evals: (PlannedEval & { seeds?: readonly number[] })[];
  resultsPath: string;
  runsDir: string;
  modelsDir: string;
  trainSize: number;
  testSize: number;
  data?: DatasetSplits;
  /** The dataDir option as given (where the data is read from). */
  dataDir?: string;
}

export interface GridPlan {
  /** The checked settings the plan was read for (what a re-read of the files starts from). */
  spec: GridSpec;
  preset: Preset;
  resultsPath: string;
  runsDir: string;
  modelsDir: string;
  runs: PlannedRun[];
  /** Runs rows of the planned runs that are done, by run key. */
  existing: Map<string, ResultRow>;
  /** Evaluation rows of the planned runs, by run key then eval key. */
  evals: Map<string, Map<string, ResultRow>>;
  testSize: number;
  /**
   * Why the dataset is not on this machine (one sentence with the fix), or null when it is (or the
   * plan was given its data). Nothing with work left can start without it.
   */
  datasetAbsent?: string | null;
  /** The file or folder the dataset would load from (dataDir or its default place), if there. */
  datasetSource?: string;
  /** The options' dataDir, absolute (what child processes and Slurm tasks are given). */
  dataDir?: string;
}

export { shownPath };

/** results/<dataset>-<preset>.csv in this repository. */
export function defaultResultsPath(dataset: string, preset: string): string {
  return join(REPO_ROOT, "results", `${dataset}-${preset}.csv`);
}

/**
 * The results file of a plan: the one given, else the preset's (a bf16 grid gets its own), as
 * its real path (symlinks followed), so that the evaluations, models, checkpoints and locks of
 * its runs all go beside the real file, whichever path named it.
 */
export function resultsPathOf(o: PlanOptions, preset: Preset): string {
  const suffix = preset.train.convPrecision === "bf16" ? "-bf16" : "";
  return realPathOf(o.resultsPath ?? defaultResultsPath(preset.dataset, preset.name + suffix));
}

/** Checkpoints of a results file live under <its folder>/runs/<its name>/checkpoints/ (git-ignored). */
export function runsDirFor(resultsPath: string): string {
  return join(dirname(resultsPath), "runs", basename(resultsPath).replace(/\.csv$/i, ""));
}

/** Trained models of a results file: <its folder>/models/<its name>/ (small; committed). */
export function modelsDirFor(resultsPath: string): string {
  return join(dirname(resultsPath), "models", basename(resultsPath).replace(/\.csv$/i, ""));
}

function resolvedSize(size: number | "all", full: number): number {
  return size === "all" ? full : Math.min(size, full);
}

/**
 * What a forward-only pass (one Square query: a forward plus per-query bookkeeping) costs in
 * input-gradient passes (PGD steps): measured 1/2.3 of a PGD step per image per query.
 */
export const FORWARD_PASS_IN_STEPS = 1 / 2.3;

/** An attack's passes in PGD-step units (an input-gradient pass is one). */
export function attackSteps(p: AttackPasses): number {
  return p.inputGradient + p.forward * FORWARD_PASS_IN_STEPS;
}

/**
 * Milliseconds per training image per epoch of a row under a cost model: from the optimizer's
 * gradient passes and the passes of the attack making its inputs (both stated by the plugins).
 */
export function trainMsPerImage(cost: CostModel, row: GridRow): number {
  const m = row.method;
  // Each gradient pass beyond the first costs what SAM's second one does.
  const passes = optimizerPasses(m);
  const samExtra = (passes - 1) * (cost.trainMs.SAM - cost.trainMs.ST);
  if (!m.perturb) return cost.trainMs.ST + samExtra;
  // Attack steps priced as measured PGD-5 and PGD-10 training: AT5 plus each step beyond 5.
  const k = attackSteps(attackPasses(resolveAttack(m.perturb)));
  const perStep = (cost.trainMs.AT10 - cost.trainMs.AT5) / 5;
  return Math.max(cost.trainMs.ST, cost.trainMs.AT5 + (k - 5) * perStep) + samExtra;
}

/** Passes per example of an evaluation in PGD steps, relative to PGD-10 (10 steps). */
export function relativeEvalCost(ev: ResolvedEval): number {
  return attackSteps(evalPasses(ev)) / 10;
}

/** Estimated seconds of the evaluations of one run. */
export function estimateEvalSeconds(p: Preset, evals: readonly PlannedEval[], n: number): number {
  const ms = n * p.cost.evalCleanMs +
    evals.reduce((s, e) => s + e.n * p.cost.evalAttackMs * relativeEvalCost(e.eval), 0);
  return ms / 1000;
}

/** Estimated seconds of training one run. */
export function estimateTrainSeconds(p: Preset, row: GridRow, nTrain: number): number {
  return nTrain * p.train.epochs * trainMsPerImage(p.cost, row) / 1000;
}

/** FNV-1a over a canonical JSON (sorted keys): "k" and 8 hex digits. */
export function hashKey(value: unknown): string {
  // Per code point its first UTF-16 unit (as every committed key was computed; pinned by
  // tests/run_key_pin_test.ts). A letter first: an all-digit key would read back as a number.
  return `k${hex8(fnv1a(Array.from(canonicalJson(value), (ch) => ch.charCodeAt(0))))}`;
}

/** The full training config of a run: preset settings, the row's method, the seed. */
export function runConfig(p: Preset, row: GridRow, seed: number): TrainConfig {
  return resolveTrainConfig({ ...p.train, method: row.method, seed });
}

/** What identifies a trained model: dataset, training images, and the full training config. */
export function runKey(p: Preset, row: GridRow, seed: number, trainSize: number): string {
  return keyOfRun(p, runConfig(p, row, seed), trainSize);
}

/** runKey of a run whose config is resolved already. */
function keyOfRun(p: Preset, train: TrainConfig, trainSize: number): string {
  return hashKey({ dataset: p.dataset, train, trainSize, subsetSeed: p.subsetSeed });
}

export interface PlanOptions {
  dataset?: string;
  /** A preset name of the dataset, or a Preset object (tests). */
  preset?: string | Preset;
  /** Row ids, a comma list, or "all" (default: the preset's rows). */
  rows?: string | readonly string[];
  /** Default: each row's seeds in the preset. */
  seeds?: string | readonly number[];
  /** Default results/<dataset>-<preset>.csv. */
  resultsPath?: string;
  /** Default runsDirFor(resultsPath). */
  runsDir?: string;
  /** Default modelsDirFor(resultsPath). */
  modelsDir?: string;
  /** Use these splits instead of loading the dataset (tests); sizes come from them. */
  data?: DatasetSplits;
  /**
   * Where the dataset is (--data-dir: a folder or archive; default: the dataset's own place).
   * Only where the data is read from: not part of any run's identity (run keys, rows, results
   * paths do not change with it).
   */
  dataDir?: string;
  /**
   * "bf16" trains every run with bfloat16 convolutions (a different run key; default results
   * file results/<dataset>-<preset>-bf16.csv, so fp32 and bf16 tables never mix).
   */
  convPrecision?: ConvPrecision;
}

export function resolvePreset(o: PlanOptions): Preset {
  const p = presetNamed(o);
  const precision = checkChoice("--conv-precision", o.convPrecision ?? "fp32", CONV_PRECISIONS);
  return precision === "fp32" ? p : { ...p, train: { ...p.train, convPrecision: precision } };
}

function presetNamed(o: PlanOptions): Preset {
  if (o.preset !== undefined && typeof o.preset === "object") {
    if (o.dataset !== undefined && o.dataset !== o.preset.dataset) {
      throw new ExperimentError(
        `Preset ${o.preset.name} is for ${o.preset.dataset}, not ${o.dataset}.`,
      );
    }
    return validatePreset(o.preset);
  }
  return getPreset(o.dataset ?? "fashion-mnist", o.preset);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Results rows that hold a finite number in every named column (a NaN row is not finished). */
function finite(r: ResultRow, cols: readonly string[]): boolean {
  return cols.every((c) => typeof r[c] === "number" && Number.isFinite(r[c] as number));
}

/** The presets of a dataset that list a row (by id). */
export function presetsWithRow(dataset: string, rowId: string): string[] {
  const all = (PRESETS as Record<string, Record<string, Preset>>)[dataset] ?? {};
  return Object.keys(all).filter((name) => all[name].rows.includes(rowId));
}

/** A row of the grid that the preset does not train: said so, with the presets that do. */
function refuseRowsOutside(spec: PlanOptions["rows"], preset: Preset): void {
  if (spec === undefined) return;
  const names = (typeof spec === "string" ? spec.split(",") : [...spec]).map((s) => s.trim());
  for (const name of names) {
    const key = name.replace(/\/255$/, "").toLowerCase();
    const row = ALL_ROWS.find((r) => r.id.toLowerCase() === key);
    if (!row || preset.rows.includes(row.id)) continue;
    const others = presetsWithRow(preset.dataset, row.id);
    throw new ExperimentError(
      `Row "${name}" is not in preset ${preset.dataset}/${preset.name} (its rows: ${
        preset.rows.join(", ")
      }); ${
        others.length
          ? `it is in preset ${others.join(", ")}: add --preset ${others[0]}`
          : `no preset of ${preset.dataset} has it`
      }.`,
    );
  }
}

/**
 * The edge of planning: check the options (the preset, rows, seeds, precision) and resolve every
 * run's config and key, once. Reads no results; throws one sentence on a bad option.
 */
export function resolveGrid(o: PlanOptions = {}): GridSpec {
  const preset = resolvePreset(o);
  const presetRows = preset.rows.map((id) => rowById(id)!);
  refuseRowsOutside(o.rows, preset);
  const rows = parseRows(o.rows, presetRows);
  const seedsGiven = o.seeds === undefined ? undefined : parseSeeds(o.seeds);
  const resultsPath = resultsPathOf(o, preset);
  const runsDir = o.runsDir ?? runsDirFor(resultsPath);
  const modelsDir = o.modelsDir ?? modelsDirFor(resultsPath);
  const full = o.data
    ? { trainSize: o.data.train.n, testSize: o.data.test.n }
    : datasetSpec(preset.dataset);
  const nTrain = resolvedSize(preset.trainSize, full.trainSize);
  const nTest = resolvedSize(preset.testSize, full.testSize);
  const runs: RunSpec[] = [];
  // Seeds outer: a partly finished grid has every row of its first seeds.
  const seedOrder = [...new Set(rows.flatMap((r) => seedsGiven ?? seedsOf(preset, r.id)))];
  for (const seed of seedOrder) {
    for (const row of rows) {
      if (!(seedsGiven ?? seedsOf(preset, row.id)).includes(seed)) continue;
      const config = runConfig(preset, row, seed);
      const key = keyOfRun(preset, config, nTrain);
      const name = `${row.id}-seed${seed}-${key}`;
      runs.push({
        row,
        seed,
        config,
        runKey: key,
        runId: `${preset.dataset}-${preset.name}-${name}`,
        checkpointDir: join(runsDir, "checkpoints", name),
        modelPath: join(modelsDir, `${name}.safetensors`),
      });
    }
  }
  return {
    preset,
    runs,
    evals: preset.evals.map((e: PresetEval) => ({
      eval: resolveEval(e),
      n: Math.min(nTest, e.limit ?? nTest),
      seeds: e.seeds,
    })),
    resultsPath,
    runsDir,
    modelsDir,
    trainSize: nTrain,
    testSize: nTest,
    data: o.data,
    dataDir: o.dataDir,
  };
}

/** What of a checked grid the results files say is done. Reads files; checks nothing again. */
export function readPlan(spec: GridSpec): GridPlan {
  const { preset } = spec;
  const byKey = new Map<string, ResultRow>();
  for (const r of readResults(spec.resultsPath)) {
    if (typeof r.run_key === "string" && finite(r, ["clean"])) byKey.set(r.run_key, r);
  }
  const evalsByRun = new Map<string, Map<string, ResultRow>>();
  for (const r of readEvals(spec.resultsPath)) {
    if (typeof r.run_key !== "string" || typeof r.eval_key !== "string") continue;
    if (!finite(r, ["accuracy", "n"])) continue;
    const m = evalsByRun.get(r.run_key) ?? new Map<string, ResultRow>();
    m.set(`${r.eval_key}@${r.n}`, r);
    evalsByRun.set(r.run_key, m);
  }

  const existing = new Map<string, ResultRow>();
  const evals = new Map<string, Map<string, ResultRow>>();
  const runs = spec.runs.map((run): PlannedRun => {
    const key = run.runKey;
    const done = byKey.get(key);
    if (done) existing.set(key, done);
    const have = evalsByRun.get(key) ?? new Map();
    const mine = new Map<string, ResultRow>();
    const missingEvals = spec.evals.filter((e) => {
      if (e.seeds && !e.seeds.includes(run.seed)) return false; // this evaluation skips the seed
      const r = have.get(`${e.eval.key}@${e.n}`);
      if (r) mine.set(e.eval.key, r);
      return !r;
    }).map(({ eval: ev, n }) => ({ eval: ev, n }));
    evals.set(key, mine);
    const status = done ? "done" : exists(checkpointPath(run.checkpointDir)) ? "resume" : "new";
    return {
      ...run,
      status,
      missingEvals,
      estimatedSeconds: (done ? 0 : estimateTrainSeconds(preset, run.row, spec.trainSize)) +
        (missingEvals.length ? estimateEvalSeconds(preset, missingEvals, spec.testSize) : 0),
    };
  });
  const datasetAbsent = spec.data ? null : datasetAbsence(preset.dataset, spec.dataDir);
  const datasetSource = spec.data ? undefined : datasetSourceOf(preset.dataset, spec.dataDir);
  return {
    spec,
    preset,
    resultsPath: spec.resultsPath,
    runsDir: spec.runsDir,
    modelsDir: spec.modelsDir,
    runs,
    existing,
    evals,
    testSize: spec.testSize,
    datasetAbsent,
    datasetSource,
    dataDir: spec.dataDir === undefined ? undefined : resolve(spec.dataDir),
  };
}

/** Which runs the options ask for, and what of each is done. Reads; never trains. */
export function planGrid(o: PlanOptions = {}): GridPlan {
  return readPlan(resolveGrid(o));
}

/** Whether a run has nothing left to do. */
export function runComplete(r: PlannedRun): boolean {
  return r.status === "done" && r.missingEvals.length === 0;
}

/** A duration for estimates: "mm:ss" or "h:mm:ss", and whole days beyond two days. */
export function formatEstimate(seconds: number): string {
  return seconds > 2 * 86400 ? `~${Math.round(seconds / 86400)} days` : formatDuration(seconds);
}

/** A short text of the plan: one line per run, and the estimated time of what is left. */
export function describePlan(plan: GridPlan): string {
  const p = plan.preset;
  const todo = plan.runs.filter((r) => !runComplete(r));
  const left = todo.reduce((s, r) => s + r.estimatedSeconds, 0);
  const lines = [
    `${p.dataset} / preset ${p.name}: ${plan.runs.length} run(s), ${
      plan.runs.length - todo.length
    } complete in ${shownPath(plan.resultsPath)}, ${todo.length} with work left (estimated ${
      formatEstimate(left)
    } on ${p.cost.measuredOn}).`,
    ...plan.runs.map((r, i) => {
      const what = r.status === "done"
        ? (r.missingEvals.length
          ? `trained; evaluate ${r.missingEvals.map((e) => e.eval.key).join(", ")}`
          : "done (skip)")
        : r.status === "resume"
        ? "resume from checkpoint"
        : "new";
      return `  ${String(i + 1).padStart(3)}. ${r.row.id.padEnd(18)} seed ${
        String(r.seed).padEnd(3)
      } ${familyOf(r.row.method).padEnd(7)} ${what}${
        runComplete(r) ? "" : `, est. ${formatEstimate(r.estimatedSeconds)}`
      }`;
    }),
  ];
  // Said first and last: a long plan must not read as runnable when its data is absent.
  if (plan.datasetAbsent && todo.length > 0) {
    const note =
      `The dataset is not on this machine, so none of these runs can start yet: ${plan.datasetAbsent}`;
    lines.splice(1, 0, note);
    lines.push(note);
  }
  return lines.join("\n");
}
