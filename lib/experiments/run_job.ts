/**
 * A training run as a job of the engine (lib/jobs/): train it (or resume from its checkpoint)
 * when it has no runs row yet, save the trained model, append the runs row, then run every
 * evaluation of the preset that the evaluations file lacks for it and append one row each. A run
 * trained earlier is evaluated from its saved model; if that file is gone it is retrained
 * (training is deterministic in its seed) and the retrained model is checked against the recorded
 * final training loss (a different loss is refused). runGrid (runner.ts) plans the runs and hands
 * them to the engine with this kind.
 */
import { activeBackend, initBackend } from "../backend/backend.ts";
import type { Dataset, DatasetSplits } from "../data/data.ts";
import { subset } from "../data/data.ts";
import { isFileSync } from "../data/files.ts";
import { loadDataset } from "../data/registry.ts";
import type { JobKind } from "../jobs/job_kind.ts";
import { loadModelFile, saveModelFile } from "../models/model_file.ts";
import type { Model } from "../models/model.ts";
import { evaluate } from "../training/evaluate.ts";
import { methodColumns } from "../training/method.ts";
import {
  modelSpecFor,
  type StepEngine,
  train,
  type TrainOptions,
  type TrainResult,
} from "../training/train.ts";
import { loadAverage } from "../util/load_average.ts";
import { formatDuration, type ProgressStyle } from "../util/progress.ts";
import { ExperimentError } from "./grid.ts";
import { type GridPlan, type PlannedRun, readPlan, runComplete, shownPath } from "./plan.ts";
import { appendEval, appendRun, evalRows, type ResultRow, trainedRunColumns } from "./results.ts";

/** What the runs need beyond their plan; checked by checkGridOptions (runner.ts). */
export interface RunJobOptions {
  backend?: string;
  data?: DatasetSplits;
  dataDir?: string;
  progress?: ProgressStyle;
  onEpochEnd?: TrainOptions["onEpochEnd"];
  stepEngine?: StepEngine;
  keepCheckpoints?: boolean;
  log: (line: string) => void;
}

/** The rows of the planned runs (those found and those written here), and what was added. */
export interface RunRecord {
  rows: Map<string, ResultRow>;
  /** Evaluation rows by run key, then eval key. */
  evals: Map<string, Map<string, ResultRow>>;
  trained: number;
  evaluated: number;
}

/** What every run of one grid shares: the backend and the sized data, loaded once. */
interface Shared {
  backend: string;
  trainSet: Dataset;
  testSet: Dataset;
}

/** The record of a plan as read, before anything runs. */
export function recordOf(plan: GridPlan): RunRecord {
  return {
    rows: new Map(plan.existing),
    evals: new Map([...plan.evals].map(([k, m]) => [k, new Map(m)])),
    trained: 0,
    evaluated: 0,
  };
}

function sized(ds: Dataset, size: number | "all", seed: number): Dataset {
  return size === "all" || size >= ds.n ? ds : subset(ds, size, seed);
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const v = [...values].sort((x, y) => x - y);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/** The training runs of a plan as a job kind; what they find and write goes into `record`. */
export function trainingRuns(
  plan: GridPlan,
  o: RunJobOptions,
  record: RunRecord,
): JobKind<PlannedRun, Shared> {
  const { preset } = plan;
  const log = o.log;
  return {
    noun: "run",
    label: (run) => `${run.row.id} seed ${run.seed}`,
    lockPath: (run) => `${run.checkpointDir}.lock`,
    cost: (run) => run.estimatedSeconds,
    // Training first, then the evaluations that trained runs still lack: a long grid gets all its
    // seeds trained (what its claims need) before costly new columns are added to finished runs.
    phase: (run) => run.status === "done" ? 1 : 0,
    async setup() {
      // The data first: a missing dataset should stop the run before the backend loads.
      const splits = o.data ?? await loadDataset(preset.dataset, o.dataDir);
      const backend = await initBackend(o.backend);
      return {
        backend,
        trainSet: sized(splits.train, preset.trainSize, preset.subsetSeed),
        testSet: sized(splits.test, preset.testSize, preset.subsetSeed),
      };
    },
    refresh(run) {
      // Another process may have finished (part of) this run since the plan was read.
      const now = readPlan(plan.spec);
      const fresh = now.runs.find((r) => r.runKey === run.runKey) ?? run;
      const doneRow = now.existing.get(run.runKey);
      if (doneRow) record.rows.set(run.runKey, doneRow);
      record.evals.set(run.runKey, new Map(now.evals.get(run.runKey) ?? []));
      return runComplete(fresh) ? null : fresh;
    },
    startLine(run, at) {
      const what = run.status === "done"
        ? `evaluate ${run.missingEvals.map((e) => e.eval.key).join(", ")}`
        : run.status === "resume"
        ? "resuming"
        : "new";
      return `run ${at.index}/${at.total}: ${run.row.id} seed ${run.seed} (${what}, est. ${
        formatDuration(at.estimate)
      }); grid elapsed ${formatDuration(at.elapsed)}, ETA ${formatDuration(at.eta)}`;
    },
    async run(run, shared) {
      let model: Model | undefined;
      let resumed = false;
      try {
        const recorded = record.rows.get(run.runKey);
        if (recorded && isFileSync(run.modelPath)) {
          // Verified whole: this run's key, the model this run trains (an old file's header).
          const spec = modelSpecFor(run.config, shared.trainSet);
          model = loadModelFile(run.modelPath, { runKey: run.runKey, spec }).model;
        } else {
          const trained = await trainRun(run, shared, recorded);
          model = trained.model;
          resumed = trained.resumedFromEpoch > 0;
        }
        if (run.missingEvals.length) await evaluateRun(plan, run, model, shared, record, o);
      } finally {
        model?.dispose();
      }
      if (!o.keepCheckpoints) {
        await Deno.remove(run.checkpointDir, { recursive: true }).catch(() => {});
      }
      // A resumed run's wall time covers only part of its work: leave it out of the calibration.
      return !resumed;
    },
  };

  /** Train (or retrain) a run, save its model, and append its runs row when it has none. */
  async function trainRun(
    run: PlannedRun,
    shared: Shared,
    recorded: ResultRow | undefined,
  ): Promise<TrainResult> {
    const { trainSet, testSet } = shared;
    if (recorded) {
      log(`  ${shownPath(run.modelPath)} is missing: retraining the model to evaluate it.`);
    }
    const trained = await train(trainSet, run.config, {
      checkpointDir: run.checkpointDir,
      progress: o.progress,
      label: `${run.row.id} seed ${run.seed}`,
      onEpochEnd: o.onEpochEnd,
      stepEngine: o.stepEngine,
    });
    if (trained.graph) log(`  ${run.row.id} seed ${run.seed}: ${graphSummary(trained)}`);
    const loss = trained.metrics[trained.metrics.length - 1]?.trainLoss;
    if (recorded) {
      // Checked before saving: a model that is not the recorded run must not take its place.
      const was = Number(recorded.final_train_loss);
      const same = Math.abs(loss - was) <= 1e-5 * Math.max(1, Math.abs(was));
      if (Number.isFinite(was) && !same) {
        trained.model.dispose();
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
    saveModelFile(run.modelPath, trained.model, {
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
      const ev = await evaluate(trained.model, testSet, { progress: "none" });
      const row = runRow(
        plan,
        run,
        trained,
        ev.clean,
        { train: trainSet.n, test: testSet.n },
        // The runs file has no precision or engine column; the backend names them.
        (activeBackend() ?? shared.backend) +
          (trained.config.convPrecision === "bf16" ? "+bf16-convs" : "") +
          (trained.graph && trained.graph.graphSteps > 0 ? "+graph-steps" : ""),
      );
      if (appendRun(plan.resultsPath, row)) record.trained++;
      else {log(
          `  ${
            shownPath(plan.resultsPath)
          } already has a finished row of this run; not added twice.`,
        );}
      record.rows.set(run.runKey, row);
      log(
        `  ${run.row.id} seed ${run.seed}: clean ${pct(ev.clean)}; train ${
          trained.trainSeconds.toFixed(1)
        } s${
          trained.resumedFromEpoch > 0 ? ` (resumed after epoch ${trained.resumedFromEpoch})` : ""
        }`,
      );
    }
    return trained;
  }
}

/** The evaluations a run lacks: one evaluate() call per test-point count, one row each. */
async function evaluateRun(
  plan: GridPlan,
  run: PlannedRun,
  model: Model,
  shared: Shared,
  record: RunRecord,
  o: RunJobOptions,
): Promise<void> {
  const mine = record.evals.get(run.runKey) ?? new Map<string, ResultRow>();
  record.evals.set(run.runKey, mine);
  const byN = new Map<number, typeof run.missingEvals>();
  for (const e of run.missingEvals) byN.set(e.n, [...(byN.get(e.n) ?? []), e]);
  for (const [n, group] of byN) {
    const ev = await evaluate(model, shared.testSet, {
      evals: group.map((g) => g.eval.spec),
      limit: n,
      batchSize: plan.preset.evalBatchSize,
      seed: run.seed,
      progress: o.progress,
      label: `eval ${run.row.id} seed ${run.seed}`,
      engine: o.stepEngine,
    });
    for (const row of evalRows(run.runKey, ev, run.seed, activeBackend() ?? shared.backend)) {
      if (appendEval(plan.resultsPath, row)) record.evaluated++;
      else {o.log(
          `  ${row.eval_key} of this run is in the evaluations file already; not added twice.`,
        );}
      mine.set(String(row.eval_key), row);
    }
    o.log(
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
