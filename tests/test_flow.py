"""Flow matching with the exact velocity (lecture: "Moving towards fast DMs", flow-based)."""
import numpy as np
import pytest

from ideal_diffusion import GaussianMixture, IdealDenoiser, clusters, sample, solve_ode, two_points
from ideal_diffusion.distill.flow import (
    T_MAX,
    T_MIN,
    IdealVelocity,
    euler_t,
    flow_path,
    fm_velocity,
    sigma_of_t,
    solve_flow,
    t_of_sigma,
    uniform_t,
)

DATA = clusters()
D = IdealDenoiser(DATA)
GMM = GaussianMixture(means=[[-1.0, 0.5], [1.0, -0.3]],
                      covs=[np.diag([0.2, 0.05]), [[0.1, 0.03], [0.03, 0.3]]], weights=[0.3, 0.7])


def test_time_maps_and_ends():
    assert T_MAX == 80.0 / 81.0
    assert T_MIN == 0.002 / 1.002
    s = np.array([0.002, 0.5, 1.0, 80.0])
    np.testing.assert_allclose(sigma_of_t(t_of_sigma(s)), s, rtol=1e-14)


@pytest.mark.parametrize("data", [DATA, GMM], ids=["delta", "gaussian"])
def test_fm_ode_is_the_ve_pf_ode_reparameterised(data):
    # x_FM(t) = (1 - t) x_VE(t / (1 - t)): noise -> data maps agree for matched starts
    # x_FM(t_max) = (1 - t_max) x_VE(80), VE by solve_ode (DOP853 in log sigma) and FM by an
    # independent DOP853 solve in t, both at 1e-12.
    den = IdealDenoiser(data)
    eps = np.random.default_rng(0).standard_normal((48, 2))
    x_T = 80.0 * eps
    y = solve_ode(den, x_T, 80.0, 0.002, rtol=1e-12, atol=1e-12)
    x = solve_flow(IdealVelocity(den), (1 - T_MAX) * x_T, T_MAX, T_MIN, rtol=1e-12, atol=1e-12)
    rel = np.linalg.norm(x - (1 - T_MIN) * y, axis=1) / np.linalg.norm(x, axis=1)
    assert rel.max() <= 1e-10


def test_fm_path_matches_ve_states_along_the_way():
    eps = np.random.default_rng(1).standard_normal((16, 2))
    ts = np.array([T_MAX, 0.9, 0.5, 0.2, 0.05])
    path = flow_path(IdealVelocity(D), T_MAX * eps, ts, rtol=1e-12, atol=1e-12)
    for t, x in zip(ts[1:], path[1:]):
        y = solve_ode(D, 80.0 * eps, 80.0, t / (1 - t), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(x, (1 - t) * y, rtol=0, atol=1e-10 * np.abs(x).max())


def test_velocity_equals_direct_posterior_formula():
    # E[eps - x0 | x_t = x] with the FM likelihood N(x; (1 - t) x_j, t^2 I) written directly.
    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 2))
    for t in (0.05, 0.3, 0.7, 0.95):
        logl = (np.log(DATA.weights)[None]
                - ((x[:, None, :] - (1 - t) * DATA.points[None]) ** 2).sum(-1) / (2 * t * t))
        p = np.exp(logl - logl.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        eps_j = (x[:, None, :] - (1 - t) * DATA.points[None]) / t
        direct = np.einsum("bn,bnd->bd", p, eps_j - DATA.points[None])
        np.testing.assert_allclose(fm_velocity(D, x, t), direct, rtol=1e-10, atol=1e-10)


def test_velocity_of_a_gaussian_closed_form():
    # x0 ~ N(mu, s^2 I): E[x0 | x_t = x] = mu + (1-t) s^2 / ((1-t)^2 s^2 + t^2) (x - (1-t) mu)
    mu, s = np.array([0.4, -0.2]), 0.3
    g = GaussianMixture(means=[mu], covs=[s * s * np.eye(2)])
    x = np.random.default_rng(3).standard_normal((20, 2))
    for t in (0.1, 0.5, 0.9):
        m = mu + (1 - t) * s * s / ((1 - t) ** 2 * s * s + t * t) * (x - (1 - t) * mu)
        np.testing.assert_allclose(fm_velocity(IdealDenoiser(g), x, t), (x - m) / t,
                                   rtol=1e-12, atol=1e-12)


def test_single_point_path_is_straight_one_euler_step_is_exact():
    one = IdealDenoiser(np.array([[0.7, -0.4]]))
    eps = np.random.default_rng(4).standard_normal((30, 2))
    x1 = euler_t(IdealVelocity(one), T_MAX * eps, uniform_t(1))
    exact = one.data.points + (T_MAX * eps - one.data.points) * (T_MIN / T_MAX)
    np.testing.assert_allclose(x1, exact, rtol=0, atol=1e-14)


def test_mixture_path_bends_one_euler_step_is_not_exact():
    two = IdealDenoiser(two_points(2.0))
    eps = np.random.default_rng(5).standard_normal((200, 2))
    x1 = euler_t(IdealVelocity(two), T_MAX * eps, uniform_t(1))
    x_ex = solve_flow(IdealVelocity(two), T_MAX * eps, T_MAX, T_MIN, rtol=1e-9, atol=1e-9)
    # one step lands near the data mean (0): most samples are about 1 away from their point
    assert np.median(np.linalg.norm(x1 - x_ex, axis=1)) > 0.5


@pytest.mark.parametrize("steps", [1, 2, 5])
def test_euler_in_t_is_euler_in_sigma_on_the_mapped_grid(steps):
    # Same ODE: an Euler step in t divided by (1 - t') is the Euler (DDIM) step in sigma.
    eps = np.random.default_rng(6).standard_normal((40, 2))
    ts = uniform_t(steps)
    x = euler_t(IdealVelocity(D), (1 - ts[0]) * 80.0 * eps, ts)
    y = sample(D, 80.0 * eps, sigma_of_t(ts), "euler")
    np.testing.assert_allclose(x / (1 - ts[-1]), y, rtol=1e-12, atol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="t must be in"):
        fm_velocity(D, np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="t must be in"):
        fm_velocity(D, np.zeros((2, 2)), 0.0)
    with pytest.raises(ValueError, match="ts must be strictly descending"):
        euler_t(IdealVelocity(D), np.zeros((2, 2)), [0.1, 0.5])
    with pytest.raises(ValueError, match="steps"):
        uniform_t(0)
