"""Progressive distillation (Salimans & Ho 2022): the target, the exact per-round optimum."""
import numpy as np
import pytest

from ideal_diffusion import IdealDenoiser, clusters, sample
from ideal_diffusion.distill.progressive import (
    PDOracle,
    ddim_step,
    pd_sample,
    pd_target,
    round_grid,
    train_progressive,
)
from ideal_diffusion.nn import TrainConfig
from ideal_diffusion.schedules import sampling_grid

DATA = clusters()
D = IdealDenoiser(DATA)
SIGMAS = sampling_grid(16)  # descending, 80 -> 0.002, no trailing 0


def test_target_closes_the_ddim_step():
    rng = np.random.default_rng(0)
    x, x2 = rng.standard_normal((2, 30, 2))
    s, s2 = 3.0, 0.7
    np.testing.assert_allclose(ddim_step(pd_target(x, x2, s, s2), x, s, s2), x2,
                               rtol=0, atol=1e-14)


def test_ddim_step_is_the_euler_step_in_sigma():
    x = 80 * np.random.default_rng(1).standard_normal((20, 2))
    np.testing.assert_allclose(ddim_step(D(x, 80.0), x, 80.0, 30.0),
                               sample(D, x, [80.0, 30.0], "euler"), rtol=1e-15, atol=1e-13)


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
def test_round_k_oracle_sampler_is_the_teacher_sampler(k):
    # f*_k's DDIM step = two steps of f*_{k-1} = 2^k teacher steps: with N / 2^k steps the
    # oracle reproduces the teacher's 16-step Euler sampler (solvers.sample, independent code).
    x_T = 80 * np.random.default_rng(2).standard_normal((64, 2))
    teacher = sample(D, x_T, SIGMAS, "euler")
    x = pd_sample(PDOracle(D, SIGMAS, k), x_T, round_grid(SIGMAS, k))
    rel = np.linalg.norm(x - teacher, axis=1) / np.linalg.norm(teacher, axis=1)
    assert rel.max() <= 1e-12


def test_round_grids():
    assert round_grid(SIGMAS, 4).tolist() == [80.0, 0.002]
    assert round_grid(SIGMAS, 2).size == 5
    with pytest.raises(ValueError, match="k must be"):
        round_grid(SIGMAS, 5)


def test_oracle_refuses_a_level_off_its_grid():
    with pytest.raises(ValueError, match="grid value"):
        PDOracle(D, SIGMAS, 2)(np.zeros((1, 2)), 0.002)


def test_short_training_counts_teacher_evaluations_and_beats_the_untrained_start():
    cfg = TrainConfig(steps=60, batch=32, lr=2e-3, warmup=10, seed=0)
    res = train_progressive(D, DATA, SIGMAS, cfg, hidden=32, depth=2, rounds=2)
    assert res.teacher_evals == 2 * 60 * 32 and res.student_evals == 2 * 60 * 32
    assert len(res.students) == 2 and res.grids[1].size == 5
    assert res.histories[0][-10:].mean() < res.histories[0][:10].mean()
