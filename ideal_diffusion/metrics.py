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

from .data import DeltaMixture
from .denoiser import IdealDenoiser
from .schedules import SIGMA_MAX
from .solvers import solve_ode

__all__ = ["SampleQuality", "exact_endpoints", "nearest_point", "posterior_entropy",
           "sample_quality"]


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
