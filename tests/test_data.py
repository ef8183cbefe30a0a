"""The data classes (DeltaMixture, GaussianMixture) and the builders."""
from __future__ import annotations

import numpy as np
import pytest

from ideal_diffusion.data import (
    DeltaMixture,
    GaussianMixture,
    as_rng,
    glyphs,
    grid,
    line_points,
    ring,
    two_points,
)

# ----------------------------------------------------------------------------- DeltaMixture


def test_delta_mixture_normalises_weights_and_mean():
    m = DeltaMixture([[0.0, 0.0], [2.0, 4.0]], weights=[1.0, 3.0])
    np.testing.assert_array_equal(m.weights, [0.25, 0.75])
    np.testing.assert_array_equal(m.mean, [1.5, 3.0])
    assert (m.N, m.d) == (2, 2)
    u = DeltaMixture(np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(u.weights, [1 / 3] * 3)


def test_delta_mixture_reads_1d_points_as_d1():
    m = DeltaMixture([1.0, 2.0, 3.0])
    assert m.points.shape == (3, 1)


def test_delta_mixture_copies_its_input():
    p = np.zeros((2, 2))
    m = DeltaMixture(p)
    p[0, 0] = 5.0
    assert m.points[0, 0] == 0.0


@pytest.mark.parametrize("points, weights, word", [
    (np.zeros((0, 2)), None, "points"),
    (np.zeros((2, 0)), None, "points"),
    (np.zeros((2, 2, 2)), None, "points"),
    ([[0.0, np.nan]], None, "points"),
    ([[0.0, np.inf]], None, "points"),
    ([[0.0], [1.0]], [1.0, -0.5], "weights"),
    ([[0.0], [1.0]], [0.0, 0.0], "weights"),
    ([[0.0], [1.0]], [1.0, np.nan], "weights"),
    ([[0.0], [1.0]], [1.0, 2.0, 3.0], "weights"),
])
def test_delta_mixture_validation(points, weights, word):
    with pytest.raises(ValueError, match=word):
        DeltaMixture(points, weights)


def test_delta_mixture_sample_and_noisy():
    m = DeltaMixture([[0.0], [10.0]], weights=[1.0, 3.0])
    x0 = m.sample(4000, 0)
    assert x0.shape == (4000, 1)
    assert set(np.unique(x0)) <= {0.0, 10.0}
    # fraction of the heavy point: 0.75 +- 4 standard deviations
    assert abs(np.mean(x0 == 10.0) - 0.75) < 4 * np.sqrt(0.75 * 0.25 / 4000)
    np.testing.assert_array_equal(m.sample(10, 7), m.sample(10, np.random.default_rng(7)))
    x, x0 = m.noisy(5000, 2.0, 1)
    assert x.shape == x0.shape == (5000, 1)
    eps = (x - x0) / 2.0
    assert abs(eps.mean()) < 4 / np.sqrt(5000) and abs(eps.std() - 1) < 0.05
    s = np.linspace(0, 1, 5000)
    x, x0 = m.noisy(5000, s, 1)
    np.testing.assert_array_equal(x[0], x0[0])  # sigma = 0 row is clean
    assert m.sample(0, 0).shape == (0, 1)


@pytest.mark.parametrize("args, word", [
    ((-1, 1.0, 0), "n"),
    ((2.5, 1.0, 0), "n"),
    ((3, -1.0, 0), "sigma"),
    ((3, np.nan, 0), "sigma"),
    ((3, np.ones(2), 0), "sigma"),
    ((3, 1.0, None), "rng"),
    ((3, 1.0, np.random.RandomState(0)), "rng"),
])
def test_noisy_validation(args, word):
    # a float count, or an rng that is not a Generator or a seed: a wrong type
    err = TypeError if isinstance(args[0], float) or word == "rng" else ValueError
    with pytest.raises(err, match=word):
        two_points().noisy(*args)


def test_as_rng():
    g = np.random.default_rng(3)
    assert as_rng(g) is g
    assert as_rng(3).integers(1 << 30) == np.random.default_rng(3).integers(1 << 30)
    for bad in (None, 1.5, True, "3", np.random.RandomState(0)):  # not a Generator or a seed
        with pytest.raises(TypeError, match="rng"):
            as_rng(bad)


# ----------------------------------------------------------------------------- GaussianMixture


def test_gaussian_mixture_covariance_forms():
    mu = np.zeros((2, 3))
    full = GaussianMixture(mu, np.stack([np.eye(3), 2 * np.eye(3)]))
    diag = GaussianMixture(mu, [[1.0] * 3, [2.0] * 3])
    np.testing.assert_array_equal(full.covs, diag.covs)
    scalar = GaussianMixture(mu, 0.5)
    np.testing.assert_array_equal(scalar.covs, np.broadcast_to(0.5 * np.eye(3), (2, 3, 3)))
    one = GaussianMixture(np.ones(3), np.eye(3))
    assert (one.K, one.d) == (1, 3)
    np.testing.assert_array_equal(one.mean, np.ones(3))


def test_gaussian_mixture_eigendecomposition_reconstructs_covariance():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((2, 4, 4))
    covs = A @ np.swapaxes(A, 1, 2)
    g = GaussianMixture(rng.standard_normal((2, 4)), covs)
    U, lam = g.eigvecs, g.eigvals
    np.testing.assert_allclose(np.einsum("kij,kj,klj->kil", U, lam, U), covs, atol=1e-12)
    assert np.all(lam >= 0)


@pytest.mark.parametrize("means, covs, weights, word", [
    (np.zeros((1, 2)), np.array([[[1.0, 0.5], [0.0, 1.0]]]), None, "symmetric"),
    (np.zeros((1, 2)), np.array([[[1.0, 0.0], [0.0, -1.0]]]), None, "semi-definite"),
    (np.zeros((1, 2)), np.ones((1, 3, 3)), None, "covs"),
    (np.full((1, 2), np.nan), 1.0, None, "means"),
    (np.zeros((2, 2)), 1.0, [1.0, -1.0], "weights"),
])
def test_gaussian_mixture_validation(means, covs, weights, word):
    with pytest.raises(ValueError, match=word):
        GaussianMixture(means, covs, weights)


def test_gaussian_mixture_sample_moments():
    mu = np.array([1.0, -2.0])
    C = np.array([[2.0, 0.6], [0.6, 0.5]])
    x = GaussianMixture(mu, C).sample(20000, 0)
    assert np.abs(x.mean(axis=0) - mu).max() < 4 * np.sqrt(2.0 / 20000)
    np.testing.assert_allclose(np.cov(x.T), C, atol=0.06)


# ----------------------------------------------------------------------------- builders


def test_two_points():
    m = two_points(3.0, d=4)
    np.testing.assert_array_equal(m.points, [[-1.5, 0, 0, 0], [1.5, 0, 0, 0]])
    np.testing.assert_array_equal(m.mean, np.zeros(4))
    with pytest.raises(ValueError):
        two_points(0.0)


def test_ring():
    m = ring(6, radius=2.0)
    np.testing.assert_allclose(np.linalg.norm(m.points, axis=1), 2.0, rtol=1e-15)
    np.testing.assert_allclose(m.points[0], [2.0, 0.0])
    np.testing.assert_allclose(m.mean, 0.0, atol=1e-15)
    with pytest.raises(ValueError):
        ring(0)


def test_grid():
    m = grid(3, spacing=2.0)
    assert m.points.shape == (9, 2)
    assert set(np.unique(m.points)) == {-2.0, 0.0, 2.0}
    np.testing.assert_array_equal(m.mean, [0.0, 0.0])


def test_line_points():
    m = line_points()
    assert m.d == 1 and m.N == 4
    m = line_points([0.0, 1.0], weights=[1.0, 3.0])
    np.testing.assert_array_equal(m.weights, [0.25, 0.75])


def test_glyphs_are_deterministic_images_in_range():
    a = glyphs("018", size=12, supersample=2)
    b = glyphs("018", size=12, supersample=2)
    assert a.points.shape == (3, 144)
    np.testing.assert_array_equal(a.points, b.points)
    assert a.points.min() >= -1.0 and a.points.max() <= 1.0
    # every glyph has ink and background, the glyphs differ, and 0 and 8 keep their holes
    assert np.all(a.points.max(axis=1) > 0.5) and np.all(a.points.min(axis=1) == -1.0)
    assert np.all(np.abs(a.points[0] - a.points[2]).max() > 0.5)
    centre = a.points.reshape(3, 12, 12)[:, 6, 6]
    assert centre[0] < 0  # the hole of the 0


@pytest.mark.parametrize("kwargs", [dict(chars=""), dict(chars="aa"), dict(size=4),
                                    dict(supersample=0)])
def test_glyphs_validation(kwargs):
    with pytest.raises(ValueError):
        glyphs(**kwargs)
