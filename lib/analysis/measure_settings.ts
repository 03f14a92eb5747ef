/**
 * The settings of the mechanism measures (lib/analysis/measure_run.ts computes them): sizes,
 * radii and iteration counts, their defaults, which settings each measure group depends on (its
 * cache key), the measures a group must produce, and its work units for progress.
 */
import type { Mode } from "../models/model.ts";
import { hashKey } from "../experiments/plan.ts";
import type { MeasureGroup } from "./measure_cache.ts";

export interface MeasureSettings {
  /** Training images of the fixed measurement set. */
  trainImages: number;
  /** Chunk (batch) size; also m of m-sharpness. */
  batchSize: number;
  mode: Mode;
  /** Seed of the measurement subset, the random directions and probes. */
  seed: number;
  /** Plain sharpness radii (the SAM rows' own 0.05 / 0.1 / 0.2 among them). */
  rhos: number[];
  /** Ascent iterates per radius. */
  steps: number;
  /** ASAM (adaptive) radii. */
  adaptiveRhos: number[];
  /** m-sharpness radii (m = batchSize). */
  mRhos: number[];
  hessianImages: number;
  /** Finite-difference step of the Hessian-vector products (weight-space length). */
  fdStep: number;
  /** Lanczos iterations at most. */
  powerIters: number;
  /** Lanczos stops when the top Ritz pair's relative residual bound is below this. */
  powerTol: number;
  probes: number;
  /** Also measure the top curvature at fdStep/3 and 3 fdStep (two more Hessian-vector products). */
  fdCheck: boolean;
  testImages: number;
  pgdImages: number;
  /** The PGD direction: L-inf radius (pixel units). */
  lineEps: number;
  equivalenceImages: number;
  landscapeImages: number;
  landscapePoints1d: number;
  landscapePoints2d: number;
  landscapeSpan: number;
}

export const DEFAULT_SETTINGS: Readonly<MeasureSettings> = Object.freeze({
  trainImages: 512,
  batchSize: 128,
  mode: "train",
  seed: 0,
  rhos: [0.02, 0.05, 0.1, 0.2],
  steps: 3,
  adaptiveRhos: [0.5],
  mRhos: [0.1],
  hessianImages: 256,
  fdStep: 0.03,
  powerIters: 20,
  powerTol: 1e-3,
  probes: 10,
  fdCheck: true,
  testImages: 500,
  pgdImages: 250,
  lineEps: 8 / 255,
  equivalenceImages: 128,
  landscapeImages: 256,
  landscapePoints1d: 21,
  landscapePoints2d: 11,
  landscapeSpan: 1,
});

/** Rows whose models get landscapes by default: ST, SAM rho = 0.2 and AT L-inf 8/255. */
export const LANDSCAPE_ROWS = ["ST", "SAM-0.2", "AT-linf-8"] as const;

/** The settings a group's cache key covers. */
export function groupSettings(s: MeasureSettings, group: MeasureGroup): Record<string, unknown> {
  const data = { trainImages: s.trainImages, batchSize: s.batchSize, seed: s.seed };
  switch (group) {
    case "sharpness":
      return {
        group,
        v: 1,
        ...data,
        mode: s.mode,
        rhos: s.rhos,
        steps: s.steps,
        adaptiveRhos: s.adaptiveRhos,
        mRhos: s.mRhos,
      };
    case "hessian":
      return {
        group,
        v: 1,
        ...data,
        mode: s.mode,
        hessianImages: s.hessianImages,
        fdStep: s.fdStep,
        powerIters: s.powerIters,
        powerTol: s.powerTol,
        probes: s.probes,
        fdCheck: s.fdCheck,
      };
    case "input":
      return {
        group,
        v: 1,
        seed: s.seed,
        testImages: s.testImages,
        pgdImages: s.pgdImages,
        lineEps: s.lineEps,
      };
    case "equivalence":
      return {
        group,
        v: 1,
        seed: s.seed,
        trainImages: s.trainImages,
        batchSize: s.batchSize,
        equivalenceImages: s.equivalenceImages,
      };
    case "landscape":
      return {
        group,
        v: 1,
        ...data,
        mode: s.mode,
        landscapeImages: s.landscapeImages,
        p1: s.landscapePoints1d,
        p2: s.landscapePoints2d,
        span: s.landscapeSpan,
      };
  }
}

/**
 * The measures a group writes, as "measure|variant": what a cached group must hold, whole, to
 * count as cached (computeGroup's outputs are checked against it before they are written).
 */
export function expectedMeasures(s: MeasureSettings, group: MeasureGroup): string[] {
  switch (group) {
    case "sharpness":
      return [
        ...s.rhos.map((r) => `sharpness|rho=${r}`),
        ...s.adaptiveRhos.map((r) => `asam_sharpness|rho=${r}`),
        ...s.mRhos.map((r) => `m_sharpness|m=${s.batchSize},rho=${r}`),
      ];
    case "hessian":
      return ["lambda_max", "lambda_min", "hessian_trace"].map((m) => `${m}|h=${s.fdStep}`);
    case "input":
      return ["grad_l1|", "grad_l2|", "test_loss|", `pgd_line|${lineVariant(s)}`];
    case "equivalence":
      return ["first_layer|rho=1"];
    case "landscape":
      return ["landscape_1d|", "landscape_2d|"];
  }
}

/** The variant of the loss along the PGD direction: its L-inf radius, "linf_8_255". */
export const lineVariant = (s: MeasureSettings) => `linf_${Math.round(s.lineEps * 255)}_255`;

export function settingsKey(s: MeasureSettings, group: MeasureGroup): string {
  return hashKey(groupSettings(s, group));
}

/** Work units of a group (for the progress bar). */
export function units(s: MeasureSettings, group: MeasureGroup): number {
  const chunks = Math.ceil(s.trainImages / s.batchSize);
  switch (group) {
    case "sharpness":
      return s.rhos.length + s.adaptiveRhos.length + s.mRhos.length * chunks;
    case "hessian":
      return s.powerIters + s.probes + (s.fdCheck ? 2 : 0);
    case "input":
      return 1 + Math.ceil(s.pgdImages / 250);
    case "equivalence":
      return Math.ceil(s.equivalenceImages / s.batchSize);
    case "landscape":
      return s.landscapePoints1d + s.landscapePoints2d ** 2;
  }
}

export function resolveSettings(partial: Partial<MeasureSettings> = {}): MeasureSettings {
  return { ...DEFAULT_SETTINGS, ...partial } as MeasureSettings;
}
