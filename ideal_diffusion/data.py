"""Data sets whose ideal denoiser E[x0 | x] is closed form.

* :class:`DeltaMixture` -- a finite data set, p_data(x0) = sum_j w_j delta(x0 - x0^j)
  (the lecture's "our dataset", with w_j = 1/N by default).
* :class:`GaussianMixture` -- sum_k w_k N(mu_k, Sigma_k); a delta mixture is its
  zero-covariance limit, and a single Gaussian has an exact PF-ODE trajectory.

Noising is variance exploding (VE), as in the lecture and EDM: x = x0 + sigma * eps,
eps ~ N(0, I).

Builders: :func:`two_points`, :func:`ring`, :func:`grid`, :func:`line_points` and
:func:`glyphs` (small grey images of characters rendered from matplotlib's bundled font).
"""
from __future__ import annotations

import numpy as np

from ._rng import as_rng

__all__ = [
    "DeltaMixture",
    "GaussianMixture",
    "two_points",
    "ring",
    "grid",
    "line_points",
    "glyphs",
    "as_rng",
]


def _check_weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"weights must have shape ({n},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be finite, >= 0, with a positive sum")
    return w / w.sum()


class _Mixture:
    """What both mixtures share: weights, sampling and VE noising."""

    weights: np.ndarray

    def sample(self, n: int, rng) -> np.ndarray:
        """Draw ``n`` clean samples x0 ~ p_data.

        Parameters
        ----------
        n : int
            Number of samples, >= 0.
        rng : numpy.random.Generator or int
            Source of randomness (same seed, same bits).

        Returns
        -------
        x0 : (n, d) float64 array
        """
        x0, _ = self._sample_with_labels(_check_n(n), as_rng(rng))
        return x0

    def noisy(self, n: int, sigma, rng):
        """Draw ``n`` noisy samples x = x0 + sigma * eps with x0 ~ p_data, eps ~ N(0, I).

        Parameters
        ----------
        n : int
            Number of samples.
        sigma : float or (n,) array
            Noise level(s), finite and >= 0.
        rng : numpy.random.Generator or int

        Returns
        -------
        x : (n, d) array
            The noisy samples.
        x0 : (n, d) array
            The clean samples they were made from.
        """
        rng = as_rng(rng)
        n = _check_n(n)
        s = np.asarray(sigma, dtype=np.float64)
        if s.ndim == 1 and s.shape != (n,) or s.ndim > 1:
            raise ValueError(f"sigma must be a scalar or have shape ({n},), got {s.shape}")
        if not np.all(np.isfinite(s)) or np.any(s < 0):
            raise ValueError("sigma must be finite and >= 0")
        x0 = self.sample(n, rng)
        eps = rng.standard_normal(x0.shape)
        return x0 + (s[:, None] if s.ndim == 1 else s) * eps, x0


def _check_n(n) -> int:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    return int(n)


class DeltaMixture(_Mixture):
    """A finite data set: p_data(x0) = sum_j w_j delta(x0 - x0^j).

    Parameters
    ----------
    points : (N, d) array_like
        The data points x0^j; finite, N >= 1, d >= 1. A 1-D array is read as N points in d = 1.
    weights : (N,) array_like, optional
        Non-negative weights with a positive sum, normalised here; uniform when omitted.

    Attributes
    ----------
    points : (N, d) float64 array
    weights : (N,) float64 array, sums to 1
    mean : (d,) float64 array, the weighted mean (the ideal denoiser's sigma -> inf limit)

    Raises
    ------
    ValueError
        On an empty, non-finite or wrongly shaped ``points``, or bad ``weights``.
    """

    def __init__(self, points, weights=None):
        p = np.array(points, dtype=np.float64)
        if p.ndim == 1:
            p = p[:, None]
        if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
            raise ValueError(f"points must have shape (N, d) with N >= 1, d >= 1, got {p.shape}")
        if not np.all(np.isfinite(p)):
            raise ValueError("points must be finite")
        self.points = p
        self.weights = _check_weights(weights, p.shape[0])
        self.mean = self.weights @ p

    @property
    def N(self) -> int:
        return self.points.shape[0]

    @property
    def d(self) -> int:
        return self.points.shape[1]

    def _sample_with_labels(self, n, rng):
        j = rng.choice(self.N, size=n, p=self.weights)
        return self.points[j].copy(), j

    def __repr__(self):
        return f"DeltaMixture(N={self.N}, d={self.d})"


class GaussianMixture(_Mixture):
    """p_data(x0) = sum_k w_k N(x0 | mu_k, Sigma_k).

    Each covariance is eigendecomposed once, Sigma_k = U_k diag(lam_k) U_k^T, so that
    (Sigma_k + sigma^2 I)^-1 at any sigma is an eigenvalue shift (see the denoiser).

    Parameters
    ----------
    means : (K, d) array_like
    covs : (K, d, d) array_like, (K, d) array_like (diagonals), or a scalar variance
        Symmetric positive semi-definite; zero covariance gives a delta mixture.
    weights : (K,) array_like, optional

    Raises
    ------
    ValueError
        On bad shapes, non-finite values, or a covariance that is not symmetric PSD.
    """

    def __init__(self, means, covs, weights=None):
        mu = np.array(means, dtype=np.float64)
        if mu.ndim == 1:
            mu = mu[None, :]
        if mu.ndim != 2 or mu.shape[0] < 1 or not np.all(np.isfinite(mu)):
            raise ValueError(f"means must be a finite (K, d) array, got shape {mu.shape}")
        K, d = mu.shape
        c = np.array(covs, dtype=np.float64)
        if c.ndim == 0:
            c = np.broadcast_to(c * np.eye(d), (K, d, d)).copy()
        elif c.shape == (K, d):
            c = np.einsum("ki,ij->kij", c, np.eye(d))
        elif c.shape == (d, d) and K == 1:
            c = c[None]
        if c.shape != (K, d, d) or not np.all(np.isfinite(c)):
            raise ValueError(
                f"covs must be finite with shape ({K}, {d}, {d}), ({K}, {d}) or scalar"
            )
        if not np.allclose(c, np.swapaxes(c, 1, 2), rtol=1e-12, atol=1e-12 * (1 + np.abs(c).max())):
            raise ValueError("covs must be symmetric")
        lam, U = np.linalg.eigh(c)
        if np.any(lam < -1e-10 * (1 + np.abs(lam).max())):
            raise ValueError("covs must be positive semi-definite")
        self.means = mu
        self.covs = c
        self.eigvals = np.clip(lam, 0.0, None)  # (K, d)
        self.eigvecs = U  # (K, d, d), columns are eigenvectors
        self.weights = _check_weights(weights, K)
        self.mean = self.weights @ mu

    @property
    def K(self) -> int:
        return self.means.shape[0]

    @property
    def d(self) -> int:
        return self.means.shape[1]

    def _sample_with_labels(self, n, rng):
        k = rng.choice(self.K, size=n, p=self.weights)
        z = rng.standard_normal((n, self.d))
        # x0 = mu_k + U_k diag(sqrt(lam_k)) z
        x0 = self.means[k] + np.einsum("nij,nj->ni", self.eigvecs[k], np.sqrt(self.eigvals[k]) * z)
        return x0, k

    def __repr__(self):
        return f"GaussianMixture(K={self.K}, d={self.d})"


# ----------------------------------------------------------------------------- builders


def two_points(distance: float = 2.0, d: int = 2, weights=None) -> DeltaMixture:
    """Two deltas at -distance/2 and +distance/2 along the first axis (the lecture's example).

    Raises
    ------
    ValueError
        If ``distance`` <= 0 or ``d`` < 1.
    """
    if not distance > 0 or d < 1:
        raise ValueError("distance must be > 0 and d >= 1")
    p = np.zeros((2, d))
    p[0, 0], p[1, 0] = -distance / 2, distance / 2
    return DeltaMixture(p, weights)


def ring(n: int = 8, radius: float = 1.0) -> DeltaMixture:
    """``n`` equally weighted points on a circle of ``radius`` in 2-D (first point on +x)."""
    if n < 1 or not radius > 0:
        raise ValueError("n must be >= 1 and radius > 0")
    a = 2 * np.pi * np.arange(n) / n
    return DeltaMixture(radius * np.stack([np.cos(a), np.sin(a)], axis=1))


def grid(k: int = 3, spacing: float = 1.0) -> DeltaMixture:
    """A k x k square grid of points in 2-D, centred on the origin."""
    if k < 1 or not spacing > 0:
        raise ValueError("k must be >= 1 and spacing > 0")
    c = spacing * (np.arange(k) - (k - 1) / 2)
    xx, yy = np.meshgrid(c, c, indexing="xy")
    return DeltaMixture(np.stack([xx.ravel(), yy.ravel()], axis=1))


def line_points(points=(-2.0, -0.5, 1.0, 2.5), weights=None) -> DeltaMixture:
    """A few points on the real line (d = 1); default four unequally spaced points."""
    return DeltaMixture(np.asarray(points, dtype=np.float64)[:, None], weights)


def glyphs(chars: str = "0123456789", size: int = 16, supersample: int = 4) -> DeltaMixture:
    """Small grey images of characters, rendered from matplotlib's bundled DejaVu Sans.

    Each glyph outline is rasterised by point-in-path tests on a supersampled grid and
    box-averaged, so the result is deterministic (no renderer, no download). Pixels are
    scaled to [-1, 1] (-1 background, +1 ink), as image diffusion models see them.

    Parameters
    ----------
    chars : str
        The characters, one image each (N = len(chars)), all distinct.
    size : int
        Side of the square image in pixels, 8..64; d = size**2.
    supersample : int
        Sub-pixels per pixel side for anti-aliasing, 1..8.

    Returns
    -------
    DeltaMixture with points of shape (len(chars), size * size), row-major images.
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.path import Path as MplPath
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    if not chars or len(set(chars)) != len(chars):
        raise ValueError("chars must be a non-empty string of distinct characters")
    if not 8 <= size <= 64:
        raise ValueError(f"size must be in [8, 64], got {size}")
    if not 1 <= supersample <= 8:
        raise ValueError(f"supersample must be in [1, 8], got {supersample}")
    font = FontProperties(family="DejaVu Sans", weight="bold")
    m = size * supersample
    # sub-pixel centres in [0, 1]^2, image row 0 at the top
    c = (np.arange(m) + 0.5) / m
    xx, yy = np.meshgrid(c, 1.0 - c, indexing="xy")
    centres = np.stack([xx.ravel(), yy.ravel()], axis=1)
    images = []
    for ch in chars:
        path = TextPath((0, 0), ch, size=1.0, prop=font)
        v = path.vertices
        lo, hi = v.min(axis=0), v.max(axis=0)
        scale = 0.8 / max(hi - lo)  # the glyph fills 80% of the box, centred
        offset = 0.5 - scale * (lo + hi) / 2
        glyph = path.transformed(Affine2D().scale(scale).translate(*offset))
        # even-odd rule over the outline's polygons, so that the holes of 0, 8, A stay open
        inside = np.zeros(len(centres), dtype=bool)
        for poly in glyph.to_polygons(closed_only=True):
            inside ^= MplPath(poly).contains_points(centres)
        inside = inside.reshape(m, m).astype(np.float64)
        ink = inside.reshape(size, supersample, size, supersample).mean(axis=(1, 3))
        images.append(2.0 * ink.ravel() - 1.0)
    return DeltaMixture(np.array(images))
