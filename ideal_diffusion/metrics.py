"""Sample quality for a delta mixture: where samples land, against the exact PF-ODE.

The teacher is deterministic, so the primary metric of any sampler or student is the distance
to the exact ODE endpoint of the *same* noise x_T (:func:`exact_endpoints`); beside it, the
distance to the nearest data point and the fraction of samples that land in the same data
point's basin as the exact ODE (:func:`sample_quality`). Report medians and fractions, not
maxima: points on a basin boundary can switch target. :func:`posterior_entropy` measures how
"averaged" the denoiser output still is.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._rng import as_rng
from .data import DeltaMixture
from .denoiser import IdealDenoiser
from .schedules import SIGMA_MAX
from .solvers import solve_ode

__all__ = ["PairedComparison", "SampleQuality", "exact_endpoints", "frechet_distance",
           "nearest_point", "paired_bootstrap", "posterior_entropy", "sample_quality"]


def _delta(data) -> DeltaMixture:
    if isinstance(data, IdealDenoiser):
        data = data.data
    if not isinstance(data, DeltaMixture):
        data = DeltaMixture(data)
    return data


def nearest_point(data, x):
    """The nearest data point of each row of x, and the distance to it.

    Parameters
    ----------
    data : DeltaMixture, IdealDenoiser of one, or (N, d) array
    x : (B, d) array

    Returns
    -------
    index : (B,) int, the nearest point (the sigma -> 0 limit of the posterior; ties go to
        the first of the heaviest)
    distance : (B,) float64
    """
    data = _delta(data)
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != data.d:
        raise ValueError(f"x must have shape (B, {data.d}), got {x.shape}")
    with np.errstate(invalid="ignore"):  # sigma = 0: a benign 0/0 in log_density's shift
        p = IdealDenoiser(data).posterior(x, 0.0)  # exact nearest, chunked, no (B, N, d)
    idx = np.argmax(p, axis=1)
    dist = np.linalg.norm(x.astype(np.float64) - data.points[idx], axis=1)
    return idx, dist


def exact_endpoints(data, x_T, sigma_from: float = SIGMA_MAX) -> np.ndarray:
    """The exact PF-ODE endpoints x(0) of the noises ``x_T`` (at ``sigma_from``), (B, d).

    ``solve_ode(IdealDenoiser(data), x_T, sigma_from, 0)``: DOP853 to a small sigma, then the
    exact sigma -> 0 limit (a data point).
    """
    den = data if isinstance(data, IdealDenoiser) else IdealDenoiser(_delta(data))
    return solve_ode(den, x_T, sigma_from, 0.0)


@dataclass(frozen=True)
class SampleQuality:
    """How good B samples of a delta mixture are, against the exact ODE of the same noise.

    Attributes
    ----------
    dist_to_exact : (B,) |sample - exact ODE endpoint of the same noise|
    dist_to_data : (B,) distance to the nearest data point
    nearest : (B,) int, index of the sample's nearest data point
    exact_nearest : (B,) int, index of the exact endpoint's data point
    same_basin : (B,) bool, nearest == exact_nearest
    """

    dist_to_exact: np.ndarray
    dist_to_data: np.ndarray
    nearest: np.ndarray
    exact_nearest: np.ndarray
    same_basin: np.ndarray

    @property
    def median_dist_to_exact(self) -> float:
        return float(np.median(self.dist_to_exact))

    @property
    def median_dist_to_data(self) -> float:
        return float(np.median(self.dist_to_data))

    @property
    def frac_same_basin(self) -> float:
        return float(np.mean(self.same_basin))

    def summary(self) -> dict:
        """The three headline numbers (medians and the fraction) as plain floats."""
        return {"median_dist_to_exact": self.median_dist_to_exact,
                "median_dist_to_data": self.median_dist_to_data,
                "frac_same_basin": self.frac_same_basin,
                "n": int(self.same_basin.size)}


def sample_quality(data, samples, exact) -> SampleQuality:
    """Compare samples with the exact PF-ODE endpoints of the same noises.

    Parameters
    ----------
    data : DeltaMixture, IdealDenoiser of one, or (N, d) array
    samples : (B, d) array
        Samples made from noises x_T by some sampler (a few-step solver, a student).
    exact : (B, d) array
        The exact endpoints of the same x_T, row for row (:func:`exact_endpoints`).

    Returns
    -------
    SampleQuality
        Per-sample arrays; ``median_dist_to_exact``, ``median_dist_to_data`` and
        ``frac_same_basin`` summarise them (medians: a few samples that switched basin would
        dominate a mean).
    """
    data = _delta(data)
    s = np.asarray(samples, dtype=np.float64)
    e = np.asarray(exact, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != data.d:
        raise ValueError(f"samples must have shape (B, {data.d}), got {s.shape}")
    if e.shape != s.shape:
        raise ValueError(f"exact must have the shape of samples {s.shape}, got {e.shape}")
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(e))):
        raise ValueError("samples and exact must be finite")
    idx, dist = nearest_point(data, s)
    eidx, _ = nearest_point(data, e)
    return SampleQuality(dist_to_exact=np.linalg.norm(s - e, axis=1), dist_to_data=dist,
                         nearest=idx, exact_nearest=eidx, same_basin=idx == eidx)


def posterior_entropy(denoiser: IdealDenoiser, x, sigma) -> np.ndarray:
    """Entropy (nats) of the posterior pi(x, sigma) over the data points, (B,).

    log N when D(x, sigma) is the plain average of all N points (sigma -> inf), 0 when it is
    one data point (sigma -> 0): how "averaged" the denoiser output still is.
    """
    if not hasattr(denoiser, "posterior"):
        raise ValueError("denoiser must have a posterior(x, sigma) method (an IdealDenoiser)")
    p = np.asarray(denoiser.posterior(x, sigma), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=1)


def frechet_distance(x, y) -> float:
    """Frechet distance between Gaussians fitted to two sample sets (in pixel space here).

    FD = |m_x - m_y|^2 + tr(S_x + S_y - 2 (S_x^{1/2} S_y S_x^{1/2})^{1/2}), the FID formula
    (Heusel et al. 2017) without the Inception features: the squared 2-Wasserstein distance
    between N(m_x, S_x) and N(m_y, S_y), with the sample means and covariances (ddof = 1).
    The matrix square roots are taken by symmetric eigendecompositions (negative round-off
    eigenvalues clipped to 0), so the result is real and >= 0.

    Parameters
    ----------
    x : (n, d) array
    y : (m, d) array, n, m >= 2

    Returns
    -------
    float
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or min(len(x), len(y)) < 2:
        raise ValueError(f"x and y must be (n, d) and (m, d) arrays with n, m >= 2, got shapes "
                         f"{x.shape} and {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite")
    mx, my = x.mean(axis=0), y.mean(axis=0)
    sx = np.atleast_2d(np.cov(x, rowvar=False))
    sy = np.atleast_2d(np.cov(y, rowvar=False))
    lam, u = np.linalg.eigh(sx)
    root_x = (u * np.sqrt(np.clip(lam, 0.0, None))) @ u.T
    mid = root_x @ sy @ root_x
    mu = np.linalg.eigvalsh(0.5 * (mid + mid.T))
    cross = float(np.sum(np.sqrt(np.clip(mu, 0.0, None))))
    fd = float(np.sum((mx - my) ** 2) + np.trace(sx) + np.trace(sy) - 2.0 * cross)
    return max(fd, 0.0)


@dataclass(frozen=True)
class PairedComparison:
    """A paired comparison of two samplers' per-noise errors.

    Attributes
    ----------
    diff : float -- median(err_a) - median(err_b) (negative: a is closer)
    lo, hi : float -- the 95% percentile-bootstrap interval of ``diff``, resampling noises
        (pairs kept together) and recomputing both medians
    win_rate : float -- fraction of noises on which a is strictly closer than b
    n : int -- number of noises
    """

    diff: float
    lo: float
    hi: float
    win_rate: float
    n: int

    @property
    def verdict(self) -> str:
        """"beats" if the interval lies below 0, "loses to" if above, else "ties with"."""
        if self.hi < 0:
            return "beats"
        if self.lo > 0:
            return "loses to"
        return "ties with"


def paired_bootstrap(err_a, err_b, n_boot: int = 2000, rng=0) -> PairedComparison:
    """Median-difference of paired errors with its 95% paired-bootstrap interval.

    Parameters
    ----------
    err_a, err_b : (n,) arrays -- errors of two samplers on the same n noises (n >= 2)
    n_boot : int >= 100 -- bootstrap resamples
    rng : seed or Generator

    Returns
    -------
    PairedComparison
    """
    a = np.asarray(err_a, dtype=np.float64)
    b = np.asarray(err_b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size < 2:
        raise ValueError(f"err_a and err_b must be (n,) arrays of one length n >= 2, got "
                         f"shapes {a.shape} and {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("err_a and err_b must be finite")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 100:
        raise ValueError(f"n_boot must be an integer >= 100, got {n_boot!r}")
    gen = as_rng(rng)
    idx = gen.integers(0, a.size, size=(int(n_boot), a.size))
    boot = np.median(a[idx], axis=1) - np.median(b[idx], axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return PairedComparison(float(np.median(a) - np.median(b)), float(lo), float(hi),
                            float(np.mean(a < b)), int(a.size))
