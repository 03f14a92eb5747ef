"""Write the five Section 4 notebooks (notebooks/theorem_4_*.ipynb) without outputs.

Usage: .venv/bin/python scripts/notebooks/make_theory_notebooks.py
Then execute and render them: bin/deno task report notebooks/theorem_4_*.ipynb

The notebooks call lib/theory/gaussian_model.ts (Theorem 4.3's last section also lib/theory/toy_training.ts, which trains
with the project's SGD, SAM and PGD); every number they show is computed when they run.
"""

from nbcells import code, md, notebook, write

MODEL_MD = r"""**The model** (eq. 7, after Tsipras et al. 2018; the paper's formulas were lost from its text and
are restored in `THEORY.md`). $y = \pm 1$ with probability $1/2$; the robust feature $x_1 = y$ with
probability $p > 1/2$, else $-y$; the $d$ non-robust features $x_2, \dots, x_{d+1} \sim \mathcal N(\eta y, 1)$
with a small $\eta > 0$. The classifier is $f_w(x) = \operatorname{sign}(w x_1 + x_2 + \dots + x_{d+1})$:
the non-robust weights are normalised to 1, so $w$ is the weight on the robust feature, and a larger
$w$ means a more robust model. Its accuracy, with $\Phi$ the standard normal CDF, is

$$A(w) = p\,\Phi\!\Big(\frac{w + d\eta}{\sqrt d}\Big) + (1-p)\,\Phi\!\Big(\frac{d\eta - w}{\sqrt d}\Big), \qquad L(w) = 1 - A(w).$$"""

IMPORTS = """import pl from "nodejs-polars";
import { showMarkdown, showPlot } from "../lib/report/notebook.ts";
import * as theory from "../lib/theory/gaussian_model.ts";
const { {names} } = theory;
const linspace = (a: number, b: number, n: number) => Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
const relGap = (x: number, ref: number) => Math.abs(x - ref) / Math.abs(ref);
const vline = (x: number, color: string, dash = "dash") => ({
  type: "line", x0: x, x1: x, yref: "paper", y0: 0, y1: 1, line: { color, dash, width: 1.5 },
});
console.log(`lib/theory/gaussian_model.ts loaded: ${Object.keys(theory).length} exports`);"""


def imports(*names: str) -> str:
    return IMPORTS.replace("{names}", ", ".join(names))


# ---------------------------------------------------------------------------------------------
def theorem_4_1():
    return notebook([
        md(r"""
# Theorem 4.1: standard training

The accuracy-maximising weight on the robust feature is w_ST = ln(p/(1-p)) / (2 eta), whatever the number d of non-robust features.
"""),
        md(MODEL_MD),
        md(r"""
**Theorem 4.1 (quoted from the paper, eq. 8; formula restored in `THEORY.md`).** Under standard
training the optimal parameter is

$$w_{ST} = \frac{1}{2\eta}\ln\frac{p}{1-p}.$$

It solves $A'(w) = 0$, i.e. $p\,\varphi(u) = (1-p)\,\varphi(v)$ with $u = (w + d\eta)/\sqrt d$,
$v = (d\eta - w)/\sqrt d$; since $u^2 - v^2 = 4w\eta$, $d$ drops out. That $w_{ST}$ does not depend
on $d$ follows directly from the formula.

**What this notebook checks** (numbers computed here, none typed in): the closed form against a
direct numerical maximisation of $A$ (`wNumericST`: bracketing and golden-section search that compares
errors $1 - A$ exactly, never $A$ itself), the shape of $A(w)$ for several $d$, and Monte Carlo
accuracies of samples drawn from the model (`sampleGaussianModel`).
"""),
        code(imports("accuracy", "errorRate", "wST", "wNumericST", "sampleGaussianModel", "empiricalAccuracy")),
        md("## Closed form against numerical maximisation"),
        code(r"""
const rows = [];
for (const p of [0.6, 0.75, 0.9, 0.99]) {
  for (const eta of [0.02, 0.1, 0.5]) {
    for (const d of [1, 100, 1000]) {
      const m = { p, eta, d };
      const closed = wST(m), numeric = wNumericST(m);
      rows.push({ p, eta, d, w_ST_closed_form: closed, w_ST_numeric: numeric,
        relative_gap: relGap(numeric, closed), accuracy_at_w_ST: accuracy(m, closed),
        error_at_w_ST: errorRate(m, closed) });
    }
  }
}
const checks = pl.DataFrame(rows);
await showMarkdown(`Largest relative gap between the closed form and the numerical optimum over ${rows.length} models: ` +
  `**${Math.max(...rows.map((r) => r.relative_gap)).toExponential(2)}**.`);
checks
"""),
        md(r"""
The error column shows why the search compares errors rather than accuracies: for large $d\eta$ the
error at $w_{ST}$ is far below $10^{-16}$, so the accuracy itself prints as 1.
"""),
        md("## The accuracy curve: same maximiser for every d"),
        code(r"""
const base = { p: 0.9, eta: 0.1 };
const w0 = wST({ ...base, d: 1 });
const ws = linspace(-10, 40, 251);
const traces = [1, 10, 100, 1000].map((d) => ({
  x: ws, y: ws.map((w) => accuracy({ ...base, d }, w)), mode: "lines", name: `d = ${d}`,
}));
await showPlot(traces, {
  title: `A(w) for p = ${base.p}, eta = ${base.eta}: each curve peaks at w_ST = ${w0.toFixed(4)} (dashed)`,
  xaxis: { title: { text: "w (weight on the robust feature)" } },
  yaxis: { title: { text: "accuracy A(w)" } },
  shapes: [vline(w0, "black")],
});
"""),
        code(r"""
// Where each curve of the chart above peaks, found numerically.
pl.DataFrame([1, 10, 100, 1000].map((d) => ({ d, numeric_argmax: wNumericST({ ...base, d }), w_ST: w0,
  max_accuracy: accuracy({ ...base, d }, w0) })))
"""),
        md(r"""
## Monte Carlo: sampled data on the analytic curve

$n = 4000$ samples from the model with $p = 0.9$, $\eta = 0.1$, $d = 100$ (seed 1); at each $w$ the
share of samples that $f_w$ classifies correctly, with error bars of $\pm 2$ standard errors
$\sqrt{A(1-A)/n}$.
"""),
        code(r"""
const mc = { p: 0.9, eta: 0.1, d: 100 };
const n = 4000;
const sample = sampleGaussianModel(mc, n, 1);
const wPoints = linspace(-10, 40, 11).concat([wST(mc)]).sort((a, b) => a - b);
const mcRows = wPoints.map((w) => {
  const exact = accuracy(mc, w), empirical = empiricalAccuracy(sample, w);
  const se = Math.sqrt((exact * (1 - exact)) / n);
  return { w, accuracy_exact: exact, accuracy_monte_carlo: empirical, standard_error: se,
    gap_in_standard_errors: (empirical - exact) / se };
});
await showPlot([
  { x: ws, y: ws.map((w) => accuracy(mc, w)), mode: "lines", name: "A(w), exact" },
  { x: mcRows.map((r) => r.w), y: mcRows.map((r) => r.accuracy_monte_carlo), mode: "markers",
    name: `Monte Carlo, n = ${n}`, error_y: { type: "data", array: mcRows.map((r) => 2 * r.standard_error) } },
], {
  title: "Monte Carlo accuracy of sampled data (d = 100) against A(w)",
  xaxis: { title: { text: "w" } }, yaxis: { title: { text: "accuracy" } },
  shapes: [vline(wST(mc), "black")],
});
pl.DataFrame(mcRows)
"""),
    ])


# ---------------------------------------------------------------------------------------------
def theorem_4_2():
    return notebook([
        md(r"""
# Theorem 4.2: adversarial training

Against an L-infinity attack of size eps on the non-robust features, the best weight is w_AT = eta/(eta - eps) * w_ST > w_ST.
"""),
        md(MODEL_MD),
        md(r"""
**Adversarial loss (quoted from the paper, eq. 9; restored in `THEORY.md`).** The adversary moves each
non-robust feature by at most $\varepsilon < \eta$; $x_1 = \pm1$ is left alone. The worst case shifts
every $x_i$ by $-\varepsilon y$, so

$$A_\varepsilon(w) = p\,\Phi\!\Big(\frac{w + d(\eta-\varepsilon)}{\sqrt d}\Big) + (1-p)\,\Phi\!\Big(\frac{d(\eta-\varepsilon) - w}{\sqrt d}\Big).$$

**Theorem 4.2 (quoted, eq. 10).**
$$w_{AT} = \frac{1}{2(\eta-\varepsilon)}\ln\frac{p}{1-p} = \frac{\eta}{\eta-\varepsilon}\, w_{ST} > w_{ST}.$$

**Derived caution (`THEORY.md`, not in the paper):** the result needs the attack to leave $x_1$
alone. If the $L_\infty$ attack also moves $x_1$, then for $p = 0.7$, $\eta = 0.5$, $d = 10$,
$\varepsilon = 0.1$ the robust optimum falls *below* $w_{ST}$ (0.825 < 0.847); see the last section.
"""),
        code(imports("accuracy", "wST", "wAT", "wNumericAT", "accuracyAllFeaturesAttacked",
                     "wATAllFeaturesNumeric", "sampleGaussianModel", "empiricalAccuracy")),
        md("## Closed form against numerical maximisation of the robust accuracy"),
        code(r"""
const rows = [];
for (const m of [{ p: 0.9, eta: 0.1, d: 100 }, { p: 0.7, eta: 0.5, d: 10 }, { p: 0.99, eta: 0.02, d: 1000 }]) {
  for (const frac of [0, 0.1, 0.25, 0.5, 0.75, 0.9]) {
    const eps = frac * m.eta;
    const closed = wAT(m, eps), numeric = wNumericAT(m, eps);
    rows.push({ p: m.p, eta: m.eta, d: m.d, eps, w_AT_closed_form: closed, w_AT_numeric: numeric,
      relative_gap: relGap(numeric, closed), ratio_to_w_ST: closed / wST(m),
      eta_over_eta_minus_eps: m.eta / (m.eta - eps) });
  }
}
await showMarkdown(`Largest relative gap between the closed form and the numerical optimum: ` +
  `**${Math.max(...rows.map((r) => r.relative_gap)).toExponential(2)}**; ` +
  `w_AT / w_ST equals eta/(eta - eps) in every row.`);
pl.DataFrame(rows)
"""),
        md(r"""
## $w_{AT}$ grows with $\varepsilon$; robustness is bought with clean accuracy

Model $p = 0.9$, $\eta = 0.1$, $d = 100$. Left axis: $w_{AT}(\varepsilon)$ (line: closed form;
markers: numerical optimum). Right axis: clean accuracy $A(w_{AT})$ and robust accuracy
$A_\varepsilon(w_{AT})$ of the adversarially trained weight, and the robust accuracy
$A_\varepsilon(w_{ST})$ of the standard one.
"""),
        code(r"""
const m = { p: 0.9, eta: 0.1, d: 100 };
const epsGrid = linspace(0, 0.9 * m.eta, 46);
const epsMarks = linspace(0, 0.9 * m.eta, 10);
await showPlot([
  { x: epsGrid, y: epsGrid.map((e) => wAT(m, e)), mode: "lines", name: "w_AT (closed form)" },
  { x: epsMarks, y: epsMarks.map((e) => wNumericAT(m, e)), mode: "markers", name: "w_AT (numerical)" },
  { x: epsGrid, y: epsGrid.map((e) => accuracy(m, wAT(m, e))), mode: "lines", yaxis: "y2",
    name: "clean accuracy A(w_AT)", line: { dash: "dot" } },
  { x: epsGrid, y: epsGrid.map((e) => accuracy(m, wAT(m, e), e)), mode: "lines", yaxis: "y2",
    name: "robust accuracy A_eps(w_AT)" },
  { x: epsGrid, y: epsGrid.map((e) => accuracy(m, wST(m), e)), mode: "lines", yaxis: "y2",
    name: "robust accuracy A_eps(w_ST)", line: { dash: "dash" } },
], {
  title: "Adversarial training in the model (p = 0.9, eta = 0.1, d = 100)",
  xaxis: { title: { text: "attack size eps" } },
  yaxis: { title: { text: "w_AT" } },
  yaxis2: { title: { text: "accuracy" }, overlaying: "y", side: "right", range: [0.5, 1] },
  legend: { x: 0.02, y: 0.98 },
});
"""),
        md(r"""
## Robust accuracy curves and Monte Carlo under attack

$A_\varepsilon(w)$ for three attack sizes, each peaking at its $w_{AT}$ (dashed). Markers: the
accuracy of $n = 4000$ samples (seed 2) after the attack $x_i \to x_i - \varepsilon y$ on the
non-robust features, with $\pm 2$ standard errors.
"""),
        code(r"""
const n = 4000;
const sample = sampleGaussianModel(m, n, 2);
const ws = linspace(-10, 80, 181);
const traces = [];
const mcRows = [];
for (const eps of [0, 0.03, 0.06]) {
  traces.push({ x: ws, y: ws.map((w) => accuracy(m, w, eps)), mode: "lines", name: `A_eps(w), eps = ${eps}` });
  const points = [0, 20, 40, 60, 80, wAT(m, eps)];
  const acc = points.map((w) => empiricalAccuracy(sample, w, eps));
  const se = points.map((w) => Math.sqrt(accuracy(m, w, eps) * (1 - accuracy(m, w, eps)) / n));
  traces.push({ x: points, y: acc, mode: "markers", name: `Monte Carlo, eps = ${eps}`,
    error_y: { type: "data", array: se.map((s) => 2 * s) } });
  points.forEach((w, i) => mcRows.push({ eps, w, accuracy_exact: accuracy(m, w, eps),
    accuracy_monte_carlo: acc[i], gap_in_standard_errors: (acc[i] - accuracy(m, w, eps)) / se[i] }));
}
await showPlot(traces, {
  title: "Robust accuracy A_eps(w): analytic curves and attacked samples (d = 100)",
  xaxis: { title: { text: "w" } }, yaxis: { title: { text: "accuracy under the eps attack" } },
  shapes: [0, 0.03, 0.06].map((e) => vline(wAT(m, e), "gray")),
});
pl.DataFrame(mcRows)
"""),
        md(r"""
## Derived caution: attacking the robust feature too

Not the paper's setting. If the attack also moves $x_1$ by $-\varepsilon y$ (the worst case for
$w > 0$), the accuracy becomes
$p\,\Phi\big((w(1-\varepsilon) + d(\eta-\varepsilon))/\sqrt d\big) + (1-p)\,\Phi\big((d(\eta-\varepsilon) - w(1+\varepsilon))/\sqrt d\big)$
(**derived**), and its maximiser can fall below $w_{ST}$.
"""),
        code(r"""
const c = { p: 0.7, eta: 0.5, d: 10 };
pl.DataFrame([0.05, 0.1, 0.2, 0.3].map((eps) => ({
  eps, w_ST: wST(c), w_AT_paper_threat_model: wAT(c, eps), w_AT_x1_attacked_too: wATAllFeaturesNumeric(c, eps),
  below_w_ST: wATAllFeaturesNumeric(c, eps) < wST(c),
})))
"""),
    ])


# ---------------------------------------------------------------------------------------------
# Theorem 4.3's last section: this project's training library on samples from the model
# (lib/theory/toy_training.ts). It trains, so unlike the rest of the notebooks it loads a tfjs backend.
BEYOND_4_3 = [
    md(r"""
## Beyond the paper: this project's SAM and PGD training on samples from the model

**What is run.** `lib/theory/toy_training.ts` trains the model's linear classifier $\theta\cdot x$ (weights
$\theta_1$ on $x_1$ and $\theta_2..\theta_{d+1}$ on the non-robust features, no bias) with this
project's own training library: `createSgd` (full batch, momentum 0.9, no weight decay, 200 steps,
learning rate 1 for the first half, then linearly down to 0), `samStep` from `lib/optim/sam.ts`, and
`pgd` from `lib/attacks/pgd.ts`. Its two class logits are $\mp\theta\cdot x/2$, so the library's
cross-entropy is exactly the logistic loss $\log(1 + e^{-y\,\theta\cdot x})$. The weight it puts on the
robust feature, in the paper's normalisation (non-robust weights equal to 1), is
$w = \theta_1 / \operatorname{mean}(\theta_2..\theta_{d+1})$. Model $p = 0.9$, $\eta = 0.1$, $d = 100$
and $n = 10000$ samples per run.

- **ST**: plain loss. **AT**: `pgd` ($L_\infty$, random start, 2 steps of size $\varepsilon$, which reach
  the exact worst case of a linear score) on the non-robust features only, through a closure model
  whose input is $x_2..x_{d+1}$ with $x_1$ held fixed, and with pgd's new `bounds: null` (no $[0,1]$
  clamp: these are Gaussian features, not pixels).
- **SAM, all weights** (`sam-all`): the library's `samStep`, one global $L_2$ perturbation
  $\rho\,g/\lVert g\rVert$ over all $d+1$ weights, as the CIFAR runs use it.
- **SAM, w only** (`sam-w`): the ascent step moves $\theta_1$ alone (`samStep` with `perturbed = [theta1]`: the
  perturbation from $\theta_1$'s gradient, then every weight steps with the gradient at the perturbed point), the
  paper's eq. 11 in first-order form.
- **SAM, w only, exact inner max** (`sam-w-exact`, not in the library, added to find the cause of a
  difference): the ascent goes to whichever end of $[\theta_1 - \rho, \theta_1 + \rho]$ has the larger
  loss, the exact inner maximum of a loss convex in $\theta_1$, instead of following the gradient.

**Two weight regimes, because $\rho$ acts on the unnormalised $\theta$.** The 0-1 loss of the theory
does not change when $\theta$ is scaled; the logistic loss does, and SAM's radius is in units of
$\theta$. The effective radius in the paper's units is $\rho_w = \rho / \operatorname{mean}(\theta_2..\theta_{d+1})$,
reported for every run. *All trained*: every weight is learnt, so the scale is free and SAM can
change it. *Non-robust fixed*: $\theta_2..\theta_{d+1}$ are frozen at $2\eta$ (their population ST value)
and only $\theta_1$ is trained: the paper's setting, with $w$ the only parameter and
$\rho_w = \rho/(2\eta)$ exactly; there `sam-w` is `samStep` itself (its parameter list is $[\theta_1]$).

**Derived here (not in the paper), then checked numerically.** The model's log-odds are exactly
$x_1\ln\frac{p}{1-p} + 2\eta\sum_{i\ge2} x_i$, linear in $x$, so logistic regression is well specified:
its population optimum is $\theta = (\ln\frac{p}{1-p}, 2\eta, \dots, 2\eta)$, i.e. $w = w_{ST}$. The worst
$L_\infty$ attack of size $\varepsilon$ on the non-robust features turns $\eta$ into $\eta - \varepsilon$
(for positive non-robust weights), so robust logistic training's optimum is $w_{AT}$. SAM has no such
identity. For it, `lib/theory/toy_training.ts` computes **population references** of the logistic loss
(float64 quadrature, no sampling): `logisticSamExact`, the exact min-max with the perturbation on
$\theta_1$; and `logisticSamFirstOrder`, where first-order `sam-w` comes to rest. Its ascent step is
$\pm\rho$ by the sign of $\partial L/\partial\theta_1$, so it chatters across the surface
$\partial L/\partial\theta_1 = 0$ and rests *on* it, where a mixture of the gradients at
$\theta_1 \pm \rho$ vanishes; the exact min-max instead rests where $L(\theta_1 + \rho) = L(\theta_1 - \rho)$.

**Measured.** Sampling noise in $w$ is large compared with SAM's effects (the asymptotic standard
error of the logistic estimate, `logisticStandardErrorW`, is printed below), so SAM's effect is
measured as a **paired shift**: the SAM run minus the ST run on the same sample in the same weight
regime. Two samples (seeds 1 and 2); AT runs on sample 1.
"""),
    code(r"""
import { initBackend } from "../lib/backend/backend.ts";
import * as toy from "../lib/theory/toy_training.ts";
await initBackend();
const toyM = { p: 0.9, eta: 0.1, d: 100 };
const toyN = 10000, toySeeds = [1, 2], toyFix = 2 * toyM.eta;
const toyEps = [0.02, 0.04, 0.06], toyRhos = [0.8, 1.6];
const toySe = (eps = 0) => toy.logisticStandardErrorW({ ...toyM, eta: toyM.eta - eps }, toyN);
// The derived claims on the population logistic loss: optimum at w_ST, and at w_AT under the attack.
const toyPop = [0, ...toyEps].map((eps) => {
  const opt = toy.logisticOptimum({ ...toyM, eta: toyM.eta - eps });
  const target = eps === 0 ? wST(toyM) : theory.wAT(toyM, eps);
  return { eps, theta1: opt.theta1, mean_non_robust_weight: opt.c, w_population_logistic: opt.w,
    theory: target, theory_name: eps === 0 ? "w_ST" : "w_AT", relative_gap: relGap(opt.w, target),
    standard_error_of_w_at_n: toySe(eps) };
});
await showMarkdown(`Population logistic optimum against the theorems: largest relative gap ` +
  `**${Math.max(...toyPop.map((r) => r.relative_gap)).toExponential(1)}** (quadrature and root-finding ` +
  `tolerance). Asymptotic standard error of the trained w at n = ${toyN}: **${toySe().toFixed(3)}** ` +
  `(${(100 * toySe() / wST(toyM)).toFixed(1)}% of w_ST) for ST.`);
pl.DataFrame(toyPop)
"""),
    md(r"""
### The training runs

Every run starts from zero weights. Per sample: ST in both regimes; for each
$\rho \in \{0.8, 1.6\}$ (in units of $\theta$; $\rho_w = 4, 8$ when the non-robust weights are
fixed): `sam-w`, `sam-w-exact` and `sam-all` with all weights trained, `sam-w` and `sam-w-exact`
with the non-robust weights fixed. On sample 1 also AT for $\varepsilon \in \{0.02, 0.04, 0.06\}$.
One row per run; `shift` is $w$ minus that of the ST run on the same sample and regime.
"""),
    code(r"""
const toyStart = performance.now();
const toyRuns: Record<string, any>[] = [];
for (const seed of toySeeds) {
  const sample = theory.sampleGaussianModel(toyM, toyN, seed);
  const stW: Record<string, number> = {};
  const run = (opts: toy.ToyTrainOptions) => {
    const r = toy.trainToy(sample, opts);
    const regime = opts.fixRest === undefined ? "all trained" : "non-robust fixed";
    if (opts.method === "st") stW[regime] = r.w;
    toyRuns.push({ sample: seed, method: opts.method, weights: regime, eps: opts.eps ?? null, rho: opts.rho ?? null,
      rho_w: Number.isNaN(r.rhoW) ? null : r.rhoW, theta1: r.theta1, mean_non_robust_weight: r.meanRest,
      theta_norm: Math.hypot(r.theta1, ...r.thetaRest), w: r.w,
      shift: r.w - stW[regime], seconds: r.seconds });
  };
  run({ method: "st" });
  run({ method: "st", fixRest: toyFix });
  if (seed === toySeeds[0]) for (const eps of toyEps) run({ method: "at", eps, seed });
  for (const rho of toyRhos) {
    for (const method of ["sam-w", "sam-w-exact", "sam-all"] as const) run({ method, rho });
    for (const method of ["sam-w", "sam-w-exact"] as const) run({ method, rho, fixRest: toyFix });
  }
}
const toySeconds = (performance.now() - toyStart) / 1000;
await showMarkdown(`${toyRuns.length} training runs in ${toySeconds.toFixed(1)} s ` +
  `(${(toySeconds / toyRuns.length).toFixed(2)} s per run on average).`);
pl.DataFrame(toyRuns)
"""),
    md(r"""
### Measured against theory

One row per method and setting, averaged over the samples. `paper_theory_w` is the 0-1-loss
optimum of the paper's analysis at the run's own $\rho_w$: $w_{ST}$, $w_{AT}$ (Theorems 4.1, 4.2),
the exact $w_{SAM}$ (Theorem 4.3's min-max, w only) for `sam-w` and `sam-w-exact`, and for `sam-all`
the all-weights $L_2$ version of `THEORY.md`'s derived caution (`wSAMAllWeightsL2`).
`logistic_population_w` is what the same algorithm reaches on the population logistic loss
(no sampling): the references above; it is not computed for `sam-all`. `w_se` is the sampling
standard error of the mean $w$ (asymptotic formula, divided by $\sqrt{\#\text{samples}}$);
`shift_se` is the standard error of the mean paired shift over the two samples
($|a - b|/2$; with two samples only a rough guide). The relative gaps compare $w$ itself, so they include the sampling error `w_se`;
compare the shifts for SAM.
"""),
    code(r"""
const toyKey = (r: Record<string, any>) => `${r.method}|${r.weights}|${r.eps}|${r.rho}`;
const toyGroups = new Map<string, Record<string, any>[]>();
for (const r of toyRuns) toyGroups.set(toyKey(r), [...(toyGroups.get(toyKey(r)) ?? []), r]);
const toyMean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const toyPopCache = new Map<string, number>();
const toyPopulation = (method: string, fixed: boolean, rho: number) => {
  const key = `${method}|${fixed}|${rho}`;
  if (!toyPopCache.has(key)) {
    const c = fixed ? toyFix : undefined;
    toyPopCache.set(key, method === "sam-w" ? toy.logisticSamFirstOrder(toyM, rho, c).w
      : method === "sam-w-exact" ? toy.logisticSamExact(toyM, rho, c).w : NaN);
  }
  return toyPopCache.get(key)!;
};
const toySummary = [...toyGroups.values()].map((rs) => {
  const r0 = rs[0], fixed = r0.weights === "non-robust fixed";
  const w = toyMean(rs.map((r) => r.w)), shift = toyMean(rs.map((r) => r.shift));
  const rhoW = r0.rho === null ? null : toyMean(rs.map((r) => r.rho_w));
  const paper = r0.method === "st" ? wST(toyM) : r0.method === "at" ? theory.wAT(toyM, r0.eps)
    : r0.method === "sam-all" ? wSAMAllWeightsL2(toyM, rhoW!) : wSAM(toyM, rhoW!);
  const logistic = r0.method === "st" ? wST(toyM) : r0.method === "at" ? theory.wAT(toyM, r0.eps)
    : toyPopulation(r0.method, fixed, r0.rho);
  const setting = r0.eps !== null ? `eps = ${r0.eps}` : r0.rho !== null ? `rho = ${r0.rho}` : "";
  return { method: r0.method, weights: r0.weights, setting, rho_w: rhoW, samples: rs.length,
    w, w_se: toySe(r0.eps ?? 0) / Math.sqrt(rs.length), shift: r0.method === "st" ? null : shift,
    shift_se: rs.length > 1 && r0.method !== "st" ? Math.abs(rs[0].shift - rs[1].shift) / 2 : null,
    paper_theory_w: paper, paper_theory_shift: paper - wST(toyM), rel_gap_to_paper: relGap(w, paper),
    logistic_population_w: Number.isNaN(logistic) ? null : logistic,
    logistic_population_shift: Number.isNaN(logistic) ? null : logistic - wST(toyM),
    rel_gap_to_logistic_population: Number.isNaN(logistic) ? null : relGap(w, logistic) };
});
const toyRound = (v: unknown) => typeof v !== "number" ? v : Math.abs(v) < 1e-9 ? 0 : Number(v.toPrecision(5));
pl.DataFrame(toySummary.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, toyRound(v)]))))
"""),
    md(r"""
### AT: measured $w$ against Theorem 4.2

Line: $w_{AT}(\varepsilon) = \frac{\eta}{\eta-\varepsilon} w_{ST}$. Markers: ST ($\varepsilon = 0$) and
PGD adversarial training on sample 1, with $\pm 2$ standard errors (`logisticStandardErrorW` for the
attacked model).
"""),
    code(r"""
const toyAt = toyRuns.filter((r) => r.sample === toySeeds[0] && (r.method === "at" ||
  (r.method === "st" && r.weights === "all trained")));
const toyEpsGrid = linspace(0, 0.07, 71);
await showPlot([
  { x: toyEpsGrid, y: toyEpsGrid.map((e) => theory.wAT(toyM, e)), mode: "lines", name: "w_AT (Theorem 4.2)" },
  { x: toyAt.map((r) => r.eps ?? 0), y: toyAt.map((r) => r.w), mode: "markers", marker: { size: 9 },
    name: "trained: ST (eps = 0) and PGD-AT",
    error_y: { type: "data", array: toyAt.map((r) => 2 * toySe(r.eps ?? 0)) } },
], {
  title: `Adversarial training with lib/attacks/pgd.ts on ${toyN} samples (p = 0.9, eta = 0.1, d = 100)`,
  xaxis: { title: { text: "attack size eps on the non-robust features" } },
  yaxis: { title: { text: "w = theta1 / mean(non-robust weights)" } },
});
"""),
    md(r"""
### SAM: measured shift of $w$ against $\rho_w$

Both charts show the shift of $w$ away from $w_{ST}$: for the theory curves $w - w_{ST}$, for the
trained markers the paired shift (mean of the two samples, error bars $\pm 2$ `shift_se`), at the
run's $\rho_w = \rho/\operatorname{mean}(\theta_2..\theta_{d+1})$. Lines: the paper's exact $w_{SAM}$ and its
small-$\rho$ form $w_{ST}(1 + \rho^2/(3d))$ (0-1 loss); dashed: the population references of the
logistic loss for the same algorithm.

**First chart, the paper's setting** (non-robust weights fixed at $2\eta$, only $\theta_1$ trained):
the library's `samStep` on $[\theta_1]$ and the exact-inner-max step.
"""),
    code(r"""
const toyMarkers = (method: string, weights: string, name: string, symbol: string) => {
  const rs = toySummary.filter((r) => r.method === method && r.weights === weights);
  return { x: rs.map((r) => r.rho_w), y: rs.map((r) => r.shift), mode: "markers", name,
    marker: { size: 10, symbol }, error_y: { type: "data", array: rs.map((r) => 2 * (r.shift_se ?? 0)) } };
};
const toyRhoW = linspace(0, 9, 37);
const toyPaperCurves = [
  { x: toyRhoW, y: toyRhoW.map((r) => wSAM(toyM, r) - wST(toyM)), mode: "lines", name: "paper: exact w_SAM (0-1 loss)",
    line: { color: "black", width: 3 } },
  { x: toyRhoW, y: toyRhoW.map((r) => theory.wSAMApprox(toyM, r) - wST(toyM)), mode: "lines",
    name: "paper: w_ST (1 + rho^2/(3d))", line: { color: "gray", dash: "dot" } },
];
await showPlot([
  ...toyPaperCurves,
  { x: toyRhoW, y: toyRhoW.map((r) => r === 0 ? 0 : toy.logisticSamExact(toyM, r * toyFix, toyFix).w - wST(toyM)),
    mode: "lines", name: "logistic loss: exact min-max", line: { color: "#2ca02c", dash: "dash" } },
  { x: toyRhoW, y: toyRhoW.map(() => 0), mode: "lines", name: "logistic loss: first-order SAM rest point (= w_ST)",
    line: { color: "#1f77b4", dash: "dash" } },
  toyMarkers("sam-w", "non-robust fixed", "trained: library samStep on theta1", "circle"),
  toyMarkers("sam-w-exact", "non-robust fixed", "trained: exact-inner-max step", "diamond"),
], {
  title: "Non-robust weights fixed (the paper's setting): SAM's shift of w",
  xaxis: { title: { text: "rho_w = rho / non-robust weight" } },
  yaxis: { title: { text: "w - w_ST (trained: minus the ST run on the same sample)" } },
  legend: { x: 0.01, y: 0.99 },
});
"""),
    md(r"""
**Second chart, all weights trained** (the library's normal use): `sam-w`, `sam-w-exact` and the
library's all-weights `samStep`. Here SAM also changes the scale of the non-robust weights, so
each run's $\rho_w$ is its own; the logistic references are drawn along their own $\rho_w$ too. The
purple curve is `THEORY.md`'s derived all-weights $L_2$ caution for the 0-1 loss.
"""),
    code(r"""
const toyRhoTheta = linspace(0.1, 1.8, 18);
const toyExactFree = toyRhoTheta.map((r) => toy.logisticSamExact(toyM, r));
const toyFirstFree = toyRhoTheta.map((r) => toy.logisticSamFirstOrder(toyM, r));
const toyAllRhoW = [1, 2, 3, 4, 5, 6, 7, 8, 9];
await showPlot([
  ...toyPaperCurves,
  { x: toyAllRhoW, y: toyAllRhoW.map((r) => wSAMAllWeightsL2(toyM, r) - wST(toyM)), mode: "lines+markers",
    name: "paper's model, all weights in an L2 ball (THEORY.md caution)", line: { color: "#9467bd", dash: "dot" },
    marker: { size: 4 } },
  { x: toyExactFree.map((o) => o.rhoW), y: toyExactFree.map((o) => o.w - wST(toyM)), mode: "lines",
    name: "logistic loss: exact min-max (w only)", line: { color: "#2ca02c", dash: "dash" } },
  { x: toyFirstFree.map((o) => o.rhoW), y: toyFirstFree.map((o) => o.w - wST(toyM)), mode: "lines",
    name: "logistic loss: first-order SAM rest point (w only)", line: { color: "#1f77b4", dash: "dash" } },
  toyMarkers("sam-w", "all trained", "trained: w-only first-order SAM", "circle"),
  toyMarkers("sam-w-exact", "all trained", "trained: w-only exact-inner-max step", "diamond"),
  toyMarkers("sam-all", "all trained", "trained: library samStep on all weights", "square"),
], {
  title: "All weights trained: SAM's shift of w",
  xaxis: { title: { text: "rho_w = rho / mean(non-robust weights)" } },
  yaxis: { title: { text: "w - w_ST (trained: minus the ST run on the same sample)" } },
  legend: { x: 0.01, y: 0.99 },
});
"""),
    md("### What agrees, what does not, and why"),
    code(r"""
const toyRow = (method: string, weights: string, rho: number) =>
  toySummary.find((r) => r.method === method && r.weights === weights && r.setting === `rho = ${rho}`)!;
const toyMaxZ = Math.max(...toySummary.filter((r) => r.method === "st" || r.method === "at")
  .map((r) => Math.abs(r.w - r.paper_theory_w) / r.w_se));
const toyBig = toyRhos[toyRhos.length - 1];
const f = (x: number) => (Math.abs(x) < 0.005 ? "0.00" : (x > 0 ? "+" : "") + x.toFixed(2));
const pct = (method: string, field: string) => {
  const change = toySeeds.map((seed) => {
    const of = (m: string) => toyRuns.find((r) => r.sample === seed && r.method === m &&
      r.weights === "all trained" && (m === "st" || r.rho === toyBig))![field];
    return of(method) / of("st") - 1;
  });
  const v = 100 * toyMean(change);
  return `${v >= 0 ? "+" : ""}${v.toFixed(2)}%`;
};
const line = (method: string, weights: string) => {
  const r = toyRow(method, weights, toyBig);
  return `${f(r.shift)} ± ${r.shift_se!.toPrecision(1)} (paper ${f(r.paper_theory_shift)}` +
    (r.logistic_population_shift === null ? ")" : `, logistic population ${f(r.logistic_population_shift)})`);
};
await showMarkdown([
  `- **ST and AT reproduce the theorems**: every trained w is within ${toyMaxZ.toFixed(1)} standard errors of w_ST or w_AT.`,
  `- Shifts of w at rho = ${toyBig} (rho_w ≈ ${toyRow("sam-w", "non-robust fixed", toyBig).rho_w!.toFixed(1)} fixed, ` +
    `${toyRow("sam-w", "all trained", toyBig).rho_w!.toFixed(1)} for w-only SAM with all weights trained), measured ± SE:`,
  `  - non-robust fixed, library samStep (first-order): ${line("sam-w", "non-robust fixed")}`,
  `  - non-robust fixed, exact inner max: ${line("sam-w-exact", "non-robust fixed")}`,
  `  - all trained, w-only first-order: ${line("sam-w", "all trained")}`,
  `  - all trained, w-only exact inner max: ${line("sam-w-exact", "all trained")}`,
  `  - all trained, library samStep on all weights: ${line("sam-all", "all trained")}`,
  `- Against ST on the same sample (mean of the samples), at rho = ${toyBig}: w-only first-order SAM with all weights ` +
    `trained changes theta1 by ${pct("sam-w", "theta1")} and the mean non-robust weight by ` +
    `${pct("sam-w", "mean_non_robust_weight")}; the library's all-weights samStep changes them by ` +
    `${pct("sam-all", "theta1")} and ${pct("sam-all", "mean_non_robust_weight")}, with rho = ${toyBig} being ` +
    `${(toyBig / toyMean(toyRuns.filter((r) => r.method === "st" && r.weights === "all trained")
      .map((r) => r.theta_norm))).toFixed(2)} of ST's norm of theta.`,
].join("\n"));
"""),
    md(r"""
**Reproduced.** ST and PGD adversarial training on samples land on Theorems 4.1 and 4.2 within
sampling error: the logistic loss is well specified in this model, so training recovers exactly the
optima the paper derives for the 0-1 loss, and AT's weight on the robust feature grows like
$\eta/(\eta - \varepsilon)$ as predicted.

**Not reproduced by the library's SAM.** Theorem 4.3's claim, that SAM moves $w$ above $w_{ST}$, is a
statement about the *exact* min-max of the *0-1* loss with the perturbation on $w$ *only*, at a
*fixed* scale of the non-robust weights. Training with this project's SAM differs in four ways, and
the runs separate them:

1. **First-order ascent.** In the paper's own setting (non-robust weights fixed) the library's
   `samStep` on $\theta_1$ leaves $w$ where ST puts it. With one perturbed coordinate its ascent
   step is $\pm\rho$ by the sign of the gradient, so it chatters across the minimum of the plain
   loss and comes to rest on it. The exact inner maximum (`sam-w-exact`) moves $w$ up, in the
   paper's direction, onto the logistic population prediction.
2. **Loss surrogate.** Even the exact min-max of the logistic loss shifts $w$ up by much less than
   the 0-1 loss's $w_{SAM}$ at the same $\rho_w$. The shift comes from the loss's asymmetry around its
   minimum (to second order $-\rho^2 L'''/(6L'')$, the derivation behind Theorem 4.4), and the smooth
   logistic loss is less asymmetric than the 0-1 loss, which rises slowly to the right of $w_{ST}$.
3. **Weight scale.** The 0-1 loss ignores the scale of $\theta$; the logistic loss does not, and
   $\rho$ acts on the unnormalised $\theta$. When all weights are trained, w-only SAM (first-order or
   exact) also grows the non-robust weights: at the perturbed points $\theta_1 \pm \rho$ larger
   non-robust weights lower the loss, a direction the 0-1 loss does not have. $\theta_1$ grows by less,
   so $w$ ends *below* $w_{ST}$, the opposite of Theorem 4.3, and the effective radius $\rho_w$ shrinks.
   The measured shifts follow the logistic population references (within about 0.1), so this is
   the algorithm, not sampling.
4. **All weights vs w only.** The library's SAM perturbs all $d+1$ weights in one $L_2$ ball. It
   leaves $w$ where ST puts it at every radius tried, even at a $\rho$ that is a large fraction of $\lVert\theta\rVert$:
   its chatter around the minimum averages out, and what is left is a tiny, nearly uniform rescaling
   of $\theta$ (the percentages above), which does not change $w$. `THEORY.md`'s all-weights 0-1
   min-max predicts a shift (below $w_{ST}$ for small $\rho_w$, above for large); the trained model
   shows neither.

So in this model the paper's SAM effect appears in training only with the exact inner maximum and
the weight scale held fixed; the first-order SAM that the CIFAR experiments use does not raise the
weight on the robust feature here. Not run here: minibatch SAM, whose noisy gradient sign would
spread the ascent over both ends of the interval and could move $w$ (this section uses full-batch
steps so that the rest points above are well defined).
"""),
]


# ---------------------------------------------------------------------------------------------
def theorem_4_3():
    return notebook([
        md(r"""
# Theorem 4.3: SAM puts more weight on the robust feature

SAM's optimum satisfies w_ST < w_SAM < w_ST + rho: like AT, SAM moves weight onto the robust feature.
"""),
        md(MODEL_MD),
        md(r"""
**SAM objective (quoted from the paper, eq. 11; restored in `THEORY.md`).**
$$w_{SAM} = \arg\min_w \max_{|\delta| \le \rho} L(w + \delta),$$
the perturbation acting on $w$ only.

**Reduction (`THEORY.md`).** $L$ is quasi-convex (it falls until $w_{ST}$ and rises after), so the
inner maximum sits at an end of $[w-\rho, w+\rho]$ and the objective is
$\max\big(L(w-\rho), L(w+\rho)\big)$; its minimum balances $A(w_{SAM} - \rho) = A(w_{SAM} + \rho)$.
`wSAM` solves this balance with a bracketing root finder on $[w_{ST} - \rho, w_{ST} + \rho]$, a
bracket that does not presume the theorem; `wSAMBruteForce` checks it without the reduction (a grid
plus refinement for the inner maximum, golden section for the outer minimum).

**Theorem 4.3 (eq. 12).** For every $\rho > 0$:
$$w_{ST} < w_{SAM} < w_{ST} + \rho.$$
The paper states $w_{SAM} > w_{ST}$ (quoted); the two-sided bounds are **derived** in `THEORY.md`.

**Derived caution (`THEORY.md`):** if SAM perturbs all $d+1$ weights in an $L_2$ ball instead, $w_{SAM}$
falls *below* $w_{ST}$ (0.8424 < 0.8473 at $p = 0.7$, $\eta = 0.5$, $d = 10$, $\rho = 0.3$); see the
last section.
"""),
        code(imports("errorRate", "samObjective", "samObjectiveBruteForce", "wST", "wSAM", "wSAMBruteForce",
                     "wSAMAllWeightsL2", "samObjectiveAllWeightsL2")),
        md("## The balance solution against brute-force min-max, and the bounds"),
        code(r"""
const rows = [];
for (const m of [{ p: 0.9, eta: 0.1, d: 100 }, { p: 0.7, eta: 0.5, d: 10 }, { p: 0.99, eta: 0.02, d: 1 }]) {
  for (const rho of [0.01, 0.1, 1, 4, 10, 30]) {
    const w0 = wST(m), w = wSAM(m, rho), brute = wSAMBruteForce(m, rho);
    rows.push({ p: m.p, eta: m.eta, d: m.d, rho, w_ST: w0, w_SAM_balance: w, w_SAM_brute_force: brute,
      relative_gap: relGap(brute, w), shift_over_rho: (w - w0) / rho, bounds_hold: w0 < w && w < w0 + rho });
  }
}
await showMarkdown(`Bounds hold in **${rows.filter((r) => r.bounds_hold).length} of ${rows.length}** rows; ` +
  `largest relative gap balance vs brute force: **${Math.max(...rows.map((r) => r.relative_gap)).toExponential(2)}**. ` +
  "(`tests/theory_test.ts` checks the same over a grid and 1000 random draws.)");
pl.DataFrame(rows)
"""),
        md(r"""
## The SAM objective against the plain loss

Model $p = 0.9$, $\eta = 0.1$, $d = 100$, $\rho = 4$. The SAM objective
$\max(L(w-\rho), L(w+\rho))$ is minimised where the two shifted losses cross, to the right of the
minimiser $w_{ST}$ of $L$, because $L$ rises more slowly to the right of $w_{ST}$ than to its left.
Markers: the brute-force inner maximum at a few $w$.
"""),
        code(r"""
const m = { p: 0.9, eta: 0.1, d: 100 };
const rho = 4;
const ws = linspace(0, 25, 251);
const marks = linspace(1, 24, 12);
const w0 = wST(m), w1 = wSAM(m, rho);
await showPlot([
  { x: ws, y: ws.map((w) => errorRate(m, w)), mode: "lines", name: "L(w)" },
  { x: ws, y: ws.map((w) => errorRate(m, w - rho)), mode: "lines", name: "L(w - rho)", line: { dash: "dot" } },
  { x: ws, y: ws.map((w) => errorRate(m, w + rho)), mode: "lines", name: "L(w + rho)", line: { dash: "dot" } },
  { x: ws, y: ws.map((w) => samObjective(m, w, rho)), mode: "lines", name: "SAM objective max(L(w-rho), L(w+rho))",
    line: { width: 3 } },
  { x: marks, y: marks.map((w) => samObjectiveBruteForce(m, w, rho)), mode: "markers",
    name: "brute-force max over |delta| <= rho" },
], {
  title: `SAM objective vs loss (rho = ${rho}): w_ST = ${w0.toFixed(3)} (black), w_SAM = ${w1.toFixed(3)} (red)`,
  xaxis: { title: { text: "w" } }, yaxis: { title: { text: "loss L = 1 - A" }, range: [0, 0.35] },
  shapes: [vline(w0, "black"), vline(w1, "red")],
});
"""),
        md(r"""
## $w_{SAM}$ against $\rho$, between its bounds

Same model. The shaded band is $(w_{ST}, w_{ST} + \rho)$; $w_{SAM}$ stays inside for every $\rho$,
close to the lower edge for small $\rho$ (the shift grows like $\rho^2$, Theorem 4.4) and well below
the upper edge for large $\rho$.
"""),
        code(r"""
const rhos = Array.from({ length: 61 }, (_, i) => 10 ** (-2 + (3.5 * i) / 60));
await showPlot([
  { x: rhos, y: rhos.map(() => w0), mode: "lines", name: "w_ST (lower bound)", line: { color: "black" } },
  { x: rhos, y: rhos.map((r) => w0 + r), mode: "lines", name: "w_ST + rho (upper bound)", line: { color: "gray" },
    fill: "tonexty", fillcolor: "rgba(128,128,128,0.15)" },
  { x: rhos, y: rhos.map((r) => wSAM(m, r)), mode: "lines", name: "w_SAM", line: { color: "red", width: 3 } },
], {
  title: "w_SAM against rho (p = 0.9, eta = 0.1, d = 100)",
  xaxis: { title: { text: "rho" }, type: "log" }, yaxis: { title: { text: "w" }, range: [0, 60] },
});
"""),
        md(r"""
## Derived caution: SAM on all $d+1$ weights in an $L_2$ ball

Not the paper's setting. If the perturbation acts on all weights $(w, 1, \dots, 1)$ within
$\lVert\delta\rVert_2 \le \rho$ (the non-robust weights are left at 1 for the outer minimisation), the
worst case can also shrink or spread the non-robust weights, and the optimum falls below $w_{ST}$
(**derived**, `THEORY.md`). `samObjectiveAllWeightsL2` maximises over the ball by brute force
(grid over the sphere, then compass search).
"""),
        code(r"""
const c = { p: 0.7, eta: 0.5, d: 10 };
pl.DataFrame([0.1, 0.3, 0.5].map((r) => ({
  rho: r, w_ST: wST(c), w_SAM_w_only: wSAM(c, r), w_SAM_all_weights_L2: wSAMAllWeightsL2(c, r),
  all_weights_below_w_ST: wSAMAllWeightsL2(c, r) < wST(c),
})))
"""),
        *BEYOND_4_3,
    ])


# ---------------------------------------------------------------------------------------------
def theorem_4_4():
    return notebook([
        md(r"""
# Theorem 4.4: SAM's weight for small rho

For small rho, w_SAM ≈ w_ST (1 + rho^2/(3d)), with an error of order rho^4; how small rho must be depends on the margins.
"""),
        md(MODEL_MD),
        md(r"""
**Theorem 4.4.** The paper states that for small $\rho$ the SAM optimum has a closed-form
approximation; the formula was lost from its text. The form used here is **derived** in `THEORY.md`:

$$w_{SAM} = w_{ST}\Big(1 + \frac{\rho^2}{3d}\Big) + O(\rho^4), \qquad\text{i.e.}\qquad w_{SAM} - w_{ST} \approx \frac{\ln\frac{p}{1-p}}{6\eta d}\,\rho^2 .$$

It follows from expanding the balance $\big(A(w+\rho) - A(w-\rho)\big)/(2\rho) = A' + \rho^2 A'''/6 + \rho^4 A^{(5)}/120 + \dots = 0$
around $w_{ST}$: $w_{SAM} - w_{ST} = -\rho^2 A'''/(6A'') + O(\rho^4)$, and at $w_{ST}$,
$A'''/A'' = -2w_{ST}/d$.

**Added in this project (derived here, neither in the paper nor in `THEORY.md`):** the next
coefficient $b$ in $w_{SAM} = w_{ST} + a\rho^2 + b\rho^4 + O(\rho^6)$ (`wSAMExpansion`), and the scale
on which "small" is measured, $\rho \ll \sqrt d / (1 + |u| + |v|)$ with $u, v$ the margins at
$w_{ST}$ (`smallRhoScale`): each derivative of $A$ in $w$ brings a factor of about
$(1 + |u| + |v|)/\sqrt d$.

**Check values (`THEORY.md`):** $p = 0.9$, $\eta = 0.1$, $d = 100$, $w_{ST} = 10.98612$;
$\rho = 1$: exact 11.02276, approximation 11.02274; $\rho = 4$: 11.57660 vs 11.57205.
"""),
        code(imports("wST", "wSAM", "wSAMApprox", "wSAMExpansion", "smallRhoScale")),
        md("## THEORY.md's check values, recomputed"),
        code(r"""
const m = { p: 0.9, eta: 0.1, d: 100 };
const stated: Record<number, [number, number]> = { 1: [11.02276, 11.02274], 4: [11.57660, 11.57205] }; // THEORY.md
pl.DataFrame([1, 4].map((rho) => ({
  rho, w_ST: wST(m), w_SAM_exact: wSAM(m, rho), w_SAM_approx: wSAMApprox(m, rho),
  THEORY_md_exact: stated[rho][0], THEORY_md_approx: stated[rho][1],
  agree_to_5_decimals: Math.abs(wSAM(m, rho) - stated[rho][0]) < 5e-6 && Math.abs(wSAMApprox(m, rho) - stated[rho][1]) < 5e-6,
  relative_error_of_approx: relGap(wSAMApprox(m, rho), wSAM(m, rho)),
})))
"""),
        md("## Exact and approximate $w_{SAM}$ against $\\rho$"),
        code(r"""
const rhos = linspace(0, 20, 81);
await showPlot([
  { x: rhos, y: rhos.map((r) => wSAM(m, r)), mode: "lines", name: "w_SAM, exact (balance equation)", line: { width: 3 } },
  { x: rhos, y: rhos.map((r) => wSAMApprox(m, r)), mode: "lines", name: "w_ST (1 + rho^2 / (3d))", line: { dash: "dash" } },
  { x: rhos, y: rhos.map(() => wST(m)), mode: "lines", name: "w_ST", line: { color: "black", dash: "dot" } },
], {
  title: `Exact vs small-rho w_SAM (p = 0.9, eta = 0.1, d = 100; smallRhoScale = ${smallRhoScale(m).toFixed(2)})`,
  xaxis: { title: { text: "rho" } }, yaxis: { title: { text: "w" } },
});
"""),
        md(r"""
## The error shrinks like $\rho^4$

Relative error $|w_{SAM} - w_{ST}(1+\rho^2/(3d))| / w_{SAM}$ against $\rho$ measured in units of
`smallRhoScale`, for four models, on log-log axes; the gray line has slope 4. Below about 0.1
every curve follows slope 4; the tables give the local slopes and the ratio of errors when $\rho$
halves (16 for a $\rho^4$ law), and compare with the derived coefficient $b$.
"""),
        code(r"""
const models = [
  { p: 0.9, eta: 0.1, d: 100 }, { p: 0.7, eta: 0.5, d: 10 }, { p: 0.6, eta: 0.3, d: 1000 }, { p: 0.99, eta: 0.02, d: 1 },
];
const kappas = Array.from({ length: 41 }, (_, i) => 10 ** (-2.5 + (2.5 * i) / 40));
const relErr = (mm: theory.GaussianModel, rho: number) => Math.abs(wSAM(mm, rho) - wSAMApprox(mm, rho)) / wSAM(mm, rho);
const traces: Record<string, unknown>[] = models.map((mm) => ({
  x: kappas, y: kappas.map((k) => relErr(mm, k * smallRhoScale(mm))), mode: "lines+markers", marker: { size: 4 },
  name: `p=${mm.p}, eta=${mm.eta}, d=${mm.d}`,
}));
traces.push({ x: [0.01, 0.3], y: [1e-12, 1e-12 * 30 ** 4], mode: "lines", name: "slope 4", line: { color: "gray", dash: "dash" } });
await showPlot(traces, {
  title: "Relative error of the small-rho form (log-log)",
  xaxis: { title: { text: "rho / smallRhoScale" }, type: "log" },
  yaxis: { title: { text: "relative error" }, type: "log", exponentformat: "power" },
});
"""),
        code(r"""
const rows: Record<string, number>[] = [];
for (const mm of models) {
  const { b } = wSAMExpansion(mm);
  for (const k of [0.4, 0.2, 0.1, 0.05]) {
    const rho = k * smallRhoScale(mm);
    const e1 = wSAM(mm, rho) - wSAMApprox(mm, rho), e2 = wSAM(mm, rho / 2) - wSAMApprox(mm, rho / 2);
    rows.push({ p: mm.p, eta: mm.eta, d: mm.d, rho_over_scale: k, rho, error: e1,
      ratio_error_rho_over_error_half_rho: e1 / e2, local_log_log_slope: Math.log2(e1 / e2),
      error_over_rho4: e1 / rho ** 4, derived_b: b });
  }
}
pl.DataFrame(rows)
"""),
        md(r"""
## How small is "small"?

The ratio tends to 16 and the local slope to 4 in every model, and $\text{error}/\rho^4$ tends to the
derived $b$. $b$ changes sign between models, so at some parameters the $\rho^4$ term vanishes and the
error is $O(\rho^6)$. What "small $\rho$" means depends strongly on the margins $u, v$ at $w_{ST}$,
not only on $\rho$ against $\sqrt d$: the last column compares the approximation's error with the
correction $w_{ST}\rho^2/(3d)$ it adds.
"""),
        code(r"""
const tail = { p: 0.99, eta: 0.02, d: 1 };
const sqrtD = Math.sqrt(tail.d), uTail = (wST(tail) + tail.d * tail.eta) / sqrtD;
const share = (mm: theory.GaussianModel, rho: number) =>
  (wSAM(mm, rho) - wSAMApprox(mm, rho)) / (wSAMApprox(mm, rho) - wST(mm));
await showMarkdown(`In the model p = ${tail.p}, eta = ${tail.eta}, d = ${tail.d}, w_ST = ${wST(tail).toFixed(1)} and the margin ` +
  `u = ${uTail.toFixed(1)}: the approximation's error is ${(100 * Math.abs(share(tail, 0.01))).toFixed(0)}% of its correction at ` +
  `rho = 0.01 and ${(100 * Math.abs(share(tail, 0.1))).toFixed(0)}% at rho = 0.1, although rho is well below sqrt(d) = ${sqrtD}.`);
pl.DataFrame(models.flatMap((mm) => [0.01, 0.1, 1].map((rho) => ({
  p: mm.p, eta: mm.eta, d: mm.d, rho, smallRhoScale: smallRhoScale(mm),
  correction_w_ST_rho2_over_3d: wSAMApprox(mm, rho) - wST(mm), exact_shift: wSAM(mm, rho) - wST(mm),
  approx_error_over_correction: share(mm, rho),
}))))
"""),
    ])


# ---------------------------------------------------------------------------------------------
def theorem_4_5():
    return notebook([
        md(r"""
# Theorem 4.5: SAM with radius rho acts like AT with a far smaller eps

AT with eps and SAM with rho reach the same w when eps = eta rho^2 / (3d + rho^2) ≈ eta rho^2 / (3d): SAM's perturbation is the moderate one.
"""),
        md(MODEL_MD),
        md(r"""
**Theorem 4.5 (eq. 13).** The paper states a relation between AT's $\varepsilon$ and SAM's $\rho$ when
both return the same $w$; the formula was lost from its text. The form used here is **derived** in
`THEORY.md` by equating Theorem 4.2 with Theorem 4.4's small-$\rho$ form:

$$\frac{\eta}{\eta - \varepsilon} = 1 + \frac{\rho^2}{3d} \iff \varepsilon = \frac{\eta\rho^2}{3d + \rho^2} \approx \frac{\eta\rho^2}{3d}.$$

So $\varepsilon/\rho \le \eta/(2\sqrt{3d})$ for every $\rho$: SAM needs a much larger radius than AT
for the same weight on the robust feature (the paper's reading: SAM's perturbation is "moderate",
AT's "strong").

**What is exact and what is not.** Because the relation is built on the small-$\rho$ form,
$w_{AT}(\varepsilon(\rho)) = w_{ST}(1+\rho^2/(3d))$ holds exactly, while it matches the *exact*
$w_{SAM}$ only up to the $O(\rho^4)$ error of Theorem 4.4. The table reports both gaps, and the
$\varepsilon$ that matches the exact $w_{SAM}$ (added here: $\varepsilon^* = \eta(1 - w_{ST}/w_{SAM})$,
`epsMatchingRhoExact`).
"""),
        code(imports("wST", "wAT", "wSAM", "wSAMApprox", "epsMatchingRho", "epsMatchingRhoExact", "smallRhoScale")),
        md("## AT at the matching eps against the small-rho and the exact $w_{SAM}$"),
        code(r"""
const rows = [];
for (const d of [10, 100, 1000]) {
  const m = { p: 0.9, eta: 0.1, d };
  for (const rhoOverSqrtD of [0.01, 0.1, 0.3, 1]) {
    const rho = rhoOverSqrtD * Math.sqrt(d);
    const eps = epsMatchingRho(m, rho), w = wAT(m, eps);
    rows.push({ d, rho, rho_over_smallRhoScale: rho / smallRhoScale(m), eps_matching: eps,
      eps_over_rho: eps / rho, w_AT_at_eps: w, gap_to_small_rho_w_SAM: relGap(w, wSAMApprox(m, rho)),
      gap_to_exact_w_SAM: relGap(w, wSAM(m, rho)), eps_matching_exact_w_SAM: epsMatchingRhoExact(m, rho) });
  }
}
await showMarkdown(`Largest gap to the small-rho w_SAM: **${Math.max(...rows.map((r) => r.gap_to_small_rho_w_SAM)).toExponential(1)}** ` +
  `(exact up to rounding). Gap to the exact w_SAM: from **${Math.min(...rows.map((r) => r.gap_to_exact_w_SAM)).toExponential(1)}** ` +
  `to **${Math.max(...rows.map((r) => r.gap_to_exact_w_SAM)).toExponential(1)}**, growing with rho (like rho^4 while rho is small).`);
pl.DataFrame(rows)
"""),
        md(r"""
## The $\varepsilon$–$\rho$ equivalence curve

$\eta = 0.1$, $p = 0.9$. Lines: Theorem 4.5's $\varepsilon(\rho)$ for four $d$; markers: the
$\varepsilon^*$ that makes AT match the exact $w_{SAM}$. $\varepsilon$ stays far below $\rho$ (the dotted
diagonal $\varepsilon = \rho$ is off the chart for all but the smallest $\rho$) and, for the same $\rho$,
shrinks like $1/d$.
"""),
        code(r"""
const rhos = Array.from({ length: 61 }, (_, i) => 10 ** (-1 + (3 * i) / 60));
const marks = Array.from({ length: 9 }, (_, i) => 10 ** (-1 + (3 * i) / 8));
const colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"];
const traces = [];
[1, 10, 100, 1000].forEach((d, i) => {
  const m = { p: 0.9, eta: 0.1, d };
  traces.push({ x: rhos, y: rhos.map((r) => epsMatchingRho(m, r)), mode: "lines", name: `d = ${d}: eta rho^2 / (3d + rho^2)`,
    line: { color: colors[i] } });
  traces.push({ x: marks, y: marks.map((r) => epsMatchingRhoExact(m, r)), mode: "markers", name: `d = ${d}: matches exact w_SAM`,
    marker: { color: colors[i], symbol: "circle-open", size: 8 } });
});
traces.push({ x: rhos, y: rhos, mode: "lines", name: "eps = rho", line: { color: "gray", dash: "dot" } });
await showPlot(traces, {
  title: "AT radius eps that gives the same w as SAM with radius rho (eta = 0.1)",
  xaxis: { title: { text: "SAM radius rho" }, type: "log" },
  yaxis: { title: { text: "AT radius eps" }, type: "log", range: [-8, -0.9], exponentformat: "power" },
});
"""),
        md(r"""
## SAM's radius per unit of AT radius

$\rho/\varepsilon(\rho)$: how many units of SAM radius buy the effect of one unit of AT radius. It is
at least $2\sqrt{3d}/\eta$ (the minimum, at $\rho = \sqrt{3d}$).
"""),
        code(r"""
pl.DataFrame([1, 10, 100, 1000].map((d) => {
  const m = { p: 0.9, eta: 0.1, d };
  const rho = Math.sqrt(3 * d);
  return { d, rho_at_minimum: rho, min_rho_over_eps: rho / epsMatchingRho(m, rho), bound_2_sqrt_3d_over_eta: (2 * Math.sqrt(3 * d)) / m.eta,
    rho_over_eps_at_rho_1: 1 / epsMatchingRho(m, 1) };
}))
"""),
    ])


def main() -> None:
    for name, build in [
        ("theorem_4_1_standard_training", theorem_4_1),
        ("theorem_4_2_adversarial_training", theorem_4_2),
        ("theorem_4_3_sam_improves_robust_weight", theorem_4_3),
        ("theorem_4_4_small_rho_approximation", theorem_4_4),
        ("theorem_4_5_sam_vs_at_strength", theorem_4_5),
    ]:
        write(name, build())


if __name__ == "__main__":
    main()
