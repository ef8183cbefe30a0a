"""Build the lecture notebooks from their cell sources, execute them in order, save with outputs.

Usage (from the repository root, in the dev environment)::

    python notebooks/build_notebooks.py [NAME ...]

NAME is a source stem in ``notebooks/src/`` (``01_motivation``, ...); without NAME every
source is built. Each ``notebooks/src/<NAME>.py`` holds the notebook's cells, jupytext
"percent" style, so the source is plain Python that ruff and git diff can read:

* ``# %% [markdown]`` starts a markdown cell; its lines are comments, "# " is stripped;
* ``# %%`` starts a code cell; a line ``# %magic ...`` in it becomes the IPython magic
  ``%magic ...`` (so the source stays valid Python);
* anything before the first marker (a header comment) is ignored.

The notebook is executed top to bottom by nbclient in a fresh ``python3`` kernel of this
interpreter (cwd ``notebooks/``), always with the default settings (``IDEAL_DIFFUSION_FAST``
is removed from the kernel's environment: the committed notebook is what a lecturer runs),
and written to ``notebooks/<NAME>.ipynb`` with deterministic cell ids, consecutive execution
counts and no metadata but the kernelspec. The run time and file size are printed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
MAX_BYTES = 1 << 20  # 1 MiB per committed notebook
CELL_TIMEOUT = 600  # s; a generous bound for a loaded machine (the test uses 120 s)
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def parse_cells(text: str) -> list[tuple[str, str]]:
    """Split a percent-format source into ``[(kind, source), ...]``, kind "markdown"/"code"."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# %%"):
            kind = "markdown" if "[markdown]" in stripped else "code"
            cells.append((kind, []))
            continue
        if not cells:
            continue  # header before the first cell
        kind, lines = cells[-1]
        if kind == "markdown":
            if line.startswith("# "):
                line = line[2:]
            elif line.strip() == "#":
                line = ""
        elif line.startswith("# %") and not line.startswith("# %%"):
            line = line[2:]  # an escaped IPython magic
        lines.append(line)
    out = []
    for kind, lines in cells:
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            out.append((kind, "\n".join(lines)))
    return out


def make_notebook(name: str) -> nbformat.NotebookNode:
    """The unexecuted notebook of ``src/<name>.py``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    for i, (kind, source) in enumerate(parse_cells((SRC / f"{name}.py").read_text())):
        new = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        cell = new(source)
        cell.id = f"{name[:40]}-{i:03d}".replace(".", "-")
        nb.cells.append(cell)
    return nb


def clean(nb: nbformat.NotebookNode) -> None:
    """Keep only the kernelspec, drop cell metadata, merge split prints, check the counts."""
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    count = 0
    for cell in nb.cells:
        cell.metadata = {}
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
    """Execute ``src/<name>.py`` and write ``<name>.ipynb``; return (path, seconds, bytes)."""
    nb = make_notebook(name)
    env = {k: v for k, v in os.environ.items() if k != "IDEAL_DIFFUSION_FAST"}
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            record_timing=False, resources={"metadata": {"path": str(HERE)}})
    t0 = time.perf_counter()
    client.execute(env=env)
    seconds = time.perf_counter() - t0
    clean(nb)
    nbformat.validate(nb)
    path = HERE / f"{name}.ipynb"
    nbformat.write(nb, path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise RuntimeError(f"{path} is {size} bytes, over the {MAX_BYTES} byte limit")
    return path, seconds, size


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    known = sorted(p.stem for p in SRC.glob("*.py"))
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
