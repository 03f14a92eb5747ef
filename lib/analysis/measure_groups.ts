/**
 * One group of mechanism measures for one loaded model (computeGroup): the data a run was
 * trained and tested on, the measurement sets cut from it, and the calls into the measures
 * (sharpness.ts, hessian.ts, input_gradients.ts, first_layer_equivalence.ts, landscape.ts). The
 * measure cache's job (measure_job.ts) runs it for each group a run lacks.
 *
 * The data: the run's own training subset and test subset (train_size, test_size, subset_seed of
 * its results row, as the runner drew them); from the training subset a fixed, class-stratified
 * subset of `trainImages` images (seed `seed`), cut into chunks of `batchSize`: the same images for
 * every run of the file. Weight-space measures (sharpness, Hessian, landscapes) use these in
 * `mode` (default "train": batch statistics, the loss SAM's passes see; running statistics are not
 * touched); the Hessian and the landscapes use the first `hessianImages` / `landscapeImages` of
 * them. Input-space measures use the first `testImages` / `pgdImages` test images in eval mode.
 */
import * as tf from "@tensorflow/tfjs-core";
import { type Dataset, type DatasetSplits, subset } from "../data/data.ts";
import type { ResultRow } from "../experiments/results.ts";
import type { Model } from "../models/model.ts";
import { type Batch, batchesOf, modelObjective } from "./objective.ts";
import { sharpnessProfile } from "./sharpness.ts";
import { hutchinsonTrace, lanczos, quotientAtSteps } from "./hessian.ts";
import { inputGradientNorms, lossAlongDirection } from "./input_gradients.ts";
import { firstLayerEquivalence } from "./first_layer_equivalence.ts";
import { landscape1d, landscape2d } from "./landscape.ts";
import type { MeasureGroup } from "./measure_cache.ts";
import { expectedMeasures, lineVariant, type MeasureSettings } from "./measure_settings.ts";

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

export interface GroupOutput {
  measure: string;
  variant: string;
  value: number;
  se?: number | null;
  extra?: Record<string, unknown>;
}

export type Tick = (note: string) => Promise<void>;

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

/** A group's outputs must be exactly the measures its cache check expects (a code error if not). */
export function checkOutputs(
  outs: readonly GroupOutput[],
  s: MeasureSettings,
  g: MeasureGroup,
): void {
  const got = outs.map((x) => `${x.measure}|${x.variant}`).sort().join(", ");
  const want = expectedMeasures(s, g).sort().join(", ");
  if (got !== want) {
    throw new Error(`Group ${g} computed [${got}] but expectedMeasures lists [${want}].`);
  }
}
