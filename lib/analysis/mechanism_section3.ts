/**
 * Section 3 at the first layer, per run and rho: SAM's weight perturbation against AT's input
 * perturbation (from the cached first_layer measure; first_layer_equivalence.ts computes it).
 */
import type { EquivalenceResult } from "./first_layer_equivalence.ts";
import type { RunMeasures } from "./mechanism_data.ts";

export interface EquivalenceRow {
  results: string;
  row: string;
  /** The grid row's group: "SAM" rows are measured at their own rho only. */
  group: string;
  seed: number;
  rho: number;
  share: number;
  featureChange: number;
  residual: number;
  lsL2_255: number;
  lsLinf_255: number;
  minRadiusL2_255: number;
  randomRadiusL2_255: number;
  atLinf8FeatureChange: number;
  atL2_128FeatureChange: number;
  atLinf8OverSam: number;
  atL2_128OverSam: number;
}

/**
 * For each run and each rho (the SAM rows' own rho; every rho of 0.05/0.1/0.2 for the others): the
 * first-layer numbers scaled to rho (they are linear in rho), radii in 1/255 pixel units.
 */
export function equivalenceRows(records: readonly RunMeasures[]): EquivalenceRow[] {
  const out: EquivalenceRow[] = [];
  for (const r of records) {
    const e = r.rows.first_layer?.extra as unknown as EquivalenceResult | undefined;
    if (!e) continue;
    const own = r.row.group === "SAM" && r.row.method?.optimizer
      ? r.row.method.optimizer.rho
      : undefined;
    const rhos = typeof own === "number" ? [own] : [0.05, 0.1, 0.2];
    const at = (norm: string, eps: number) =>
      e.atFeatureChange.find((a) => a.norm === norm && Math.abs(a.eps - eps) < 1e-9)?.median ?? NaN;
    const atLinf = at("linf", 8 / 255), atL2 = at("l2", 128 / 255);
    for (const rho of rhos) {
      const f = rho * e.unit.featureChange;
      out.push({
        results: r.results,
        row: r.row.label,
        group: r.row.group,
        seed: r.seed,
        rho,
        share: e.share,
        featureChange: f,
        residual: e.residual,
        lsL2_255: 255 * rho * e.unit.lsL2,
        lsLinf_255: 255 * rho * e.unit.lsLinf,
        minRadiusL2_255: 255 * rho * e.unit.minRadiusL2,
        randomRadiusL2_255: 255 * rho * e.unit.randomRadiusL2,
        atLinf8FeatureChange: atLinf,
        atL2_128FeatureChange: atL2,
        atLinf8OverSam: atLinf / f,
        atL2_128OverSam: atL2 / f,
      });
    }
  }
  return out;
}
