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
but the kernelspec and the jupytext pairing. The run time and file size are printed.
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
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
JUPYTEXT = {"formats": "ipynb,py:percent"}


def sources() -> list[str]:
    """The notebook names: every ``notebooks/NN_*.py`` jupytext source."""
    return sorted(p.stem for p in HERE.glob("[0-9][0-9]_*.py"))


def make_notebook(name: str) -> nbformat.NotebookNode:
    """The unexecuted notebook of ``<name>.py`` (jupytext percent format)."""
    nb = jupytext.read(HERE / f"{name}.py", fmt="py:percent")
    for i, cell in enumerate(nb.cells):
        cell.id = f"{name[:40]}-{i:03d}".replace(".", "-")
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"},
                   "jupytext": dict(JUPYTEXT)}
    return nb


def clean(nb: nbformat.NotebookNode) -> None:
    """Keep only the kernelspec and the pairing, cell metadata but the solution tags and their
    collapsed state, merge split prints, check the counts."""
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"},
                   "jupytext": dict(JUPYTEXT)}
    count = 0
    for cell in nb.cells:
        # keep only what a reader needs: the solution tag and its collapsed state
        cell.metadata = {k: cell.metadata[k] for k in ("tags", "jupyter") if k in cell.metadata}
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
        for out in cell.outputs:
            out.get("metadata", {}).pop("application/vnd.jupyter.widget-view+json", None)
            if "data" in out:
                out["data"].pop("application/vnd.jupyter.widget-view+json", None)


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
