"""The CD / MBCD experiments (experiments/cd/, experiments/mbcd.py), on small Configs."""
from dataclasses import replace

import numpy as np
import pytest

from ideal_diffusion.distill.cd import train_cd
from ideal_diffusion.distill.mbcd import train_mbcd
from ideal_diffusion.distill.optima import distill_grid, teacher_chain
from ideal_diffusion.experiments import common
from ideal_diffusion.experiments import mbcd as M
from ideal_diffusion.experiments._cache import clear_caches
from ideal_diffusion.experiments.cd import collapse, theorem1
from ideal_diffusion.experiments.cd import student_vs_optimum as E
from ideal_diffusion.nn import TrainConfig
from ideal_diffusion.schedules import sampling_grid

SMALL = E.Config(N=12, hidden=64, depth=2, n_eval=100, n_test=100,
                 eval_levels=(2, 5, 8, 11),
                 train=TrainConfig(steps=600, batch=64, lr=3e-3, warmup=50, ema=0.9))


def test_cd_optimum_one_jump_is_the_teacher_chain():
    r = E.run(SMALL)
    ref = common.reference(SMALL.data, SMALL.n_test, SMALL.test_seed)
    g = distill_grid(SMALL.N)
    want = teacher_chain(common.ideal_denoiser(SMALL.data), ref.x_T, g[-1], g[0], g,
                         SMALL.solver)
    np.testing.assert_array_equal(r.sample_oracle, want)
    # the chain of 11 Heun steps is already close to the exact ODE state at sigma_min
    assert r.measure_oracle.err_median < 0.05
    assert r.teacher_evals == SMALL.train.steps * SMALL.train.batch * 2  # counted, Heun


def test_student_is_nearer_its_optimum_than_the_average_is():
    r = E.run(SMALL)
    hi = r.level_sigma >= 1
    assert np.all(r.err_student[hi] < 0.8 * r.err_average[hi]), (r.err_student, r.err_average)
    assert r.err_to_oracle < 0.6 and r.measure.err_median < 0.7


@pytest.mark.slow
def test_default_student_is_within_a_bound_of_its_optimum():
    r = E.run(E.Config())
    hi = r.level_sigma >= 1
    assert np.all(r.err_student < 0.3), r.err_student
    assert np.all(r.err_student[hi] < r.err_average[hi] / 3), (r.err_student, r.err_average)
    # the CT target is a mixture somewhere (differs from f*), while f*'s own sample is exact
    assert np.nanmax(r.err_ct) > 0.02 and r.measure_oracle.err_median < 0.01


def test_changed_field_is_a_different_run_and_runs_are_deterministic():
    a = E.run(SMALL)
    b = E.run(replace(SMALL, train=SMALL.train.replace(seed=1)))
    assert not np.array_equal(a.sample, b.sample)
    clear_caches()
    c = E.run(SMALL)
    assert c is not a
    np.testing.assert_array_equal(a.sample, c.sample)
    np.testing.assert_array_equal(a.err_student, c.err_student)
    np.testing.assert_array_equal(a.student.model.net.theta, c.student.model.net.theta)


def test_mbcd_with_one_boundary_is_cd():
    data, den = common.dataset("clusters"), common.ideal_denoiser("clusters")
    g = distill_grid(10)
    t = TrainConfig(steps=5, batch=16, warmup=1, ema=0.9)
    a = train_cd(den, data, g, "heun", None, t, hidden=8, depth=1)
    b = train_mbcd(den, data, g, 1, t, param="consistency", hidden=8, depth=1)
    np.testing.assert_array_equal(a.model.net.theta, b.model.net.theta)
    assert a.teacher_evals == b.teacher_evals


def test_mbcd_run_shares_the_cd_student_and_jumps_are_exact_for_the_oracle():
    cfg = M.Config(cd=SMALL, Ks=(1, 2))
    r = M.run(cfg)
    assert r.runs[0] is E.run(SMALL)
    assert [b.size for b in r.boundaries] == [1, 2]
    # the exact per-segment optimum's K-jump sample is the full teacher chain for every K
    np.testing.assert_allclose(r.runs[1].sample_oracle, r.runs[0].sample_oracle, atol=1e-12)
    for j in range(2):
        assert r.jump_error[j].shape == (r.Ks[j],)
        assert np.all(r.jump_error[j] <= r.err_to_oracle[j] * 3 + 1e-3)


def test_theorem1_orders_match_the_solvers():
    r = theorem1.run(theorem1.Config(Ns=(16, 32, 64, 128), n=50))
    assert 0.7 < r.order["euler"] < 1.4, r.order
    assert 1.6 < r.order["heun"] < 2.6, r.order
    assert np.all(np.diff(r.err["heun"]) < 0)


@pytest.mark.slow
def test_collapse_weight_decay_shrinks_the_plain_outputs_and_the_boundary_pins_them():
    r = collapse.run(collapse.Config())
    # the boundary condition keeps the data's spread, with or without decay
    assert 0.85 < r.ratio("bc") < 1.15 and 0.85 < r.ratio("bc0") < 1.15, r.ratio("bc")
    # without it, decay shrinks the outputs (collapse) ...
    assert r.ratio("plain") < r.config.collapsed_below < r.ratio("bc")
    assert r.collapsed() == ("plain",)
    # ... and without decay nothing ties them to the data: the spread drifts away from it
    assert abs(np.log(r.ratio("plain0"))) > 1.0, r.ratio("plain0")
    # the boundary runs end near the CD optimum, the plain ones far from it
    assert max(r.err_optimum["bc"], r.err_optimum["bc0"]) < min(
        r.err_optimum["plain"], r.err_optimum["plain0"]) / 3, r.err_optimum
    # the decay run's spread was larger during training than at the end: it shrinks
    assert r.trace_ratio("plain").max() > 2 * r.ratio("plain"), r.trace_ratio("plain")


@pytest.mark.slow
def test_summary_students_beat_the_plain_teachers():
    from ideal_diffusion.experiments import kd

    rows = [row for mod in (kd, E, M) for row in mod.summary_rows(mod.run(mod.summary_config()))]
    ref = common.reference("clusters")
    den = common.ideal_denoiser("clusters")
    from ideal_diffusion.solvers import sample

    for n in (1, 2, 4):
        best = min(r.err_median for r in rows if r.nfe <= n)
        teachers = [common.measure(sample(den, ref.x_T, sampling_grid(n), s), ref)
                    .err_median for s in ("euler", "dpmpp_2m")]
        if n % 2 == 0:
            teachers.append(common.measure(sample(den, ref.x_T, sampling_grid(n // 2),
                                                  "heun"), ref).err_median)
        assert best < min(teachers), (n, best, teachers)
        # and the best exact optimum beats them by a wide margin
        best_opt = min(r.err_optimum_median for r in rows if r.nfe <= n)
        assert best_opt < min(teachers) / 50, (n, best_opt, teachers)
