"""Execute the notebooks headlessly and render them, with an index page, into report/ (ignored by git).

Usage: report.py [--no-execute] [--out DIR] [notebook.ipynb ...]
(default: every notebooks/*.ipynb not starting with '_', rendered into report/; `--out results/report`
refreshes the committed copy of the report)

Paths are checked first (scripts/report_inputs.py): a file that is not a notebook, or one whose
page would replace another notebook's (or the index), is refused in one sentence (exit 2).
Each executed notebook is checked: a cell that raised, or a code cell left without any output
(the project's notebooks give every code cell an output, so an empty one means the kernel lost
it), fails the notebook. Lost outputs are retried once. Other notebooks still render.
"""

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter
from traitlets.config import Config

from report_inputs import refusal, source_of

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
# An ignored folder: rendering must not rewrite the committed copy in results/report/ unasked.
DEFAULT_OUT = ROOT / "report"
KERNEL = "sam-at-deno"
PLOTLY_MIME = "application/vnd.plotly.v1+json"


def log(msg: str) -> None:
    print(f"[report] {msg}", file=sys.stderr, flush=True)


def order_key(path: Path):
    # Theory first (cheap, self-contained), then the experiment tables (table_fashion_mnist runs the
    # default grid when its results are missing), then the notebooks that read the tables' results
    # (the mechanism notebook measures every finished run, so from scratch it must come after).
    rank = 0 if path.name.startswith("theorem") else 1 if path.name.startswith("table") else 2
    return (rank, path.name)


def problems(nb) -> list[str]:
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        if any(o.get("output_type") == "error" for o in cell.outputs):
            err = next(o for o in cell.outputs if o.get("output_type") == "error")
            found.append(f"cell {i} raised {err.get('ename')}: {err.get('evalue')}")
        elif not cell.outputs:
            found.append(f"cell {i} has no output")
    return found


def execute(path: Path) -> tuple[object, list[str], float]:
    for attempt in (1, 2):
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb, kernel_name=KERNEL, timeout=None, allow_errors=True,
            resources={"metadata": {"path": str(path.parent)}},  # cells run in their own folder
            on_cell_executed=lambda cell, cell_index, execute_reply: print(
                f"  cell {cell_index + 1}/{len(nb.cells)} done", file=sys.stderr, flush=True),
        )
        start = time.time()
        try:
            client.execute()
        except CellExecutionError:
            pass  # recorded in the cell outputs; reported by problems()
        wall = time.time() - start
        found = problems(nb)
        lost = [p for p in found if p.endswith("has no output")]
        if lost and len(lost) == len(found) and attempt == 1:
            log(f"{path.name}: {len(lost)} cell output(s) lost by the kernel; executing once more")
            continue
        return nb, found, wall
    raise AssertionError("unreachable")


def render(nb, name: str, out: Path) -> None:
    # Put plotly's mimetype first so the template draws it rather than its text/plain fallback.
    priority = [PLOTLY_MIME] + HTMLExporter().default_config.NbConvertBase.display_data_priority
    config = Config({"NbConvertBase": {"display_data_priority": priority}})
    exporter = HTMLExporter(config=config,
        extra_template_basedirs=[str(ROOT / "scripts")], template_name="report_template")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": name}})
    (out / f"{name}.html").write_text(body, encoding="utf-8")


def first_sentence(text: str) -> str:
    """The first whole sentence of a paragraph, Markdown code marks and emphasis removed."""
    plain = re.sub(r"[`*]", "", " ".join(text.split()))
    m = re.match(r"(.+?[.!?])(\s|$)", plain)
    return m.group(1) if m else plain


def title_and_summary(nb, fallback: str) -> tuple[str, str, str]:
    """Title, one-sentence summary and whose numbers the page shows (the generators' metadata)."""
    meta = nb.metadata.get("sam_at", {})
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            lines = [l.strip() for l in cell.source.splitlines() if l.strip()]
            if lines and lines[0].startswith("#"):
                rest = [l for l in lines[1:] if not l.startswith("#")]
                summary = meta.get("summary") or first_sentence(" ".join(rest[:3]))
                return lines[0].lstrip("# "), summary, meta.get("numbers", "")
    return fallback, meta.get("summary", ""), meta.get("numbers", "")


def claims_section() -> str:
    """The paper's three claims and whether each holds, per dataset and preset (scripts/report_index.ts)."""
    run = subprocess.run([str(ROOT / "bin" / "deno"), "run", "-A", str(ROOT / "scripts" / "report_index.ts")],
                         cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        log(f"claims section failed: {run.stderr.strip().splitlines()[-1:]}")
        return "<p><b>The claims table could not be computed</b> (scripts/report_index.ts failed; see the log).</p>"
    return run.stdout


def write_index(entries: list[dict], out: Path) -> None:
    rows = "\n".join(
        f'<tr><td><a href="{e["name"]}.html">{html.escape(e["title"])}</a>'
        f'<div class="s">{html.escape(e["summary"])}</div></td>'
        f'<td>{html.escape(e["numbers"])}</td>'
        f'<td>{e["status"]}</td><td>{e["wall"]}</td></tr>' for e in entries)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    (out / "index.html").write_text(f"""<!doctype html><html><head><meta charset="utf-8">
<title>SAM alone can improve adversarial robustness: TypeScript reproduction</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.5em;text-align:left;vertical-align:top}}
.s{{color:#555;font-size:.9em}}</style></head><body>
<h1>Sharpness-Aware Minimization Alone can Improve Adversarial Robustness</h1>
<p>A TypeScript (Deno + TensorFlow.js) reproduction of Wei, Zhu &amp; Zhang (2023). Each page is a
notebook executed headlessly; each states which numbers are the paper's, which are ours, and how
our settings differ from the paper's.</p>
{claims_section()}
<h2>Pages</h2>
<table><tr><th>Notebook</th><th>Whose numbers</th><th>Status</th><th>Run time</th></tr>
{rows}
</table><p class="s">Rendered {stamp}.</p></body></html>
""", encoding="utf-8")


def main() -> int:
    # argparse prints its own usage line: leave the docstring's out, or --help shows it twice.
    ap = argparse.ArgumentParser(description=re.sub(r"\nUsage:.*?\n\n", "\n\n", __doc__, flags=re.S),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", type=Path,
                    help="notebooks to run (default: every notebooks/*.ipynb not starting with '_')")
    ap.add_argument("--no-execute", action="store_true", help="render the executed copies already in the output folder")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default report/, ignored by git; results/report/ is the committed copy)")
    args = ap.parse_args()
    out = args.out.resolve()

    paths = args.notebooks or sorted(
        (p for p in NOTEBOOKS.glob("*.ipynb") if not p.name.startswith("_")), key=order_key)
    seen: set[str] = set()
    for p in paths:
        why = refusal(p, out, ROOT, NOTEBOOKS, seen)
        if why:
            log(f"error: {why}")
            return 2
    out.mkdir(parents=True, exist_ok=True)
    # The page's scripts are copied beside it, so the report reads offline.
    for src, dest in (("plotly.js-dist-min/plotly.min.js", "plotly.min.js"),
                      ("mathjax/es5/tex-svg.js", "mathjax-tex-svg.js")):
        if not (ROOT / "node_modules" / src).is_file():
            log(f"error: node_modules/{src} is missing; run 'bash scripts/setup.sh' first.")
            return 2
        shutil.copyfile(ROOT / "node_modules" / src, out / dest)

    failed = []
    started = time.time()
    for i, path in enumerate(paths, 1):
        name = path.stem
        executed = out / f"{name}.ipynb"
        if args.no_execute:
            if not executed.is_file():
                log(f"error: {executed} does not exist; run the report without --no-execute.")
                return 2
            nb, found, wall = nbformat.read(executed, as_version=4), [], None
        else:
            log(f"({i}/{len(paths)}) executing {path.name}")
            nb, found, wall = execute(path)
            nb.metadata.setdefault("sam_at", {})["wall_seconds"] = round(wall, 1)
            nb.metadata["sam_at"]["source"] = source_of(path, ROOT)  # the page is this file's
            nbformat.write(nb, executed)
        render(nb, name, out)
        wall = wall if wall is not None else nb.metadata.get("sam_at", {}).get("wall_seconds")
        if found:
            failed.append(name)
            for f in found:
                log(f"{path.name}: {f}")
        log(f"{path.name}: {'FAILED' if found else 'ok'}" + (f" in {wall:.0f} s" if wall is not None else ""))

    entries = []
    for p in sorted((p for p in out.glob("*.ipynb")), key=order_key):
        nb = nbformat.read(p, as_version=4)
        title, summary, numbers = title_and_summary(nb, p.stem)
        bad = problems(nb)
        wall = nb.metadata.get("sam_at", {}).get("wall_seconds")
        entries.append({"name": p.stem, "title": title, "summary": summary, "numbers": numbers,
                        "status": "ok" if not bad else f"{len(bad)} problem(s)",
                        "wall": f"{wall:.0f} s" if wall is not None else ""})
    write_index(entries, out)
    log(f"wrote {out}/index.html; {len(paths)} notebook(s) in {time.time() - started:.0f} s, "
        f"{len(failed)} failed" + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
