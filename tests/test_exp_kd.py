"""The KD experiment (experiments/kd.py): facts read from its Result, on small Configs."""
from dataclasses import replace

import numpy as np
import pytest

from ideal_diffusion.distill.optima import teacher_map
from ideal_diffusion.experiments import common
from ideal_diffusion.experiments._cache import clear_caches
from ideal_diffusion.experiments.kd import KDConfig, run_kd, teacher_sample
from ideal_diffusion.nn import TrainConfig
from ideal_diffusion.schedules import SIGMA_MAX, sampling_grid

SMALL = KDConfig(n_pairs=2048, hidden=32, depth=2, steps_many=20, n_test=200,
                 train=TrainConfig(steps=400, batch=128, lr=5e-3, warmup=50))


def test_kd_optimum_is_the_teacher_map_at_sigma_min():
    r = run_kd(SMALL)
    den = common.ideal_denoiser(SMALL.data)
    for key, solver, steps in (("many", SMALL.solver_many, SMALL.steps_many),
                               ("few", SMALL.solver_few, SMALL.steps_few)):
        want = teacher_map(den, r.x_T, sampling_grid(steps), solver)
        np.testing.assert_array_equal(r.optimum(key), want)
        np.testing.assert_array_equal(want, teacher_sample(SMALL.data, r.x_T, solver, steps))
    np.testing.assert_array_equal(r.optimum("x0"), den(r.x_T, SIGMA_MAX))
    # pairs are counted: n_pairs x per-sample NFE (Heun at sigma_min: 2n; Euler: n)
    assert r.teacher_evals["many"] == SMALL.n_pairs * 2 * SMALL.steps_many
    assert r.teacher_evals["few"] == SMALL.n_pairs * SMALL.steps_few
    assert r.teacher_evals["x0"] == 0


def test_students_approach_their_optima_and_kd_is_not_the_average():
    r = run_kd(SMALL)
    spread = float(np.median(np.linalg.norm(r.x_exact - r.x_exact.mean(0), axis=1)))
    # each student is far nearer its own optimum than the data's spread
    for k in ("many", "few", "x0"):
        assert r.err_to_optimum[k] < spread / 3, (k, r.err_to_optimum, spread)
    # KD lands near the exact state, the diffusion-loss student at the average (about the mean)
    assert r.measure["many"].err_median < r.measure["x0"].err_median / 3
    # the inherited error: the few-step student follows its teacher, not the exact ODE
    assert r.err_to_optimum["few"] < r.measure["few"].err_median / 3
    assert r.measure["many"].err_median < r.measure["few"].err_median


def test_a_changed_field_is_a_different_run_and_a_run_is_deterministic():
    a = run_kd(SMALL)
    b = run_kd(replace(SMALL, pair_seed=1))
    assert a is not b
    assert not np.array_equal(a.outputs["many"], b.outputs["many"])
    assert run_kd(SMALL) is a
    clear_caches()
    c = run_kd(SMALL)
    assert c is not a
    for k in ("many", "few", "x0"):
        np.testing.assert_array_equal(a.outputs[k], c.outputs[k])
        np.testing.assert_array_equal(a.students[k].model.net.theta,
                                      c.students[k].model.net.theta)


def test_config_is_hashable_and_refuses_lists():
    hash(KDConfig())
    with pytest.raises(TypeError):
        run_kd(replace(SMALL, n_pairs=[1]))


@pytest.mark.slow
def test_summary_row_beats_the_plain_teachers_at_nfe_1():
    from ideal_diffusion.experiments.kd import summary_rows

    row = summary_rows("clusters")[0]
    assert row.nfe == 1
    ref = common.reference("clusters")
    for solver in ("euler", "dpmpp_2m"):
        m = common.measure(teacher_sample("clusters", ref.x_T, solver, 1), ref)
        assert row.err_median < m.err_median / 5
    assert row.err_optimum_median < 1e-3
