/**
 * The mechanism notebook's tables and its settings and files paragraphs, as display records
 * (numbers rounded for reading; missing values left null, shown as "–" by show_table.ts).
 */
import {
  type MechanismData,
  READ_ONLY_RESULTS,
  robustKeys,
  type RunMeasures,
} from "../analysis/mechanism_data.ts";
import type { CorrelationRow } from "../analysis/mechanism_correlations.ts";
import type { EquivalenceRow } from "../analysis/mechanism_section3.ts";
import { LANDSCAPE_ROWS, type MeasureSettings } from "../analysis/measure_run.ts";

const sig = (x: number | undefined, d = 3) =>
  x === undefined || !Number.isFinite(x) ? null : Number(x.toPrecision(d));
const pct = (
  x: number | undefined,
) => (x === undefined || !Number.isFinite(x) ? null : +(100 * x).toFixed(1));

/** One row per run: accuracies (%) and every measure. */
export function measuresTable(records: readonly RunMeasures[]): Record<string, unknown>[] {
  const rk = robustKeys(records, 1);
  return records.map((r) => ({
    results: r.results,
    row: r.row.label,
    seed: r.seed,
    clean_pct: pct(r.clean),
    ...Object.fromEntries(rk.map((k) => [`${k}_pct`, pct(r.robust[k])])),
    train_loss: sig(r.rows["sharpness_0.05"]?.extra.baseLoss as number),
    ...Object.fromEntries(
      ["0.02", "0.05", "0.1", "0.2"].map((
        rho,
      ) => [`sharp_${rho}`, sig(r.values[`sharpness_${rho}`])]),
    ),
    m_sharp_0_1: sig(r.values["m_sharpness_0.1"]),
    asam_0_5: sig(r.values["asam_sharpness_0.5"]),
    lambda_max: sig(r.values.lambda_max),
    lambda_min: sig(r.values.lambda_min),
    trace: sig(r.values.hessian_trace),
    trace_se: sig(r.values.trace_se, 2),
    grad_l1: sig(r.values.grad_l1),
    grad_l2: sig(r.values.grad_l2),
    test_loss: sig(r.values.test_loss),
    pgd_loss_8_255: sig(r.values.pgd_loss),
  }));
}

/** The Lanczos and Hutchinson diagnostics per run (convergence, scale sensitivity). */
export function curvatureDiagnostics(records: readonly RunMeasures[]): Record<string, unknown>[] {
  return records.map((r) => {
    const e = r.rows.lambda_max?.extra ?? {};
    const sc = e.scaleCheck as { steps: number[]; quotients: number[] } | null | undefined;
    return {
      results: r.results,
      row: r.row.label,
      seed: r.seed,
      lambda_max: sig(r.values.lambda_max),
      lanczos_iterations: e.iterations ?? null,
      residual_bound: sig(e.residual as number, 2),
      [`at_h/3`]: sc ? sig(sc.quotients[0]) : null,
      [`at_3h`]: sc ? sig(sc.quotients[1]) : null,
      lambda_min: sig(r.values.lambda_min),
      trace: sig(r.values.hessian_trace),
      trace_se: sig(r.values.trace_se, 2),
    };
  });
}

export function correlationTable(rows: readonly CorrelationRow[]): Record<string, unknown>[] {
  return rows.map((c) => ({
    subset: c.subset,
    robust: c.robust,
    measure: c.measure,
    n: c.n,
    spearman: sig(c.spearman, 2),
    ci95_lo: sig(c.ci.lo, 2),
    ci95_hi: sig(c.ci.hi, 2),
    bootstrap_dropped: c.ci.dropped,
    permutation_p: sig(c.p, 2),
  }));
}

export function equivalenceTable(rows: readonly EquivalenceRow[]): Record<string, unknown>[] {
  return rows.map((r) => ({
    results: r.results,
    row: r.row,
    seed: r.seed,
    rho: r.rho,
    layer1_share_of_e: sig(r.share, 2),
    feature_change: sig(r.featureChange),
    ls_residual: sig(r.residual, 2),
    "ls_dx_L2_(/255)": sig(r.lsL2_255),
    "ls_dx_Linf_(/255)": sig(r.lsLinf_255),
    "min_L2_radius_(/255)": sig(r.minRadiusL2_255),
    "random_dir_L2_radius_(/255)": sig(r.randomRadiusL2_255),
    "AT_Linf8_feature_change": sig(r.atLinf8FeatureChange),
    "AT_L2_128_feature_change": sig(r.atL2_128FeatureChange),
    "AT_Linf8_/_SAM": sig(r.atLinf8OverSam),
    "AT_L2_128_/_SAM": sig(r.atL2_128OverSam),
  }));
}

/** The method and settings of every measure, as the notebook states them. */
export function settingsMarkdown(s: MeasureSettings): string {
  const rhos = s.rhos.join(", ");
  return [
    `| measure | how | settings |`,
    `|---|---|---|`,
    `| data | each run's own training subset (train_size, subset_seed of its results row); from it a fixed class-stratified subset, the same images for every run of a file | ${s.trainImages} training images (seed ${s.seed}) in chunks of ${s.batchSize}; weight-space losses in **${s.mode}** mode (batch statistics, as SAM's two passes see the loss; running statistics untouched); input-space measures on the first test images in eval mode |`,
    `| worst-case sharpness | max over ‖δ‖₂ ≤ ρ of L(w+δ) − L(w): SAM's step ρ g/‖g‖, then ${
      s.steps - 1
    } projected normalised ascent steps of ρ/2; the best iterate (a lower bound of the maximum) | ρ ∈ {${rhos}} over all ${s.trainImages} images with one δ |`,
    `| m-sharpness | the same per chunk (own δ per batch of m, as SAM during training), averaged | m = ${s.batchSize}, ρ ∈ {${
      s.mRhos.join(", ")
    }} |`,
    `| adaptive sharpness (ASAM) | δ = \\|w\\| ⊙ u, ‖u‖₂ ≤ ρ | ρ ∈ {${
      s.adaptiveRhos.join(", ")
    }} |`,
    `| λ_max, λ_min | Lanczos (full reorthogonalisation) on Hessian-vector products by central finite differences of gradients, Hv ≈ (g(w+hv) − g(w−hv))/2h | ${s.hessianImages} images, h = ${s.fdStep}, at most ${s.powerIters} iterations, stop at relative residual bound < ${s.powerTol}; the Rayleigh quotient of the top vector is re-measured at h/3 and 3h |`,
    `| Hessian trace | Hutchinson: mean of zᵀHz over Rademacher probes z, ± its standard error | ${s.probes} probes, same h and images |`,
    `| input gradients | mean over test images of ‖∇ₓ l(x, y)‖₁ and ‖∇ₓ l(x, y)‖₂ of each image's own loss (pixel units) | ${s.testImages} test images, eval mode |`,
    `| loss along the PGD direction | δ = PGD-10 L∞ ${
      Math.round(s.lineEps * 255)
    }/255 (step ε/4, random start) per image; mean loss at x + (ε'/ε)δ for ε' from 0 to 2ε, clipped to [0, 1]; the same along a random sign direction | ${s.pgdImages} test images |`,
    `| Section 3 at the first layer | SAM's perturbation e from one training batch's gradient (train mode); its first-layer part e₁; feature change a = conv(z, e₁); least-squares input perturbation reproducing a (conjugate gradients, 40 iterations); AT's PGD-10 L∞ 8/255 and L2 128/255 perturbations' feature change conv(δₓ/std, W) on the same images | ${s.equivalenceImages} training images |`,
    `| landscapes | L(w + αd₁ + βd₂) along filter-normalised Gaussian directions (Li et al. 2018; BatchNorm and bias directions zero) | ${s.landscapeImages} images, ${s.landscapePoints1d} points for 1-D, ${s.landscapePoints2d}×${s.landscapePoints2d} for 2-D, α, β ∈ [−${s.landscapeSpan}, ${s.landscapeSpan}]; for ${
      LANDSCAPE_ROWS.join(", ")
    } |`,
  ].join("\n");
}

/** How each results file was measured now (computed or read from its cache). */
export function filesMarkdown(data: MechanismData): string {
  if (data.files.length === 0) {
    return "No results file has saved models yet (results/models/<name>/*.safetensors): nothing to measure. Run `bin/deno task experiment` first.";
  }
  return data.files.map((f) =>
    f.computed === 0 && f.seconds === 0 && READ_ONLY_RESULTS.includes(f.path)
      ? `- \`${f.path}\`: ${f.runs} run(s) with a model file, ${f.read} of them measured in \`${
        f.path.replace(/\.csv$/, ".sharpness.csv")
      }\` (read only: this notebook never computes PreActResNet-18's measures itself${
        f.read < f.runs
          ? `; \`bin/deno task sharpness --results ${f.path}\` measures the other ${f.runs - f.read}`
          : ""
      }).`
      : `- \`${f.path}\`: ${f.runs} run(s) with a model file; ${f.computed} measure group(s) computed now, ${f.read} read from \`${
        f.path.replace(/\.csv$/, ".sharpness.csv")
      }\` (${f.seconds.toFixed(0)} s).`
  ).join("\n");
}
