"""CI keeps the style pyproject.toml states: ``ruff check`` with its config passes."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_check_passes():
    exe = shutil.which("ruff")
    cmd = [exe] if exe else [sys.executable, "-m", "ruff"]
    try:
        out = subprocess.run(cmd + ["check", "--quiet", "ideal_diffusion", "tests", "benchmarks"],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        pytest.fail("ruff is not installed: pip install -e '.[dev]'")
    assert out.returncode == 0, out.stdout + out.stderr
