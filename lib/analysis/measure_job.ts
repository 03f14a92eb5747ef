/**
 * The mechanism measures of one trained run as a job of the engine (lib/jobs/): the groups the
 * cache (measure_cache.ts) lacks for the run under the current settings, computed from the run's
 * saved model (measure_groups.ts) and appended to the cache one group per write.
 * computeMeasureCache (measure_run.ts) plans these jobs and hands them to the engine, which
 * locks each run's job, so two processes measuring one results file never measure a run twice.
 */
import { isAbsolute, join } from "node:path";
import { activeBackend, initBackend } from "../backend/backend.ts";
import type { DatasetSplits } from "../data/data.ts";
import { checkDataDir, loadDataset } from "../data/registry.ts";
import { runsDirFor } from "../experiments/plan.ts";
import type { ResultRow } from "../experiments/results.ts";
import type { JobKind } from "../jobs/job_kind.ts";
import { loadModelFile } from "../models/model_file.ts";
import type { Arch } from "../models/model.ts";
import { modelSpecFor } from "../training/train.ts";
import { loadAverage } from "../util/load_average.ts";
import { createProgress, formatDuration, type ProgressStyle } from "../util/progress.ts";
import { REPO_ROOT } from "../util/repo_root.ts";
import {
  appendCacheRows,
  type CacheRow,
  hasGroup,
  type MeasureGroup,
  readCache,
} from "./measure_cache.ts";
import { checkOutputs, computeGroup, runData, type Tick } from "./measure_groups.ts";
import { expectedMeasures, type MeasureSettings, settingsKey, units } from "./measure_settings.ts";

/** A run and the groups of measures it lacks. */
export interface MeasureJob {
  run: ResultRow;
  groups: MeasureGroup[];
}

/** What the measure jobs of one results file share; checked by computeMeasureCache. */
export interface MeasureJobOptions {
  /** The results file (its real path); its .sharpness.csv is the cache. */
  resultsPath: string;
  settings: MeasureSettings;
  backend?: string;
  dataDir?: string;
  progress?: ProgressStyle;
}

/** A group computed here: which run, how long. */
export interface Computed {
  run_id: string;
  group: MeasureGroup;
  seconds: number;
}

/** A model file as the results row names it: relative paths are the repository's. */
export function resolveModelPath(p: string): string {
  return isAbsolute(p) ? p : join(REPO_ROOT, p);
}

/** The groups of `wanted` that the cache does not hold whole for this run under settings `s`. */
export function missingGroups(
  cache: readonly CacheRow[],
  run: ResultRow,
  wanted: readonly MeasureGroup[],
  s: MeasureSettings,
): MeasureGroup[] {
  return wanted.filter((g) =>
    !hasGroup(cache, String(run.run_key), g, settingsKey(s, g), expectedMeasures(s, g))
  );
}

/**
 * The measure jobs of a results file as a job kind; each group computed goes into `computed`.
 * A run's lock lives beside its checkpoints (<runs dir>/measures/, git-ignored).
 */
export function measureJobs(
  o: MeasureJobOptions,
  computed: Computed[],
): JobKind<MeasureJob, Map<string, DatasetSplits>> {
  const s = o.settings;
  return {
    noun: "measures",
    label: (j) => `${j.run.row_id} seed ${j.run.seed}`,
    lockPath: (j) =>
      join(
        runsDirFor(o.resultsPath),
        "measures",
        `${j.run.row_id}-seed${j.run.seed}-${j.run.run_key}.lock`,
      ),
    cost: (j) => j.groups.reduce((n, g) => n + units(s, g), 0),
    async setup() {
      await initBackend(o.backend);
      return new Map<string, DatasetSplits>();
    },
    refresh(j) {
      // Another process may have measured (part of) this run since the plan was read.
      const groups = missingGroups(readCache(o.resultsPath), j.run, j.groups, s);
      return groups.length ? { run: j.run, groups } : null;
    },
    async run({ run: row, groups }, splitsBy, at) {
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
      const progress = createProgress({
        label: `measures ${row.row_id} seed ${row.seed} (${at.index}/${at.total})`,
        total: groups.reduce((n, g) => n + units(s, g), 0),
        unit: "steps",
        style: o.progress ?? "auto",
      });
      let done = 0;
      const tick: Tick = (note) => progress.update(++done, note);
      const runStart = performance.now();
      try {
        for (const g of groups) {
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
    },
  };
}
