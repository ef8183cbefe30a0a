"""Every committed lecture notebook runs top to bottom without error (in its FAST mode).

Each ``notebooks/*.ipynb`` is its own test: it is read, its outputs cleared, and executed by
nbclient in a fresh kernel with ``IDEAL_DIFFUSION_FAST=1`` in the kernel's environment (the
notebooks read that flag and shrink their work); the executed copy is written to pytest's
temporary directory, never over the committed file. The kernel's working directory is
``notebooks/``, as when a reader opens the notebook there.

The kernel is this interpreter's: a ``python3`` kernelspec whose argv starts with
``sys.executable`` is written to a temporary directory put first on ``JUPYTER_PATH``, so no
other installed kernelspec (a user-level one, another environment's) can be picked up; a
cell appended to the in-memory copy prints the kernel's ``sys.prefix`` and the test checks it
is this environment's, and that the kernel saw the FAST flag.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CELL_TIMEOUT = 120  # s per cell
PROBE = "import os, sys\nprint(sys.prefix)\nprint(os.environ.get('IDEAL_DIFFUSION_FAST'))"


def _notebooks():
    return sorted(NOTEBOOKS.glob("*.ipynb"))


@pytest.fixture
def this_kernel(tmp_path, monkeypatch):
    """A ``python3`` kernelspec running ``sys.executable``, first on JUPYTER_PATH."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (this interpreter)", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("IDEAL_DIFFUSION_FAST", "1")
    return "python3"


def test_there_are_notebooks():
    assert _notebooks(), f"no notebooks in {NOTEBOOKS}"


@pytest.mark.slow
@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, this_kernel):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=this_kernel,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    try:
        client.execute()
    finally:
        nbformat.write(nb, tmp_path / path.name)  # the executed copy, for inspection
    probe = "".join(o.get("text", "") for o in nb.cells[-1].outputs).splitlines()
    assert probe == [sys.prefix, "1"], (
        f"kernel ran in {probe}, expected this environment {sys.prefix!r} with FAST=1")
    for cell in nb.cells:  # FAST: each control cell draws its static fallback, once
        if cell.cell_type == "code" and "\nexplore(" in "\n" + cell.source:
            images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
            assert len(images) == 1, f"control cell {cell.id} shows {len(images)} plots"


# ---- the committed notebooks as a student opens them (quick: they are only read)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
COLLAPSED = "jp-MarkdownHeadingCollapsed"


def _heading(cell) -> int:
    first = cell.source.lstrip().split("\n", 1)[0] if cell.cell_type == "markdown" else ""
    level = len(first) - len(first.lstrip("#"))
    return level if first[level:level + 1] == " " else 0


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_committed_notebook_opens_clean(path):
    """No widget views or widget state (they would fail to restore); every solution cell, code
    and output, under a collapsed ``#### Solution`` heading; one plot per control cell."""
    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata
    hiding, n_solutions = None, 0
    for cell in nb.cells:
        level = _heading(cell)
        if level and (hiding is None or level <= hiding):
            hiding = level if cell.metadata.get(COLLAPSED) else None
            assert not cell.metadata.get(COLLAPSED) or cell.source.startswith("#### Solution")
        if "solution" in cell.metadata.get("tags", ()):
            n_solutions += 1
            assert hiding is not None, f"solution cell {cell.id} is visible on opening"
            assert cell.outputs, f"solution cell {cell.id} was not executed"
        for out in cell.get("outputs", []):
            assert WIDGET_VIEW not in out.get("data", {}), f"cell {cell.id} holds a widget view"
    assert n_solutions >= 1
    for cell in nb.cells:
        if cell.cell_type == "code" and "\nexplore(" in "\n" + cell.source:
            images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
            assert len(images) == 1, f"control cell {cell.id} shows {len(images)} plots"


def test_committed_film_is_the_gif_that_plays_untrusted():
    nb = nbformat.read(NOTEBOOKS / "01_motivation.ipynb", as_version=4)
    shown = [o["data"]["text/markdown"] for c in nb.cells if c.cell_type == "code"
             for o in c.outputs if "text/markdown" in o.get("data", {})
             and "sampling_film.gif" in o["data"]["text/markdown"]]
    assert len(shown) == 1
    target = shown[0].rsplit("(", 1)[1].rstrip(")")
    assert (NOTEBOOKS / target).resolve() == NOTEBOOKS.parent / "figures" / "sampling_film.gif"
    assert (NOTEBOOKS / target).read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    assert not any("<script" in o.get("data", {}).get("text/html", "")
                   for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_saving_in_jupyterlab_leaves_the_paired_py_unchanged(path):
    """What jupytext writes for the .py on a save, with the [tool.jupytext] settings of
    pyproject.toml, is the committed .py, byte for byte."""
    jupytext = pytest.importorskip("jupytext")
    from jupytext.config import load_jupytext_configuration_file

    config = load_jupytext_configuration_file(str(NOTEBOOKS.parent / "pyproject.toml"))
    assert config is not None, "pyproject.toml has no [tool.jupytext] section"
    nb = nbformat.read(path, as_version=4)
    text = jupytext.writes(nb, fmt="py:percent", config=config)
    assert text == path.with_suffix(".py").read_text()
