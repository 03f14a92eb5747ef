"""What the notebook generators share: the project's kernel metadata, cell builders, and a writer
that keeps the ids of unchanged cells (so regenerating a notebook does not churn its diff)."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "notebooks"

METADATA = {
    "kernelspec": {"name": "sam-at-deno", "display_name": "Deno 2.7.14 (sam-at)", "language": "typescript"},
    "language_info": {"name": "typescript"},
}


def md(text: str):
    return new_markdown_cell(text.strip("\n"))


def code(text: str):
    return new_code_cell(text.strip("\n"))


def notebook(cells) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata.update(METADATA)
    return nb


def write(name: str, nb: nbformat.NotebookNode, summary: str, numbers: str) -> None:
    """Write notebooks/<name>.ipynb, reusing the id of each cell whose type and source are unchanged.
    `summary` (one whole sentence) and `numbers` (whose numbers the page shows: the paper's, ours or
    both) are what the report's index lists for the page."""
    nb.metadata["sam_at"] = {"summary": summary, "numbers": numbers}
    path = OUT / f"{name}.ipynb"
    if path.exists():
        old = {(c.cell_type, c.source): c.id for c in nbformat.read(path, as_version=4).cells}
        taken = set()
        for cell in nb.cells:
            same = old.get((cell.cell_type, cell.source))
            if same is not None and same not in taken:
                cell.id = same
                taken.add(same)
    OUT.mkdir(exist_ok=True)
    nbformat.write(nb, path)
    print(f"wrote {path.relative_to(ROOT)}")
