"""Exact facts about the ideal denoiser D(x, sigma) = E[x0 | x].

"Relative" errors of D are measured against the data scale R = max_j |x0^j|_inf: D is a
convex combination of the data points, so a relative error delta in the posterior weights
moves D by at most delta * max_j |x0^j - D| <= 2 delta R, and R is the yardstick that does
not depend on where the query happens to be.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import ideal_diffusion.denoiser as denmod
from ideal_diffusion import DeltaMixture, GaussianMixture, IdealDenoiser, ring, two_points
from ideal_diffusion.solvers import sample

SIGMAS = np.logspace(-6, 4, 11)


# ----------------------------------------------------------------------------- references


def direct_posterior(points, weights, x, sigma):
    """pi_ij by an explicit loop over the data points, direct differences, float64."""
    x = np.asarray(x, dtype=np.float64)
    s = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (len(x),))
    logits = np.empty((len(x), len(points)))
    for j, (y, w) in enumerate(zip(points, weights)):
        diff = x - y
        logits[:, j] = np.log(w) - np.sum(diff * diff, axis=1) / (2 * s * s)
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


direct_denoiser = denmod.reference_denoiser  # the slide's formula, the one reference of D


@pytest.fixture(params=["direct", "gemm"])
def path(request, monkeypatch):
    """Run a test on the direct (small-problem) path and again on the GEMM path."""
    if request.param == "gemm":
        monkeypatch.setattr(denmod, "_DIRECT_MAX_BN", 0)
    return request.param


def direct_log_density(points, weights, x, sigma):
    """log sum_j w_j N(x | x0^j, sigma^2 I), loop over the points."""
    d = points.shape[1]
    terms = np.stack([np.log(w) - np.sum((x - y) ** 2, axis=1) / (2 * sigma**2)
                      for y, w in zip(points, weights)], axis=1)
    return logsumexp(terms, axis=1) - 0.5 * d * np.log(2 * np.pi * sigma**2)


def random_data(rng, n, d, scale, offset=True):
    points = scale * rng.standard_normal((n, d)) + (scale * 0.5 if offset else 0.0)
    weights = rng.uniform(0.2, 1.0, n)
    return DeltaMixture(points, weights)


def near_queries(rng, data, b, sigma):
    """x = x0 + sigma * eps with x0 from the data: the queries a sampler meets at sigma."""
    x0 = data.points[rng.integers(0, data.N, b)]
    return x0 + np.asarray(sigma)[..., None] * rng.standard_normal((b, data.d))


def central_diff_jacobian(f, x, h):
    """J[b, i, k] = d f_i / d x_k by central differences, per row."""
    B, d = x.shape
    J = np.empty((B, d, d))
    for k in range(d):
        e = np.zeros(d)
        e[k] = h
        J[:, :, k] = (f(x + e) - f(x - e)) / (2 * h)
    return J


# ----------------------------------------------------------------------------- exact formula


@pytest.mark.parametrize("scale", [1.0, 1e3])
@pytest.mark.parametrize("d", [1, 2, 50])
def test_matches_direct_formula(scale, d, path):
    rng = np.random.default_rng(int(scale) + d)
    data = random_data(rng, 40, d, scale)
    den = IdealDenoiser(data)
    R = np.abs(data.points).max()
    for sigma in SIGMAS:
        # near-data queries at every sigma (well conditioned), and box-wide queries where
        # the posterior is not numerically one-hot
        xs = [near_queries(rng, data, 30, np.full(30, sigma))]
        if sigma >= 0.1 * scale:
            xs.append(scale * rng.uniform(-3, 3, (30, d)))
        for x in xs:
            D, pi = den(x, sigma), den.posterior(x, sigma)
            pi_ref = direct_posterior(data.points, data.weights, x, sigma)
            assert np.abs(pi - pi_ref).max() <= 1e-12, sigma
            err = np.abs(D - direct_denoiser(data.points, data.weights, x, sigma)).max()
            assert err <= 1e-12 * R, (sigma, err / R)
        # a pair of points 20 sigma apart, far from the data mean, and queries between them
        # with log-odds in [-3, 3]: the posterior is not one-hot at any sigma, and the GEMM
        # expansion's cancellation (eps R^2 / sigma^2 in a logit) is at its worst
        pts = data.points.copy()
        k = np.argmax(np.abs(pts - data.mean).sum(1))
        u = rng.standard_normal(d)
        pts[(k + 1) % len(pts)] = pts[k] + 20 * sigma * u / np.linalg.norm(u)
        pair = DeltaMixture(pts, data.weights)
        y1, y2 = pts[k], pts[(k + 1) % len(pts)]
        t = 0.5 + sigma**2 * rng.uniform(-3, 3, 20) / (20 * sigma) ** 2
        x = y1 + t[:, None] * (y2 - y1) + 0.1 * sigma * rng.standard_normal((20, d))
        pi_ref = direct_posterior(pair.points, pair.weights, x, sigma)
        assert np.all(pi_ref.max(axis=1) < 1 - 1e-6)
        assert np.abs(IdealDenoiser(pair).posterior(x, sigma) - pi_ref).max() <= 1e-12, sigma
        err = np.abs(IdealDenoiser(pair)(x, sigma) - pi_ref @ pair.points).max()
        assert err <= 1e-12 * np.abs(pair.points).max(), (sigma, err)


def test_per_row_sigma_equals_scalar_calls():
    rng = np.random.default_rng(1)
    data = random_data(rng, 25, 3, 1.0)
    den = IdealDenoiser(data)
    s = np.logspace(-6, 4, 40)
    x = near_queries(rng, data, 40, s)
    D = den(x, s)
    for i in range(0, 40, 7):  # BLAS may round a 1-row product differently: 1 ulp
        np.testing.assert_allclose(D[i], den(x[i:i + 1], s[i])[0], rtol=0, atol=4e-16 * 3)
    ref = direct_denoiser(data.points, data.weights, x, s)
    assert np.abs(D - ref).max() <= 1e-12 * np.abs(data.points).max()


def test_posterior_rows_sum_to_one_and_D_is_their_average_2d():
    rng = np.random.default_rng(2)
    data = random_data(rng, 30, 2, 1.0)
    den = IdealDenoiser(data)
    x = 3 * rng.standard_normal((50, 2))
    for sigma in [0.0, 1e-3, 0.1, 1.0, 10.0]:
        pi = den.posterior(x, sigma)
        assert pi.shape == (50, 30)
        assert np.all(pi >= 0)
        # normalised by a sum of 30 rounded terms: a few ulp
        np.testing.assert_allclose(pi.sum(axis=1), 1.0, rtol=0, atol=30 * 2.2e-16)
        # pi is a probability vector and D = pi @ points: D lies in the convex hull
        R = np.abs(data.points).max()
        np.testing.assert_allclose(den(x, sigma), pi @ data.points, rtol=0, atol=1e-14 * R)


def test_output_inside_convex_hull_1d():
    rng = np.random.default_rng(3)
    pts = rng.uniform(-5, 5, 12)
    den = IdealDenoiser(pts[:, None])
    x = rng.uniform(-50, 50, (400, 1))
    lo, hi = pts.min(), pts.max()
    for sigma in [0.0, *SIGMAS]:
        D = den(x, sigma)[:, 0]
        # a convex combination rounded once: allow one ulp of the data scale
        slack = np.spacing(np.abs(pts).max())
        assert np.all(D >= lo - slack) and np.all(D <= hi + slack), sigma


def test_score_and_velocity_identities():
    rng = np.random.default_rng(4)
    data = random_data(rng, 20, 3, 1.0)
    den = IdealDenoiser(data)
    s = np.logspace(-3, 3, 16)
    x = near_queries(rng, data, 16, s)
    D = den(x, s)
    np.testing.assert_allclose(den.score(x, s), (D - x) / s[:, None] ** 2, rtol=1e-15, atol=0)
    np.testing.assert_allclose(den.velocity(x, s), (x - D) / s[:, None], rtol=1e-15, atol=0)


def test_score_is_gradient_of_log_density_and_log_density_is_direct():
    rng = np.random.default_rng(5)
    data = random_data(rng, 15, 2, 1.0)
    den = IdealDenoiser(data)
    for sigma in [0.05, 0.5, 5.0]:
        x = near_queries(rng, data, 10, np.full(10, sigma))
        ref = direct_log_density(data.points, data.weights, x, sigma)
        np.testing.assert_allclose(den.log_density(x, sigma), ref, rtol=1e-13, atol=1e-12)
        h = 1e-5 * sigma
        grad = np.stack([(den.log_density(x + h * e, sigma) - den.log_density(x - h * e, sigma))
                         / (2 * h) for e in np.eye(2)], axis=1)
        np.testing.assert_allclose(grad, den.score(x, sigma), rtol=1e-6, atol=1e-6 / sigma)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_jacobian_is_central_difference_and_symmetric_psd(d):
    rng = np.random.default_rng(6 + d)
    data = random_data(rng, 12, d, 1.0)
    den = IdealDenoiser(data)
    for sigma in [0.2, 1.0, 4.0]:
        x = near_queries(rng, data, 8, np.full(8, sigma))
        J = den.jacobian(x, sigma)
        assert J.shape == (8, d, d)
        Jfd = central_diff_jacobian(lambda z, s=sigma: den(z, s), x, 1e-5 * sigma)
        # central differences: truncation O(h^2 |D'''|) and rounding O(eps R / h)
        np.testing.assert_allclose(J, Jfd, rtol=0, atol=1e-7 * (1 + np.abs(J).max()))
        np.testing.assert_allclose(J, np.swapaxes(J, 1, 2), rtol=0, atol=1e-15 * np.abs(J).max())
        ev = np.linalg.eigvalsh(J)
        assert np.all(ev >= -1e-13 * (1 + np.abs(ev).max()))
        # and Jacobian = Cov_pi[x0] / sigma^2, from the direct posterior
        pi = direct_posterior(data.points, data.weights, x, sigma)
        diff = data.points[None] - (pi @ data.points)[:, None]
        cov = np.einsum("bn,bni,bnj->bij", pi, diff, diff)
        np.testing.assert_allclose(J, cov / sigma**2, rtol=0, atol=1e-12 * (1 + np.abs(J).max()))


def test_limit_sigma_to_zero_is_nearest_point(path):
    rng = np.random.default_rng(7)
    data = random_data(rng, 20, 2, 1.0)
    den = IdealDenoiser(data)
    x = 2 * rng.standard_normal((100, 2))
    nearest = np.argmin(((x[:, None] - data.points[None]) ** 2).sum(axis=2), axis=1)
    np.testing.assert_array_equal(den(x, 0.0), data.points[nearest])  # exact
    np.testing.assert_array_equal(den.posterior(x, 0.0), np.eye(20)[nearest])
    np.testing.assert_allclose(den(x, 1e-6), data.points[nearest], rtol=0, atol=1e-15)


def test_sigma_zero_ties_split_by_weight(path):
    # x on the bisector of two points: at sigma = 0 both are nearest, weights 1:3
    data = DeltaMixture([[-1.0, 0.0], [1.0, 0.0], [5.0, 5.0]], weights=[1.0, 3.0, 4.0])
    den = IdealDenoiser(data)
    x = np.array([[0.0, 0.3], [0.0, -2.0]])
    np.testing.assert_allclose(den.posterior(x, 0.0), [[0.25, 0.75, 0.0]] * 2, rtol=0, atol=2e-16)
    np.testing.assert_allclose(den(x, 0.0), [[0.5, 0.0]] * 2, rtol=0, atol=1e-16)
    # duplicated points are ties too
    dup = IdealDenoiser(DeltaMixture([[1.0], [1.0], [3.0]], weights=[1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(dup.posterior(np.array([[0.0]]), 0.0), [[0.5, 0.5, 0.0]])


def test_limit_sigma_to_infinity_is_weighted_mean():
    rng = np.random.default_rng(8)
    data = random_data(rng, 20, 3, 1.0)
    den = IdealDenoiser(data)
    x = 1e8 * rng.standard_normal((10, 3))
    # D - mean = O(R^2 |x - mean| / sigma^2) = O(1e-8) at sigma = 1e8 ... use 1e12
    np.testing.assert_allclose(den(x / 1e8, 1e12), np.tile(data.mean, (10, 1)), rtol=0,
                               atol=1e-13)
    np.testing.assert_allclose(den.posterior(x, 1e12), np.tile(data.weights, (10, 1)),
                               rtol=1e-6, atol=0)


def test_zero_weight_points_get_no_mass():
    data = DeltaMixture([[0.0], [1.0], [2.0]], weights=[1.0, 0.0, 1.0])
    den = IdealDenoiser(data)
    x = np.array([[1.0], [0.9], [5.0]])
    for sigma in [0.0, 1e-3, 1.0]:
        assert np.all(den.posterior(x, sigma)[:, 1] == 0)
    np.testing.assert_array_equal(den(np.array([[1.0]]), 0.0), [[1.0]])  # tie of 0 and 2


# ----------------------------------------------------------------------------- two points


def test_two_points_equidistant_gives_midpoint_exactly():
    for data in [two_points(), DeltaMixture([[1.0, 2.0], [3.0, 2.0]])]:
        den = IdealDenoiser(data)
        mid = data.points.mean(axis=0)
        x = mid + np.array([[0.0, t] for t in (-7.0, -0.5, 0.0, 0.25, 3.0)])
        for sigma in [0.0, 1e-6, 1e-3, 1.0, 80.0]:
            np.testing.assert_array_equal(den(x, sigma), np.tile(mid, (5, 1)))


def test_two_points_weights_03_07():
    # along the segment x = x1 + t (x2 - x1), log(pi2 / pi1) = (2t - 1) L^2 / (2 sigma^2)
    data = DeltaMixture([[0.5, -1.0, 2.0], [2.5, 0.0, 1.0]])
    x1, x2 = data.points
    L2 = np.sum((x2 - x1) ** 2)
    t = 0.5 + np.log(0.7 / 0.3) / L2  # sigma = 1
    x = (x1 + t * (x2 - x1))[None]
    den = IdealDenoiser(data)
    np.testing.assert_allclose(den.posterior(x, 1.0), [[0.3, 0.7]], rtol=1e-12, atol=0)
    np.testing.assert_allclose(den(x, 1.0), [0.3 * x1 + 0.7 * x2], rtol=1e-12, atol=0)


def test_one_euler_step_from_sigma_max_is_denoiser_output():
    data = ring(8, radius=1.0)  # symmetric about its mean 0, so D(mean) = mean
    den = IdealDenoiser(data)
    rng = np.random.default_rng(9)
    x_T = 80.0 * rng.standard_normal((64, 2))
    out = sample(den, x_T, [80.0, 0.0], "euler")
    D = den(x_T, 80.0)
    # x + (0 - 80) (x - D) / 80 = D up to one rounding of x
    np.testing.assert_allclose(out, D, rtol=0, atol=4 * np.finfo(float).eps * np.abs(x_T).max())
    # |dD/dx| = |Cov_pi| / sigma^2 <= R^2 / sigma^2 (R = max |x0^j - mean|), so
    # |D - mean| <= R^2 |x_T - mean| / sigma_max^2, i.e. about R^2 / sigma_max for |x_T| ~ sigma_max
    R = 1.0
    dev = np.linalg.norm(D - data.mean, axis=1)
    assert np.all(dev <= R**2 * np.linalg.norm(x_T - data.mean, axis=1) / 80.0**2)
    assert np.median(dev) <= R**2 / 80.0


# ----------------------------------------------------------------------------- diffusion loss


def expected_sq_error(pi, points, f):
    """E_pi |x0 - f|^2 per row, summing over the data points."""
    return np.einsum("bn,bn->b", pi, ((points[None] - f[:, None]) ** 2).sum(2))


def test_posterior_mean_minimises_the_loss_exactly():
    # for fixed x: E_pi |x0 - f|^2 = E_pi |x0 - D|^2 + |f - D|^2 (bias-variance, D = E_pi x0)
    rng = np.random.default_rng(10)
    data = random_data(rng, 30, 4, 1.0)
    den = IdealDenoiser(data)
    for sigma in [0.1, 1.0, 10.0]:
        x = near_queries(rng, data, 20, np.full(20, sigma))
        pi, D = den.posterior(x, sigma), den(x, sigma)
        base = expected_sq_error(pi, data.points, D)
        for f in [D + 0.01 * rng.standard_normal(D.shape), x, np.tile(data.mean, (20, 1))]:
            np.testing.assert_allclose(expected_sq_error(pi, data.points, f),
                                       base + ((f - D) ** 2).sum(1), rtol=1e-12, atol=0)


def test_monte_carlo_loss_is_lowest_at_ideal_denoiser():
    # L(f) - L(D) = mean |f - D|^2 + 2 mean <D - x0, f - D>. The cross term has expectation 0
    # (E[x0 | x] = D) and standard deviation ~ 2 sqrt(E|x0 - D|^2 E|f - D|^2 / n), far below
    # the first term for n = 20000 and the perturbations below, so on the same samples the
    # ideal denoiser wins with overwhelming probability (and this seed is fixed).
    rng = np.random.default_rng(11)
    data = random_data(rng, 50, 2, 1.0)
    den = IdealDenoiser(data)
    sigma = 0.5
    x, x0 = data.noisy(20000, sigma, rng)
    D = den(x, sigma)
    best = np.mean(np.sum((x0 - D) ** 2, axis=1))
    for f in [D + 0.05, 1.1 * (D - x) + x, den(x, 0.8 * sigma), den(x, 1.25 * sigma),
              x, np.tile(data.mean, (len(x), 1))]:
        assert np.mean(np.sum((x0 - f) ** 2, axis=1)) > best


# ----------------------------------------------------------------------------- Gaussian mixture


def random_gmm(rng, K, d, scale=1.0):
    A = rng.standard_normal((K, d, d))
    covs = scale * (A @ np.swapaxes(A, 1, 2) / d + 0.1 * np.eye(d))
    return GaussianMixture(rng.standard_normal((K, d)) * 2, covs, rng.uniform(0.2, 1, K))


def gmm_direct(g, x, sigma):
    """Explicit inverse per component; responsibilities with scipy.stats."""
    d = g.d
    logr = np.stack([np.log(w) + multivariate_normal(m, C + sigma**2 * np.eye(d)).logpdf(x)
                     for m, C, w in zip(g.means, g.covs, g.weights)], axis=1)
    logr = logr.reshape(len(x), g.K)
    r = np.exp(logr - logsumexp(logr, axis=1, keepdims=True))
    Dk = [m + (C @ np.linalg.inv(C + sigma**2 * np.eye(d)) @ (x - m).T).T
          for m, C in zip(g.means, g.covs)]
    return np.einsum("bk,kbd->bd", r, np.array(Dk)), r, logsumexp(logr, axis=1)


def test_gaussian_mixture_matches_direct_formula():
    rng = np.random.default_rng(12)
    g = random_gmm(rng, 3, 3)
    den = IdealDenoiser(g)
    for sigma in [1e-3, 0.1, 1.0, 10.0]:
        x = g.noisy(20, sigma, rng)[0]
        D, r, logp = gmm_direct(g, x, sigma)
        scale = np.abs(g.means).max() + 1
        np.testing.assert_allclose(den(x, sigma), D, rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose(den.posterior(x, sigma), r, rtol=0, atol=1e-12)
        np.testing.assert_allclose(den.log_density(x, sigma), logp, rtol=1e-12, atol=1e-12)


def test_single_gaussian_closed_form():
    rng = np.random.default_rng(13)
    g = random_gmm(rng, 1, 4)
    mu, C = g.means[0], g.covs[0]
    den = IdealDenoiser(g)
    x = 3 * rng.standard_normal((10, 4))
    for sigma in [1e-2, 0.7, 30.0]:
        ref = mu + (C @ np.linalg.solve(C + sigma**2 * np.eye(4), (x - mu).T)).T
        np.testing.assert_allclose(den(x, sigma), ref, rtol=0, atol=1e-12 * np.abs(ref).max())
        # Jacobian of a single Gaussian: Sigma (Sigma + s^2 I)^-1, the same for every x
        J = den.jacobian(x, sigma)
        np.testing.assert_allclose(J, np.broadcast_to(C @ np.linalg.inv(C + sigma**2 * np.eye(4)),
                                                      J.shape), rtol=0, atol=1e-12)


def test_gaussian_mixture_jacobian_and_log_density_by_differences():
    rng = np.random.default_rng(14)
    g = random_gmm(rng, 3, 2)
    den = IdealDenoiser(g)
    for sigma in [0.3, 2.0]:
        x = g.noisy(10, sigma, rng)[0]
        J = den.jacobian(x, sigma)
        Jfd = central_diff_jacobian(lambda z, s=sigma: den(z, s), x, 1e-5)
        np.testing.assert_allclose(J, Jfd, rtol=0, atol=1e-7 * (1 + np.abs(J).max()))
        np.testing.assert_allclose(J, np.swapaxes(J, 1, 2), rtol=0, atol=1e-14)
        assert np.all(np.linalg.eigvalsh(J) >= -1e-13)
        h = 1e-5
        grad = np.stack([(den.log_density(x + h * e, sigma) - den.log_density(x - h * e, sigma))
                         / (2 * h) for e in np.eye(2)], axis=1)
        np.testing.assert_allclose(grad, den.score(x, sigma), rtol=0, atol=1e-7)


def test_gaussian_mixture_tends_to_delta_mixture():
    rng = np.random.default_rng(15)
    means = rng.standard_normal((5, 3))
    w = rng.uniform(0.2, 1, 5)
    g = IdealDenoiser(GaussianMixture(means, 1e-12 * np.ones((5, 3)), w))
    delta = IdealDenoiser(DeltaMixture(means, w))
    for sigma in [0.05, 0.5, 5.0]:
        x = near_queries(rng, delta.data, 20, np.full(20, sigma))
        # the covariance shifts variances by 1e-12 against sigma^2 >= 2.5e-3: ~1e-9 relative
        np.testing.assert_allclose(g(x, sigma), delta(x, sigma), rtol=0, atol=1e-8)
        np.testing.assert_allclose(g.posterior(x, sigma), delta.posterior(x, sigma), atol=1e-8)
        np.testing.assert_allclose(g.log_density(x, sigma), delta.log_density(x, sigma),
                                   rtol=1e-8)


# ----------------------------------------------------------------------------- numerics


def test_no_nan_or_inf_anywhere():
    rng = np.random.default_rng(16)
    data = random_data(rng, 50, 5, 1e3)
    den = IdealDenoiser(data)
    x = np.concatenate([1e3 * rng.uniform(-3, 3, (30, 5)), data.points[:10],
                        data.points[:10] + 1e-3])
    for sigma in SIGMAS:
        for f in (den, den.posterior, den.score, den.velocity, den.log_density, den.jacobian):
            assert np.all(np.isfinite(f(x, sigma))), (f, sigma)
        assert np.all(np.isfinite(den(x.astype(np.float32), sigma)))


def test_small_sigma_cancellation_is_repaired(path):
    # data at scale 1e3, query between two points far from the data mean, sigma = 1e-3:
    # the expansion's error eps |x| |y| / sigma^2 ~ 1e-4 in a logit, the log-odds here is 1
    rng = np.random.default_rng(17)
    d = 10
    pts = 1e3 * rng.uniform(-1, 1, (20, d))
    pts[1] = pts[0] + 1e-2 * rng.standard_normal(d)  # two close points far from the mean
    data = DeltaMixture(pts)
    sigma = 1e-3
    y1, y2 = pts[0], pts[1]
    L2 = np.sum((y2 - y1) ** 2)
    t = 0.5 + sigma**2 * 1.0 / L2  # log(pi2 / pi1) = 1
    x = (y1 + t * (y2 - y1))[None]
    ref = direct_denoiser(pts, data.weights, x, sigma)
    pi_ref = direct_posterior(pts, data.weights, x, sigma)
    np.testing.assert_allclose(pi_ref[0, :2], [1 / (1 + np.e), np.e / (1 + np.e)], rtol=1e-6)
    den = IdealDenoiser(data)
    assert np.abs(den(x, sigma) - ref).max() <= 1e-12 * 1e3
    assert np.abs(den.posterior(x, sigma) - pi_ref).max() <= 1e-12

    # the GEMM expansion alone (recentred on the data mean, as the module does) is wrong
    c = data.mean
    xc, yc = x - c, pts - c
    dist = (xc**2).sum(1)[:, None] - 2 * xc @ yc.T + (yc**2).sum(1)[None]
    logits = -dist / (2 * sigma**2)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert np.abs(p - pi_ref).max() > 1e-6


def test_many_equidistant_candidates():
    # the centre of a ring: every point is a candidate. At sigma = 1e-3 the expansion's
    # bound (~4e-10) is below the 1e-8 accepted for such rows, so they stay dense; at
    # sigma = 1e-6 (bound ~4e-4) every pair is recomputed by direct differences
    data = ring(2000, radius=1.0)
    den = IdealDenoiser(data)
    x = np.array([[0.0, 0.0], [1e-9, 0.0], [0.0, -3e-7]])
    for sigma, tol in [(1e-3, 1e-8), (1e-6, 1e-12)]:
        pi_ref = direct_posterior(data.points, data.weights, x, sigma)
        assert np.abs(den.posterior(x, sigma) - pi_ref).max() <= tol / data.N
        np.testing.assert_allclose(den(x, sigma), pi_ref @ data.points, rtol=0, atol=tol)


def test_float32_against_float64(path):
    rng = np.random.default_rng(18)
    data = random_data(rng, 40, 3, 1.0)
    den = IdealDenoiser(data)
    eps32 = np.finfo(np.float32).eps
    R = np.abs(data.points).max()
    for sigma in [0.0, 1e-3, 0.1, 1.0, 10.0]:
        x32 = near_queries(rng, data, 50, np.full(50, sigma)).astype(np.float32)
        D32 = den(x32, sigma)
        assert D32.dtype == np.float32
        for f in (den.posterior, den.score, den.velocity, den.jacobian, den.log_density):
            if sigma > 0 or f is den.posterior:
                assert f(x32, sigma).dtype == np.float32
        D64 = den(x32.astype(np.float64), sigma)  # same (rounded) queries
        # float32 sources: the data rounded to float32 (relative eps32), logits accepted
        # with an error bound of 64 eps32 (refined by direct differences beyond), and the
        # float32 average of the points: each moves D by a few eps32 R, so 1e3 eps32 R
        # (1.2e-4 R) is a bound with a wide margin, not a fitted number
        assert np.abs(D32 - D64).max() <= 1e3 * eps32 * R, sigma
    g = IdealDenoiser(random_gmm(rng, 2, 3))
    x = rng.standard_normal((10, 3))
    for f in (g, g.posterior, g.jacobian, g.log_density):
        assert f(x.astype(np.float32), 0.5).dtype == np.float32


def test_chunking_gives_the_same_result(monkeypatch):
    monkeypatch.setattr(denmod, "_DIRECT_MAX_BN", 0)  # the chunked path is the GEMM one
    rng = np.random.default_rng(19)
    data = random_data(rng, 37, 3, 1.0)
    den = IdealDenoiser(data)
    s = np.concatenate([np.zeros(5), np.logspace(-6, 4, 60)])
    x = near_queries(rng, data, 65, s)
    ref = [den(x, s), den.posterior(x, s), den.log_density(x[5:], s[5:]),
           den.jacobian(x[5:], s[5:])]
    monkeypatch.setattr(denmod, "_CHUNK_ELEMS", 50)  # one row per chunk (N = 37)
    small = IdealDenoiser(data)
    got = [small(x, s), small.posterior(x, s), small.log_density(x[5:], s[5:]),
           small.jacobian(x[5:], s[5:])]
    # the same numbers up to rounding: BLAS blocks a 1-row product differently, which moves
    # a logit by up to its accepted error bound (1e-12 absolute)
    for a, b in zip(ref, got):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    monkeypatch.setattr(denmod, "_CHUNK_ELEMS", 37 * 7)  # 7 rows, a ragged last chunk
    np.testing.assert_allclose(IdealDenoiser(data)(x, s), ref[0], rtol=0, atol=1e-12)
    # the refined rows (sigma = 0 and tiny sigma) are computed pair by pair: exactly equal
    np.testing.assert_array_equal(IdealDenoiser(data)(x[:10], s[:10]), ref[0][:10])


def test_empty_batch():
    den = IdealDenoiser(two_points())
    assert den(np.zeros((0, 2)), 1.0).shape == (0, 2)
    assert den.posterior(np.zeros((0, 2)), 1.0).shape == (0, 2)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("method", ["__call__", "posterior", "score", "velocity", "jacobian",
                                    "log_density"])
@pytest.mark.parametrize("x, sigma, word", [
    (np.zeros((3, 2)), -1.0, "sigma"),
    (np.zeros((3, 2)), np.nan, "sigma"),
    (np.zeros((3, 2)), np.inf, "sigma"),
    (np.zeros((3, 2)), np.ones(4), "sigma"),
    (np.zeros((3, 2)), np.ones((3, 1)), "sigma"),
    (np.array([[0.0, np.nan]]), 1.0, "x"),
    (np.array([[0.0, np.inf]]), 1.0, "x"),
    (np.zeros((3, 3)), 1.0, "x"),
    (np.zeros(2), 1.0, "x"),
    (np.zeros((1, 2, 1)), 1.0, "x"),
    (np.array([["a", "b"]]), 1.0, "x"),
])
def test_bad_input_raises_naming_the_argument(method, x, sigma, word):
    # a wrong type (strings) is a TypeError, a wrong value or shape a ValueError
    err = TypeError if x.dtype.kind in "US" else ValueError
    for data in (two_points(), GaussianMixture(np.zeros((1, 2)), 1.0)):
        f = getattr(IdealDenoiser(data), method)
        with pytest.raises(err, match=word):
            f(x, sigma)


@pytest.mark.parametrize("method", ["score", "velocity", "jacobian", "log_density"])
def test_sigma_zero_rejected_where_undefined(method):
    with pytest.raises(ValueError, match="sigma"):
        getattr(IdealDenoiser(two_points()), method)(np.zeros((1, 2)), 0.0)


@pytest.mark.parametrize("points, weights", [
    (np.zeros((0, 2)), None),
    ([[0.0, np.nan]], None),
    ([[0.0], [1.0]], [1.0, -0.5]),
    ([[0.0], [1.0]], [0.0, 0.0]),
])
def test_delta_mixture_validation(points, weights):
    with pytest.raises(ValueError):
        IdealDenoiser(DeltaMixture(points, weights))
    if weights is None:
        with pytest.raises(ValueError):
            IdealDenoiser(points)


# ----------------------------------------------------------------------------- invariants

_data = st.integers(0, 2**32 - 1)
_settings = settings(max_examples=25, deadline=None)


def _case(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 4))
    data = random_data(rng, int(rng.integers(1, 12)), d, 1.0)
    sigma = float(10 ** rng.uniform(-2, 1))
    x = near_queries(rng, data, 6, np.full(6, sigma))
    return rng, data, x, sigma


@_settings
@given(_data)
def test_permutation_of_data_leaves_D_unchanged(seed):
    rng, data, x, sigma = _case(seed)
    perm = rng.permutation(data.N)
    a = IdealDenoiser(data)(x, sigma)
    b = IdealDenoiser(DeltaMixture(data.points[perm], data.weights[perm]))(x, sigma)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * (1 + np.abs(data.points).max()))


@_settings
@given(_data, st.floats(-100, 100))
def test_translation_of_data_and_query_translates_D(seed, shift):
    rng, data, x, sigma = _case(seed)
    a = IdealDenoiser(data)(x, sigma)
    b = IdealDenoiser(DeltaMixture(data.points + shift, data.weights))(x + shift, sigma)
    # the shift is rounded into x and the points (eps |shift|) before anything else
    np.testing.assert_allclose(b - shift, a, rtol=0,
                               atol=1e-12 * (1 + np.abs(data.points).max() + abs(shift)))


@_settings
@given(_data, st.floats(1e-3, 1e3))
def test_scaling_data_query_and_sigma_scales_D(seed, c):
    rng, data, x, sigma = _case(seed)
    a = IdealDenoiser(data)(x, sigma)
    b = IdealDenoiser(DeltaMixture(c * data.points, data.weights))(c * x, c * sigma)
    np.testing.assert_allclose(b / c, a, rtol=0, atol=1e-12 * (1 + np.abs(data.points).max()))
