"""One student per name (issue 17): a student's name means one trained network, whose numbers
agree in the summary table, the slide figures and the committed executed notebooks; a student
made otherwise says so in its label (experiments/names.py)."""
from __future__ import annotations

import csv
import json
import math
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from ideal_diffusion.experiments import kd, mbcd, names
from ideal_diffusion.experiments._cache import clear_caches
from ideal_diffusion.experiments.cd import student_vs_optimum
from ideal_diffusion.figures import load_all
from ideal_diffusion.nn import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
#: the experiment modules whose students the 2-D summary rows name
MODULES = (kd, student_vs_optimum, mbcd)
#: the figure groups that draw those students, KD's and CD's (``cd_collapse`` trains its own
#: unnamed plain / boundary runs, ``cd_theorem1`` uses only exact optima: both left out for time)
FIGURE_GROUPS = (kd.__name__, "cd")
NOT_STUDENT_FIGURES = ("cd_collapse", "cd_theorem1")
REL = 6e-4  # student_line prints four significant digits: rounding is below 5e-4 relative


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-12)


# ----------------------------------------------------------------------------- labels


def test_budget_names_every_field_that_makes_the_student_and_nothing_else():
    ref = student_vs_optimum.Config()
    assert names.budget(ref, ref) == ""
    cfg = replace(ref, hidden=64, N=12, train=ref.train.replace(steps=150, lr=1e-3),
                  n_test=50)
    assert names.budget(cfg, ref, ignore=("n_test",)) == "MLP 64x3, N=12, 150 steps, lr 0.001"
    # a display switch does not make another student
    assert names.budget(replace(ref, train=ref.train.replace(progress=True)), ref) == ""
    with pytest.raises(TypeError, match="one dataclass"):
        names.budget(ref, kd.Config())


def test_labels_of_the_default_students_are_the_bare_names_and_others_carry_their_budget():
    c = kd.Config()
    assert (c.label("many"), c.label("few")) == ("KD (Heun 50-step teacher)",
                                                  "KD (Euler 3-step teacher)")
    small = replace(c, n_pairs=2048, train=TrainConfig(steps=150, batch=256, lr=5e-3,
                                                       warmup=100))
    assert small.label("many") == "KD (Heun 50-step teacher), 2,048 pairs, 150 steps"
    # the teacher is in the name, not in the budget; measuring on other noises is no new student
    assert replace(c, steps_few=4, n_test=20).label("few") == "KD (Euler 4-step teacher)"
    with pytest.raises(ValueError, match="which"):
        c.label("teacher")
    cd = student_vs_optimum.Config()
    assert cd.label == "CD (1 step)"
    assert replace(cd, eval_levels=cd.levels).label == "CD (1 step)"
    assert replace(cd, hidden=64).label == "CD (1 step), MLP 64x3"
    m = mbcd.Config()
    assert [m.label(K) for K in m.Ks] == ["CD (1 step)", "MBCD (K=2)", "MBCD (K=4)"]
    assert replace(m, param="jump").label(2) == "MBCD (K=2), param=jump"


def test_student_line_round_trips_and_refuses_a_separator():
    line = names.student_line("clusters", "CD (1 step), 150 steps", 1, 400, 0.118966, 0.52)
    text = f"some output\n{line}\nmore"
    assert names.parse_student_lines(text) == [
        names.StudentLine("clusters", "CD (1 step), 150 steps", 1, 400, 0.119, 0.52)]
    with pytest.raises(ValueError, match="must not contain"):
        names.student_line("clusters", "a | b", 1, 400, 0.1, 0.5)


# ----------------------------------------------------------------------------- same name


def _summary() -> dict:
    """(data, name) -> (nfe, noises, err_median, same_basin) of the live 2-D summary rows."""
    out = {}
    for mod in MODULES:
        cfg = mod.summary_config("clusters")
        n = (cfg.cd if isinstance(cfg, mbcd.Config) else cfg).n_test
        for row in mod.summary_rows(mod.run(cfg)):
            out[(row.data, row.method)] = (row.nfe, n, row.err_median, row.same_basin)
    return out


def _figure_students(monkeypatch) -> dict:
    """(data, name) -> (nfe, noises, err_median, same_basin) of every KD / CD student that a
    registered figure of FIGURE_GROUPS runs (recorded at the experiments' ``run``)."""
    clear_caches()  # a run cached by an earlier test in this worker would bypass the spies
    seen = []
    for mod in (kd, student_vs_optimum):
        def spy(cfg=None, _run=mod.run):
            r = _run(cfg)
            seen.append(r)
            return r
        monkeypatch.setattr(mod, "run", spy)
    specs = [s for s in load_all().values()
             if s.process_group in FIGURE_GROUPS and s.name not in NOT_STUDENT_FIGURES]
    assert len(specs) >= 5, [s.name for s in specs]
    for s in specs:
        plt.close(s.make())
    out = {}
    for r in seen:
        c = r.config
        if isinstance(r, kd.Result):
            for k in ("many", "few"):
                out[(c.data, c.label(k))] = (1, c.n_test, r.measure[k].err_median,
                                             r.measure[k].same_basin)
        else:
            out[(c.data, c.label)] = (c.K, c.n_test, r.measure.err_median, r.measure.same_basin)
    return out


def _notebook_lines() -> list:
    """(notebook, StudentLine) of every student line in the committed notebooks' outputs."""
    out = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            for o in cell.get("outputs", []):
                text = o.get("text") or o.get("data", {}).get("text/plain", "")
                text = "".join(text) if isinstance(text, list) else text
                out += [(path.stem, line) for line in names.parse_student_lines(text)]
    return out


def _committed_summary() -> dict:
    """(data, name) -> (nfe, noises, err_median, same_basin) of figures/summary.csv."""
    with open(ROOT / "figures" / "summary.csv", newline="") as f:
        return {(r["data"], r["method"]): (int(r["nfe"]), int(r["n_noises"]),
                                           float(r["err_median"]), float(r["same_basin"]))
                for r in csv.DictReader(f) if not r["method"].startswith("teacher")}


def test_a_students_name_has_the_same_numbers_in_summary_figures_and_notebooks(monkeypatch):
    summary = _summary()
    assert {m for _, m in summary} == {"KD (Heun 50-step teacher)", "KD (Euler 3-step teacher)",
                                       "CD (1 step)", "MBCD (K=2)", "MBCD (K=4)"}
    # the committed table is the live one
    committed = _committed_summary()
    for key, (nfe, n, err, basin) in summary.items():
        c_nfe, c_n, c_err, c_basin = committed[key]
        assert (c_nfe, c_n) == (nfe, n) and _close(c_err, err) and _close(c_basin, basin), (
            key, committed[key], summary[key])
    # every summary student is drawn by a figure, and a shared name means shared numbers
    figs = _figure_students(monkeypatch)
    assert set(summary) <= set(figs), sorted(set(summary) - set(figs))
    for key, val in figs.items():
        if key in summary:
            assert val == summary[key], (key, val, summary[key])
    # every summary student is reported by a notebook, with the summary's numbers (the digit
    # students: those of the committed table, checked live by the slow test below)
    lines = _notebook_lines()
    found = {(ln.data, ln.label) for _, ln in lines}
    assert set(summary) <= found, sorted(set(summary) - found)
    table = {**committed, **summary}
    assert any(ln.data != "clusters" and (ln.data, ln.label) in table for _, ln in lines)
    for nb, ln in lines:
        key = (ln.data, ln.label)
        if key not in table:
            continue  # another student: its label says how it differs
        nfe, n, err, basin = table[key]
        assert (ln.nfe, ln.n_noises) == (nfe, n), (nb, ln, table[key])
        assert _close(ln.err_median, err) and _close(ln.same_basin, basin), (nb, ln, table[key])


@pytest.mark.slow
def test_the_image_figures_show_the_committed_digit_students_of_the_summary(monkeypatch):
    from ideal_diffusion.experiments import images
    from ideal_diffusion.experiments.cd import student_vs_optimum

    seen = []

    def spy(cfg=None, _run=images.run):
        r = _run(cfg)
        seen.append(r)
        return r

    monkeypatch.setattr(images, "run", spy)
    specs = [s for s in load_all().values() if s.make.__module__ == images.__name__]
    assert specs
    for s in specs:
        plt.close(s.make())
    committed = _committed_summary()
    assert seen
    for r in seen:
        c = r.config
        sc = images.student_config(c.data, c.K)  # the summary's student of that K
        assert (sc.n_test, sc.test_seed) == (c.n, c.seed)
        q = r.get(f"Ours, {c.K} steps").quality
        live = student_vs_optimum.run(sc).measure
        assert (q.err_median, q.same_basin) == (live.err_median, live.same_basin)
        nfe, n, err, basin = committed[(c.data, sc.label)]
        assert (nfe, n) == (c.K, c.n) and _close(err, q.err_median) and _close(basin,
                                                                                q.same_basin)


def test_the_data_hunger_curve_ends_on_the_kd_student():
    """kd_data trains like kd: its largest default net on all the pairs is the KD student (the
    same pairs, network and training), so its error is the summary's (to rounding)."""
    from ideal_diffusion.experiments import kd_data

    cfg = kd_data.Config()
    k = kd.Config()
    assert (cfg.train, cfg.n_pairs[-1], cfg.nets[-1], cfg.pair_seed, cfg.steps, cfg.solver) == (
        k.train, k.n_pairs, (k.hidden, k.depth), k.pair_seed, k.steps_many, k.solver_many)


@pytest.mark.slow
def test_the_data_hunger_curve_measures_the_kd_student_at_its_last_point():
    from ideal_diffusion.experiments import kd_data

    r = kd_data.run(kd_data.Config())
    m = kd.run(kd.Config()).measure["many"]
    assert math.isclose(r.err[-1, -1], m.err_median, rel_tol=1e-9)
    assert r.same_basin[-1, -1] == m.same_basin
