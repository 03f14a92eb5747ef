/**
 * The one function that runs an experiment: for every planned (row, seed) run it trains (or
 * resumes from the run's checkpoint) what has no runs row yet, saves the trained model, appends
 * the runs row, then runs every evaluation of the preset that the evaluations file lacks for that
 * run and appends one row each. A run trained earlier is evaluated from its saved model; if that
 * file is gone it is retrained (training is deterministic in its seed) and the retrained model is
 * checked against the recorded final training loss (a different loss is refused). The CLI and
 * the notebooks call it.
 *
 * Several processes may run the same grid into the same results file: each run is worked on
 * under its own lock (<checkpoint dir>.lock, lib/util/lock.ts); a run another live process holds
 * is skipped with a line saying so, and a run is re-read from the files once its lock is taken,
 * so nothing finished elsewhere is trained again. Options and the results path are checked
 * before any work (checkGridOptions); temp files of killed writers are removed at the start.
 * With `workers` (lib/experiments/workers.ts) the grid runs in that many single-threaded child
 * processes on this same locking, and this process only plans, streams and collects.
 */
import { basename, dirname, join } from "node:path";
import { activeBackend, backendFromEnv, initBackend, parseBackend } from "../backend/backend.ts";
import { cpuHasBf16 } from "../backend/bf16_convs.ts";
import { defaultEngine } from "../backend/speed_settings.ts";
import type { Dataset, DatasetSplits } from "../data/data.ts";
import { subset } from "../data/data.ts";
import { checkDataDir, loadDataset } from "../data/registry.ts";
import { loadModelFile, saveModelFile } from "../models/model_file.ts";
import type { Model } from "../models/model.ts";
import { evaluate } from "../training/evaluate.ts";
import { methodColumns } from "../training/method.ts";
import {
  modelSpecFor,
  STEP_ENGINES,
  type StepEngine,
  train,
  type TrainOptions,
  type TrainResult,
} from "../training/train.ts";
import { removeStaleTemps, replaceProblem } from "../util/atomic_write.ts";
import { checkChoice } from "../util/validate.ts";
import { describeHolder, tryLock } from "../util/lock.ts";
import { formatDuration, type ProgressStyle } from "../util/progress.ts";
import { ExperimentError } from "./grid.ts";
import {
  formatEstimate,
  type GridPlan,
  planGrid,
  type PlannedRun,
  type PlanOptions,
  resolvePreset,
  resultsPathOf,
  runComplete,
  runConfig,
  shownPath,
} from "./plan.ts";
import {
  resolveWorkers,
  startWorkers,
  workerFailure,
  type Workers,
  workersEstimate,
  workerSpec,
} from "./workers.ts";
import {
  appendEval,
  appendRun,
  auditResults,
  checkResultsTarget,
  evalRows,
  type ResultRow,
  trainedRunColumns,
} from "./results.ts";

export interface GridOptions extends PlanOptions {
  /** TensorFlow.js backend (default: SAM_AT_BACKEND or tensorflow). */
  backend?: string;
  /** Train and eval progress bars (default "auto"). */
  progress?: ProgressStyle;
  /** Where grid-level lines go (default console.log). */
  log?: (line: string) => void;
  /** Keep each run's checkpoint after its results row is written (default: delete it). */
  keepCheckpoints?: boolean;
  /** Passed to train(); tests use it to simulate an interrupted run. */
  onEpochEnd?: TrainOptions["onEpochEnd"];
  /**
   * 1 (default): run here, with TensorFlow's default threads. n > 1 or "auto" (one per core):
   * in that many child processes with one TensorFlow thread each (lib/experiments/workers.ts).
   */
  workers?: Workers;
  /** Set in a worker process: how many workers share the grid (ETA, longest-first order). */
  workerShare?: number;
  /**
   * "graph": each run's training steps and attack iterations run as checked libtensorflow graphs
   * (train()'s stepEngine, evaluate()'s engine; tensorflow backend; bit for bit the eager
   * engine's results). Rows with graph steps say "+graph-steps" in their backend column. Default:
   * "graph" on the tensorflow backend, else "eager" (lib/backend/speed_settings.ts).
   */
  stepEngine?: StepEngine;
}

export interface GridResult {
  plan: GridPlan;
  /** One runs row per planned run that has finished training (existing or new), in plan order. */
  rows: ResultRow[];
  /** Evaluation rows of the planned runs, by run key then eval key (existing and new). */
  evals: Map<string, Map<string, ResultRow>>;
  trained: number;
  evaluated: number;
  skipped: number;
  /** Runs left to another live process that held their lock. */
  heldElsewhere: number;
  seconds: number;
}

/**
 * Check what can be checked without work: preset, backend (SAM_AT_BACKEND included), that the
 * results path is absent or this project's results CSV in a writable folder, and that a given
 * dataDir holds the dataset. Throws one sentence.
 */
export function checkGridOptions(o: GridOptions = {}): void {
  const preset = resolvePreset(o);
  const backend = o.backend !== undefined ? parseBackend(o.backend) : backendFromEnv();
  if (preset.train.convPrecision === "bf16" && backend !== "tensorflow") {
    throw new ExperimentError(
      `--conv-precision bf16 needs the tensorflow backend (the CPU), not ${backend}; drop it or use --backend tensorflow.`,
    );
  }
  if (preset.train.convPrecision === "bf16" && cpuHasBf16() === false) {
    throw new ExperimentError(
      "--conv-precision bf16 needs a CPU with AVX512-BF16 or AMX-BF16; this one has neither, so libtensorflow would emulate bfloat16 (measured ~11x slower than fp32 on PreActResNet-18); drop --conv-precision bf16.",
    );
  }
  const engine = checkChoice("--step-engine", o.stepEngine ?? defaultEngine(backend), STEP_ENGINES);
  if (engine === "graph" && backend !== "tensorflow") {
    throw new ExperimentError(
      `--step-engine graph needs the tensorflow backend (libtensorflow's graph executor), not ${backend}; drop it or use --backend tensorflow.`,
    );
  }
  resolveWorkers(o.workers, backend);
  checkResultsTarget(resultsPathOf(o, preset));
  // A data path given by hand must hold the data: said now, not after a plan that reads as runnable.
  if (o.dataDir !== undefined && !o.data) checkDataDir(preset.dataset, o.dataDir);
}

/** Before any work: the model file a run will write must not be read-only or another user's. */
function checkModelTargets(plan: GridPlan): void {
  for (const r of plan.runs.filter((r) => r.status !== "done")) {
    const refused = replaceProblem(r.modelPath);
    if (refused) {
      throw new ExperimentError(
        `Model file ${shownPath(r.modelPath)} ${refused.why}; ${refused.fix} results path.`,
      );
    }
  }
}

/** Remove temp files that killed writers left beside the results, models and checkpoints. */
function removeLeftovers(plan: GridPlan): string[] {
  const stem = basename(plan.resultsPath).replace(/\.csv$/i, "");
  const checkpoints = join(plan.runsDir, "checkpoints");
  const dirs = [plan.modelsDir, checkpoints];
  try {
    for (const e of Deno.readDirSync(checkpoints)) {
      if (e.isDirectory) dirs.push(join(checkpoints, e.name));
    }
  } catch { /* no checkpoints yet */ }
  return [
    ...removeStaleTemps(dirname(plan.resultsPath), `${stem}.`),
    ...dirs.flatMap((d) => removeStaleTemps(d)),
  ];
}

function loadAverage(): number | null {
  try {
    return Deno.loadavg()[0];
  } catch {
    return null;
  }
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const v = [...values].sort((x, y) => x - y);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

function sized(ds: Dataset, size: number | "all", seed: number): Dataset {
  return size === "all" || size >= ds.n ? ds : subset(ds, size, seed);
}

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** The runs-CSV row of a freshly trained run. */
function runRow(
  plan: GridPlan,
  run: PlannedRun,
  t: TrainResult,
  clean: number,
  sizes: { train: number; test: number },
  backend: string,
): ResultRow {
  return {
    run_id: run.runId,
    run_key: run.runKey,
    finished_at: new Date().toISOString(),
    dataset: plan.preset.dataset,
    preset: plan.preset.name,
    row_id: run.row.id,
    train_size: sizes.train,
    test_size: sizes.test,
    subset_seed: plan.preset.subsetSeed,
    ...trainedRunColumns(t),
    backend,
    clean,
    // The median epoch is robust to the first epoch's warm-up and to passing load spikes.
    median_epoch_seconds: median(t.metrics.map((m) => m.seconds)),
    load_avg_1m: loadAverage(),
    model_file: shownPath(run.modelPath),
  };
}

/**
 * Run (or resume) whatever the plan lacks: training of runs without a runs row, and evaluations
 * missing from the evaluations file. Loads the dataset and the backend only when something has
 * to run. Returns every planned run's rows.
 */
export async function runGrid(o: GridOptions = {}): Promise<GridResult> {
  const start = performance.now();
  const log = o.log ?? ((line: string) => console.log(line));
  checkGridOptions(o);
  const plan = planGrid(o);
  const { preset } = plan;
  checkModelTargets(plan);
  const leftovers = removeLeftovers(plan);
  if (leftovers.length) {
    log(
      `removed ${leftovers.length} temp file(s) left by killed writers: ${
        leftovers.map(shownPath).join(", ")
      }`,
    );
  }
  for (
    const note of auditResults(
      plan.resultsPath,
      new Set(plan.runs.map((r) => r.runKey)),
      shownPath,
    )
  ) {
    log(note);
  }
  // Training first, then the evaluations that trained runs still lack: a long grid gets all its
  // seeds trained (what its claims need) before costly new columns are added to finished runs.
  // Workers take the longest runs first, so that none is left alone with a long run at the end.
  const inWorker = o.workerShare !== undefined;
  const share = o.workerShare ?? 1;
  const ordered = (runs: PlannedRun[]) =>
    inWorker ? [...runs].sort((p, q) => q.estimatedSeconds - p.estimatedSeconds) : runs;
  const todo = [
    ...ordered(plan.runs.filter((r) => r.status !== "done")),
    ...ordered(plan.runs.filter((r) => r.status === "done" && !runComplete(r))),
  ];
  const workers = inWorker ? 1 : resolveWorkers(o.workers, o.backend ?? backendFromEnv());
  const estimate = workersEstimate(
    todo.reduce((s, r) => s + r.estimatedSeconds, 0),
    todo.length,
    workers,
  );
  if (!inWorker) {
    log(
      `${preset.dataset} / ${preset.name}: ${plan.runs.length} run(s); ${
        plan.runs.length - todo.length
      } complete in ${shownPath(plan.resultsPath)}; ${todo.length} with work left` +
        (todo.length ? ` (estimated ${formatEstimate(estimate)}).` : "."),
    );
  }
  if (workers > 1 && todo.length > 0) return await runInWorkers(o, plan, todo, workers, log, start);
  const rows = new Map(plan.existing);
  const evals = new Map([...plan.evals].map(([k, m]) => [k, new Map(m)]));
  let trainedCount = 0;
  let evaluatedCount = 0;
  let heldElsewhere = 0;
  let workedHere = 0;
  if (todo.length > 0) {
    // The data first: a missing dataset should stop the run before the backend loads.
    const splits: DatasetSplits = o.data ?? await loadDataset(preset.dataset, o.dataDir);
    const backend = await initBackend(o.backend);
    const trainSet = sized(splits.train, preset.trainSize, preset.subsetSeed);
    const testSet = sized(splits.test, preset.testSize, preset.subsetSeed);
    let doneEstimate = 0;
    let doneActual = 0;
    for (let i = 0; i < todo.length; i++) {
      let run = todo[i];
      const lock = tryLock(`${run.checkpointDir}.lock`);
      if ("held" in lock) {
        // In a worker, that is (usually) a sibling worker: nothing to say.
        if (!inWorker) {
          log(
            `run ${i + 1}/${todo.length}: ${run.row.id} seed ${run.seed} skipped: ${
              describeHolder(lock)
            } is working on it (lock ${shownPath(lock.path)}).`,
          );
        }
        heldElsewhere++;
        continue;
      }
      try {
        // Another process may have finished (part of) this run since the plan was read.
        const now = planGrid(o);
        run = now.runs.find((r) => r.runKey === run.runKey) ?? run;
        const doneRow = now.existing.get(run.runKey);
        if (doneRow) rows.set(run.runKey, doneRow);
        evals.set(run.runKey, new Map(now.evals.get(run.runKey) ?? []));
        if (runComplete(run)) {
          if (!inWorker) { // in a worker: by a sibling, as planned
            log(
              `run ${
                i + 1
              }/${todo.length}: ${run.row.id} seed ${run.seed} was finished meanwhile by another process.`,
            );
          }
          continue;
        }
        // Scale the cost model by how fast this machine has actually been so far.
        const speed = doneEstimate > 0 ? doneActual / doneEstimate : 1;
        const eta = todo.slice(i).reduce((s, r) => s + r.estimatedSeconds, 0) * speed / share;
        const what = run.status === "done"
          ? `evaluate ${run.missingEvals.map((e) => e.eval.key).join(", ")}`
          : run.status === "resume"
          ? "resuming"
          : "new";
        log(
          `run ${i + 1}/${todo.length}: ${run.row.id} seed ${run.seed} (${what}, est. ${
            formatDuration(run.estimatedSeconds * speed)
          }); grid elapsed ${formatDuration((performance.now() - start) / 1000)}, ETA ${
            formatDuration(eta)
          }`,
        );
        workedHere++;
        const t0 = performance.now();
        let model: Model | undefined;
        let resumed = false;
        try {
          const recorded = rows.get(run.runKey);
          if (recorded && fileExists(run.modelPath)) {
            // Verified whole: this run's key, the model this run trains (an old file's header).
            const spec = modelSpecFor(runConfig(preset, run.row, run.seed), trainSet);
            model = loadModelFile(run.modelPath, { runKey: run.runKey, spec }).model;
          } else {
            if (recorded) {
              log(`  ${shownPath(run.modelPath)} is missing: retraining the model to evaluate it.`);
            }
            const trained = await train(trainSet, runConfig(preset, run.row, run.seed), {
              checkpointDir: run.checkpointDir,
              progress: o.progress,
              label: `${run.row.id} seed ${run.seed}`,
              onEpochEnd: o.onEpochEnd,
              stepEngine: o.stepEngine,
            });
            if (trained.graph) log(`  ${run.row.id} seed ${run.seed}: ${graphSummary(trained)}`);
            model = trained.model;
            resumed = trained.resumedFromEpoch > 0;
            const loss = trained.metrics[trained.metrics.length - 1]?.trainLoss;
            if (recorded) {
              // Checked before saving: a model that is not the recorded run must not take its place.
              const was = Number(recorded.final_train_loss);
              const same = Math.abs(loss - was) <= 1e-5 * Math.max(1, Math.abs(was));
              if (Number.isFinite(was) && !same) {
                throw new ExperimentError(
                  `Retrained ${run.row.id} seed ${run.seed} ends with training loss ${loss}, not the ${was} recorded in ${
                    shownPath(plan.resultsPath)
                  }, so it is not the recorded model; restore ${
                    shownPath(run.modelPath)
                  } (e.g. git checkout), or remove that run's rows from the results files to train it afresh.`,
                );
              }
              log(
                `  retrained ${run.row.id} seed ${run.seed}: final training loss ${loss} ${
                  Number.isFinite(was) ? "matches" : "(nothing recorded to compare with)"
                } the recorded ${was}.`,
              );
            }
            saveModelFile(run.modelPath, model, {
              run_key: run.runKey,
              run_id: run.runId,
              row_id: run.row.id,
              seed: run.seed,
              dataset: preset.dataset,
              preset: preset.name,
              train_size: trainSet.n,
              method: methodColumns(trained.config.method),
            });
            if (!recorded) {
              const ev = await evaluate(model, testSet, { progress: "none" });
              const row = runRow(
                plan,
                run,
                trained,
                ev.clean,
                { train: trainSet.n, test: testSet.n },
                // The runs file has no precision or engine column; the backend names them.
                (activeBackend() ?? backend) +
                  (trained.config.convPrecision === "bf16" ? "+bf16-convs" : "") +
                  (trained.graph && trained.graph.graphSteps > 0 ? "+graph-steps" : ""),
              );
              if (appendRun(plan.resultsPath, row)) trainedCount++;
              else {log(
                  `  ${
                    shownPath(plan.resultsPath)
                  } already has a finished row of this run; not added twice.`,
                );}
              rows.set(run.runKey, row);
              log(
                `  ${run.row.id} seed ${run.seed}: clean ${pct(ev.clean)}; train ${
                  trained.trainSeconds.toFixed(1)
                } s${resumed ? ` (resumed after epoch ${trained.resumedFromEpoch})` : ""}`,
              );
            }
          }
          if (run.missingEvals.length) {
            const mine = evals.get(run.runKey) ?? new Map<string, ResultRow>();
            evals.set(run.runKey, mine);
            // Group by test-point count: one evaluate() call per distinct limit.
            const byN = new Map<number, typeof run.missingEvals>();
            for (const e of run.missingEvals) byN.set(e.n, [...(byN.get(e.n) ?? []), e]);
            for (const [n, group] of byN) {
              const ev = await evaluate(model, testSet, {
                evals: group.map((g) => g.eval.spec),
                limit: n,
                batchSize: preset.evalBatchSize,
                seed: run.seed,
                progress: o.progress,
                label: `eval ${run.row.id} seed ${run.seed}`,
                engine: o.stepEngine,
              });
              for (const row of evalRows(run.runKey, ev, run.seed, activeBackend() ?? backend)) {
                if (appendEval(plan.resultsPath, row)) evaluatedCount++;
                else {log(
                    `  ${row.eval_key} of this run is in the evaluations file already; not added twice.`,
                  );}
                mine.set(String(row.eval_key), row);
              }
              log(
                `  ${run.row.id} seed ${run.seed} on ${ev.n} test points: ` +
                  Object.values(ev.evals).map((r) =>
                    `${r.key} ${pct(r.accuracy)}` +
                    (r.stages.length > 1
                      ? ` (${r.stages.map((s) => `${s.attack} ${pct(s.accuracy)}`).join(" -> ")})`
                      : "")
                  ).join(", ") + evalEngineSummary(ev),
              );
            }
          }
        } finally {
          model?.dispose();
        }
        if (!o.keepCheckpoints) {
          await Deno.remove(run.checkpointDir, { recursive: true }).catch(() => {});
        }
        // A resumed run's wall time covers only part of its work: leave it out of the calibration.
        if (!resumed) {
          doneEstimate += run.estimatedSeconds;
          doneActual += (performance.now() - t0) / 1000;
        }
      } finally {
        lock.release();
      }
    }
  }
  const out = plan.runs.map((r) => rows.get(r.runKey)).filter((r): r is ResultRow => !!r);
  const seconds = (performance.now() - start) / 1000;
  if (heldElsewhere && !inWorker) {
    log(
      `${heldElsewhere} run(s) skipped: another live process holds them and finishes them; rerun afterwards to have every result here.`,
    );
  }
  if (inWorker) {
    log(`worker done: ${workedHere} run(s) worked on here in ${formatDuration(seconds)}`);
  } else if (todo.length) {
    log(
      `grid finished: ${todo.length} run(s) in ${formatDuration(seconds)}; results in ${
        shownPath(plan.resultsPath)
      }`,
    );
  }
  return {
    plan,
    rows: out,
    evals,
    trained: trainedCount,
    evaluated: evaluatedCount,
    skipped: plan.runs.length - todo.length,
    heldElsewhere,
    seconds,
  };
}

/**
 * runGrid's work done by `n` single-threaded child processes (lib/experiments/workers.ts): start
 * them, wait, then read what they wrote. Counts come from the files (rows added since the plan).
 */
async function runInWorkers(
  o: GridOptions,
  plan: GridPlan,
  todo: PlannedRun[],
  n: number,
  log: (line: string) => void,
  start: number,
): Promise<GridResult> {
  const count = Math.min(n, todo.length);
  const spec = workerSpec(o, plan, count);
  log(
    `${count} worker process(es) with one TensorFlow thread each (workers: ${o.workers}; lib/experiments/workers.ts).`,
  );
  const exits = await startWorkers("scripts/grid_worker.ts", new Array(count).fill(spec), log);
  const failed = exits.filter((e) => e.code !== 0);
  if (failed.length) {
    throw new ExperimentError(
      workerFailure(
        failed[0],
        count,
        `every finished run is kept in ${shownPath(plan.resultsPath)}`,
      ),
    );
  }
  const after = planGrid(o);
  const rows = after.runs.map((r) => after.existing.get(r.runKey)).filter((r): r is ResultRow =>
    !!r
  );
  const evalsAdded = after.runs.reduce(
    (s, r) => s + (after.evals.get(r.runKey)?.size ?? 0) - (plan.evals.get(r.runKey)?.size ?? 0),
    0,
  );
  const left = after.runs.filter((r) => !runComplete(r)).length;
  const seconds = (performance.now() - start) / 1000;
  if (left) {
    log(
      `${left} run(s) not finished: another live process holds them and finishes them; rerun afterwards to have every result here.`,
    );
  }
  log(
    `grid finished: ${todo.length - left} run(s) in ${
      formatDuration(seconds)
    } with ${count} worker${count === 1 ? "" : "s"}; results in ${shownPath(plan.resultsPath)}`,
  );
  return {
    plan: after,
    rows,
    evals: after.evals,
    trained: rows.filter((r) => !plan.existing.has(String(r.run_key))).length,
    evaluated: evalsAdded,
    skipped: plan.runs.length - todo.length,
    heldElsewhere: left,
    seconds,
  };
}

/** "; engine graph: 940 attack iterations as a graph" (and the keys that stayed eager, why). */
function evalEngineSummary(ev: Awaited<ReturnType<typeof evaluate>>): string {
  const cols = Object.values(ev.evals);
  if (!cols.length) return "";
  const engine = cols[0].engine ?? "eager";
  if (engine === "eager") return "; engine eager";
  const steps = cols.reduce((s, c) => s + (c.graphSteps ?? 0), 0);
  const eager = cols.flatMap((c) =>
    Object.entries(c.eagerReasons ?? {}).map(([k, why]) => `${k} (${why})`)
  );
  return `; engine graph: ${steps} attack iterations as a graph${
    eager.length ? `; eager: ${eager.join("; ")}` : ""
  }`;
}

/** "graph step: 1170 steps as a graph (128x32x32x3/128); eager: 80x32x32x3/80 (reason)". */
function graphSummary(trained: TrainResult): string {
  const g = trained.graph!;
  const eager = Object.entries(g.eager).map(([k, why]) => `${k} (${why})`);
  return `graph step: ${g.graphSteps} steps as a graph${
    g.graphs.length ? ` (${g.graphs.join(", ")})` : ""
  }${eager.length ? `; eager: ${eager.join("; ")}` : ""}`;
}
