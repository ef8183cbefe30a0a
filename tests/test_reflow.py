"""Rectified flow: the exact 2-rectified velocity (closed form, Monte Carlo) and the student."""
import numpy as np
import pytest

from ideal_diffusion import IdealDenoiser, clusters, solve_ode, two_points
from ideal_diffusion.distill.reflow import BasinOracle, rectified_velocity, reflow_pairs
from ideal_diffusion.metrics import nearest_point

DATA = clusters()
D = IdealDenoiser(DATA)
ORACLE = BasinOracle(D)


def test_two_points_closed_form():
    # Points (+-1, 0): by symmetry the basins are the half-planes eps_1 > 0 and eps_1 < 0, so
    # candidate + is in its basin iff x_1 > 1 - t, and v2 = (x - x_+)/t there (straight lines).
    two = IdealDenoiser(two_points(2.0))
    p = two.data.points
    plus = int(np.argmax(p[:, 0]))
    orc = BasinOracle(two)
    rng = np.random.default_rng(0)
    for t in (0.2, 0.5, 0.9):
        x = rng.standard_normal((20, 2)) * 2.0
        x = x[np.abs(x[:, 0]) > (1 - t) + 1e-3]
        v, sup = rectified_velocity(orc, x, t, return_support=True)
        near = np.where(x[:, :1] > 0, p[plus], p[1 - plus])
        assert sup.all()
        np.testing.assert_allclose(v, (x - near) / t, rtol=1e-12, atol=1e-12)
    # the gap |x_1| < 1 - t has density 0: reported outside the support
    _, sup = rectified_velocity(orc, np.array([[0.0, 0.3]]), 0.5, return_support=True)
    assert not sup[0]


def _mc(x, t, rho, n, rng):
    """Importance-sampling estimate of E[eps - Z | x_t in ball(x, rho t)], with its s.e.

    x_t = (1 - t) Z + t eps lies in the ball iff eps lies in the ball of radius rho about
    c_j = (x - (1 - t) x_j) / t for j = basin(eps). Proposal: uniform in the balls whose N(c_j)
    is within 30 nats of the largest (the rest carry < e^-30 of the mass); weight N(u)/q(u).
    Z is computed here independently: solve_ode to sigma_min at 1e-9, nearest data point.
    """
    pts = DATA.points
    cen = (x[None] - (1 - t) * pts) / t
    lp = -0.5 * (cen ** 2).sum(1)
    use = np.flatnonzero(lp >= lp.max() - 30)
    j = rng.choice(use, n)
    ang = rng.standard_normal((n, 2))
    ang /= np.linalg.norm(ang, axis=1, keepdims=True)
    u = cen[j] + rho * np.sqrt(rng.uniform(size=n))[:, None] * ang
    q = (np.linalg.norm(u[:, None] - cen[use][None], axis=-1) <= rho).sum(1)
    q = q / (use.size * np.pi * rho ** 2)
    w = np.exp(-0.5 * (u ** 2).sum(1)) / q
    b = nearest_point(DATA, solve_ode(D, 80 * u, 80.0, 0.002, rtol=1e-9, atol=1e-9))[0]
    ind = np.linalg.norm(u - cen[b], axis=1) <= rho
    g, h = (u - pts[b]) * (ind * w)[:, None], ind * w
    est = g.sum(0) / h.sum()
    se = np.sqrt(((g - est[None] * h[:, None]) ** 2).sum(0)) / h.sum()  # ratio delta method
    return est, se


def test_v2_matches_monte_carlo_and_the_truncation_matters():
    """A weak check of the closed form, stated for what it is: each tested x lies on exactly
    one coupled line, so v2(x, t) = eps - Z there pointwise and the Monte Carlo average over a
    small ball only adds its own noise. What it does test is that the basin truncation
    matters: the untruncated weights are rejected by many standard errors."""
    rng = np.random.default_rng(1)
    ts = np.array([0.3, 0.6, 0.9])
    eps0, Z0, _ = reflow_pairs(ORACLE, 3, rng)
    x = (1 - ts)[:, None] * Z0 + ts[:, None] * eps0
    v, sup = rectified_velocity(ORACLE, x, ts, return_support=True)
    assert sup.all()
    for i, t in enumerate(ts):
        est, se = _mc(x[i], t, 1e-3, 1500, rng)
        z = (est - v[i]) / se
        assert np.all(np.abs(z) < 4.5), (t, z)
        # untruncated weights N(eps_j) (no basin indicator) give another velocity, which the
        # Monte Carlo estimate rejects at t = 0.3 and 0.6 (many implied noises are likely there)
        cen = (x[i][None] - (1 - t) * DATA.points) / t
        lp = -0.5 * (cen ** 2).sum(1)
        p = np.exp(lp - lp.max())
        p /= p.sum()
        untrunc = (x[i] - p @ DATA.points) / t
        if t < 0.8:
            assert np.max(np.abs((est - untrunc) / se)) > 20


def test_basin_oracle_counts_and_caches():
    orc = BasinOracle(D)
    eps = np.random.default_rng(3).standard_normal((10, 2))
    b1 = orc(eps)
    n1 = orc.teacher_evals
    assert n1 > 0
    b2 = orc(eps)
    assert orc.teacher_evals == n1 and np.array_equal(b1, b2)
    ref = nearest_point(DATA, solve_ode(D, 80 * eps, 80.0, 0.0, rtol=1e-10, atol=1e-10))[0]
    assert np.array_equal(b1, ref)


def test_bad_input():
    with pytest.raises(ValueError, match="t must be in"):
        rectified_velocity(ORACLE, np.zeros((1, 2)), 1.5)
    with pytest.raises(ValueError, match="DeltaMixture"):
        from ideal_diffusion import GaussianMixture
        BasinOracle(IdealDenoiser(GaussianMixture([[0.0, 0.0]], [np.eye(2)])))
