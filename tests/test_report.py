"""The summary table (issue 4, experiment 10): rows, formats, files, CLI, missing CD rows."""
import csv
import sys

from ideal_diffusion import report
from ideal_diffusion.__main__ import main
from ideal_diffusion.distill import exp_kd

_COLLECT = report.collect_rows


def _fast_rows(**_):
    return _COLLECT(kd_overrides=exp_kd.FAST, include_cd=False)


def test_rows_have_the_columns_and_real_numbers():
    rows = _fast_rows()
    assert all(set(r) == set(report.COLUMNS) for r in rows)
    methods = [r["method"] for r in rows]
    for solver in ("Euler", "Heun"):
        for n in (1, 2, 4, 8, 50):
            assert any(m.startswith(f"teacher {solver} {n} step") for m in methods)
    kd = {r["method"]: r for r in rows if r["method"].startswith("KD")}
    few, many = kd["KD (Heun 3-step teacher)"], kd["KD (Heun 50-step teacher)"]
    assert few["teacher_evals"] == 8192 * 5 and many["teacher_evals"] == 8192 * 99
    assert few["student_steps"] == many["student_steps"] == 1
    assert few["frac_same_basin"] < many["frac_same_basin"]
    heun50 = next(r for r in rows if r["method"] == "teacher Heun 50 steps")
    assert heun50["frac_same_basin"] == 1.0 and heun50["median_dist_to_exact"] < 1e-12
    skipped = [r for r in rows if r["notes"].startswith("MISSING")]
    assert [r["method"] for r in skipped] == ["CD", "MBCD (K=2)", "MBCD (K=4)"]
    assert all(r["frac_same_basin"] is None for r in skipped)  # never faked


def test_missing_cd_module_is_marked_not_faked(monkeypatch):
    monkeypatch.setitem(sys.modules, "ideal_diffusion.distill.exp_cd", None)  # import fails
    import ideal_diffusion.distill as pkg

    monkeypatch.delattr(pkg, "exp_cd", raising=False)
    rows = report.collect_rows(kd_overrides=exp_kd.FAST)
    cd = [r for r in rows if r["method"].startswith(("CD", "MBCD"))]
    assert len(cd) == 3 and all("unavailable" in r["notes"] for r in cd)


def test_report_writes_markdown_and_csv(tmp_path):
    rows = _fast_rows()
    printed = []
    md, csv_path = report.write_report(tmp_path / "out", rows=rows, echo=printed.append)
    text = md.read_text()
    assert md.name == "summary.md" and text.startswith("# Distillation summary")
    assert text.count("\n| ") == len(rows) + 1 and "| - |" in text and printed
    with csv_path.open() as fh:
        got = list(csv.DictReader(fh))
    assert [g["method"] for g in got] == [r["method"] for r in rows]
    assert float(got[-4]["frac_same_basin"]) == rows[-4]["frac_same_basin"]  # full precision


def test_cli_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, "collect_rows", _fast_rows)
    assert main(["report", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "KD (Heun 3-step teacher)" in out and "summary.md" in out
    assert (tmp_path / "summary.md").exists() and (tmp_path / "summary.csv").exists()
