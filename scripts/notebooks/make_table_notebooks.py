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
def fashion_mnist():
    return notebook([
        md(r"""
# The paper's 12-row protocol on Fashion-MNIST (CPU)

The claims under test (Wei, Zhu, Zhang 2023): **(1)** training with SAM alone — no adversarial
examples — raises PGD robust accuracy well above standard training (ST) while keeping or improving
clean accuracy; **(2)** adversarial training (AT, PGD) gives far more robustness but loses clean
accuracy, and costs about 10x ST (10-step PGD), SAM about 2x.

This notebook runs the paper's whole grid — ST, SAM at three ρ, AT with L∞ and L2 PGD at four
radii each — on Fashion-MNIST with the CPU preset `fashion-mnist/default`, over several seeds,
and checks each claim on the numbers. **Every number here is ours** (Fashion-MNIST; the paper
has no Fashion-MNIST table). The paper's own numbers (CIFAR) appear only in the last section and
in the `table1_cifar100` / `table2_cifar10` notebooks.

`runGrid` trains only the runs missing from `results/fashion-mnist-default.csv` (resuming any
interrupted one from its checkpoint), evaluates only what `results/fashion-mnist-default.evals.csv`
lacks, and loads the rest, so re-rendering is fast. Each column names its attack: "PGD-10 L∞ 8/255"
is PGD with 10 steps of size ε/4 and a random start, the model in eval mode, every test image attacked.

**Knobs** (environment variables read below; unset = the preset's full grid):
`SAM_AT_SEEDS` (comma list, e.g. `0`), `SAM_AT_ROWS` (comma list of row ids, e.g. `ST,SAM-0.2,AT-linf-8`),
`SAM_AT_RESULTS` (another results CSV). Example: `SAM_AT_SEEDS=0 bin/deno task report notebooks/table_fashion_mnist.ipynb`.
"""),
        code(IMPORTS),
        md("## Settings: this preset against the paper"),
        code(r"""
const env = (k: string) => Deno.env.get(k) || undefined;
const preset = getPreset("fashion-mnist", "default");
const seeds = env("SAM_AT_SEEDS") ?? preset.seeds.join(",");
const rows = env("SAM_AT_ROWS") ?? "all";
const columns = evalColumns(preset.evals);
await showMarkdown(presetMarkdown(preset, { seeds, rows }));
"""),
        md("## Run or load"),
        code(r"""
const grid = await runGrid({ dataset: "fashion-mnist", preset: preset.name, rows, seeds, resultsPath: env("SAM_AT_RESULTS") });
console.log(`${grid.rows.length} of ${grid.plan.runs.length} planned runs have results: ${grid.trained} trained now, ${grid.skipped} loaded from ${shownPath(grid.plan.resultsPath)}.`);
"""),
        md(r"""
## The table: mean ± std over seeds (accuracy, %)

Columns marked "(ours)" extend the paper's evaluation to larger radii (L∞ 4/255, 8/255; L2 64/255,
128/255 — the doubling sequence of the paper's radii continued to its largest AT training radii).
Why: in our preliminary trials the paper's small radii separated ST and SAM on Fashion-MNIST by
about the sampling noise only; the SAM − ST matrix below shows how each column separates them in
this run.
ρ marked * is assumed (lost from the paper's text).
"""),
        code(r"""
const summaries = summarize(wideRows(grid.rows, grid.evals), columns);
pl.DataFrame(tableRecords(summaries, columns))
"""),
        code(r"""
await showMarkdown(noiseMarkdown(summaries, columns));
"""),
        md("## The paper's claims, checked on these numbers"),
        *claim_cells("Fashion-MNIST, ours", "summaries", "columns"),
        md(r"""
## Training cost relative to ST

Seconds per training epoch (each run's median epoch, from the results CSV; the median leaves out
the first epoch's warm-up), divided by ST's. The paper: SAM ≈ 2x, AT with
10-step PGD ≈ 10x. Our L∞ 1/255, 2/255 and all L2 AT rows use 5-step PGD (the authors' settings),
so about 6 passes per step. Timings are wall-clock: other processes on the machine inflate them,
so the 1-minute load average at the end of each run is shown too (`load_avg_1m` in the CSV).
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
const trade = tradeoffChart(summaries, panels, "Clean vs robust accuracy (Fashion-MNIST, ours; error bars: std over seeds)");
await showPlot(trade.data, trade.layout);
"""),
        code(r"""
const byEps = robustVsEpsChart(summaries, columns, "Accuracy under PGD-10 against the radius (Fashion-MNIST, ours)");
await showPlot(byEps.data, byEps.layout);
"""),
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
    ])


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
        ("table_fashion_mnist", fashion_mnist()),
        ("table1_cifar100", cifar("cifar100", 1, "CIFAR-100", "table1_cifar100.ipynb")),
        ("table2_cifar10", cifar("cifar10", 2, "CIFAR-10", "table2_cifar10.ipynb")),
    ]:
        write(name, nb)


if __name__ == "__main__":
    main()
