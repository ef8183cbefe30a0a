"""Consistency distillation (lecture rows 15-20): the loss, its optimum, training, collapse."""
import numpy as np
import pytest

from ideal_diffusion import IdealDenoiser, ring
from ideal_diffusion.distill.cd import cd_batch, cd_loss, cd_step_grad, make_student, train_cd
from ideal_diffusion.distill.optima import ConsistencyOracle, distill_grid
from ideal_diffusion.distill.sampling import default_taus, multistep_sample
from ideal_diffusion.nn import TrainConfig

DATA = ring(8)
D = IdealDenoiser(DATA)
GRID = distill_grid(18)  # ascending s_1 = 0.002 < ... < s_18 = 80


def _batch(seed=0, B=64):
    return cd_batch(D, DATA, GRID, B, np.random.default_rng(seed), "heun")


@pytest.mark.parametrize("solver", ["euler", "heun"])
@pytest.mark.parametrize("boundaries", [None, GRID[[0, 6, 12]]])
def test_oracle_has_zero_loss_through_cd_loss(solver, boundaries):
    # The CD loss itself (cd.py), evaluated at its exact optimum with the optimum as target
    # network: x_hat = Solver(x_n) is deterministic, both sides run the same float operations.
    x_n, s_n, *_ = cd_batch(D, DATA, GRID, 64, np.random.default_rng(1), solver, boundaries)
    f = ConsistencyOracle(D, GRID, solver, boundaries)
    loss = cd_loss(f, f, D, x_n, s_n, GRID, solver, boundaries)
    assert loss.shape == (64,) and np.max(loss) == 0.0


@pytest.mark.parametrize("solver", ["euler", "heun"])
def test_without_boundary_condition_the_optimum_is_not_identifiable(solver):
    # Lecture row 18: without f(x, s_1) = x, any h(f*) (h applied to the output) is as
    # consistent as f*: the constant h = 0 and an affine h both have loss 0 exactly (h = 0) or
    # to rounding (affine: the same chain, then the same affine map on both sides). With the
    # boundary condition the targets at s_1 are x_hat itself, and h(f*) is no longer optimal.
    x_n, s_n, *_ = _batch(2)
    f = ConsistencyOracle(D, GRID, solver)

    def zero(x, s, b=None):
        return np.zeros_like(x)

    def affine(x, s, b=None):
        return 2.0 * f(x, s) + 1.0

    kw = dict(grid=GRID, solver=solver, boundary_condition=False)
    assert np.max(cd_loss(zero, zero, D, x_n, s_n, **kw)) == 0.0
    assert np.max(cd_loss(affine, affine, D, x_n, s_n, **kw)) < 1e-24
    with_bc = cd_loss(affine, affine, D, x_n, s_n, GRID, solver)
    at = s_n == GRID[1]  # target level s_1: the target is x_hat itself, not h(f*(x_hat))
    assert at.any() and np.all(with_bc[at] > 0.1)  # |h(f*) - f*| = |f* + 1| ~ 1 there
    assert np.all(with_bc[~at] < 1e-24)


def test_gradient_flows_only_through_the_online_side():
    # The training step's gradient is that of theta -> loss(theta; target_theta) with the
    # target parameters held fixed (central finite differences, step 1e-6: truncation ~1e-12,
    # rounding ~1e-10 relative). With mu = 0 the target parameters equal theta, yet the
    # gradient must not contain the target's dependence: the total derivative (target moving
    # with theta) differs.
    model = make_student(2, hidden=16, depth=2, rng=3)
    theta0 = model.net.theta.copy()
    x_n, s_n, x_hat, s_prev, b = _batch(4, B=32)
    w = np.random.default_rng(5).uniform(0.5, 2, 32)
    _, grad = cd_step_grad(model, theta0.copy(), x_n, s_n, x_hat, s_prev, b, True, w)
    grad = grad.copy()

    def loss(theta, target_theta):
        model.net.theta[...] = theta
        return cd_step_grad(model, target_theta, x_n, s_n, x_hat, s_prev, b, True, w)[0]

    rng = np.random.default_rng(6)
    idx = rng.choice(theta0.size, 12, replace=False)
    eps = 1e-6
    fd, fd_total = [], []
    for i in idx:
        e = np.zeros_like(theta0)
        e[i] = eps
        fd.append((loss(theta0 + e, theta0) - loss(theta0 - e, theta0)) / (2 * eps))
        fd_total.append((loss(theta0 + e, theta0 + e) - loss(theta0 - e, theta0 - e)) / (2 * eps))
    model.net.theta[...] = theta0
    np.testing.assert_allclose(grad[idx], fd, rtol=1e-5, atol=1e-9)
    assert np.max(np.abs(np.array(fd_total) - grad[idx])) > 1e-3 * np.max(np.abs(grad[idx]))


def test_ct_target_differs_from_the_cd_optimum_at_intermediate_sigma():
    # "again a mixture? NO!": where the posterior is spread and the one-sample offsets
    # (1 - s_{n-1}/s_n)(x0^j - x0^k) straddle a basin boundary (sigma ~ 0.3-2 on the unit ring),
    # the CT optimum averages several endpoints: measured median |f_CT - f*| 0.11 and 0.16.
    # At sigma >= 8 the offsets are tiny beside the trajectories' separation, so CT = CD there
    # for most x (median 0): the mixture shows only near basin boundaries.
    from ideal_diffusion.distill.optima import consistency_optimum, consistency_training_target

    rng = np.random.default_rng(7)
    for i, lo, hi in ((5, 0.05, 0.5), (8, 0.05, 0.5), (17, -1, 1e-6)):
        x = DATA.sample(200, rng) + GRID[i] * rng.standard_normal((200, 2))
        s = np.full(200, GRID[i])
        d = np.linalg.norm(consistency_training_target(D, x, s, GRID)
                           - consistency_optimum(D, x, s, GRID), axis=1)
        assert lo < np.median(d) < hi, (GRID[i], np.median(d))


def test_multistep_oracle_lands_on_data_and_one_step_equals_the_ode_map():
    # Lecture row 20 with the exact optimum: every multistep sample of the oracle is a data
    # point up to the state at s_1 (distance <= ~s_1 = 0.002 scale); one step is the teacher's
    # chain (|.| to the exact ODE endpoint ~0.002, the s_1 noise), while re-noising at tau ~ 2
    # (2 steps) randomises the basin: the sample is no longer the ODE map of x_T.
    x_T = 80 * np.random.default_rng(8).standard_normal((100, 2))
    f = ConsistencyOracle(D, GRID)
    from ideal_diffusion.geometry import exact_endpoints, sample_quality

    exact = exact_endpoints(D, x_T)
    q1 = sample_quality(DATA, multistep_sample(f, x_T, GRID, steps=1), exact)
    q2 = sample_quality(DATA, multistep_sample(f, x_T, GRID, default_taus(GRID, 2), rng=1), exact)
    assert q1.median_dist_to_exact < 0.01 and q1.frac_same_basin == 1.0
    assert q2.median_dist_to_data < 0.01 and q2.frac_same_basin < 0.5


def test_train_cd_is_deterministic_and_counts_teacher_evals():
    t = TrainConfig(steps=3, batch=16, seed=9, warmup=1, progress=False)
    a = train_cd(D, DATA, GRID, train=t, hidden=8, depth=1)
    b = train_cd(D, DATA, GRID, train=t, hidden=8, depth=1)
    assert np.array_equal(a.model.net.theta, b.model.net.theta)
    assert np.array_equal(a.target_theta, b.target_theta) and np.array_equal(a.history, b.history)
    assert a.teacher_evals == 3 * 16 * 2  # Heun: 2 evaluations per sample and step
    assert a.train is t and (a.param, a.hidden, a.depth, a.weighting) == ("consistency", 8, 1,
                                                                         "cout")
    with pytest.raises(ValueError, match="weighting"):
        train_cd(D, DATA, GRID, train=t.replace(steps=1), weighting="bogus")


def test_train_cd_fewer_steps_than_warmup_and_bad_batch():
    # 50 steps with the default 100 warm-up steps: the warm-up is clamped to the steps, so the
    # peak rate is reached at the last step and every step has a rate > 0.
    t = TrainConfig(steps=50, batch=16, progress=False)
    assert t.effective_warmup == 50 and t.lr_at(49) == t.lr and t.lr_at(0) > 0
    res = train_cd(D, DATA, GRID, train=t, hidden=8, depth=1)
    assert res.history.shape == (50,) and np.all(np.isfinite(res.history))
    with pytest.raises(ValueError, match="batch must be an integer >= 1, got 0"):
        train_cd(D, DATA, GRID, train=TrainConfig(steps=5, batch=0))
    with pytest.raises(TypeError, match="train must be a TrainConfig"):
        train_cd(D, DATA, GRID, train=dict(steps=5))


def test_train_cd_divergence_stops_with_the_step_and_cause():
    # lr = 1e3 without clipping: the parameters blow up within a few steps. Before fit()
    # checked them, such a run "finished" (one ended at loss 2e-4 with |theta| = 3.4e3 and
    # collapsed outputs).
    t = TrainConfig(steps=200, batch=32, lr=1e3, warmup=0, progress=False)
    with pytest.raises(FloatingPointError, match=r"CD .*diverged at step \d+ .*(RMS|not finite"
                                                  r"|grew past)"):
        train_cd(D, DATA, GRID, train=t, hidden=16, depth=2)
