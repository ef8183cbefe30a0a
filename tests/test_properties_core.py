"""Property tests (hypothesis) of the ideal denoiser and the samplers, over wide ranges.

Denoiser: sigma from 1e-8 to 1e6 times the data scale, data scales from 1e-6 to 1e4,
d up to 3072 (with N * B kept small there), float32 and float64. Facts checked: the output
is finite and inside the data's bounding box (D is a convex combination of the points), the
posterior is a probability vector, and score = (D - x) / sigma^2 (Tweedie).
Samplers: Euler on a single point is exact, float32 stays float32, states stay finite.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ideal_diffusion import DeltaMixture, IdealDenoiser, sample, sampling_grid

DTYPES = st.sampled_from([np.float32, np.float64])


@st.composite
def problems(draw):
    """(data, x, sigma, dtype): random data at a random scale, queries near it or in its box."""
    seed = draw(st.integers(0, 2**32 - 1))
    d = draw(st.sampled_from([1, 2, 3, 16, 64, 784, 3072]))
    big = d >= 784
    N = draw(st.integers(1, 4 if big else 30))
    B = draw(st.integers(1, 3 if big else 40))
    scale = 10.0 ** draw(st.floats(-6, 4))
    rel = 10.0 ** draw(st.floats(-8, 6))  # sigma / scale
    dtype = draw(DTYPES)
    near = draw(st.booleans())
    rng = np.random.default_rng(seed)
    points = scale * (rng.standard_normal((N, d)) + draw(st.floats(-3, 3)))
    weights = rng.uniform(0.05, 1.0, N)
    sigma = rel * scale
    if near:  # what a sampler meets at sigma
        x = points[rng.integers(0, N, B)] + sigma * rng.standard_normal((B, d))
    else:  # anywhere in (a box around) the data
        lo, hi = points.min(0) - scale, points.max(0) + scale
        x = rng.uniform(lo, hi, (B, d))
    return DeltaMixture(points, weights), x.astype(dtype), sigma, dtype


def _tol(dtype, R):
    """A rounding allowance: a few hundred eps of the data magnitude."""
    return 256 * np.finfo(dtype).eps * R


@settings(max_examples=400, deadline=None)
@given(problems())
def test_denoiser_finite_inside_hull_posterior_is_a_distribution(prob):
    data, x, sigma, dtype = prob
    den = IdealDenoiser(data)
    D = den(x, sigma)
    assert D.dtype == dtype and D.shape == x.shape
    assert np.all(np.isfinite(D))
    R = np.abs(data.points).max() + np.abs(x).max()
    lo, hi = data.points.min(axis=0), data.points.max(axis=0)
    tol = _tol(dtype, R)
    assert np.all(D >= lo - tol) and np.all(D <= hi + tol)
    p = den.posterior(x, sigma)
    assert p.dtype == dtype and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=64 * np.finfo(dtype).eps)


@settings(max_examples=300, deadline=None)
@given(problems())
def test_score_identity(prob):
    data, x, sigma, dtype = prob
    den = IdealDenoiser(data)
    try:
        score = den.score(x, sigma)
    except ValueError as e:  # refused: beyond the dtype's range, said so
        assert "overflows" in str(e)
        assume(False)
    assert score.dtype == dtype and np.all(np.isfinite(score))
    D = den(x, sigma).astype(np.float64)
    xd = x.astype(np.float64)
    # score * sigma^2 = D - x, up to the rounding of D, x and the score to the dtype
    lhs = score.astype(np.float64) * sigma * sigma
    tol = 8 * np.finfo(dtype).eps * (np.abs(D) + np.abs(xd))
    assert np.all(np.abs(lhs - (D - xd)) <= tol + 1e-300)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 12), st.sampled_from([1, 2, 64]),
       st.floats(-4, 3), DTYPES)
def test_euler_on_a_single_point_is_exact(seed, steps, d, log_scale, dtype):
    # D = y at every sigma, so dx/dsigma = (x - y)/sigma is linear and Euler is exact:
    # x(s) = y + (s / s_0)(x_T - y)
    rng = np.random.default_rng(seed)
    y = 10.0**log_scale * rng.standard_normal(d)
    x_T = (y + 80.0 * rng.standard_normal((5, d))).astype(dtype)
    s = sampling_grid(steps)
    x, states, _ = sample(IdealDenoiser(y[None]), x_T, s, "euler", return_trajectory=True)
    assert x.dtype == states.dtype == dtype
    want = y + (s[-1] / s[0]) * (x_T.astype(np.float64) - y)
    R = np.abs(y).max() + np.abs(x_T).max()
    np.testing.assert_allclose(x, want, rtol=0, atol=8 * steps * np.finfo(dtype).eps * R)


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 10), st.sampled_from(["euler", "heun",
                                                                       "dpmpp_2m"]),
       st.booleans(), DTYPES)
def test_sampler_states_finite_and_keep_dtype(seed, steps, solver, to_zero, dtype):
    rng = np.random.default_rng(seed)
    data = DeltaMixture(rng.standard_normal((int(rng.integers(1, 20)), 2)))
    s = sampling_grid(steps)
    if to_zero:
        s = np.append(s, 0.0)
    x_T = (80.0 * rng.standard_normal((16, 2))).astype(dtype)
    x, states, denoised = sample(IdealDenoiser(data), x_T, s, solver, return_trajectory=True)
    assert x.dtype == states.dtype == denoised.dtype == dtype
    assert np.all(np.isfinite(states)) and np.all(np.isfinite(denoised))
    if to_zero:  # the last step to 0 lands on D: exactly for DPM-Solver++ (its limit),
        # up to the rounding of x - s (x - D) / s for Euler and Heun (Euler there)
        tol = 0 if solver == "dpmpp_2m" else 4 * np.finfo(dtype).eps * np.abs(states[-2]).max()
        np.testing.assert_allclose(x, denoised[-1], rtol=0, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hull_at_extreme_scales(dtype):
    # the corners of the property space, deterministic: scale 1e-6 and 1e4, sigma ratio
    # 1e-8 and 1e6, d = 3072 with two points and two queries
    rng = np.random.default_rng(0)
    for scale in (1e-6, 1e4):
        pts = scale * rng.standard_normal((2, 3072))
        den = IdealDenoiser(pts)
        for rel in (1e-8, 1e6):
            x = (pts + rel * scale * rng.standard_normal((2, 3072))).astype(dtype)
            D = den(x, rel * scale)
            assert np.all(np.isfinite(D))
            tol = _tol(dtype, np.abs(pts).max() + np.abs(x).max())
            assert np.all(D >= pts.min(0) - tol) and np.all(D <= pts.max(0) + tol)
