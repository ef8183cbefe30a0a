"""Data sets whose ideal denoiser E[x0 | x] is closed form.

* :class:`DeltaMixture` -- a finite data set, p_data(x0) = sum_j w_j delta(x0 - x0^j)
  (the lecture's "our dataset", with w_j = 1/N by default).
* :class:`GaussianMixture` -- sum_k w_k N(mu_k, Sigma_k); a delta mixture is its
  zero-covariance limit, and a single Gaussian has an exact PF-ODE trajectory.

Noising is variance exploding (VE), as in the lecture and EDM: x = x0 + sigma * eps,
eps ~ N(0, I).

Builders: :func:`two_points`, :func:`ring`, :func:`grid`, :func:`line_points`,
:func:`clusters` (an asymmetric 2-D set of 20 points for the distillation measurements),
:func:`digits` (scikit-learn's bundled 8x8 handwritten digits, d = 64; a *memorising* teacher),
:func:`digits_gmm` (a Gaussian mixture fitted to them; a *generalising* teacher) and :func:`glyphs`
(small grey images of characters rendered from matplotlib's bundled font; needs no extra).
"""
from __future__ import annotations

import numpy as np

from . import _validate as _v
from ._rng import as_rng

__all__ = [
    "DeltaMixture",
    "GaussianMixture",
    "two_points",
    "ring",
    "grid",
    "line_points",
    "clusters",
    "digits",
    "digits_gmm",
    "glyphs",
    "as_rng",
]


_NOISY_SIGMA_MAX = 1e300  # sigma * eps must stay finite: |eps| < 1e8 always holds


def _check_weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = _real_array(weights, "weights")
    if w.shape != (n,):
        raise ValueError(f"weights must have shape ({n},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.max() > 0:
        raise ValueError("weights must be finite, >= 0, with a positive sum")
    w = w / w.max()  # first into (0, 1]: a sum of huge weights (1e308 each) cannot overflow
    return w / w.sum()


def _real_array(a, name: str) -> np.ndarray:
    """``a`` as a float64 array, refusing None, strings, objects, ragged and complex data."""
    return _v.real_array(a, name, finite=False)


def _check_int(v, name: str, lo: int, hi: int | None = None) -> int:
    return _v.integer(v, name, lo, hi)


def _check_pos(v, name: str) -> float:
    return _v.real(v, name, 0.0, lo_open=True)


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
            Noise level(s) in [0, 1e300] (larger ones would overflow x).
        rng : numpy.random.Generator or int

        Returns
        -------
        x : (n, d) array
            The noisy samples.
        x0 : (n, d) array
            The clean samples they were made from.

        Raises
        ------
        ValueError
            On a bad ``n``, a sigma outside [0, 1e300] or of the wrong shape, or samples
            that overflow the float64 range (data near 1e308).
        """
        rng = as_rng(rng)
        n = _check_n(n)
        s = _real_array(sigma, "sigma")
        if s.ndim == 1 and s.shape != (n,) or s.ndim > 1:
            raise ValueError(f"sigma must be a scalar or have shape ({n},), got {s.shape}")
        if not np.all(np.isfinite(s)) or np.any(s < 0) or np.any(s > _NOISY_SIGMA_MAX):
            raise ValueError(f"sigma must be in [0, {_NOISY_SIGMA_MAX:g}], got {sigma!r}")
        x0 = self.sample(n, rng)
        eps = rng.standard_normal(x0.shape)
        with np.errstate(over="ignore", invalid="ignore"):
            x = x0 + (s[:, None] if s.ndim == 1 else s) * eps
        if not np.all(np.isfinite(x)):
            raise ValueError("sigma is too large for this data: x0 + sigma * eps overflows "
                             "float64; use sigma <= 1e300 and data well below 1e308")
        return x, x0


def _check_n(n) -> int:
    return _v.integer(n, "n", 0)


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
        p = _real_array(points, "points").copy()
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
        A 1-D array is one component (K = 1).
    covs : scalar, (d, d), (K, d, d) or (K, d) array_like
        Symmetric positive semi-definite; zero covariance gives a delta mixture. The shape
        decides the meaning, with no guessing:

        * scalar -- one isotropic variance shared by all components, Sigma_k = c I;
        * (d, d) -- **one full covariance shared** by all components (always, whatever K);
        * (K, d, d) -- a full covariance per component;
        * (K, d) with K != d -- a diagonal per component. When K == d a (d, d) array is
          the shared covariance, so per-component diagonals must then be passed as
          (K, d, d) (e.g. ``np.einsum("ki,ij->kij", diags, np.eye(d))``).

        Any other shape (a 1-D array included: per-component or shared variances would be
        ambiguous) raises ValueError.
    weights : (K,) array_like, optional
        Non-negative, positive sum; normalised here.

    Raises
    ------
    ValueError
        On bad shapes, non-finite values, or a covariance that is not symmetric PSD.
    TypeError
        On a non-numeric ``means`` or ``covs``.
    """

    def __init__(self, means, covs, weights=None):
        mu = _real_array(means, "means").copy()
        if mu.ndim == 1:
            mu = mu[None, :]
        if mu.ndim != 2 or mu.shape[0] < 1 or not np.all(np.isfinite(mu)):
            raise ValueError(f"means must be a finite (K, d) array, got shape {mu.shape}")
        K, d = mu.shape
        c = _real_array(covs, "covs")
        if not np.all(np.isfinite(c)):
            raise ValueError("covs must be finite")
        if c.ndim == 0:
            c = np.broadcast_to(c * np.eye(d), (K, d, d)).copy()
        elif c.shape == (d, d):  # shared full covariance, even when K == d
            c = np.broadcast_to(c, (K, d, d)).copy()
        elif c.shape == (K, d):  # K != d here: per-component diagonals
            c = np.einsum("ki,ij->kij", c, np.eye(d))
        if c.shape != (K, d, d):
            raise ValueError(
                f"covs must be a scalar, ({d}, {d}) shared, ({K}, {d}, {d}) full or "
                f"({K}, {d}) diagonals (K != d), got shape {np.shape(covs)}"
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
    distance = _check_pos(distance, "distance")
    d = _check_int(d, "d", 1)
    p = np.zeros((2, d))
    p[0, 0], p[1, 0] = -distance / 2, distance / 2
    return DeltaMixture(p, weights)


def ring(n: int = 8, radius: float = 1.0) -> DeltaMixture:
    """``n`` equally weighted points on a circle of ``radius`` in 2-D (first point on +x).

    Raises
    ------
    ValueError
        If ``n`` is not an integer >= 1 or ``radius`` is not a finite number > 0.
    """
    n = _check_int(n, "n", 1)
    radius = _check_pos(radius, "radius")
    a = 2 * np.pi * np.arange(n) / n
    return DeltaMixture(radius * np.stack([np.cos(a), np.sin(a)], axis=1))


def grid(k: int = 3, spacing: float = 1.0) -> DeltaMixture:
    """A k x k square grid of points in 2-D, centred on the origin.

    Raises
    ------
    ValueError
        If ``k`` is not an integer >= 1 or ``spacing`` is not a finite number > 0.
    """
    k = _check_int(k, "k", 1)
    spacing = _check_pos(spacing, "spacing")
    c = spacing * (np.arange(k) - (k - 1) / 2)
    xx, yy = np.meshgrid(c, c, indexing="xy")
    return DeltaMixture(np.stack([xx.ravel(), yy.ravel()], axis=1))


def line_points(points=(-2.0, -0.5, 1.0, 2.5), weights=None) -> DeltaMixture:
    """A few points on the real line (d = 1); default four unequally spaced points.

    Parameters
    ----------
    points : (N,) array_like
    weights : (N,) array_like, optional
    """
    p = _real_array(points, "points")
    if p.ndim != 1:
        raise ValueError(f"points must be a 1-D array of N values, got shape {p.shape}")
    return DeltaMixture(p[:, None], weights)


# (centre, std, number of points, total weight) of each cluster of :func:`clusters`
# (centre, std, points, total weight): per-point weights 0.06, 0.02, 0.08 and 0.04, so the
# weights differ between clusters by up to 4x (a tight heavy cluster, a wide light one)
_CLUSTERS = (((-1.0, 0.6), 0.12, 10, 0.6),
             ((0.9, 0.5), 0.35, 6, 0.12),
             ((0.3, -1.1), 0.05, 3, 0.24),
             ((1.5, -0.8), 0.0, 1, 0.04))


def clusters(seed: int = 0) -> DeltaMixture:
    """An asymmetric 2-D data set of 20 points, for the distillation measurements.

    * cluster A: 10 points around (-1.0, 0.6), std 0.12, total weight 0.6;
    * cluster B: 6 points around (0.9, 0.5), std 0.35, total weight 0.12;
    * cluster C: 3 points around (0.3, -1.1), std 0.05, total weight 0.24;
    * one isolated point at (1.5, -0.8), weight 0.04.

    Weights are equal within a cluster and unequal between clusters (per point 0.06, 0.02,
    0.08 and 0.04): clusters of different scales and weights, so that which basin a sample
    lands in says something (on a symmetric ring it is fixed by the direction of x_T).
    Positions are drawn once, cluster by cluster in that order, as
    centre + std * ``np.random.default_rng(seed).standard_normal((n, 2))``, so the same seed
    gives the same bits.

    Parameters
    ----------
    seed : int
        Seed of the position draw, >= 0.

    Returns
    -------
    DeltaMixture with points (20, 2): rows 0-9 cluster A, 10-15 B, 16-18 C, 19 isolated.
    """
    seed = _check_int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    pts, w = [], []
    for centre, std, n, total in _CLUSTERS:
        z = rng.standard_normal((n, 2)) if std > 0 else np.zeros((n, 2))
        pts.append(np.asarray(centre) + std * z)
        w.append(np.full(n, total / n))
    return DeltaMixture(np.concatenate(pts), np.concatenate(w))


_DIGITS_N = 1797


def digits(n: int | None = None) -> DeltaMixture:
    """scikit-learn's bundled handwritten digits (8x8 images, d = 64), equal weights.

    ``sklearn.datasets.load_digits`` ships inside the scikit-learn wheel (no download). Its
    pixels 0..16 are scaled to [-1, 1] by x / 8 - 1 (-1 background, +1 ink), as image
    diffusion models see them. Without scikit-learn use :func:`glyphs`, which needs no extra.

    Parameters
    ----------
    n : int, optional
        Keep the first ``n`` images, 1..1797; all 1,797 when omitted.

    Returns
    -------
    DeltaMixture with points of shape (n, 64), row-major 8x8 images.

    Raises
    ------
    ImportError
        If scikit-learn is not installed.
    ValueError
        If ``n`` is not an integer in [1, 1797].
    """
    if n is not None:
        n = _check_int(n, "n", 1, _DIGITS_N)
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("digits() needs scikit-learn: pip install -e '.[dev]' "
                          "(or pip install scikit-learn)") from None
    x = load_digits().data.astype(np.float64) / 8.0 - 1.0
    return DeltaMixture(x if n is None else x[:n])


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

    if not isinstance(chars, str) or not chars or len(set(chars)) != len(chars):
        raise ValueError("chars must be a non-empty string of distinct characters")
    size = _check_int(size, "size", 8, 64)
    supersample = _check_int(supersample, "supersample", 1, 8)
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


def digits_gmm() -> GaussianMixture:
    """A Gaussian mixture fitted to :func:`digits`: the *generalising* image teacher.

    ``digits()`` as a delta mixture is a **memorising** teacher: its exact PF-ODE ends on a
    training image, and its posterior collapses onto one image by sigma of order 1. This mixture
    of full-covariance Gaussians (fitted by EM; the parameters are committed package data in
    ``ideal_diffusion/assets/digits_gmm.npz``, remade by ``python -m ideal_diffusion.gmm_fit``)
    has the same closed-form denoiser but generates **new** images, and its few-step samplers
    blur as a real image model's do. Pixels are in the scale of :func:`digits` ([-1, 1] for the
    data; Gaussian samples can leave that range).

    Returns
    -------
    GaussianMixture with means of shape (K, 64) (row-major 8x8 images); needs no scikit-learn.
    """
    from pathlib import Path

    path = Path(__file__).resolve().parent / "assets" / "digits_gmm.npz"
    with np.load(path, allow_pickle=False) as f:
        return GaussianMixture(f["means"], f["covs"], f["weights"])
