"""Write the three table notebooks (notebooks/table_*.ipynb) without outputs.

Usage: .venv/bin/python scripts/notebooks/make_table_notebooks.py
Then execute and render them: bin/deno task report notebooks/table_fashion_mnist.ipynb notebooks/table1_cifar100.ipynb notebooks/table2_cifar10.ipynb

The notebooks only call lib/ (experiments, summary, charts, report_text): runGrid trains what is
missing from the results CSV and loads the rest; every number and statement is computed.
"""

from nbcells import code, md, notebook, write

IMPORTS = r"""import pl from "nodejs-polars";
import { showMarkdown, showPlot } from "../lib/report/notebook.ts";
import { DatasetError } from "../lib/data/data.ts";
import { loadDataset } from "../lib/data/registry.ts";
import { evalColumns, PAPER_COLUMNS } from "../lib/experiments/columns.ts";
import { RHO_NOTE } from "../lib/experiments/grid.ts";
import { planGrid, shownPath } from "../lib/experiments/plan.ts";
import { getPreset, PRESETS } from "../lib/experiments/presets.ts";
import { runGrid } from "../lib/experiments/runner.ts";
import { planTable, wideRows } from "../lib/experiments/table.ts";
import {
  cellRecords, checkClaims, costRatios, costStatements, formatPct, PAPER_STD_BOUND, paperSummaries, summarize, tableRecords,
} from "../lib/analysis/summary.ts";
import { attackGaps, autoattackColumns, autoattackSummaries, gapRecords, gapsByFamily, tableColumns } from "../lib/analysis/autoattack_view.ts";
import { detectableEffects } from "../lib/analysis/detectable.ts";
import { maskingChecksOfResults } from "../lib/analysis/masking.ts";
import { readEvals, readResults } from "../lib/experiments/results.ts";
import { costChart, robustVsEpsChart, tradeoffChart } from "../lib/report/charts.ts";
import { cifarMissingMarkdown, claimsMarkdown, loadMarkdown, noiseMarkdown, presetMarkdown } from "../lib/report/report_text.ts";
const robustOf = (cols) => cols.filter((c) => c.key !== "clean");
const cleanOf = (cols) => cols.filter((c) => c.key === "clean");
console.log("lib/experiments, summary, charts and report_text loaded");"""


# Cells shared by the Fashion-MNIST notebook and the CIFAR ones (given `ours`, `columns`).
def claim_cells(where: str, summaries: str, cols: str, fallback: str = "0"):
    return [
        code(f"""
const claims = checkClaims({summaries}, {cols}, {fallback});
await showMarkdown(claimsMarkdown(claims, "{where}"));
"""),
        md("**Claim 1a and 1b: SAM − ST** (percentage points ± 1 SE; the clean column is claim 1b, the others 1a):"),
        code(f"""
const samCells = claims.filter((c) => c.claim.startsWith("1")).flatMap((c) => c.cells);
samCells.length ? pl.DataFrame(cellRecords(samCells, {cols}, "SAM row")) : "not checked: the ST or SAM rows have no results"
"""),
        md("**Claim 2a: AT − the most robust SAM row** (robust columns) **and claim 2b: AT − ST** (clean column):"),
        code(f"""
const atCells = claims.filter((c) => c.claim.startsWith("2")).flatMap((c) => c.cells);
atCells.length ? pl.DataFrame(cellRecords(atCells, {cols}, "AT row")) : "not checked: the ST, SAM or AT rows have no results"
"""),
    ]


# ---------------------------------------------------------------------------------------------
FM_INTRO = {
    "default": r"""
# The paper's 12-row protocol on Fashion-MNIST (CPU)

This notebook runs the paper's whole grid — ST, SAM at three ρ, AT with L∞ and L2 PGD at four
radii each — on Fashion-MNIST with the fast CPU preset `fashion-mnist/default` (a small, underfit
model: the report's quick check), over three seeds, and checks each claim on the numbers under
PGD-10 and under AutoAttack. The full-scale preset is in `table_fashion_mnist_full`.
""",
    "full": r"""
# A full-scale Fashion-MNIST reproduction (CPU): all 60000 training images, a model that fits

The same protocol as `table_fashion_mnist`, at a scale that can decide the claims on CPU: the
small CNN at width 32 (94k parameters, ST ≥ 91% clean) trained on all 60000 training images,
evaluated on 5000 test images, ST and SAM with three seeds, plus ASAM and SAM+AT beyond the paper.
The last section puts it beside the fast default preset: what changes when the model is big enough.
This notebook trains nothing: it reads `results/fashion-mnist-full.csv` (the grid runs for hours;
`bin/deno task experiment --preset full` runs or resumes it) and shows what is finished.
""",
}

COMMON_INTRO = r"""
The claims under test (Wei, Zhu, Zhang 2023): **(1)** training with SAM alone — no adversarial
examples — raises robust accuracy well above standard training (ST) while keeping or improving
clean accuracy; **(2)** adversarial training (AT, PGD) gives far more robustness but loses clean
accuracy, and costs about 10x ST (10-step PGD), SAM about 2x.

**Every number here is ours** (Fashion-MNIST; the paper has no Fashion-MNIST table). The paper's
own numbers (CIFAR) appear only in the last section and in `table1_cifar100` / `table2_cifar10`.

**Which attack measured each number**: each column names it. "PGD-10 L∞ 8/255" is PGD with 10
steps of size ε/4 and a random start, the model in eval mode, every test image attacked (the
paper's evaluation). "AutoAttack (square1000) L∞ 8/255 [200 pts]" is our AutoAttack: APGD-CE (100
steps) → APGD-T (100 steps, 9 target classes) → Square (1000 queries instead of AutoAttack's
5000), each stage run only on the points still robust, worst case per example, on the first N test
images of seed 0's runs (the preset says how many and why).
"""

KNOBS = r"""
**Knobs** (environment variables read below; unset = the preset's full grid):
`SAM_AT_SEEDS` (comma list, e.g. `0`), `SAM_AT_ROWS` (comma list of row ids, e.g. `ST,SAM-0.2,AT-linf-8`),
`SAM_AT_RESULTS` (another results CSV), `SAM_AT_WORKERS` (processes sharing the runs: `auto`, one per core with one
TensorFlow thread each, is the default; `1` runs in the kernel with TensorFlow's own threads). Example: `SAM_AT_SEEDS=0 bin/deno task report notebooks/table_fashion_mnist.ipynb`.
`runGrid` trains only the runs missing from the results CSV (resuming any interrupted one from its
checkpoint), evaluates only what the evaluations CSV lacks, and loads the rest.
"""


def fashion_mnist(preset: str):
    run_cell = (r"""
const grid = await runGrid({ dataset: "fashion-mnist", preset: preset.name, rows, seeds, resultsPath: env("SAM_AT_RESULTS"), workers: env("SAM_AT_WORKERS") ?? "auto" });
console.log(`${grid.rows.length} of ${grid.plan.runs.length} planned runs have results: ${grid.trained} trained now, ${grid.skipped} loaded from ${shownPath(grid.plan.resultsPath)}.`);
""" if preset == "default" else r"""
// Reads only: the full grid takes hours (bin/deno task experiment --preset full runs or resumes it).
const plan = planGrid({ dataset: "fashion-mnist", preset: preset.name, rows, seeds, resultsPath: env("SAM_AT_RESULTS") });
const grid = { plan, rows: plan.runs.map((r) => plan.existing.get(r.runKey)).filter((r) => r), evals: plan.evals };
const pending = plan.runs.filter((r) => r.status !== "done" || r.missingEvals.length);
console.log(`${grid.rows.length} of ${plan.runs.length} planned runs are trained (${shownPath(plan.resultsPath)}); ${pending.length} have work left:`);
for (const r of pending) console.log(`  ${r.row.id} seed ${r.seed}: ${r.status === "done" ? `evaluate ${r.missingEvals.map((e) => e.eval.key).join(", ")}` : r.status}`);
""")
    cells = [
        md(FM_INTRO[preset] + COMMON_INTRO + (KNOBS if preset == "default" else "")),
        code(IMPORTS),
        md("## Settings: this preset against the paper"),
        code(rf"""
const env = (k: string) => Deno.env.get(k) || undefined;
const preset = getPreset("fashion-mnist", "{preset}");
// Unset: each row's own seeds (the full preset runs some rows on seed 0 only).
const seeds = env("SAM_AT_SEEDS");
const rows = env("SAM_AT_ROWS") ?? "all";
const allColumns = evalColumns(preset.evals);
const columns = tableColumns(allColumns);
await showMarkdown(presetMarkdown(preset, {{ seeds: seeds ?? preset.seeds.join(","), rows }}));
"""),
        md("## Run or load" if preset == "default" else "## Load (what is finished)"),
        code(run_cell),
        md(r"""
## The table: mean ± std over seeds (accuracy, %)

Columns marked "(ours)" extend the paper's evaluation: larger PGD-10 radii (L∞ 4/255, 8/255; L2
64/255, 128/255 — the doubling sequence of the paper's radii continued to its largest AT training
radii; the paper's small radii separate ST and SAM here by about the sampling noise only), and
AutoAttack at L∞ 8/255 and L2 128/255 (one seed: its cell shows that seed's value, no std).
ρ marked * is assumed (lost from the paper's text).
"""),
        code(r"""
const wide = wideRows(grid.rows, grid.evals);
const summaries = summarize(wide, allColumns);
pl.DataFrame(tableRecords(summaries, columns))
"""),
        code(r"""
await showMarkdown(noiseMarkdown(summaries, columns.filter((c) => c.attack !== "autoattack")));
"""),
        md(r"""
**The smallest difference this grid can detect** at 2 standard errors of a difference of two rows
(median seed std of the column, its seeds, its test points; formula in `lib/analysis/detectable.ts`):
"""),
        code(r"""
pl.DataFrame(detectableEffects(summaries, columns).map((d) => ({ column: d.label, seeds: d.seeds, test_points: d.testSize, "min. detectable (points)": (100 * d.mde).toFixed(1) })))
"""),
        md("## The paper's claims under PGD-10 (the paper's attack)"),
        *claim_cells("Fashion-MNIST, ours, PGD-10", "summaries", "columns.filter((c) => c.attack !== \"autoattack\")"),
        md(r"""
## AutoAttack beside PGD-10

Per run with AutoAttack columns: PGD-10 and AutoAttack on the **same** test points (PGD-10's
per-example results restricted to AutoAttack's first N), the accuracy after each AutoAttack stage,
and how much PGD-10 overstates robustness. A large gap for the SAM rows but not the AT rows would
mean SAM's robustness under PGD-10 is partly an artefact of a weak attack.
"""),
        code(r"""
const runsCsv = readResults(grid.plan.resultsPath);
const evalsCsv = readEvals(grid.plan.resultsPath);
const finishedRuns = runsCsv.filter((r) => grid.rows.some((g) => g.run_key === r.run_key));
const gaps = attackGaps(finishedRuns, evalsCsv);
const labelOf = (id) => summaries.find((s) => s.row.id === id)?.row.label ?? id;
gaps.length ? pl.DataFrame(gapRecords(gaps, labelOf)) : "No AutoAttack columns in these results yet."
"""),
        code(r"""
if (gaps.length) {
  const byFamily = gapsByFamily(gaps, summaries);
  await showMarkdown([...byFamily].map(([f, v]) =>
    `- **${f}**: PGD-10 − AutoAttack is ${(100 * v.reduce((a, b) => a + b, 0) / v.length).toFixed(1)} points on average (${v.length} run × threat; range ${(100 * Math.min(...v)).toFixed(1)} to ${(100 * Math.max(...v)).toFixed(1)}).`).join("\n"));
} else {
  await showMarkdown("No AutoAttack results yet: no gaps to summarise.");
}
"""),
        md(r"""
### Gradient-masking checks (every AutoAttack evaluation)

From the evaluations run beside AutoAttack on the same points (`lib/analysis/masking.ts`):
**square-after-apgd** — the black-box Square may fool at most 1% of the points after APGD-CE and
APGD-T; **large-radius** — APGD-CE at L∞ 0.5 (any image can be turned grey) must leave < 1%;
**more-steps** — PGD-50 and APGD-CE-100 may not be more than 1 point above PGD-10 on the same
points; **ordering** — every column ≤ clean and each attack non-increasing in ε (0.5 point tolerance).
"""),
        code(r"""
const checks = maskingChecksOfResults(finishedRuns, evalsCsv, summaries[0]?.testSize ?? 0);
const failed = checks.flatMap((c) => c.checks.filter((k) => !k.passed).map((k) => ({ run: finishedRuns.find((r) => r.run_key === c.runKey)?.run_id, threat: c.threat, check: k.name, detail: k.detail })));
await showMarkdown(checks.length
  ? `${checks.length} AutoAttack evaluations, ${checks.reduce((s, c) => s + c.checks.length, 0)} checks: **${failed.length} failed**.` +
    (failed.length ? " The failures are listed below; a failed check means that column's robustness may be overstated." : " No sign of gradient masking in any run.")
  : "No AutoAttack evaluations yet: no checks.");
failed.length ? pl.DataFrame(failed) : pl.DataFrame(checks.map((c) => ({ run: finishedRuns.find((r) => r.run_key === c.runKey)?.row_id, threat: c.threat, points: c.n, ...Object.fromEntries(c.checks.map((k) => [k.name, k.passed ? "pass" : "FAIL"])) })))
"""),
        md(r"""
### The claims re-checked under AutoAttack

The same comparisons with AutoAttack's accuracy in place of PGD-10's. AutoAttack ran on one seed
per row and on N test points, so its own seed spread is unknown: the seed std of PGD-10 at the
same threat stands in for it, and the sampling error uses N (both stated here because they are
our choice, not a measurement).
"""),
        code(r"""
const aaCols = autoattackColumns(allColumns);
const aaSummaries = autoattackSummaries(summaries, allColumns);
const aaClaims = aaCols.length && gaps.length ? checkClaims(aaSummaries, [...cleanOf(allColumns), ...aaCols]) : [];
await showMarkdown(aaClaims.length ? claimsMarkdown(aaClaims.filter((c) => /^[12]a/.test(c.claim)), "Fashion-MNIST, ours, AutoAttack") : "No AutoAttack results yet: the claims are checked under PGD-10 only.");
aaClaims.length ? pl.DataFrame(cellRecords(aaClaims.filter((c) => /^[12]a/.test(c.claim)).flatMap((c) => c.cells), aaCols, "row")) : ""
"""),
        md(r"""
## Training cost relative to ST

Seconds per training epoch (each run's median epoch, from the results CSV; the median leaves out
the first epoch's warm-up), divided by ST's. The paper: SAM ≈ 2x, AT with 10-step PGD ≈ 10x. Our
L∞ 1/255, 2/255 and all L2 AT rows use 5-step PGD (the authors' settings), so about 6 passes per
step. Timings are wall-clock: other processes on the machine inflate them, so the 1-minute load
average at the end of each run is shown too (`load_avg_1m` in the CSV).
"""),
        code(r"""
const ratios = costRatios(summaries);
await showMarkdown(ratios.length ? costStatements(ratios).map((s) => `- ${s}`).join("\n") : "No ST row: no cost ratios.");
await showMarkdown(loadMarkdown(summaries, navigator.hardwareConcurrency));
pl.DataFrame(ratios.map((r) => ({
  row: r.row,
  seconds_per_epoch: r.epochSeconds.mean.toFixed(2) + (Number.isFinite(r.epochSeconds.std) ? ` ± ${r.epochSeconds.std.toFixed(2)}` : ""),
  relative_to_ST: r.ratio.toFixed(2), passes_per_step: r.passes, paper_says: r.paperClaim ? `≈ ${r.paperClaim}x` : "",
  load_avg_1m: (summaries.find((s) => s.row.id === r.row)?.loadAvg.mean ?? NaN).toFixed(2),
})))
"""),
        code(r"""
const cost = costChart(ratios, "Training time per epoch relative to ST (Fashion-MNIST, ours)");
await showPlot(cost.data, cost.layout);
"""),
        md("## Charts"),
        code(r"""
const wanted = ["pgd10_linf_2_255", "pgd10_linf_8_255", "pgd10_l2_32_255", "pgd10_l2_128_255"];
const panels = wanted.map((k) => columns.find((c) => c.key === k)).filter((c) => c);
const trade = tradeoffChart(summaries, panels, "Clean vs robust accuracy under PGD-10 (Fashion-MNIST, ours; error bars: std over seeds)");
await showPlot(trade.data, trade.layout);
"""),
        code(r"""
const pgdColumns = columns.filter((c) => c.key === "clean" || c.key.startsWith("pgd10_"));
const byEps = robustVsEpsChart(summaries, pgdColumns, "Accuracy under PGD-10 against the radius (Fashion-MNIST, ours)");
await showPlot(byEps.data, byEps.layout);
"""),
    ]
    if preset == "full":
        cells += [
            md(r"""
## Beside the default preset: what changes when the model is big enough

The same rows in the fast default preset (small CNN width 8, 2400 training / 1000 test images)
and in this one (width 32, all 60000 / 5000), mean over seeds, accuracy %. Both are ours.
"""),
            code(r"""
const defPlan = planGrid({ dataset: "fashion-mnist", preset: "default" });
const defSummaries = summarize(planTable(defPlan), evalColumns(defPlan.preset.evals));
const side = ["clean", "pgd10_linf_8_255", "pgd10_l2_128_255"];
pl.DataFrame(summaries.filter((s) => defSummaries.some((d) => d.row.id === s.row.id)).map((s) => {
  const d = defSummaries.find((x) => x.row.id === s.row.id);
  const rec = { row: s.row.label };
  for (const k of side) {
    const label = columns.find((c) => c.key === k)?.label ?? k;
    rec[`${label} default`] = formatPct(d.metrics[k]);
    rec[`${label} full`] = formatPct(s.metrics[k]);
  }
  return rec;
}))
"""),
            code(r"""
const defClaims = checkClaims(defSummaries, tableColumns(evalColumns(defPlan.preset.evals)).filter((c) => c.attack !== "autoattack"));
const fullClaims = checkClaims(summaries, columns.filter((c) => c.attack !== "autoattack"));
await showMarkdown(["1a", "1b", "2a", "2b"].map((id) => {
  const d = defClaims.find((c) => c.claim.startsWith(id)), f = fullClaims.find((c) => c.claim.startsWith(id));
  return `- **${id}** — default: ${d ? d.statement : "not checked"} — **full**: ${f ? f.statement : "not checked"}`;
}).join("\n"));
"""),
        ]
    cells += [
        md(r"""
## For comparison: the same checks on the paper's own CIFAR numbers

These are the paper's numbers (Tables 1 and 2), not ours; the paper publishes no std, only that it
is below 0.5%, which is used as each cell's std here. Only the paper's five columns exist there.
"""),
        code(r"""
const paperText = (["cifar10", "cifar100"] as const).map((ds) =>
  claimsMarkdown(checkClaims(paperSummaries(ds), PAPER_COLUMNS, PAPER_STD_BOUND), `the paper's ${ds === "cifar10" ? "CIFAR-10, Table 2" : "CIFAR-100, Table 1"}`));
await showMarkdown(paperText.join("\n\n"));
"""),
    ]
    return notebook(cells)


# ---------------------------------------------------------------------------------------------
def cifar(dataset: str, table: int, title: str, notebook_name: str):
    return notebook([
        md(f"""
# Table {table}: {title} — our numbers beside the paper's

The paper's Table {table} (PreActResNet-18, 100 epochs, mean of 3 runs) from `data/paper_tables.csv`,
and, when our {title} results exist (`results/{dataset}-paper.csv` from the `paper` preset, else
`results/{dataset}-cpu.csv` from the CPU preset), ours beside it with the differences.
This notebook never trains: it reads results. Without them it says what is missing and how to
produce them. ρ marked * is assumed (lost from the paper's text).
"""),
        code(IMPORTS),
        md(f"## The paper's Table {table} (accuracy, %)"),
        code(f"""
const dataset = "{dataset}";
const title = "{title}";
const paper = paperSummaries(dataset);
await showMarkdown(`*${{RHO_NOTE}}*`);
pl.DataFrame(tableRecords(paper, PAPER_COLUMNS))
"""),
        md("## Our results"),
        code(f"""
// Prefer the paper preset's results, else the CPU preset's.
const plans = ["paper", "cpu"].map((name) => planGrid({{ dataset, preset: name }}));
const found = plans.find((p) => p.existing.size > 0);
const columns = found ? evalColumns(found.preset.evals) : PAPER_COLUMNS;
const ours = found ? summarize(planTable(found), columns) : [];
if (found) {{
  await showMarkdown(`Found ${{found.existing.size}} of ${{found.runs.length}} runs of preset \\`${{found.preset.name}}\\` in \\`${{shownPath(found.resultsPath)}}\\`.` +
    `\\n\\n${{presetMarkdown(found.preset)}}`);
}} else {{
  let problem: string | null = null;
  try {{
    await loadDataset(dataset);
  }} catch (err) {{
    if (!(err instanceof DatasetError)) throw err;
    problem = err.message;
  }}
  await showMarkdown(cifarMissingMarkdown(dataset, problem, plans[1], "{notebook_name}"));
}}
"""),
        md("## Ours beside the paper's (accuracy, %; Δ = ours − paper, in points)"),
        code(r"""
if (ours.length) {
  const recs = ours.map((s) => {
    const p = paper.find((q) => q.row.id === s.row.id);
    const rec: Record<string, string> = { row: s.row.label, seeds: String(s.seeds.length) };
    for (const c of PAPER_COLUMNS) {
      rec[`${c.label} (paper)`] = p ? (100 * p.metrics[c.key].mean).toFixed(1) : "–";
      rec[`${c.label} (ours)`] = formatPct(s.metrics[c.key]);
      rec[`${c.label} Δ`] = p && Number.isFinite(s.metrics[c.key]?.mean) ? (100 * (s.metrics[c.key].mean - p.metrics[c.key].mean)).toFixed(1) : "–";
    }
    return rec;
  });
  await showMarkdown(noiseMarkdown(ours, columns));
  pl.DataFrame(recs)
} else {
  "No results of ours yet: only the paper's numbers are shown (see above for how to produce ours)."
}
"""),
        md("## The paper's claims, checked on the paper's own numbers"),
        md("The paper publishes no std, only that it is below 0.5%; that bound is used as each cell's std."),
        *claim_cells(f"the paper's {title}, Table {table}", "paper", "PAPER_COLUMNS", "PAPER_STD_BOUND"),
        md("## The same claims on our numbers"),
        code(r"""
ours.length
  ? await showMarkdown(claimsMarkdown(checkClaims(ours, columns), `ours, preset ${found.preset.name}`))
  : "No results of ours yet: nothing to check."
"""),
        code(r"""
if (ours.length) {
  const ratios = costRatios(ours);
  await showMarkdown(costStatements(ratios).map((s) => `- ${s}`).join("\n") || "No ST row: no cost ratios.");
  await showMarkdown(loadMarkdown(ours, navigator.hardwareConcurrency));
  const cost = costChart(ratios, `Training time per epoch relative to ST (${title}, ours)`);
  await showPlot(cost.data, cost.layout);
} else {
  "No results of ours yet: no measured costs. The paper says SAM ≈ 2x and 10-step PGD AT ≈ 10x ST."
}
"""),
        md("## Charts"),
        code(r"""
const paperTrade = tradeoffChart(paper, robustOf(PAPER_COLUMNS), `Clean vs robust accuracy: the paper's ${title} numbers`);
await showPlot(paperTrade.data, paperTrade.layout);
if (ours.length) {
  const t = tradeoffChart(ours, robustOf(PAPER_COLUMNS), `Clean vs robust accuracy: ours (${title}, preset ${found.preset.name}; error bars: std over seeds)`);
  await showPlot(t.data, t.layout);
}
"""),
        code(r"""
const paperEps = robustVsEpsChart(paper, PAPER_COLUMNS, `Accuracy under PGD-10 against the radius: the paper's ${title} numbers`);
await showPlot(paperEps.data, paperEps.layout);
if (ours.length) {
  const e = robustVsEpsChart(ours, columns, `Accuracy under PGD-10 against the radius: ours (${title}, preset ${found.preset.name})`);
  await showPlot(e.data, e.layout);
}
"""),
    ])


def main() -> None:
    for name, nb in [
        ("table_fashion_mnist", fashion_mnist("default")),
        ("table_fashion_mnist_full", fashion_mnist("full")),
        ("table1_cifar100", cifar("cifar100", 1, "CIFAR-100", "table1_cifar100.ipynb")),
        ("table2_cifar10", cifar("cifar10", 2, "CIFAR-10", "table2_cifar10.ipynb")),
    ]:
        write(name, nb)


if __name__ == "__main__":
    main()
