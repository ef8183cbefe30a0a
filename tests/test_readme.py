"""The README's API block runs as written, and what it prints is the lecture's point: at NFE 2
the student beats the 2-step Euler teacher, and its exact optimum beats both by far."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _api_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## The API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_api_block_runs_as_written(tmp_path):
    script = tmp_path / "api.py"
    script.write_text(_api_block())
    env = dict(os.environ, MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    errs = [float(line.rsplit(" ", 1)[1]) for line in out.stdout.strip().splitlines()]
    teacher, student, optimum = errs
    assert student < teacher and optimum < 0.1 * student
