/**
 * Every mechanism measure for every finished run of a results file that has a saved model, cached
 * in results/<name>.sharpness.csv (measure_cache.ts): what `bin/deno task sharpness` and the
 * notebook `mechanism_sharpness_vs_robustness` call. Only (run, group, settings) combinations the
 * cache lacks are computed, so a second call is a read.
 *
 * The data: the run's own training subset and test subset (train_size, test_size, subset_seed of
 * its results row, as the runner drew them); from the training subset a fixed, class-stratified
 * subset of `trainImages` images (seed `seed`), cut into chunks of `batchSize`: the same images for
 * every run of the file. Weight-space measures (sharpness, Hessian, landscapes) use these in
 * `mode` (default "train": batch statistics, the loss SAM's passes see; running statistics are not
 * touched); the Hessian and the landscapes use the first `hessianImages` / `landscapeImages` of
 * them. Input-space measures use the first `testImages` / `pgdImages` test images in eval mode.
 */
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { activeBackend, initBackend } from "../backend/backend.ts";
import { type Dataset, type DatasetSplits, subset } from "../data/data.ts";
import { checkDataDir, loadDataset } from "../data/registry.ts";
import { readResults, type ResultRow } from "../experiments/results.ts";
import { loadModelFile } from "../models/model_file.ts";
import type { Arch, Model } from "../models/model.ts";
import { modelSpecFor } from "../training/train.ts";
import { createProgress, formatDuration, type ProgressStyle } from "../util/progress.ts";
import { ExperimentError } from "../experiments/grid.ts";
import {
  balancedShares,
  resolveWorkers,
  startWorkers,
  workerFailure,
  type Workers,
} from "../experiments/workers.ts";
import { type Batch, batchesOf, modelObjective } from "./objective.ts";
import { sharpnessProfile } from "./sharpness.ts";
import { hutchinsonTrace, lanczos, quotientAtSteps } from "./hessian.ts";
import { inputGradientNorms, lossAlongDirection } from "./input_gradients.ts";
import { firstLayerEquivalence } from "./first_layer_equivalence.ts";
import { landscape1d, landscape2d } from "./landscape.ts";
import {
  appendCacheRows,
  cachePathFor,
  type CacheRow,
  groupRows,
  hasGroup,
  MEASURE_GROUPS,
  type MeasureGroup,
  readCache,
  readCacheTable,
} from "./measure_cache.ts";
import { describeLineProblem, ResultsFileError } from "../experiments/results.ts";
import { shownPath } from "../experiments/plan.ts";
import { realPathOf, removeStaleTemps, replaceProblem } from "../util/atomic_write.ts";
import { clearStaleLock } from "../util/lock.ts";
import { REPO_ROOT } from "../util/repo_root.ts";
import {
  expectedMeasures,
  LANDSCAPE_ROWS,
  lineVariant,
  type MeasureSettings,
  resolveSettings,
  settingsKey,
  units,
} from "./measure_settings.ts";

export {
  DEFAULT_SETTINGS,
  expectedMeasures,
  groupSettings,
  LANDSCAPE_ROWS,
  type MeasureSettings,
  resolveSettings,
  settingsKey,
} from "./measure_settings.ts";

/** The data a run was trained and tested on, and the measurement sets cut from it. */
export interface RunData {
  train: Dataset;
  test: Dataset;
}

function sized(ds: Dataset, size: unknown, seed: number): Dataset {
  const n = typeof size === "number" ? size : ds.n;
  return n >= ds.n ? ds : subset(ds, n, seed);
}

/** The measurement sets of a run: its training subset's fixed `trainImages`, its test subset. */
export function runData(splits: DatasetSplits, row: ResultRow, s: MeasureSettings): RunData {
  const subsetSeed = typeof row.subset_seed === "number" ? row.subset_seed : 0;
  const train = sized(splits.train, row.train_size, subsetSeed);
  const test = sized(splits.test, row.test_size, subsetSeed);
  return {
    train: s.trainImages >= train.n ? train : subset(train, s.trainImages, s.seed),
    test,
  };
}

function resolveModelPath(p: string): string {
  return isAbsolute(p) ? p : join(REPO_ROOT, p);
}

function fileExists(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

/** Runs of a results file that have a saved model on disk. */
export function measurableRuns(resultsPath: string): ResultRow[] {
  return readResults(resultsPath).filter((r) =>
    typeof r.model_file === "string" && r.model_file !== "" &&
    fileExists(resolveModelPath(r.model_file))
  );
}

export interface GroupOutput {
  measure: string;
  variant: string;
  value: number;
  se?: number | null;
  extra?: Record<string, unknown>;
}

type Tick = (note: string) => Promise<void>;

const slice = (batches: Batch[], images: number) => {
  const out: Batch[] = [];
  let n = 0;
  for (const b of batches) {
    if (n >= images) break;
    out.push(b);
    n += b.x.shape[0];
  }
  return out;
};

/**
 * Compute one group for a loaded model. `tick` is called once per work unit. `engine`, when given,
 * gets how many of the objective's losses and gradients ran as graphs (lib/analysis/objective.ts).
 */
export async function computeGroup(
  model: Model,
  data: RunData,
  s: MeasureSettings,
  group: MeasureGroup,
  tick: Tick = async () => {},
  engine?: { graphCalls: number },
): Promise<GroupOutput[]> {
  const out: GroupOutput[] = [];
  if (group === "input") {
    const test = batchesOf(data.test, Math.min(s.testImages, data.test.n), 250);
    try {
      const g = inputGradientNorms(model, test);
      await tick("input gradients");
      out.push(
        { measure: "grad_l1", variant: "", value: g.meanL1, extra: { median: g.medianL1, n: g.n } },
        { measure: "grad_l2", variant: "", value: g.meanL2, extra: { median: g.medianL2, n: g.n } },
        { measure: "test_loss", variant: "", value: g.meanLoss, extra: { n: g.n } },
      );
      const pgdSet = slice(test, s.pgdImages);
      const curve = lossAlongDirection(model, pgdSet, { eps: s.lineEps, seed: s.seed });
      for (let k = 1; k < Math.ceil(s.pgdImages / 250) + 1; k++) await tick("PGD direction");
      const at = curve.radii.findIndex((r) => Math.abs(r - s.lineEps) < 1e-12);
      out.push({
        measure: "pgd_line",
        variant: lineVariant(s),
        value: curve.pgdLoss[at],
        extra: { ...curve },
      });
    } finally {
      tf.dispose(test.flatMap((b) => [b.x, b.y]));
    }
    return out;
  }
  if (group === "equivalence") {
    const batches = batchesOf(data.train, Math.min(s.equivalenceImages, data.train.n), s.batchSize);
    try {
      const r = firstLayerEquivalence(model, batches, { seed: s.seed });
      await tick("first layer");
      out.push({ measure: "first_layer", variant: "rho=1", value: r.unit.lsL2, extra: { ...r } });
    } finally {
      tf.dispose(batches.flatMap((b) => [b.x, b.y]));
    }
    return out;
  }
  const images = group === "hessian"
    ? s.hessianImages
    : group === "landscape"
    ? s.landscapeImages
    : s.trainImages;
  const obj = modelObjective(
    model,
    batchesOf(data.train, Math.min(images, data.train.n), s.batchSize),
    s.mode,
  );
  try {
    if (group === "sharpness") {
      const ticks: string[] = [];
      const note = (label: string) => () => ticks.push(label);
      const plain = sharpnessProfile(obj, s.rhos, { steps: s.steps }, note("sharpness"));
      for (const t of ticks.splice(0)) await tick(t);
      const adaptive = s.adaptiveRhos.length
        ? sharpnessProfile(
          obj,
          s.adaptiveRhos,
          { steps: s.steps, adaptive: true },
          note("adaptive"),
        )
        : [];
      for (const t of ticks.splice(0)) await tick(t);
      const m = s.mRhos.length
        ? sharpnessProfile(obj, s.mRhos, { steps: s.steps, perChunk: true }, note("m-sharpness"))
        : [];
      for (const t of ticks.splice(0)) await tick(t);
      const row = (measure: string, v: typeof plain[number], variant: string): GroupOutput => ({
        measure,
        variant,
        value: v.sharpness,
        extra: {
          rho: v.rho,
          firstStep: v.firstStep,
          baseLoss: v.baseLoss,
          trajectory: v.trajectory,
          deltaNorm: v.deltaNorm,
        },
      });
      plain.forEach((v) => out.push(row("sharpness", v, `rho=${v.rho}`)));
      adaptive.forEach((v) => out.push(row("asam_sharpness", v, `rho=${v.rho}`)));
      m.forEach((v) => out.push(row("m_sharpness", v, `m=${s.batchSize},rho=${v.rho}`)));
    } else if (group === "hessian") {
      let k = 0;
      const pending: string[] = [];
      const eig = lanczos(
        obj,
        { maxIter: s.powerIters, tol: s.powerTol, fdStep: s.fdStep, rng: s.seed },
        () => void pending.push(`Lanczos iteration ${++k}`),
        s.fdCheck,
      );
      for (const t of pending.splice(0)) await tick(t);
      // Iterations saved by early convergence still count as done for the bar.
      for (let i = eig.iterations; i < s.powerIters; i++) await tick("Lanczos");
      let scales: { steps: number[]; quotients: number[] } | null = null;
      try {
        if (s.fdCheck && eig.vector) {
          const steps = [s.fdStep / 3, s.fdStep * 3];
          scales = { steps, quotients: quotientAtSteps(obj, eig.vector, steps) };
          await tick("scale check");
          await tick("scale check");
        }
      } finally {
        if (eig.vector) tf.dispose(eig.vector);
      }
      const tr = hutchinsonTrace(
        obj,
        { probes: s.probes, fdStep: s.fdStep, rng: s.seed + 1 },
        () => void pending.push("Hutchinson probe"),
      );
      for (const t of pending.splice(0)) await tick(t);
      out.push(
        {
          measure: "lambda_max",
          variant: `h=${s.fdStep}`,
          value: eig.lambdaMax,
          extra: {
            iterations: eig.iterations,
            converged: eig.converged,
            residual: eig.residual,
            history: eig.history,
            scaleCheck: scales,
          },
        },
        {
          measure: "lambda_min",
          variant: `h=${s.fdStep}`,
          value: eig.lambdaMin,
          extra: { residual: eig.residualMin },
        },
        {
          measure: "hessian_trace",
          variant: `h=${s.fdStep}`,
          value: tr.trace,
          se: tr.standardError,
          extra: { samples: tr.samples },
        },
      );
    } else if (group === "landscape") {
      const pending: string[] = [];
      const l1 = landscape1d(
        obj,
        { span: s.landscapeSpan, points: s.landscapePoints1d, seed: s.seed },
        () => void pending.push("1-D landscape"),
      );
      for (const t of pending.splice(0)) await tick(t);
      const l2 = landscape2d(
        obj,
        { span: s.landscapeSpan, points: s.landscapePoints2d, seed: s.seed + 1 },
        () => void pending.push("2-D landscape"),
      );
      for (const t of pending.splice(0)) await tick(t);
      const mid = l1.losses[(l1.losses.length - 1) >> 1];
      out.push(
        { measure: "landscape_1d", variant: "", value: mid, extra: { ...l1 } },
        { measure: "landscape_2d", variant: "", value: mid, extra: { ...l2 } },
      );
    }
  } finally {
    if (engine) engine.graphCalls += obj.graphCalls();
    obj.dispose();
  }
  return out;
}

export interface CacheOptions {
  /** The results CSV (its .sharpness.csv is the cache). */
  resultsPath: string;
  settings?: Partial<MeasureSettings>;
  /** Only these row ids (default all with a model file). */
  rows?: readonly string[];
  seeds?: readonly number[];
  /** Groups to compute (default all). */
  groups?: readonly MeasureGroup[];
  /** Rows that get landscapes (default LANDSCAPE_ROWS). */
  landscapeRows?: readonly string[];
  backend?: string;
  progress?: ProgressStyle;
  log?: (line: string) => void;
  /**
   * 1 (default): compute here. n > 1 or "auto" (one per core): in that many single-threaded
   * child processes, each given a share of the runs (lib/experiments/workers.ts).
   */
  workers?: Workers;
  /** Only the runs with these run keys (a worker's share). */
  runKeys?: readonly string[];
  /** Where the runs' dataset is (--data-dir; default: the dataset's own place). */
  dataDir?: string;
}

export interface CacheResult {
  settings: MeasureSettings;
  /** Every cache row of the file for the selected runs and current settings. */
  rows: CacheRow[];
  runs: ResultRow[];
  computed: { run_id: string; group: MeasureGroup; seconds: number }[];
  skipped: number;
  seconds: number;
}

function loadAverage(): number | null {
  try {
    return Deno.loadavg()[0];
  } catch {
    return null;
  }
}

/** A group's outputs must be exactly the measures its cache check expects (a code error if not). */
function checkOutputs(outs: readonly GroupOutput[], s: MeasureSettings, g: MeasureGroup): void {
  const got = outs.map((x) => `${x.measure}|${x.variant}`).sort().join(", ");
  const want = expectedMeasures(s, g).sort().join(", ");
  if (got !== want) {
    throw new Error(`Group ${g} computed [${got}] but expectedMeasures lists [${want}].`);
  }
}

/**
 * Before any work: refuse a cache this user may not replace (read-only, another user's), remove
 * the temp files and the lock a killed writer left beside it, and name the cache lines set aside and the measures of the selected runs that are not finite (their
 * groups are computed again). One sentence each.
 */
function cacheNotes(resultsPath: string, runs: readonly ResultRow[], s: MeasureSettings): string[] {
  const path = cachePathFor(resultsPath);
  const refused = replaceProblem(path);
  if (refused) {
    throw new ResultsFileError(
      `Measure cache ${
        shownPath(path)
      } ${refused.why}; ${refused.fix} results file with --results.`,
    );
  }
  const removed = removeStaleTemps(dirname(path), `${basename(path)}.`);
  if (clearStaleLock(`${path}.lock`)) removed.push(`${path}.lock`);
  const notes = removed.length
    ? [
      `removed ${removed.length} file(s) left by killed writers: ${
        removed.map(shownPath).join(", ")
      }`,
    ]
    : [];
  const { rows, problems } = readCacheTable(resultsPath);
  notes.push(...problems.map((p) => describeLineProblem(shownPath(path), p)));
  const keys = new Set(runs.map((r) => String(r.run_key)));
  for (const g of MEASURE_GROUPS) {
    for (const k of keys) {
      for (const r of groupRows(rows, k, g, settingsKey(s, g)).values()) {
        if (Number.isFinite(r.value)) continue;
        notes.push(
          `${
            shownPath(path)
          }: ${r.measure} of run ${r.run_id} is ${r.value}; its group is computed again.`,
        );
      }
    }
  }
  return notes;
}

/** Compute what the cache lacks for the selected runs; return the cache rows. */
export async function computeMeasureCache(options: CacheOptions): Promise<CacheResult> {
  // Resolved once: the cache and its lock beside the real results file (a symlink followed).
  const o = { ...options, resultsPath: realPathOf(options.resultsPath) };
  const start = performance.now();
  const s = resolveSettings(o.settings);
  const log = o.log ?? ((line: string) => console.log(line));
  const groups = o.groups ?? MEASURE_GROUPS;
  const landscapeRows = o.landscapeRows ?? LANDSCAPE_ROWS;
  const runs = measurableRuns(o.resultsPath).filter((r) =>
    (!o.rows || o.rows.includes(String(r.row_id))) &&
    (!o.seeds || o.seeds.includes(Number(r.seed))) &&
    (!o.runKeys || o.runKeys.includes(String(r.run_key)))
  );
  if (!o.runKeys) { for (const note of cacheNotes(o.resultsPath, runs, s)) log(note); }
  let cache = readCache(o.resultsPath);
  const whole = (runKey: string, g: MeasureGroup, rows: readonly CacheRow[]) =>
    hasGroup(rows, runKey, g, settingsKey(s, g), expectedMeasures(s, g));
  const todo = runs.map((r) => ({
    run: r,
    groups: groups.filter((g) =>
      (g !== "landscape" || landscapeRows.includes(String(r.row_id))) &&
      !whole(String(r.run_key), g, cache)
    ),
  })).filter((t) => t.groups.length > 0);
  const wanted = runs.reduce(
    (n, r) =>
      n +
      groups.filter((g) => g !== "landscape" || landscapeRows.includes(String(r.row_id))).length,
    0,
  );
  const computed: CacheResult["computed"] = [];
  const workers = Math.min(resolveWorkers(o.workers, o.backend), todo.length);
  if (workers > 1) {
    const shares = balancedShares(
      todo,
      workers,
      (t) => t.groups.reduce((n, g) => n + units(s, g), 0),
    );
    const { log: _log, ...shared } = o;
    const specs = shares.map((share) => ({
      ...shared,
      workers: 1,
      runKeys: share.map((t) => String(t.run.run_key)),
      // The workers start in the repository, not in the caller's folder.
      dataDir: o.dataDir === undefined ? undefined : resolve(o.dataDir),
      progress: o.progress === "none" ? "none" : "lines",
    }));
    const exits = await startWorkers("scripts/measure_worker.ts", specs, log);
    const failed = exits.find((e) => e.code !== 0);
    if (failed) {
      throw new ExperimentError(
        workerFailure(
          failed,
          workers,
          `the measures already computed are kept in ${cachePathFor(o.resultsPath)}`,
          "Measure worker",
        ),
      );
    }
    cache = readCache(o.resultsPath);
    for (const t of todo) {
      const runKey = String(t.run.run_key);
      for (const g of t.groups.filter((g) => whole(runKey, g, cache))) {
        const [r] = groupRows(cache, runKey, g, settingsKey(s, g)).values();
        computed.push({ run_id: String(t.run.run_id), group: g, seconds: r.seconds });
      }
    }
  } else if (todo.length > 0) {
    await initBackend(o.backend);
    const splitsBy = new Map<string, DatasetSplits>();
    for (const [i, t] of todo.entries()) {
      const row = t.run;
      const dataset = String(row.dataset);
      if (!splitsBy.has(dataset)) {
        if (o.dataDir !== undefined) checkDataDir(dataset, o.dataDir);
        splitsBy.set(dataset, await loadDataset(dataset, o.dataDir));
      }
      const data = runData(splitsBy.get(dataset)!, row, s);
      const { model } = loadModelFile(resolveModelPath(String(row.model_file)), {
        runKey: String(row.run_key),
        spec: modelSpecFor({ arch: row.arch as Arch, width: Number(row.width) }, data.train),
      });
      const total = t.groups.reduce((n, g) => n + units(s, g), 0);
      const progress = createProgress({
        label: `measures ${row.row_id} seed ${row.seed} (${i + 1}/${todo.length})`,
        total,
        unit: "steps",
        style: o.progress ?? "auto",
      });
      let done = 0;
      const tick: Tick = (note) => progress.update(++done, note);
      const runStart = performance.now();
      try {
        for (const g of t.groups) {
          const t0 = performance.now();
          const engine = { graphCalls: 0 };
          const outs = await computeGroup(model, data, s, g, tick, engine);
          const seconds = (performance.now() - t0) / 1000;
          const key = settingsKey(s, g);
          checkOutputs(outs, s, g);
          const rows: CacheRow[] = outs.map((x) => ({
            run_key: String(row.run_key),
            run_id: String(row.run_id),
            row_id: String(row.row_id),
            seed: Number(row.seed),
            group: g,
            measure: x.measure,
            variant: x.variant,
            settings_key: key,
            value: x.value,
            se: x.se ?? null,
            extra: x.extra ?? {},
            seconds,
            // As in the results files: "+graph-steps" when losses and gradients ran as graphs.
            backend: (activeBackend() ?? "") + (engine.graphCalls > 0 ? "+graph-steps" : ""),
            load_avg_1m: loadAverage(),
            finished_at: new Date().toISOString(),
          }));
          appendCacheRows(o.resultsPath, rows);
          computed.push({ run_id: String(row.run_id), group: g, seconds });
        }
      } finally {
        model.dispose();
      }
      await progress.finish(`${formatDuration((performance.now() - runStart) / 1000)}`);
    }
    cache = readCache(o.resultsPath);
  }
  const keys = new Map(MEASURE_GROUPS.map((g) => [g, settingsKey(s, g)]));
  const runKeys = new Set(runs.map((r) => String(r.run_key)));
  // One row per measure (the last written), of the runs asked for, under the current settings.
  const rows = [...runKeys].flatMap((k) =>
    MEASURE_GROUPS.flatMap((g) => [...groupRows(cache, k, g, keys.get(g)!).values()])
  );
  const result: CacheResult = {
    settings: s,
    rows,
    runs,
    computed,
    skipped: wanted - computed.length,
    seconds: (performance.now() - start) / 1000,
  };
  log(
    `${runs.length} run(s) with a model file; ${computed.length} measure group(s) computed, ` +
      `${result.skipped} read from the cache, in ${formatDuration(result.seconds)}.`,
  );
  return result;
}
