"""Write notebooks/mechanism_sharpness_vs_robustness.ipynb without outputs.

Usage: .venv/bin/python scripts/notebooks/make_mechanism_notebook.py
Then execute and render it: bin/deno task report notebooks/mechanism_sharpness_vs_robustness.ipynb

The notebook only calls lib/report/notebook_mechanism.ts (its module: measures and findings from
lib/analysis/mechanism_*.ts, which compute what the measure caches results/<name>.sharpness.csv lack
via lib/analysis/measure_run.ts; tables, charts and prose from lib/report/mechanism_*.ts) and
displays; every number is computed when it runs. `bin/deno task sharpness` fills the caches from the command line.
"""

from nbcells import code, md, notebook, write


def mechanism():
    return notebook([
        md(r"""
# Why SAM helps robustness (RQ1), measured: sharpness, curvature and loss landscapes

Weight-space sharpness, Hessian curvature, input gradients, loss landscapes and the paper's Section 3 argument, measured on every trained model with a saved file, set against its robust accuracy.

**The question.** The paper asks (RQ1) *why does SAM improve adversarial robustness compared to
standard training?* Its answer (Section 3, "empirical understanding", argued in words, no
measurements): for a linear layer $z \mapsto Wz$, AT perturbs the input, $W(z + \delta_z)$, SAM the
weights, $(W + \delta_W)z$, so SAM adds "an implicit kind of data augmentation on the feature space";
"for SAM, the perturbation is relatively more moderate", which is why SAM gains less robustness
than AT but keeps clean accuracy. The paper also notes that "the reason why a flat loss landscape can
lead to better robustness has not been well explained". Section 4 proves a version of this on a
Gaussian model (see the `theorem_4_*` notebooks).

**What this notebook measures** on each trained model: how flat the training loss is in weight
space (worst-case sharpness at several ρ, m-sharpness, ASAM's adaptive sharpness, the largest and
smallest Hessian eigenvalues, the Hessian trace), how steep the loss is in input space (input
gradient norms, the loss along the PGD direction), pictures of the loss landscape, and Section 3's
comparison made numerical at the first layer. Then it asks whether flatness orders robustness
(Spearman correlation over runs and seeds).

**Every number in this notebook is ours**: the paper reports no sharpness, curvature or landscape
numbers. Our models are Fashion-MNIST small CNNs (the paper's are CIFAR PreActResNet-18s).
Computed measures are cached in `results/<name>.sharpness.csv` keyed by run and settings, so
re-rendering reads them; `bin/deno task sharpness --results results/<name>.csv` fills a cache from
the command line. Knob: `SAM_AT_SHARPNESS_RESULTS` (comma list of results CSVs; default
`results/fashion-mnist-full.csv,results/fashion-mnist-default.csv`, those with saved models);
`SAM_AT_WORKERS` (processes computing missing measures: `auto`, one per core with one TensorFlow
thread each, is the default; `1` computes in the kernel).
"""),
        code(r"""
import { showChart, showMarkdown } from "../lib/report/notebook.ts";
import { table } from "../lib/report/show_table.ts";
import * as nb from "../lib/report/notebook_mechanism.ts";
import { DEFAULT_SETTINGS } from "../lib/analysis/measure_run.ts";
console.log(`lib/report/notebook_mechanism.ts: ${Object.keys(nb).join(", ")}`);
"""),
        md("## Method and settings"),
        code(r"""
await showMarkdown(nb.settingsMarkdown(DEFAULT_SETTINGS));
"""),
        md(r"""
**Why Lanczos and h = 0.03, not power iteration at a tiny h.** TF.js has no second derivatives through
the fused BatchNorm-ReLU, max-pool and cross-entropy kernels, so Hessian-vector products are finite
differences of gradients. On a quadratic they are exact at any h (the tests check it). On these ReLU
networks they are not: moving the weights by h flips some units, each flip makes the gradient jump by
an amount that does not shrink with h, and the difference quotient grows as h shrinks (measured once,
ours, on the full-scale ST model, 256 images, while choosing h; `bin/deno task bench-sharpness --h-scan`
repeats it: the top eigenvalue found is 14 at h = 0.001, 7.4 at 0.01, 6.1 at 0.03, 4.3 at 0.1, and the
Hutchinson trace's standard error falls from 207 at h = 0.001 to 32 at h = 0.03). There is no plateau,
so what is measured is the **curvature at weight-space scale h = 0.03** (0.1% of ‖w‖ ≈ 22, below the
smallest sharpness radius); the diagnostics table gives each model's top curvature at h/3 and 3h as the
scale sensitivity. Power iteration (in the library and tested) oscillated on these models between two
values 8% apart after 30 iterations (a negative eigenvalue of similar size), so the measures use
Lanczos with the same number of Hessian-vector products.
"""),
        md("## Run or load"),
        code(r"""
const env = (k: string) => Deno.env.get(k) || undefined;
const paths = env("SAM_AT_SHARPNESS_RESULTS")?.split(",").map((s) => s.trim()).filter(Boolean) ?? nb.DEFAULT_RESULTS;
const mech = await nb.loadMechanism(paths, { workers: env("SAM_AT_WORKERS") ?? "auto" });
const records = mech.records;
await showMarkdown(nb.filesMarkdown(mech));
"""),
        md(r"""
## Every measure of every run

Accuracies in % (PGD-10, from `results/<name>.evals.csv`; AutoAttack columns appear here once a
results file has them for every run). `train_loss` is the loss L(w) on the measurement set (train-mode
BatchNorm); `sharp_ρ` the worst-case sharpness; `lambda_max` / `lambda_min` / `trace` the Hessian's
at h = 0.03; `grad_l1` / `grad_l2` the mean input-gradient norms; `pgd_loss_8_255` the test loss
after PGD-10 L∞ 8/255.
"""),
        code(r"""
table(nb.measuresTable(records))
"""),
        md("### Sharpness against the radius"),
        code(r"""
for (const file of new Set(records.map((r) => r.results))) {
  await showChart(nb.sharpnessVsRhoChart(records.filter((r) => r.results === file), `Worst-case sharpness against ρ (${file}, ours; solid: seed 0, dotted: other seeds)`));
}
"""),
        md(r"""
### Curvature diagnostics

Lanczos iterations and the relative residual bound of the top Ritz pair (small = converged), the top
Rayleigh quotient re-measured at h/3 and 3h (how much the curvature depends on the scale), and the
Hutchinson trace with its standard error over probes.
"""),
        code(r"""
table(nb.curvatureDiagnostics(records))
"""),
        md(r"""
## Does flatness order robustness?

Spearman rank correlation of each measure with robust accuracy over the runs (every row and seed of a
results file), with a 95% percentile bootstrap interval (2000 resamples of the runs; resamples with a
constant side are dropped and counted) and the exact two-sided permutation p-value (all n!
pairings for n ≤ 8). "Flatter = more robust" predicts a **negative** correlation. With a handful of
runs the intervals are wide: read them as what the data can and cannot exclude. The subset "ST + SAM
only" asks the paper's question directly: among models trained without adversarial examples, do the
flatter ones resist attacks better?
"""),
        code(r"""
const corr = nb.correlations(records);
table(nb.correlationTable(corr))
"""),
        code(r"""
for (const file of new Set(records.map((r) => r.results))) {
  const mine = records.filter((r) => r.results === file);
  for (const rk of nb.robustKeys(mine, 3)) {
    await showChart(nb.scatterChart(mine, rk, corr.filter((c) => c.subset.startsWith(`${file}:`)),
      `Each measure against ${nb.robustLabel(rk)} accuracy (${file}, ours; ρ_s: Spearman over all its runs)`));
  }
}
"""),
        md(r"""
## Input space: the loss along the PGD direction

Mean test loss at x + (ε/8·255)·δ_PGD (δ_PGD = each image's PGD-10 L∞ 8/255 perturbation; beyond
8/255 the same direction is extended), against the same along a random ±ε sign direction (dotted). The
gap between the two is what an attack exploits; a first-order model predicts the PGD curve's initial
slope from ‖∇ₓL‖₁.
"""),
        code(r"""
for (const file of new Set(records.map((r) => r.results))) {
  await showChart(nb.pgdLineChart(records.filter((r) => r.results === file), `Test loss along the PGD direction (solid) and a random direction (dotted) (${file}, ours)`));
}
"""),
        md(r"""
## Loss landscapes (Li et al. 2018)

ST, SAM ρ = 0.2 and AT L∞ 8/255 of the same seed, along the same random draws (each then
filter-normalised to its own model's weights, so α = 1 is a step as large as the weights, filter by
filter). Training loss on the measurement set, train-mode BatchNorm, log scale.
"""),
        code(r"""
const land = nb.landscapeRuns(records);
land.length ? await showChart(nb.landscape1dChart(land, "1-D loss landscape along a filter-normalised direction (ours)")) : await showMarkdown("No landscapes in the cache yet.");
"""),
        code(r"""
land.length ? await showChart(nb.landscape2dChart(land, "2-D loss landscapes, log₁₀ training loss (ours)")) : await showMarkdown("No landscapes in the cache yet.");
"""),
        md(r"""
## Section 3 made numerical: SAM's first-layer perturbation against AT's

At the first layer (3×3 convolution W of the normalised image z = (x − mean)/std), SAM's weight
perturbation changes the pre-activations by a = conv(z, e₁), AT's input perturbation by
conv(δₓ/std, W). Per model: e₁'s share of SAM's whole perturbation e (‖e₁‖/‖e‖); the size of a at ρ
(median over images); the best input perturbation reproducing a (least squares) with its relative
residual (near 1 = SAM's feature perturbation is mostly not an input perturbation at all: the layer
has 8 (default preset) or 32 (full-scale) output channels per input pixel) and its size in 1/255 pixel units (L2 and L∞); the smallest
L2 input radius that could change the features by ‖a‖ (‖a‖/σ_max); the L2 radius of a random input
direction with the same effect; and AT's feature change at the training radii L∞ 8/255 and L2 128/255,
as a multiple of SAM's. SAM rows at their own ρ, the other models at ρ = 0.05, 0.1, 0.2 (a scales
linearly with ρ).
"""),
        code(r"""
const eq = nb.equivalenceRows(records);
table(nb.equivalenceTable(eq))
"""),
        md("## What the numbers show"),
        md(r"""
Every sentence below is rendered from a finding value computed from the tables above
(`lib/analysis/mechanism_findings.ts`): its counts and numbers decide each "yes", "no" and ordering.
All numbers are ours.
"""),
        code(r"""
const findings = nb.mechanismFindings(records, corr, eq);
await showMarkdown(nb.findingsMarkdown(findings, corr));
"""),
        md("Each AT run beside ST and SAM ρ = 0.2 of its seed (robust accuracy: PGD-10 L∞ 8/255):"),
        code(r"""
table(nb.atComparisonTable(findings.atComparisons))
"""),
        md("## Verdicts"),
        code(r"""
await showMarkdown(nb.verdictMarkdown(findings));
"""),
        md("The AT runs behind verdict 2 (more robust than every SAM/ASAM run of their seed, yet not flatter than some):"),
        code(r"""
table(nb.separationTable(findings.acrossMethods.separations), { missing: "none" })
"""),
    ])


def main() -> None:
    write("mechanism_sharpness_vs_robustness", mechanism(),
          "The paper's RQ1 measured on every saved model: sharpness, curvature, input gradients and landscapes against robust accuracy, and Section 3's argument tested at the first layer.",
          "ours (the paper reports no such numbers)")


if __name__ == "__main__":
    main()
