"""Exact optima of the distillation losses (lecture rows 13, 17, 19, 21, 22)."""
import numpy as np
import pytest

from ideal_diffusion import IdealDenoiser, ring, sample, solve_ode, two_points
from ideal_diffusion.distill.optima import (
    ConsistencyOracle,
    Grid,
    as_grid,
    check_boundaries,
    consistency_optimum,
    consistency_training_target,
    distill_grid,
    grid_index,
    lower_boundary,
    teacher_chain,
    teacher_map,
    teacher_step,
)

DATA = ring(8)
D = IdealDenoiser(DATA)
GRID = distill_grid(18)  # ascending s_1 = 0.002 < ... < s_18 = 80


def _noisy_on_grid(rng, B=64, low=1):
    idx = rng.integers(low, GRID.size, B)
    x0 = DATA.sample(B, rng)
    return x0 + GRID[idx, None] * rng.standard_normal((B, 2)), GRID[idx], idx


def test_grid_is_ascending_karras_without_zero():
    assert GRID[0] == 0.002 and GRID[-1] == 80.0  # exactly: f(x, s_1) = x must hold bit for bit
    assert np.all(np.diff(GRID) > 0)
    assert grid_index(GRID[::-1], GRID[3]) == 3  # a grid is a set: order does not matter
    with pytest.raises(ValueError, match="grid value"):
        grid_index(GRID, 1.2345)


def test_a_grid_value_is_checked_once():
    G = Grid(GRID[::-1])  # any order in, ascending and read-only out
    assert np.array_equal(G.sigmas, GRID) and len(G) == GRID.size
    assert as_grid(G) is G.sigmas  # no second check, no copy
    with pytest.raises(ValueError):
        G.sigmas[0] = 1.0
    assert Grid(G).sigmas is not None and np.array_equal(np.asarray(G), GRID)
    for bad in ([1.0], [0.0, 1.0], [1.0, np.nan], [1.0, 1.0, 2.0]):
        with pytest.raises(ValueError, match="grid"):
            Grid(bad)
    # a Grid is accepted wherever a grid array is, with the same answers
    b = GRID[[0, 5, 11]]
    np.testing.assert_array_equal(lower_boundary(G, b, GRID), lower_boundary(GRID, b, GRID))


def test_boundaries_and_segments():
    b = GRID[[0, 5, 11]]
    assert np.array_equal(check_boundaries(GRID, None), GRID[:1])
    # (b_k, b_{k+1}] -> b_k; the top point of a segment belongs to it; s_1 -> itself
    s = GRID[[0, 1, 5, 6, 11, 12, 17]]
    np.testing.assert_array_equal(lower_boundary(GRID, b, s), GRID[[0, 0, 0, 5, 5, 11, 11]])
    with pytest.raises(ValueError, match="s_1"):
        check_boundaries(GRID, GRID[[3, 7]])
    with pytest.raises(ValueError, match="ascending"):
        check_boundaries(GRID, GRID[[0, 7, 3]])
    with pytest.raises(ValueError, match="grid value"):
        check_boundaries(GRID, [GRID[0], 1.2345])


@pytest.mark.parametrize("solver", ["euler", "heun"])
@pytest.mark.parametrize("boundaries", [None, GRID[[0, 6, 12]]])
def test_cd_oracle_has_zero_loss(solver, boundaries):
    # Lecture, "again a mixture? NO!": x_hat_{n-1} = Solver(x_n) is a deterministic function of
    # x_n, so f*(x_n, s_n) = f*(x_hat_{n-1}, s_{n-1}) holds exactly, and at a boundary the target
    # is x_hat_{n-1} itself. The chained solver performs literally the same float operations on
    # both sides, so the CD loss of the oracle is 0 to the last bit.
    rng = np.random.default_rng(0)
    x, s, idx = _noisy_on_grid(rng)
    s_prev = GRID[idx - 1]
    x_hat = teacher_step(D, x, s, s_prev, solver)
    lhs = consistency_optimum(D, x, s, GRID, solver, boundaries)
    b = lower_boundary(GRID, boundaries, s)
    at_boundary = s_prev == b
    rhs = np.where(at_boundary[:, None], x_hat,
                   ConsistencyOracle(D, GRID, solver, boundaries)(x_hat, s_prev, b))
    assert np.max(np.abs(lhs - rhs)) == 0.0
    assert at_boundary.any() and (~at_boundary).any()


@pytest.mark.parametrize("solver", ["euler", "heun"])
def test_boundary_condition_of_the_optimum(solver):
    x = np.random.default_rng(1).standard_normal((5, 2))
    np.testing.assert_array_equal(consistency_optimum(D, x, GRID[0], GRID, solver), x)


@pytest.mark.parametrize("solver", ["euler", "heun"])
def test_k_jump_sampling_of_the_oracle_equals_the_full_chain(solver):
    # Lecture, 2-boundary example: x_n = f(x_N, t_N); x_0 = f(x_n, t_n). For the oracle every
    # jump is a piece of the same chain, so K jumps reproduce the full teacher chain exactly.
    x_T = 80 * np.random.default_rng(2).standard_normal((16, 2))
    full = teacher_chain(D, x_T, GRID[-1], GRID[0], GRID, solver)
    for K_idx in ([0], [0, 9], [0, 4, 8, 13]):
        b = GRID[K_idx]
        f = ConsistencyOracle(D, GRID, solver, b)
        x = f(x_T, GRID[-1])  # s_N belongs to the top segment
        for k in range(len(b) - 1, 0, -1):
            x = f(x, b[k])  # b_k belongs to the segment below it
        np.testing.assert_array_equal(x, full)


def test_kd_target_is_the_teacher_map_not_the_average():
    # KD's optimum is the teacher's map x_T -> x0_hat (a data point after a final step to 0);
    # the diffusion optimum at x_T is the average D(x_T, sigma_max), near the data mean.
    from ideal_diffusion import karras_sigmas

    x_T = 80 * np.random.default_rng(3).standard_normal((32, 2))
    x0_hat = teacher_map(D, x_T, karras_sigmas(18), "heun")
    np.testing.assert_array_equal(x0_hat, sample(D, x_T, karras_sigmas(18), "heun"))
    nearest = np.linalg.norm(x0_hat[:, None] - DATA.points[None], axis=2).min(axis=1)
    assert np.all(nearest < 1e-12)
    avg = D(x_T, 80.0)
    assert np.all(np.linalg.norm(avg - DATA.mean, axis=1) < 1.0**2 / 80 * 3)  # (scale)^2/sigma


def test_ct_target_is_a_mixture_whose_mean_is_the_euler_step():
    # The one-sample CT points x0^j + (s_{n-1}/s_n)(x - x0^j) average, under the posterior, to
    # D + (s_{n-1}/s_n)(x - D): exactly Euler's step. With g = identity the CT optimum is that.
    rng = np.random.default_rng(4)
    x, s, idx = _noisy_on_grid(rng, low=2)
    identity = lambda z, t, b: z  # noqa: E731
    ct = consistency_training_target(D, x, s, GRID, target=identity)
    np.testing.assert_allclose(ct, teacher_step(D, x, s, GRID[idx - 1], "euler"), atol=1e-12)


def test_ct_optimum_differs_from_cd_optimum_where_the_posterior_is_spread():
    # At high sigma the posterior is spread over the data points: CT averages the points the
    # exact consistency function sends the CT samples to (an average of data points), whereas
    # CD's optimum is one chained teacher solve (a single data point, up to s_1 = 0.002).
    data = two_points()
    D2 = IdealDenoiser(data)
    x = np.array([[0.3, 0.2], [-0.1, 0.5]])
    s = np.full(2, GRID[-1])
    cd = consistency_optimum(D2, x, s, GRID, "heun")
    ct = consistency_training_target(D2, x, s, GRID, "heun")
    assert np.all(np.abs(np.abs(cd[:, 0]) - 1.0) < 0.01)  # cd lands near +-1
    assert np.all(np.abs(ct[:, 0]) < 0.2)  # ct is close to the midpoint 0: a mixture


@pytest.mark.parametrize("solver, order", [("euler", 1.0), ("heun", 2.0)])
def test_theorem1_cd_optimum_error_falls_at_the_solver_order(solver, order):
    # Consistency models, Theorem 1: with a teacher of local order p+1, the CD optimum is
    # within O((Delta t)^p) of the exact consistency function. Measured on a fixed batch of x_T
    # against DOP853 to s_1 (median over the batch), refining the grid 32 -> 256 levels.
    x_T = 80 * np.random.default_rng(5).standard_normal((48, 2))
    ref = solve_ode(D, x_T, 80.0, 0.002)
    Ns = np.array([32, 64, 128, 256])
    errs = []
    for N in Ns:
        g = distill_grid(int(N))
        errs.append(np.median(np.linalg.norm(consistency_optimum(D, x_T, g[-1], g, solver) - ref,
                                             axis=1)))
    p = -np.polyfit(np.log(Ns), np.log(errs), 1)[0]
    assert abs(p - order) < 0.2, (p, errs)  # measured: euler 1.09, heun 2.17
