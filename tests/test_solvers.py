"""Schedules and PF-ODE integrators against exact solutions."""
import numpy as np
import pytest

from ideal_diffusion import (
    DeltaMixture,
    GaussianMixture,
    IdealDenoiser,
    karras_sigmas,
    loguniform_sigmas,
    nfe,
    ring,
    sample,
    solve_ode,
    uniform_sigmas,
)
from ideal_diffusion.solvers import SOLVERS

SIGMA_MAX = 80.0


# ----------------------------------------------------------------------------- grids


def test_karras_grid_is_edm_eq5():
    n, smin, smax, rho = 18, 0.002, 80.0, 7.0
    s = karras_sigmas(n, smin, smax, rho)
    # EDM's edm_sampler: t_i = (smax^(1/rho) + i/(n-1) (smin^(1/rho) - smax^(1/rho)))^rho, then 0
    i = np.arange(n)
    ref = (smax ** (1 / rho) + i / (n - 1) * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho
    assert s.shape == (n + 1,) and s[-1] == 0.0
    np.testing.assert_array_equal(s[:-1], ref)
    assert np.all(np.diff(s) < 0)
    assert s[0] == pytest.approx(smax, rel=1e-14) and s[-2] == pytest.approx(smin, rel=1e-14)
    assert karras_sigmas(1, append_zero=False).tolist() == [pytest.approx(smax, rel=1e-14)]


def test_other_grids_are_descending_with_exact_endpoints():
    for grid in (loguniform_sigmas(7), uniform_sigmas(7)):
        assert grid.shape == (8,) and grid[0] == 80.0 and grid[-2] == 0.002 and grid[-1] == 0
        assert np.all(np.diff(grid) < 0)
    # log-uniform: constant ratio between neighbours
    r = loguniform_sigmas(9, append_zero=False)
    np.testing.assert_allclose(r[1:] / r[:-1], (0.002 / 80) ** (1 / 8), rtol=1e-12)


@pytest.mark.parametrize("bad", [dict(n=0), dict(n=3, sigma_min=0.0), dict(n=2.5),
                                 dict(n=3, sigma_min=5, sigma_max=1), dict(n=3, rho=0.0)])
def test_grid_bad_input(bad):
    # a float count is a wrong type (TypeError), everything else a wrong value
    with pytest.raises(TypeError if bad.get("n") == 2.5 else ValueError):
        karras_sigmas(**bad)


# ----------------------------------------------------------------------------- exact paths


def _exact_single_gaussian(mu, s2, x_T, sigma_T, sigma):
    # For N(mu, s^2 I), D = mu + s^2/(s^2 + sigma^2) (x - mu), and the PF-ODE solution is the ray
    # x(sigma) = mu + (x_T - mu) sqrt(s^2 + sigma^2) / sqrt(s^2 + sigma_T^2).
    return mu + (x_T - mu) * np.sqrt(s2 + sigma**2) / np.sqrt(s2 + sigma_T**2)


@pytest.mark.parametrize("solver", SOLVERS)
def test_single_point_every_solver_is_exact(solver):
    # One data point: D(x, sigma) = x0 for every x, so the slope (x - x0)/sigma is the same at
    # every point of the exact path x0 + (x_T - x0) sigma/sigma_T. Euler therefore follows the
    # path exactly, Heun's corrector averages two equal slopes, and DPM-Solver++ is exact for a
    # constant denoiser by construction: every solver is exact for any grid.
    x0 = np.array([[0.3, -1.2]])
    D = IdealDenoiser(x0)
    x_T = SIGMA_MAX * np.random.default_rng(0).standard_normal((5, 2))
    sigmas = karras_sigmas(6)
    x, states, denoised = sample(D, x_T, sigmas, solver, return_trajectory=True)
    exact = x0 + (x_T - x0) * (sigmas[:, None, None] / SIGMA_MAX)
    np.testing.assert_allclose(states, exact, rtol=0, atol=1e-12)
    np.testing.assert_allclose(denoised, np.broadcast_to(x0, denoised.shape), atol=0)
    np.testing.assert_allclose(x, x0.repeat(5, 0), atol=1e-12)


def test_solve_ode_matches_single_gaussian_closed_form():
    mu, s2 = np.array([1.0, -0.5, 2.0]), 0.3
    D = IdealDenoiser(GaussianMixture(mu[None], s2))
    x_T = SIGMA_MAX * np.random.default_rng(1).standard_normal((8, 3))
    for sigma_to in (10.0, 0.5, 0.002):
        got = solve_ode(D, x_T, SIGMA_MAX, sigma_to)
        np.testing.assert_allclose(got, _exact_single_gaussian(mu, s2, x_T, SIGMA_MAX, sigma_to),
                                   rtol=0, atol=1e-9)


def _fitted_order(solver, ns):
    mu, s2 = np.array([1.0, -0.5]), 0.25
    D = IdealDenoiser(GaussianMixture(mu[None], s2))
    x_T = SIGMA_MAX * np.random.default_rng(2).standard_normal((16, 2))
    errs = []
    for n in ns:
        sigmas = karras_sigmas(n, append_zero=False)  # end at sigma_min: the exact path is defined
        x = sample(D, x_T, sigmas, solver)
        exact = _exact_single_gaussian(mu, s2, x_T, SIGMA_MAX, sigmas[-1])
        errs.append(np.median(np.linalg.norm(x - exact, axis=1)))
    return -np.polyfit(np.log(ns), np.log(errs), 1)[0]


@pytest.mark.parametrize("solver, order, tol", [("euler", 1.0, 0.15), ("heun", 2.0, 0.15),
                                                ("dpmpp_2m", 2.0, 0.25)])
def test_order_of_convergence_on_a_single_gaussian(solver, order, tol):
    # Asymptotic regime: 16..128 steps (at 8 steps Heun's first huge step is not yet asymptotic).
    # DPM-Solver++(2M) is a multistep method whose first step is first order: its fitted slope
    # over this range is 2.16, still approaching 2 from above, hence the wider tolerance.
    p = _fitted_order(solver, [16, 32, 64, 128])
    assert abs(p - order) < tol, p


def test_ode_is_reversible():
    # The PF-ODE is a deterministic bijection: integrating down then up returns the start.
    D = IdealDenoiser(ring(5))
    x = 2.0 * np.random.default_rng(3).standard_normal((6, 2))
    back = solve_ode(D, solve_ode(D, x, 2.0, 0.3), 0.3, 2.0)
    np.testing.assert_allclose(back, x, atol=1e-7)


def test_solve_ode_to_zero_ends_on_data_points():
    data = ring(8)
    D = IdealDenoiser(data)
    x_T = SIGMA_MAX * np.random.default_rng(4).standard_normal((32, 2))
    x0 = solve_ode(D, x_T, SIGMA_MAX, 0.0)
    dist = np.linalg.norm(x0[:, None] - data.points[None], axis=2).min(axis=1)
    assert np.all(dist < 1e-12)  # D(x, 0) = the nearest point, up to rounding of pi @ points
    # and it is the limit of the path: at sigma = 1e-4 the state is within ~sigma of that point
    near = solve_ode(D, x_T, SIGMA_MAX, 1e-4)
    assert np.all(np.linalg.norm(near - x0, axis=1) < 1e-3)


# ----------------------------------------------------------------------------- bookkeeping


class _Counting:
    def __init__(self, D):
        self.D, self.calls = D, 0

    def __call__(self, x, sigma):
        self.calls += 1
        return self.D(x, sigma)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("append_zero", [True, False])
def test_nfe_counts_denoiser_calls(solver, append_zero):
    D = _Counting(IdealDenoiser(ring(4)))
    sigmas = karras_sigmas(5, append_zero=append_zero)
    sample(D, np.ones((3, 2)), sigmas, solver)
    assert D.calls == nfe(solver, sigmas)
    n = sigmas.size - 1
    assert nfe("heun", sigmas) == (2 * n - 1 if append_zero else 2 * n)


def test_one_euler_step_from_sigma_max_is_the_denoiser_output():
    data = DeltaMixture([[-1.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    D = IdealDenoiser(data)
    x_T = SIGMA_MAX * np.random.default_rng(5).standard_normal((10, 2))
    x = sample(D, x_T, [SIGMA_MAX, 0.0], "euler")
    np.testing.assert_allclose(x, D(x_T, SIGMA_MAX), atol=1e-12)


def test_trajectory_is_consistent():
    D = IdealDenoiser(ring(6))
    x_T = SIGMA_MAX * np.random.default_rng(6).standard_normal((4, 2))
    sigmas = karras_sigmas(7)
    x, states, denoised = sample(D, x_T, sigmas, "heun", return_trajectory=True)
    assert states.shape == (8, 4, 2) and denoised.shape == (7, 4, 2)
    np.testing.assert_array_equal(states[0], x_T)
    np.testing.assert_array_equal(states[-1], x)
    for i in range(7):
        np.testing.assert_allclose(denoised[i], D(states[i], sigmas[i]), atol=1e-14)
    np.testing.assert_array_equal(x, sample(D, x_T, sigmas, "heun"))


def test_float32_samples_stay_float32_and_track_float64():
    D = IdealDenoiser(ring(6))
    x_T = SIGMA_MAX * np.random.default_rng(7).standard_normal((16, 2))
    sigmas = karras_sigmas(10, append_zero=False)
    x64 = sample(D, x_T, sigmas, "euler")
    x32 = sample(D, x_T.astype(np.float32), sigmas, "euler")
    assert x32.dtype == np.float32
    # 10 steps, each adding a few float32 roundings of O(sigma_max) states
    np.testing.assert_allclose(x32, x64, atol=1e-3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(sigmas=[1.0, 2.0]), "descending"),
        (dict(sigmas=[2.0, 0.0, 0.0]), "sigmas"),
        (dict(sigmas=[2.0]), "sigmas"),
        (dict(sigmas=[2.0, np.nan]), "sigmas"),
        (dict(solver="rk4"), "solver"),
        (dict(x_T=np.full((2, 2), np.nan)), "x_T"),
        (dict(x_T=np.ones(2)), "x_T"),
    ],
)
def test_sample_bad_input(kwargs, match):
    args = dict(denoiser=IdealDenoiser(ring(3)), x_T=np.ones((2, 2)), sigmas=[2.0, 1.0, 0.0],
                solver="euler")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sample(**args)


def test_solve_ode_bad_input():
    D = IdealDenoiser(ring(3))
    with pytest.raises(ValueError, match="sigma_from"):
        solve_ode(D, np.ones((1, 2)), 0.0, 1.0)
    with pytest.raises(ValueError, match="sigma_to"):
        solve_ode(D, np.ones((1, 2)), 1.0, -1.0)
