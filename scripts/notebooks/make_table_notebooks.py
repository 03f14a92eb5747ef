"""Write the four table notebooks (notebooks/table_*.ipynb) without outputs: only their cell layout.

Usage: .venv/bin/python scripts/notebooks/make_table_notebooks.py
Then execute and render them: bin/deno task report notebooks/table_fashion_mnist.ipynb notebooks/table1_cifar100.ipynb notebooks/table2_cifar10.ipynb

Each notebook's logic lives in a typed module, one per notebook (checked by `deno check`, tested):
lib/report/notebook_grid.ts (presets default and full) and
lib/report/notebook_table_cifar.ts (Tables 1 and 2, a function of dataset and preset). A code cell
calls one function and displays its result; every number and statement is computed when it runs.
"""

from nbcells import code, md, notebook, write

FM_IMPORTS = r"""import { showChart, showMarkdown } from "../lib/report/notebook.ts";
import { table } from "../lib/report/show_table.ts";
import { claimCellRecords } from "../lib/report/claim_text.ts";
import { presetMarkdown, loadMarkdown } from "../lib/report/report_text.ts";
import * as nb from "../lib/report/notebook_grid.ts";
console.log(`lib/report/notebook_grid.ts: ${Object.keys(nb).join(", ")}`);"""

CIFAR_IMPORTS = r"""import { showChart, showMarkdown } from "../lib/report/notebook.ts";
import { showTable, table } from "../lib/report/show_table.ts";
import { claimCellRecords, claimsMarkdown } from "../lib/report/claim_text.ts";
import { RHO_NOTE } from "../lib/experiments/grid.ts";
import { PAPER_COLUMNS } from "../lib/experiments/columns.ts";
import * as nb from "../lib/report/notebook_table_cifar.ts";
console.log(`lib/report/notebook_table_cifar.ts: ${Object.keys(nb).join(", ")}`);"""


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


FM_TABLE_INTRO = r"""
## The table: mean ± std over seeds (accuracy, %; all numbers ours)

Columns marked "(ours)" extend the paper's evaluation: larger PGD-10 radii (L∞ 4/255, 8/255; L2
64/255, 128/255 — the doubling sequence of the paper's radii continued to its largest AT training
radii; the paper's small radii separate ST and SAM here by about the sampling noise only), and
AutoAttack at L∞ 8/255 and L2 128/255 (one seed: its cell shows that seed's value, no std). Beside
each AutoAttack column, "PGD-10 … [same N pts, seed 0]" is PGD-10 at the same threat on exactly
AutoAttack's points and seed: compare AutoAttack with that column, not with the PGD-10 mean over
every test point. ρ marked * is assumed (lost from the paper's text).
"""


def grid_cells(module: str, table_intro: str):
    """The analysis of one of our grids (lib/report/notebook_grid.ts imported as `module`; cells
    before these define `s` and `loaded`): the table, noise, claims under PGD-10 and AutoAttack,
    masking checks, cost, charts."""
    cells = [
        md(table_intro),
        code(r"""
const p = {M}.page(s, loaded);
table({M}.mainTable(p))
"""),
        code(r"""
await showMarkdown({M}.noiseText(p));
"""),
        md(r"""
**The smallest difference this grid can detect** at 2 standard errors of a difference of two rows
(median seed std of the column, its seeds, its test points; formula in `lib/analysis/detectable.ts`):
"""),
        code(r"""
table({M}.detectableTable(p))
"""),
        md("## The paper's claims under PGD-10 (the paper's attack), checked on our numbers"),
        code(r"""
await showMarkdown({M}.pgdClaimsMarkdown(p));
"""),
        md("**Claim 1a and 1b: SAM − ST** (percentage points ± 1 SE; the clean column is claim 1b, the others 1a):"),
        code(r"""
table(claimCellRecords(p.pgdClaims, {M}.pgdColumns(p), "1"))
"""),
        md("**Claim 2a: AT − the most robust SAM row** (robust columns) **and claim 2b: AT − ST** (clean column):"),
        code(r"""
table(claimCellRecords(p.pgdClaims, {M}.pgdColumns(p), "2"))
"""),
        md(r"""
## AutoAttack beside PGD-10

Per run with AutoAttack columns: PGD-10 and AutoAttack on the **same** test points (PGD-10's
per-example results restricted to AutoAttack's first N), the accuracy after each AutoAttack stage,
and how much PGD-10 overstates robustness. A large gap for the SAM rows but not the AT rows would
mean SAM's robustness under PGD-10 is partly an artefact of a weak attack.
"""),
        code(r"""
table({M}.gapTable(p), { missing: "no AutoAttack columns in these results yet" })
"""),
        code(r"""
await showMarkdown({M}.gapMarkdown(p));
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
const mask = {M}.masking(p);
await showMarkdown(mask.markdown);
table(mask.rows)
"""),
        md(r"""
### The claims re-checked under AutoAttack

The same comparisons with AutoAttack's accuracy in place of PGD-10's. AutoAttack ran on one seed
per row and on N test points, so its own seed spread is unknown: the seed std of PGD-10 at the
same threat stands in for it, and the sampling error uses N (both stated here because they are
our choice, not a measurement).
"""),
        code(r"""
await showMarkdown({M}.aaClaimsMarkdown(p));
table(claimCellRecords(p.aaClaims, p.aaColumns, "1").concat(claimCellRecords(p.aaClaims, p.aaColumns, "2")))
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
const cost = {M}.cost(p);
await showMarkdown(cost.markdown);
await showMarkdown(loadMarkdown(p.summaries, navigator.hardwareConcurrency));
table(cost.rows)
"""),
        code(r"""
await showChart(cost.chart);
"""),
        md("## Charts (ours)"),
        code(r"""
for (const c of {M}.charts(p)) await showChart(c);
"""),
    
    ]
    for c in cells:
        if c.cell_type == "code":
            c.source = c.source.replace("{M}.", f"{module}.")
    return cells


def fashion_mnist(preset: str):
    cells = [
        md(FM_INTRO[preset] + COMMON_INTRO + (KNOBS if preset == "default" else "")),
        code(FM_IMPORTS),
        md("## Settings: this preset against the paper"),
        code(rf"""
const s = nb.settings("{preset}");
await showMarkdown(presetMarkdown(s.preset, {{ seeds: s.seeds ?? s.preset.seeds.join(","), rows: s.rows }}));
"""),
        md("## Run or load" if preset == "default" else "## Load (what is finished)"),
        code(r"""
const loaded = await nb.runOrLoad(s);
await showMarkdown(loaded.markdown);
"""),
    ] + grid_cells("nb", FM_TABLE_INTRO)
    if preset == "full":
        cells += [
            md(r"""
## Beside the default preset: what changes when the model is big enough

The same rows in the fast default preset (small CNN width 8, 2400 training / 1000 test images)
and in this one (width 32, all 60000 / 5000), mean over seeds, accuracy %. Both are ours.
"""),
            code(r"""
const side = nb.besideDefault(p);
await showMarkdown(side.markdown);
table(side.rows)
"""),
        ]
    cells += [
        md(r"""
## For comparison: the same checks on the paper's own CIFAR numbers

These are the paper's numbers (Tables 1 and 2), not ours; the paper publishes no std, only that it
is below 0.5%, which is used as each cell's std here. Only the paper's five columns exist there.
"""),
        code(r"""
await showMarkdown(nb.paperClaimsMarkdown());
"""),
    ]
    return notebook(cells)


# ---------------------------------------------------------------------------------------------
TITLES = {"cifar10": "CIFAR-10", "cifar10-jpeg": "CIFAR-10 (JPEG q75 copy)", "cifar100": "CIFAR-100"}


def cifar(datasets: list, paper: str, table_no: int, title: str, notebook_name: str):
    ds = ", ".join(f'"{d}"' for d in datasets)
    names = " and ".join(TITLES[d] for d in datasets)
    return notebook([
        md(f"""
# Table {table_no}: {title} — the paper's numbers, and ours beside them where they exist

**The paper's numbers:** its Table {table_no} (PreActResNet-18, 100 epochs, mean of 3 runs), read from
the file data/paper_tables.csv. **Ours:** this project's runs of the same grid on {names},
shown beside the paper's with the differences once their results files exist; the next sections say
plainly whether any exist. This notebook never trains. ρ marked * is assumed (lost from the paper's text).
"""),
        code(CIFAR_IMPORTS),
        md(f"## The paper's Table {table_no} (accuracy, %; the paper's numbers)"),
        code(f"""
await showMarkdown(`*${{RHO_NOTE}}*`);
table(nb.paperTable("{paper}"))
"""),
        md("## Our results"),
        code(f"""
const ours = ([{ds}] as const).map((d) => nb.ours(d));
await showMarkdown(ours.map((o) => nb.oursMarkdown(o, "{notebook_name}")).join("\\n\\n---\\n\\n"));
"""),
        md("## Ours beside the paper's (accuracy, %; Δ = ours − paper, in points)"),
        code(f"""
for (const o of ours) {{
  await showMarkdown(nb.besidePaperMarkdown(o));
  if (o.found) await showTable(nb.besidePaper(o, "{paper}"));
}}
"""),
        md("## The paper's claims, checked on the paper's own numbers"),
        md("The paper publishes no std, only that it is below 0.5%; that bound is used as each cell's std."),
        code(f"""
const paperClaims = nb.paperClaims("{paper}");
await showMarkdown(claimsMarkdown(paperClaims, PAPER_COLUMNS, "the paper's {title}, Table {table_no}"));
"""),
        md("**Claim 1a and 1b: SAM − ST** (the paper's numbers; percentage points; the clean column is claim 1b, the others 1a):"),
        code(r"""
table(claimCellRecords(paperClaims, PAPER_COLUMNS, "1"))
"""),
        md("**Claim 2a: AT − the most robust SAM row** (robust columns) **and claim 2b: AT − ST** (clean column; the paper's numbers):"),
        code(r"""
table(claimCellRecords(paperClaims, PAPER_COLUMNS, "2"))
"""),
        md("## The same claims on our numbers"),
        code(r"""
await showMarkdown(ours.map((o) => nb.oursClaimsMarkdown(o)).join("\n\n"));
"""),
        code(r"""
for (const o of ours) {
  const c = nb.oursCost(o);
  await showMarkdown(c.markdown);
  if (c.chart) await showChart(c.chart);
}
"""),
        md("## Charts (the paper's, then ours where they exist)"),
        code(f"""
for (const c of nb.charts(ours, "{paper}")) await showChart(c);
"""),
        *(JPEG_GRID_CELLS() if "cifar10-jpeg" in datasets else []),
        *(SWEEP_CELLS if "cifar10-jpeg" in datasets else []),
    ])


JPEG_TABLE_INTRO = r"""
### The table: mean ± std over seeds (accuracy, %; all numbers ours, on CIFAR-10 (JPEG q75 copy))

All numbers in this section are ours, measured on the lossy JPEG copy of CIFAR-10 (not on CIFAR-10
itself: JPEG moves pixels by amounts comparable with the attack radii). Columns marked "(ours)"
extend the paper's evaluation: PGD-10 at L∞ 8/255 and L2 128/255 (the largest AT training radii),
and AutoAttack at the same two threats on the first 500 test images of seed 0's runs (one seed: its
cell shows that seed's value, no std). Beside each AutoAttack column, "PGD-10 … [same N pts, seed
0]" is PGD-10 at the same threat on exactly AutoAttack's points and seed: compare AutoAttack with
that column. PGD-10 columns use the first 2000 test images (a fixed random sample of every class),
clean accuracy all 10000. ρ marked * is assumed (lost from the paper's text).
"""


def JPEG_GRID_CELLS():
    """Our CIFAR-10 (JPEG q75 copy) grid analysed as the Fashion-MNIST pages are (reads only)."""
    return [
        md("""
## Our CIFAR-10 (JPEG q75 copy) grid in full (ours)

The preset `cifar10-jpeg/cpu` (its settings and every difference from the paper's protocol are
listed below), analysed the way the Fashion-MNIST pages are: every claim under PGD-10 and under
AutoAttack with the 2-standard-error rule, the smallest detectable difference, the
gradient-masking checks, the cost per epoch. This notebook only reads: the grid runs in the
background (`bin/deno task experiment --dataset cifar10-jpeg --preset cpu`), and rows appear here
as their runs finish.
"""),
        code(r"""
import * as grid from "../lib/report/notebook_grid.ts";
import { loadMarkdown, presetMarkdown } from "../lib/report/report_text.ts";
const s = grid.settings("cpu", false, "cifar10-jpeg");
await showMarkdown(presetMarkdown(s.preset, { seeds: s.preset.seeds.join(","), rows: s.rows }));
const loaded = grid.load(s);
await showMarkdown(loaded.markdown);
"""),
    ] + grid_cells("grid", JPEG_TABLE_INTRO)


SWEEP_CELLS = [
    md("""
## How the CIFAR-10 (JPEG q75 copy) preset was chosen: the sweep (ours)

Our measurement, not the paper's: ST's clean test accuracy (on 2000 fixed test images) after every
epoch, for PreActResNet-18 at two widths (16, 32) on two training-set sizes (20000 images, all
50000), each with the paper's piecewise schedule over its own number of epochs, crop + flip, graph
steps, one TensorFlow thread per process, two processes side by side (scripts/cifar_sweep.ts,
results/cifar10-jpeg-sweep.csv). The sentences below are computed from that file.
"""),
    code(r"""
import * as sweep from "../lib/report/notebook_cifar_sweep.ts";
const configs = sweep.sweepConfigs();
await showMarkdown(sweep.sweepFindings(configs).map((s) => `- ${s}`).join("\n"));
await showMarkdown(`**The 85% aim:** ${sweep.cleanAimMarkdown(configs, p.summaries, loaded.plan)}`);
if (configs.length) await showTable(sweep.sweepTable(configs));
const sweepPlot = sweep.sweepSectionChart(configs);
if (sweepPlot) await showChart(sweepPlot);
"""),
]


def main() -> None:
    for name, nb, summary, numbers in [
        ("table_fashion_mnist", fashion_mnist("default"),
         "The paper's 12-row grid on Fashion-MNIST with the fast CPU preset (small CNN, 3 seeds), each claim checked under PGD-10 and AutoAttack.",
         "ours (the last section: the paper's CIFAR numbers)"),
        ("table_fashion_mnist_full", fashion_mnist("full"),
         "The same grid at full scale (all 60000 training images, a model that fits), beside the default preset.",
         "ours (the last section: the paper's CIFAR numbers)"),
        ("table1_cifar100", cifar(["cifar100"], "cifar100", 1, "CIFAR-100", "table1_cifar100.ipynb"),
         "The paper's Table 1 (CIFAR-100) with its claims checked on its own numbers; ours beside it once CIFAR-100 runs exist.",
         "the paper's (no numbers of ours yet unless CIFAR-100 results exist)"),
        ("table2_cifar10", cifar(["cifar10", "cifar10-jpeg"], "cifar10", 2, "CIFAR-10", "table2_cifar10.ipynb"),
         "The paper's Table 2 (CIFAR-10) with its claims checked on its own numbers; ours (CIFAR-10, CIFAR-10 (JPEG q75 copy)) beside it once runs exist.",
         "the paper's (no numbers of ours yet unless CIFAR-10 results exist)"),
    ]:
        write(name, nb, summary, numbers)


if __name__ == "__main__":
    main()
