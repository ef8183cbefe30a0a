"""Exact facts about trajectory geometry, convergence orders and sample quality."""
import numpy as np
import pytest

from ideal_diffusion import DeltaMixture, GaussianMixture, IdealDenoiser, karras_sigmas, ring
from ideal_diffusion.geometry import (
    arc_chord_ratio,
    chord_deviation,
    convergence,
    denoiser_drift,
    exact_endpoints,
    first_step_angle,
    fit_order,
    nearest_point,
    posterior_entropy,
    sample_quality,
    trajectory_geometry,
)
from ideal_diffusion.solvers import sample, solve_ode

SIG = karras_sigmas(20)  # 19 steps 80 -> 0.002, then one to 0 (descending)


def _x_T(B=32, d=2, seed=0):
    return 80.0 * np.random.default_rng(seed).standard_normal((B, d))


def test_single_point_is_straight_with_zero_drift():
    # One data point: D = x0 everywhere, so dx/dsigma = (x - x0)/sigma is linear in the state
    # and the path is exactly x0 + (x_T - x0) sigma/sigma_T.
    den = IdealDenoiser(DeltaMixture([[0.3, -0.7]]))
    _, states, _ = sample(den, _x_T(), SIG, "heun", return_trajectory=True)
    g = trajectory_geometry(states, den, SIG)
    scale = np.abs(states).max()
    assert np.all(g.chord_deviation <= 1e-13 * scale)
    assert np.all(g.relative_chord_deviation <= 1e-14)
    np.testing.assert_allclose(g.arc_chord_ratio, 1.0, atol=1e-13)
    assert np.all(g.first_step_angle <= 1e-12)
    np.testing.assert_array_equal(g.drift, 0.0)  # ends at sigma = 0 on x0 exactly


def test_single_gaussian_is_straight_but_drifts():
    g = GaussianMixture(np.array([[0.5, -0.3]]), 0.25)
    den = IdealDenoiser(g)
    s = karras_sigmas(20, append_zero=False)
    x_T = _x_T()
    _, states, _ = sample(den, x_T, s, "heun", return_trajectory=True)
    # straight rays through mu: chord deviation zero to rounding
    assert np.all(chord_deviation(states, relative=True) <= 1e-13)
    assert np.all(first_step_angle(states) <= 1e-12)
    drift = denoiser_drift(den, states, s)
    # D = mu + s^2/(s^2 + sigma^2)(x - mu) slides along the ray: at sigma_T it is ~mu,
    # far from x_end ~ mu + (x_T - mu) * 0.5/80
    x_end = states[-1]
    np.testing.assert_allclose(drift[0], np.linalg.norm(den(x_T, 80.0) - x_end, axis=1))
    assert np.all(drift > 0)
    assert np.median(drift[0]) > 0.3


def test_ring_mixture_is_curved():
    den = IdealDenoiser(ring(8))
    _, states, _ = sample(den, _x_T(64), SIG, "heun", return_trajectory=True)
    g = trajectory_geometry(states, den, SIG)
    assert np.median(g.chord_deviation) > 0.05
    assert np.all(g.chord_deviation > 0)
    assert np.median(g.arc_chord_ratio) > 1.0 + 1e-4
    assert np.median(g.first_step_angle) > 1e-4
    assert np.all(g.drift[-1] <= 1e-12)  # ends on a data point (D = x_end up to rounding)
    assert np.median(g.drift[0]) > 0.5  # starts at D = the data mean (0), ~1 from a point


def test_chord_deviation_of_known_polyline():
    # x_T = (0,0), (1, 2), x_end = (4, 0): the middle point is 2 from the chord
    states = np.array([[[0.0, 0.0]], [[1.0, 2.0]], [[4.0, 0.0]]])
    np.testing.assert_allclose(chord_deviation(states), [2.0])
    np.testing.assert_allclose(chord_deviation(states, relative=True), [0.5])
    np.testing.assert_allclose(arc_chord_ratio(states), [(np.sqrt(5) + np.sqrt(13)) / 4])
    np.testing.assert_allclose(first_step_angle(states), [np.arctan2(2.0, 1.0)])


def test_orders_on_single_gaussian():
    den = IdealDenoiser(GaussianMixture(np.array([[0.5, -0.3]]), 0.25))
    r = convergence(den, _x_T(64), steps=(8, 16, 32, 64), solvers=("euler", "heun", "dpmpp_2m"))
    assert abs(r.order[0] - 1.0) < 0.15, r.table()
    assert abs(r.order[1] - 2.0) < 0.15, r.table()
    assert abs(r.order[2] - 2.0) < 0.3, r.table()
    np.testing.assert_array_equal(r.switched, 0)  # one component: nothing can switch
    np.testing.assert_array_equal(r.nfe[1], 2 * r.steps)  # Heun without a trailing 0
    # the reference is the closed form mu + (x_T - mu) sqrt(s^2 + sigma^2)/sqrt(s^2 + sigma_T^2)
    mu = np.array([0.5, -0.3])
    exact = mu + (_x_T(64) - mu) * np.sqrt(0.25 + 0.002 ** 2) / np.sqrt(0.25 + 80.0 ** 2)
    np.testing.assert_allclose(r.reference, exact, atol=1e-8)


def test_convergence_counts_switched_samples_and_keeps_them():
    den = IdealDenoiser(ring(8))
    x_T = _x_T(64, seed=3)
    r = convergence(den, x_T, steps=(1, 2, 3, 8, 16), solvers=("euler", "heun"),
                    sigma_end=0.002, fit_min_steps=8)
    assert r.errors.shape == (2, 5, 64)
    # the switched count is recomputed here by hand for Heun, n = 3
    sig = karras_sigmas(4, 0.002, 80.0, append_zero=False)
    x3 = sample(den, x_T, sig, "heun")
    ref = solve_ode(den, x_T, 80.0, 0.002)
    by_hand = np.sum(np.argmax(den.posterior(x3, 0.002), 1) != np.argmax(den.posterior(ref,
                                                                                      0.002), 1))
    assert r.switched[1, 2] == by_hand
    assert r.switched.max() > 0  # few-step Heun on the EDM grid does switch targets
    # nothing excluded: the median is over all 64 errors, switched ones included
    np.testing.assert_array_equal(r.median, np.median(r.errors, axis=2))
    # few-step Heun is far worse than Euler here (corrector divides by a small sigma)
    assert r.median[1, 0] > 100 * r.median[0, 0]
    assert np.all(np.isfinite(r.slope))


def test_fit_order_exact_power_law_and_zero_error():
    n = np.array([4, 8, 16, 32])
    assert fit_order(n, 3.0 * n ** -2.0) == pytest.approx(-2.0, abs=1e-12)
    assert np.isnan(fit_order(n, np.array([1.0, 0.5, 0.0, 0.1])))


def test_sample_quality_exact_numbers():
    data = DeltaMixture([[-1.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    exact = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 3.0], [1.0, 0.0]])
    samples = np.array([[-0.9, 0.0], [1.0, 0.0], [0.0, 2.0], [-0.2, 0.0]])
    q = sample_quality(data, samples, exact)
    np.testing.assert_allclose(q.dist_to_exact, [0.1, 0.0, 1.0, 1.2])
    np.testing.assert_allclose(q.dist_to_data, [0.1, 0.0, 1.0, 0.8])
    np.testing.assert_array_equal(q.nearest, [0, 1, 2, 0])
    np.testing.assert_array_equal(q.same_basin, [True, True, True, False])
    assert q.frac_same_basin == 0.75
    assert q.median_dist_to_exact == pytest.approx(0.55)
    assert q.median_dist_to_data == pytest.approx(0.45)


def test_exact_endpoints_are_data_points_and_many_steps_agree():
    data = ring(8)
    x_T = _x_T(16, seed=4)
    ex = exact_endpoints(data, x_T)
    idx, dist = nearest_point(data, ex)
    np.testing.assert_array_equal(dist, 0.0)
    x = sample(IdealDenoiser(data), x_T, karras_sigmas(64), "heun")
    assert sample_quality(data, x, ex).frac_same_basin == 1.0


def test_posterior_entropy_limits():
    den = IdealDenoiser(ring(8))
    x = np.array([[0.0, 0.0], [1.0, 0.0]])
    h = posterior_entropy(den, x, 1e4)
    np.testing.assert_allclose(h, np.log(8), atol=1e-6)
    assert posterior_entropy(den, x[1:], 1e-3)[0] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("kwargs, word", [
    (dict(steps=(8, 8)), "steps"),
    (dict(steps=(0, 8)), "steps"),
    (dict(solvers=("rk4",)), "solvers"),
    (dict(sigma_end=100.0), "sigma_end"),
    (dict(grid="cosine"), "grid"),
    (dict(steps=(2, 4), fit_min_steps=4), "fit_min_steps"),
])
def test_convergence_bad_input(kwargs, word):
    den = IdealDenoiser(ring(4))
    with pytest.raises(ValueError, match=word):
        convergence(den, _x_T(4), **kwargs)


def test_trajectory_bad_input():
    with pytest.raises(ValueError, match="states"):
        chord_deviation(np.zeros((1, 3, 2)))
    with pytest.raises(ValueError, match="states"):
        arc_chord_ratio(np.full((3, 2, 2), np.nan))
    den = IdealDenoiser(ring(4))
    with pytest.raises(ValueError, match="sigmas"):
        denoiser_drift(den, np.zeros((3, 2, 2)), [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="samples"):
        sample_quality(ring(4), np.zeros((3, 3)), np.zeros((3, 3)))
