"""Build the lecture notebooks from their jupytext sources, execute them, save with outputs.

Usage (from the repository root, in the dev environment)::

    python notebooks/build_notebooks.py [NAME ...]

Each notebook ``notebooks/<NAME>.ipynb`` is paired (jupytext, ``ipynb,py:percent``) with the
plain-Python source ``notebooks/<NAME>.py`` that ruff and git diff can read; edit either in
Jupyter (with jupytext installed, saving one updates the other) or the ``.py`` in an editor.
This script only does what jupytext does not: it reads the source with jupytext, executes it
top to bottom with nbclient in a fresh ``python3`` kernel of this interpreter (cwd
``notebooks/``), always at the default settings (``IDEAL_DIFFUSION_FAST`` is removed from the
kernel's environment: the committed notebook is what a lecturer runs), and cleans the outputs
deterministically: cell ids from the notebook name, consecutive execution counts, no metadata
but what a JupyterLab save writes (the kernelspec, the kernel's language_info, jupytext's
settings), so opening a notebook and saving it changes nothing. The run time and file size
are printed.

Solutions: each starts with a markdown heading ``#### Solution ...``; the built notebook marks
that heading collapsed (JupyterLab's and Notebook 7's ``jp-MarkdownHeadingCollapsed`` cell
metadata), so its code and outputs stay hidden, until the next heading of level 4 or above,
behind a clickable arrow. The collapse lives only in the ``.ipynb``: the ``[tool.jupytext]``
filter in ``pyproject.toml`` keeps only the ``tags`` in the ``.py``, so opening a solution and
saving leaves the ``.py`` unchanged. Sliders are built as their static fallback
(``IDEAL_DIFFUSION_STATIC=1``): the committed notebook holds no widget views.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
MAX_BYTES = 1 << 20  # 1 MiB per committed notebook
CELL_TIMEOUT = 600  # s; a generous bound for a loaded machine (the test uses 120 s)
# the metadata JupyterLab writes on a save (ipykernel's kernelspec, the kernel's language_info,
# jupytext's settings from pyproject.toml), so that opening and saving gives the same bytes
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
JUPYTEXT = {"cell_metadata_filter": "tags,-all", "formats": "ipynb,py:percent",
            "notebook_metadata_filter": "-all"}
SOLUTION_HEADING = "#### Solution"
COLLAPSED = "jp-MarkdownHeadingCollapsed"  # JupyterLab 4 / Notebook 7 cell metadata
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def sources() -> list[str]:
    """The notebook names: every ``notebooks/NN_*.py`` jupytext source."""
    return sorted(p.stem for p in HERE.glob("[0-9][0-9]_*.py"))


def make_notebook(name: str) -> nbformat.NotebookNode:
    """The unexecuted notebook of ``<name>.py`` (jupytext percent format)."""
    nb = jupytext.read(HERE / f"{name}.py", fmt="py:percent")
    for i, cell in enumerate(nb.cells):
        cell.id = f"{name[:40]}-{i:03d}".replace(".", "-")
        if cell.cell_type == "markdown" and cell.source.startswith(SOLUTION_HEADING):
            cell.metadata[COLLAPSED] = True
    check_solutions_hidden(nb, name)
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"},
                   "jupytext": dict(JUPYTEXT)}
    return nb


def heading_level(cell) -> int:
    """The level of a markdown cell's first-line heading (``###`` -> 3), 0 if none."""
    if cell.cell_type != "markdown":
        return 0
    first = cell.source.lstrip().split("\n", 1)[0]
    level = len(first) - len(first.lstrip("#"))
    return level if 0 < level <= 6 and first[level:level + 1] == " " else 0


def check_solutions_hidden(nb: nbformat.NotebookNode, name: str) -> None:
    """Raise unless every ``solution``-tagged cell is under a collapsed solution heading."""
    hiding = None  # the level of the collapsed heading the current cell is under
    for cell in nb.cells:
        level = heading_level(cell)
        if level and (hiding is None or level <= hiding):
            hiding = level if cell.metadata.get(COLLAPSED) else None
        if "solution" in cell.metadata.get("tags", ()) and hiding is None:
            raise RuntimeError(f"{name}: solution cell {cell.id} is not under a collapsed "
                               f"'{SOLUTION_HEADING}' heading")


def clean(nb: nbformat.NotebookNode) -> None:
    """Keep only the kernelspec, the kernel's language_info and the pairing, no cell metadata
    but the solution tags and collapsed headings, merge split prints, check the counts."""
    language = dict(nb.metadata.get("language_info") or {"name": "python"})
    nb.metadata = {"jupytext": dict(JUPYTEXT), "kernelspec": dict(KERNELSPEC),
                   "language_info": language}
    count = 0
    for cell in nb.cells:
        # keep only what a reader needs: the solution tag and its collapsed state
        cell.metadata = {k: cell.metadata[k] for k in ("tags", "jupyter", COLLAPSED)
                         if k in cell.metadata}
        if cell.cell_type != "code":
            continue
        merged = []  # one stream output per run of prints, as a reader sees it
        for out in cell.outputs:
            if (out.output_type == "stream" and merged and merged[-1].output_type == "stream"
                    and merged[-1].name == out.name):
                merged[-1].text += out.text
            else:
                merged.append(out)
        cell.outputs = merged
        count += 1
        if cell.execution_count != count:
            raise RuntimeError(f"cell {cell.id}: execution count {cell.execution_count}, "
                               f"expected {count}")
        for out in cell.outputs:  # a widget view would fail to restore (no saved state)
            if WIDGET_VIEW in out.get("data", {}):
                raise RuntimeError(f"cell {cell.id} shows a widget in the static build")


def build(name: str) -> tuple[Path, float, int]:
    """Execute ``<name>.py`` and write ``<name>.ipynb``; return (path, seconds, bytes)."""
    nb = make_notebook(name)
    env = {k: v for k, v in os.environ.items() if k != "IDEAL_DIFFUSION_FAST"}
    env["IDEAL_DIFFUSION_STATIC"] = "1"  # sliders drawn as their static fallback only
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            record_timing=False, resources={"metadata": {"path": str(HERE)}})
    t0 = time.perf_counter()
    client.execute(env=env)
    seconds = time.perf_counter() - t0
    clean(nb)
    nbformat.validate(nb)
    path = HERE / f"{name}.ipynb"
    text = nbformat.writes(nb) + "\n"
    size = len(text.encode())
    if size > MAX_BYTES:  # refuse before writing: no oversized file left behind
        raise RuntimeError(f"{path} would be {size} bytes, over the {MAX_BYTES} byte limit")
    path.write_text(text)
    return path, seconds, size


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    known = sources()
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {known}")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown notebook(s) {unknown}; known: {known}")
    for name in args.names or known:
        print(f"building {name} ...", flush=True)
        path, seconds, size = build(name)
        print(f"wrote {path.relative_to(HERE.parent)}: executed in {seconds:.1f} s "
              f"(kernel start included), {size / 1024:.0f} KiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
