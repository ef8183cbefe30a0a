"""The command line and the figure registry: every figure is written, deterministically."""
import subprocess
import sys
from pathlib import Path

import pytest

from ideal_diffusion.__main__ import main
from ideal_diffusion.figures import gallery_markdown, load_all, make_figures

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


def test_gallery_and_committed_figures_cover_the_registry():
    # Every registered figure is in the committed gallery figures/README.md, with its slide, and
    # committed in figures/; the committed gallery is the one the registry generates (a stale
    # gallery fails: remake it with `python -m ideal_diffusion figures`).
    root = Path(__file__).resolve().parents[1]
    committed = (root / "figures" / "README.md").read_text()
    registry = load_all()
    assert committed == gallery_markdown(registry), "figures/README.md is stale"
    for spec in registry.values():
        assert f'<img src="{spec.filename}"' in committed, spec.name
        assert f"`{spec.name}`" in committed, spec.name
        assert (root / "figures" / spec.filename).is_file(), spec.name
    # the top-level README points at it
    assert "figures/README.md" in (root / "README.md").read_text()


def test_gallery_is_one_row_per_figure_in_registry_order_and_escapes_pipes():
    registry = load_all()
    rows = [ln for ln in gallery_markdown(registry).splitlines() if ln.startswith("| ")][1:]
    names = [ln.split("`")[1] for ln in rows]
    assert names == list(registry) + ["summary"]
    assert all(ln.count(" | ") == 2 for ln in rows)  # a "|" in a caption is escaped
    assert "do not edit by hand" in gallery_markdown(registry)


def test_only_writes_neither_the_gallery_nor_the_table(tmp_path, monkeypatch):
    import ideal_diffusion.figures as figs

    made = []
    monkeypatch.setattr(figs, "_make_group", lambda out, names, rep: made.append((names, rep))
                        or [])
    assert main(["figures", "--out", str(tmp_path), "--only", "two_delta_averaging",
                 "--jobs", "1"]) == 0
    assert made == [(["two_delta_averaging"], False)]
    assert not (tmp_path / "README.md").exists()
    assert main(["figures", "--out", str(tmp_path), "--jobs", "1"]) == 0
    assert [rep for _, rep in made[1:]].count(True) == 1  # the table, in one group
    assert (tmp_path / "README.md").read_text() == gallery_markdown(load_all())


def test_registry_lists_every_experiment_module_and_groups_figures_as_before():
    # a module with a Config and a run (an experiment) is in experiments/registry.py: its
    # figures and summary rows follow from that one line
    import ast

    from ideal_diffusion.experiments import registry

    pkg = Path(registry.__file__).parent
    listed = {m.__name__ for m in registry.MODULES}
    for path in sorted(pkg.rglob("*.py")):
        tree = ast.parse(path.read_text())
        defs = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        if {"Config", "run"} <= defs:
            rel = path.relative_to(pkg.parent.parent).with_suffix("")
            assert ".".join(rel.parts) in listed, f"{rel} is not in registry.MODULES"
    # figures that share cached runs share a worker process
    groups = {}
    for spec in load_all().values():
        groups.setdefault(spec.process_group, []).append(spec.name)
    assert {"cd_student_vs_optimum", "mbcd_vs_K", "mbcd_boundaries"} <= set(groups["cd"])
    assert {"images_4step_vs_teacher", "summary_error_vs_nfe"} <= set(groups["images"])
