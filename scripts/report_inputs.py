"""What scripts/report.py may render, checked before anything runs: one sentence per refusal.

Each page of a report folder belongs to one source notebook (recorded in the executed copy's
metadata as sam_at.source), so another file of the same name never silently replaces it. A project
notebook's name (notebooks/NAME.ipynb) belongs to that notebook, and "index" to the index page.
"""
from pathlib import Path

import nbformat


def source_of(path: Path, root: Path) -> str:
    """How a page records its source: relative to the repository when inside it."""
    p = path.resolve()
    try:
        return str(p.relative_to(root))
    except ValueError:
        return str(p)


def recorded_source(page: Path, notebooks: Path, root: Path) -> str | None:
    """The source an executed page in the output folder was rendered from (None: unknown)."""
    try:
        nb = nbformat.read(page, as_version=4)
    except Exception:  # an unreadable page: the render rewrites it
        return None
    found = nb.metadata.get("sam_at", {}).get("source")
    # Pages rendered before sources were recorded: a project notebook's name is that notebook's.
    project = notebooks / page.name
    return found or (source_of(project, root) if project.is_file() else None)


def refusal(path: Path, out: Path, root: Path, notebooks: Path, seen: set[str]) -> str | None:
    """Why `path` must not be rendered into `out` (a sentence), or None."""
    name = path.stem
    if not path.is_file():
        return f"no notebook at {path}; notebooks live in {notebooks.relative_to(root)}/."
    if path.suffix != ".ipynb":
        return f"{path} is not a notebook (.ipynb); pass a Jupyter notebook, e.g. notebooks/NAME.ipynb."
    try:
        nbformat.read(path, as_version=4)
    except Exception as e:  # the message would echo the file's first bytes: name the kind only
        return f"{path} is not a readable Jupyter notebook ({type(e).__name__}); pass a .ipynb file saved by Jupyter."
    if name == "index":
        return f"{path} is named index, which is the report's index page; rename it."
    if name in seen:
        return f"{path} has the name of another notebook given, so their pages would collide; rename it."
    seen.add(name)
    project = notebooks / path.name
    if project.is_file() and project.resolve() != path.resolve():
        return (f"{path} is not notebooks/{path.name} but has its name, so its page would replace that "
                "notebook's; rename it.")
    page = out / path.name
    src = recorded_source(page, notebooks, root) if page.is_file() else None
    if src is not None and src != source_of(path, root):
        return (f"{path} would replace the page {out / (name + '.html')}, rendered from {src}; rename it "
                "or pass another --out.")
    return None
