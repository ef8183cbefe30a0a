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
