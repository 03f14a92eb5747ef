/**
 * The `table2_cifar10` notebook's sweep section: the measurement the CIFAR-10 (JPEG q75 copy)
 * preset's width, training-set size and epochs rest on (results/cifar10-jpeg-sweep.csv, written by
 * scripts/cifar_sweep.ts), as a table, a chart and sentences computed from it: which config is
 * ahead at equal training time, and where ST's clean accuracy stands against the 85% aim.
 */
import { fileURLToPath } from "node:url";
import { readSweep, summariseSweep, type SweepConfig } from "../analysis/cifar_sweep.ts";
import type { RowSummary } from "../analysis/summary.ts";
import type { GridPlan } from "../experiments/plan.ts";
import { datasetSpec } from "../data/registry.ts";
import { getPreset } from "../experiments/presets.ts";
import { workersEstimate } from "../experiments/workers.ts";
import type { Chart } from "./notebook.ts";
import { sweepChart } from "./sweep_chart.ts";

export const SWEEP_PATH = fileURLToPath(
  new URL("../../results/cifar10-jpeg-sweep.csv", import.meta.url),
);

/** The clean-accuracy aim the issue set for ST on CIFAR-10 (JPEG q75 copy). */
export const CLEAN_AIM = 0.85;

export function sweepConfigs(path = SWEEP_PATH): SweepConfig[] {
  return summariseSweep(readSweep(path));
}

export function sweepTable(configs: readonly SweepConfig[]) {
  return configs.map((c) => ({
    width: c.width,
    "training images": c.trainSize,
    "epochs (schedule)": c.epochs,
    "epochs run": c.done,
    "final clean %": (100 * c.finalAcc).toFixed(1),
    "best clean %": (100 * c.bestAcc).toFixed(1),
    "median s/epoch": c.epochSeconds.toFixed(0),
    // The first epoch also builds the graph step; the fastest later one is the least disturbed.
    "fastest s/epoch": Math.min(...c.curve.slice(1).map((r) => r.epochSeconds)).toFixed(0),
    "ms/image": c.msPerImage.toFixed(2),
    "training s": c.totalSeconds.toFixed(0),
  }));
}

/** A config's whole-schedule training time at its fastest later epoch (the least disturbed by load). */
export function quietSeconds(c: SweepConfig): number {
  const later = c.curve.slice(1).map((r) => r.epochSeconds);
  return c.epochs * Math.min(...(later.length ? later : [c.epochSeconds]));
}

/**
 * Sentences computed from the sweep: each config's accuracy at the training time of the
 * shortest complete config, and the best final accuracy against the 85% aim.
 */
export function sweepFindings(configs: readonly SweepConfig[]): string[] {
  if (configs.length === 0) {
    return [
      "No sweep results yet: run `bin/deno run -A scripts/cifar_sweep.ts --width 16 --train-size 50000 --epochs 20` (and the other configs) to produce results/cifar10-jpeg-sweep.csv.",
    ];
  }
  const out: string[] = [];
  // Compared at the end of each schedule: mid-schedule accuracies depend on where the learning
  // rate is in its piecewise decay, so equal-time snapshots would compare unlike phases.
  const done = configs.filter((c) => c.done === c.epochs).sort((a, b) => b.finalAcc - a.finalAcc);
  if (done.length > 0) {
    out.push(
      `Final clean accuracy against each schedule's training time (epochs × fastest s/epoch): ${
        done.map((c) =>
          `${c.label} ${(100 * c.finalAcc).toFixed(1)}% in ~${
            (quietSeconds(c) / 60).toFixed(0)
          } min`
        ).join("; ")
      }.`,
    );
  }
  const reached = done.filter((c) => c.finalAcc >= CLEAN_AIM);
  if (done.length === 0) out.push("No config has finished its schedule yet.");
  else {
    out.push(
      reached.length
        ? `The ${(100 * CLEAN_AIM).toFixed(0)}% aim is reached by ${
          reached.map((c) => `${c.label} (${(100 * c.finalAcc).toFixed(1)}%)`).join(", ")
        }.`
        : `No finished config reaches ${
          (100 * CLEAN_AIM).toFixed(0)
        }%; the best final accuracy is ${(100 * done[0].finalAcc).toFixed(1)}% (${done[0].label}).`,
    );
  }
  const incomplete = configs.filter((c) => c.done < c.epochs);
  if (incomplete.length) {
    out.push(
      `Still running or cut short: ${
        incomplete.map((c) => `${c.label} (${c.done} of ${c.epochs} epochs)`).join(", ")
      }.`,
    );
  }
  out.push(
    "Seconds per epoch were measured with two sweep processes side by side (one TensorFlow thread each, as the grid's workers) on 2 cores that also ran other work (test suites) for most of the sweep: the median overstates a quiet machine's time, the fastest epoch is the closest to it.",
  );
  const p = getPreset("cifar10-jpeg", "cpu");
  out.push(
    `The preset \`cifar10-jpeg/cpu\` trains width ${p.train.width} on ${
      p.trainSize === "all" ? `all ${datasetSpec(p.dataset).trainSize}` : p.trainSize
    } images for ${p.train.epochs} epochs: the epochs that fit the budget (ST/SAM block within 5 hours of 2 cores), not the sweep's longest schedule.`,
  );
  return out;
}

export function sweepSectionChart(configs: readonly SweepConfig[]): Chart | undefined {
  return configs.length ? sweepChart(configs, CLEAN_AIM) : undefined;
}

/**
 * ST's clean accuracy in the grid against the 85% aim; when it falls short, what the aim would
 * cost: the epochs of the shortest sweep schedule of the preset's width and training-set size that
 * reached it, and the estimated time of the ST/SAM block's runs still to do, scaled by those
 * epochs (the planner's estimate, two workers). Computed from the grid's plan and summaries (the
 * notebook's own, read once) and the sweep.
 */
export function cleanAimMarkdown(
  configs: readonly SweepConfig[],
  summaries: readonly RowSummary[],
  plan: GridPlan,
): string {
  const p = plan.preset;
  const spec = datasetSpec(p.dataset);
  const st = summaries.find((s) => s.row.id === "ST");
  if (!st || !Number.isFinite(st.metrics.clean?.mean)) {
    return "No ST run of the grid has finished yet, so its clean accuracy is not known.";
  }
  const acc = st.metrics.clean.mean;
  const seeds = `${st.seeds.length} seed${st.seeds.length === 1 ? "" : "s"}`;
  const tested = p.testSize === "all" ? `all ${spec.testSize}` : `${p.testSize}`;
  const stated = `ST's clean accuracy in the grid (${seeds}, ${tested} test images): ${
    (100 * acc).toFixed(1)
  }%`;
  if (acc >= CLEAN_AIM) return `${stated}, at or above the ${(100 * CLEAN_AIM).toFixed(0)}% aim.`;
  const size = p.trainSize === "all" ? spec.trainSize : p.trainSize;
  const reaching = configs
    .filter((c) =>
      c.width === p.train.width && c.trainSize === size && c.done === c.epochs &&
      c.finalAcc >= CLEAN_AIM
    )
    .sort((a, b) => a.epochs - b.epochs)[0];
  if (!reaching) {
    return `${stated}, below the ${
      (100 * CLEAN_AIM).toFixed(0)
    }% aim; no finished sweep schedule of width ${p.train.width} on ${size} images reaches it, so its cost is not measured.`;
  }
  const block = plan.runs.filter((r) => r.row.id === "ST" || r.row.id.startsWith("SAM-"));
  const hours =
    workersEstimate(block.reduce((t, r) => t + r.estimatedSeconds, 0), block.length, 2) /
    3600;
  const scale = reaching.epochs / p.train.epochs;
  return `${stated}, below the ${
    (100 * CLEAN_AIM).toFixed(0)
  }% aim. In the sweep, ${reaching.label} reached ${
    (100 * reaching.finalAcc).toFixed(1)
  }% (its 2000 test images): ${reaching.epochs} epochs instead of ${p.train.epochs}, ${
    scale.toFixed(2)
  }x the training, so the ST/SAM block's runs still to do would take about ${
    (hours * scale).toFixed(1)
  } h instead of the estimated ${
    hours.toFixed(1)
  } h on 2 cores (a little less: their evaluations do not grow), and the runs already done would train again.`;
}
