"""The command line and the figure registry: every figure is written, deterministically."""
import subprocess
import sys

import pytest

from ideal_diffusion.__main__ import main
from ideal_diffusion.figures import load_all, make_figures

NAMES = sorted(load_all())


def test_help():
    out = subprocess.run([sys.executable, "-m", "ideal_diffusion", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "figures" in out.stdout


def test_figures_help_and_list(capsys):
    with pytest.raises(SystemExit) as e:
        main(["figures", "--help"])
    assert e.value.code == 0
    assert "--only" in capsys.readouterr().out
    assert main(["figures", "--list"]) == 0
    listed = capsys.readouterr().out
    for name in NAMES:
        assert name in listed


def test_core_figures_registered():
    for name in ("steps_comparison", "two_delta_averaging", "few_step_two_deltas",
                 "image_denoiser_track", "curved_trajectories", "error_vs_steps"):
        assert name in NAMES


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_figure_written_and_deterministic(name, tmp_path):
    a = make_figures(tmp_path / "a", only=[name], echo=lambda *_: None)
    b = make_figures(tmp_path / "b", only=[name], echo=lambda *_: None)
    spec = load_all()[name]
    assert [p.name for p in a] == [spec.filename]
    data = a[0].read_bytes()
    magic = b"GIF89a" if spec.animated else b"\x89PNG\r\n\x1a\n"
    assert data[:len(magic)] == magic and 10_000 < len(data) <= 2 * 2**20
    assert data == b[0].read_bytes()


def test_unknown_name_is_an_error_exit(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["figures", "--out", str(tmp_path), "--only", "no_such_figure"])
    assert e.value.code == 2
    assert "no_such_figure" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown figure"):
        make_figures(tmp_path, only=["no_such_figure"])


def test_readme_gallery_and_committed_figures_cover_the_registry():
    # Every registered figure is in the README gallery and committed in figures/, so a reader
    # of the README sees exactly what `python -m ideal_diffusion figures` makes.
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    for spec in load_all().values():
        assert f"figures/{spec.filename}" in readme, spec.name
        assert (root / "figures" / spec.filename).is_file(), spec.name
