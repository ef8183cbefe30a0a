"""Knowledge distillation, the algorithm: counted teacher cost, the KD optimum is the teacher's
map (not the average), deterministic training, clear errors. The trained-student experiments
(students against their optima, the inherited error) are in ``tests/test_exp_kd.py``.
"""
import numpy as np
import pytest

from ideal_diffusion.data import ring
from ideal_diffusion.denoiser import IdealDenoiser
from ideal_diffusion.distill.kd import (
    CountingDenoiser,
    KDPairs,
    collect_pairs,
    noisy_pairs,
    regression_pairs,
    train_kd,
)
from ideal_diffusion.nn import TrainConfig
from ideal_diffusion.schedules import karras_sigmas
from ideal_diffusion.solvers import nfe, sample

DATA = ring(8)
D = IdealDenoiser(DATA)


@pytest.mark.parametrize("solver", ["euler", "heun", "dpmpp_2m"])
@pytest.mark.parametrize("n_steps", [1, 3, 7])
@pytest.mark.parametrize("zero", [True, False])
def test_teacher_evaluations_are_counted_exactly(solver, n_steps, zero):
    x_T, _ = noisy_pairs(DATA, 37, 80.0, rng=1)
    sig = karras_sigmas(n_steps + (0 if zero else 1), append_zero=zero)
    pairs = collect_pairs(D, x_T, sig, solver)
    # independent count: one wrapped call per denoiser evaluation of the whole batch
    counter = CountingDenoiser(D)
    out = sample(counter, x_T, sig, solver)
    per = {"heun": 2 * n_steps - int(zero)}.get(solver, n_steps)
    assert counter.calls == per and counter.evals == 37 * per
    assert pairs.teacher_evals == counter.evals == 37 * nfe(solver, sig)
    assert pairs.nfe_per_sample == per
    assert np.array_equal(pairs.target, out)  # the KD target is the teacher's own sample


def test_kd_loss_optimum_is_the_teacher_map_and_x0_loss_optimum_is_the_average():
    """Exact (no training): on the same x_T, each loss is minimised by its own target.

    KD loss of the teacher map is 0; the average D(x_T, 80) pays the data variance (1 on the
    unit ring). The diffusion (x0) loss is smaller at D(x_T, 80) than at the teacher map
    (which lands on a point, paying about E|a - b|^2 = 2 for two ring points) and than at any
    shifted D.
    """
    x_T, x0 = noisy_pairs(DATA, 20000, 80.0, rng=2)
    kd = collect_pairs(D, x_T, karras_sigmas(8), "heun").target
    avg = D(x_T, 80.0)
    loss = lambda f, y: float(np.mean(np.sum((f - y) ** 2, axis=1)))  # noqa: E731
    assert loss(kd, kd) == 0.0
    assert loss(avg, kd) > 0.95  # |D - point|^2 ~ 1: the mean is 1 from every point
    assert loss(avg, x0) < 1.0 < 1.9 < loss(kd, x0)
    for shift in ([0.05, 0.0], [0.0, -0.05]):
        assert loss(avg + np.array(shift), x0) > loss(avg, x0)


def test_training_is_deterministic_and_regression_pairs_cost_nothing():
    x_T, x0 = noisy_pairs(DATA, 512, 80.0, rng=3)
    pairs = regression_pairs(x_T, x0)
    assert pairs.teacher_evals == 0 and pairs.kind == "x0"
    t = TrainConfig(steps=20, batch=64, seed=5, progress=False)
    a = train_kd(pairs, t, hidden=16)
    b = train_kd(pairs, t, hidden=16)
    assert np.array_equal(a.model.net.theta, b.model.net.theta) and a.train is t
    assert np.array_equal(a(x_T), b(x_T, 80.0))


def test_bad_input():
    x_T, x0 = noisy_pairs(DATA, 8, 80.0, rng=0)
    with pytest.raises(ValueError, match="n must be"):
        noisy_pairs(DATA, 0)
    with pytest.raises(ValueError, match="sigma_max"):
        noisy_pairs(DATA, 4, -1.0)
    with pytest.raises(ValueError, match="solver"):
        collect_pairs(D, x_T, karras_sigmas(3), "rk4")
    with pytest.raises(ValueError, match="descending"):
        collect_pairs(D, x_T, karras_sigmas(3, append_zero=False)[::-1])
    with pytest.raises(ValueError, match="x_T and x0"):
        regression_pairs(x_T, x0[:3])
    with pytest.raises(ValueError, match="steps"):
        train_kd(regression_pairs(x_T, x0), TrainConfig(steps=0))
    with pytest.raises(TypeError, match="pairs"):
        train_kd((x_T, x0))
    with pytest.raises(ValueError, match="callable"):
        CountingDenoiser(3)
    s = train_kd(KDPairs(x_T, x0, 80.0, "x0"), TrainConfig(steps=1, progress=False), hidden=8)
    with pytest.raises(ValueError, match="sigma must equal sigma_max"):
        s(x_T, 10.0)


def test_kd_divergence_stops_with_the_step_and_cause():
    x_T, x0 = noisy_pairs(DATA, 256, 80.0, rng=4)
    t = TrainConfig(steps=200, batch=64, lr=1e3, warmup=0, progress=False)
    with pytest.raises(FloatingPointError, match=r"KD \(x0\): .*diverged at step \d+"):
        train_kd(regression_pairs(x_T, x0), t, hidden=16)
