"""What every experiment shares: the data sets, the noises, the exact reference, the measures.

Measurement convention (the whole toolkit): an n-step sampler takes n steps on a **descending**
Karras grid from sigma_max = 80 to sigma_min = 0.002 (n + 1 values, no trailing 0:
:func:`~ideal_diffusion.schedules.sampling_grid`), and its
sample is the state at sigma_min. Every error is measured against the exact PF-ODE state at
sigma_min of the same noise x_T (DOP853, :func:`reference`), and every sampler reports its
number of denoiser / network evaluations (NFE). The sigma -> 0 limit of the ideal denoiser (the
nearest data point) is never applied to a sample; it appears only as itself, e.g. in
``same_basin``: the fraction of samples whose nearest data point is that of the exact state.

Data sets (:func:`dataset`):

* ``"clusters"`` -- the default 2-D set of the distillation measurements: 20 points in
  clusters of different scales with unequal weights (asymmetric, so "same basin" says
  something);
* ``"ring"`` -- 8 equal points on the unit circle (symmetric: kept where symmetry helps a
  picture);
* ``"digits"`` -- scikit-learn's 1,797 handwritten 8 x 8 digits in [-1, 1] (d = 64);
* ``"glyphs"`` -- ten 12 x 12 digit glyphs, the fallback that needs no extra dependency.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .. import data as _data
from ..denoiser import IdealDenoiser
from ..metrics import nearest_point
from ..nn import blas_threads
from ..schedules import SIGMA_MAX, SIGMA_MIN, sampling_grid
from ..solvers import solve_ode

__all__ = ["DATASETS", "Measurement", "Reference", "SummaryRow", "dataset", "ideal_denoiser",
           "measure", "noise", "reference"]

# Transitional, for experiments/students.py and experiments/summary.py only (being rewritten
# in parallel): SIGMA_MIN, SIGMA_MAX (imported above from schedules) and the old name of
# schedules.sampling_grid. Everything else imports them from ideal_diffusion.schedules;
# delete this alias when those two files do.
sampler_sigmas = sampling_grid

DATASETS = ("clusters", "ring", "digits", "glyphs")

#: tolerance of the reference ODE solve (DOP853 in log sigma); its error is far below every
#: error reported against it
REF_RTOL = 1e-9


@functools.cache
def dataset(name: str) -> _data.DeltaMixture:
    """The named data set (a DeltaMixture; see the module docstring for the names)."""
    if name == "clusters":
        return _data.clusters()
    if name == "ring":
        return _data.ring(8)
    if name == "digits":
        return _data.digits()
    if name == "glyphs":
        return _data.glyphs("0123456789", size=12)
    raise ValueError(f"data must be one of {DATASETS}, got {name!r}")


@functools.cache
def ideal_denoiser(name: str) -> IdealDenoiser:
    """The ideal denoiser E[x0 | x] of :func:`dataset` ``(name)``."""
    return IdealDenoiser(dataset(name))


def noise(d: int, n: int, seed: int, sigma_max: float = SIGMA_MAX) -> np.ndarray:
    """x_T = sigma_max * z, z ~ N(0, I): (n, d), seeded."""
    return sigma_max * np.random.default_rng(seed).standard_normal((n, d))


@dataclass(frozen=True, eq=False)
class Reference:
    """Held-out noises and their exact PF-ODE states at sigma_min.

    Attributes
    ----------
    data : str
    x_T : (n, d) array -- noise at sigma_max
    x_exact : (n, d) array -- the exact ODE state at sigma_min (DOP853, rtol ``REF_RTOL``)
    basin : (n,) int -- index of the nearest data point of ``x_exact``
    """

    data: str
    x_T: np.ndarray
    x_exact: np.ndarray
    basin: np.ndarray


@functools.cache
def reference(data: str, n: int = 400, seed: int = 2024) -> Reference:
    """n held-out noises of data set ``data`` and their exact states at sigma_min (cached)."""
    den = ideal_denoiser(data)
    x_T = noise(den.data.d, n, seed)
    with blas_threads(1):
        x_exact = solve_ode(den, x_T, SIGMA_MAX, SIGMA_MIN, rtol=REF_RTOL, atol=REF_RTOL)
    basin, _ = nearest_point(den.data, x_exact)
    return Reference(data, x_T, x_exact, basin)


@dataclass(frozen=True)
class Measurement:
    """How close B samples are to the exact ODE states of the same noises.

    Attributes
    ----------
    err_median : float -- median |sample - exact state at sigma_min|
    same_basin : float -- fraction whose nearest data point is the exact state's
    dist_to_data_median : float -- median distance to the nearest data point (blur)
    """

    err_median: float
    same_basin: float
    dist_to_data_median: float


def measure(samples, ref: Reference) -> Measurement:
    """Compare ``samples`` (n, d), made from ``ref.x_T``, with ``ref.x_exact``."""
    x = np.asarray(samples, dtype=np.float64)
    if x.shape != ref.x_exact.shape:
        raise ValueError(f"samples must have shape {ref.x_exact.shape}, got {x.shape}")
    idx, dist = nearest_point(dataset(ref.data), x)
    err = np.linalg.norm(x - ref.x_exact, axis=1)
    return Measurement(float(np.median(err)), float(np.mean(idx == ref.basin)),
                       float(np.median(dist)))


@dataclass(frozen=True)
class SummaryRow:
    """One row of the summary table (``figures/summary.csv``).

    Attributes
    ----------
    data : str -- data set name
    method : str -- plain teachers begin with "teacher" and name the solver
    nfe : int -- denoiser / network evaluations per sample at sampling
    teacher_evals : int -- single-point teacher evaluations spent before sampling (0: none)
    err_median : float -- median |sample - exact ODE state at sigma_min|
    err_optimum_median : float or None -- the same for the method's exact optimum at this NFE
        (the method error); None for plain teachers
    err_to_optimum_median : float or None -- median |sample - exact optimum's sample| of the
        same noise (the training error); None for plain teachers and exact optima
    same_basin : float
    notes : str
    """

    data: str
    method: str
    nfe: int
    teacher_evals: int
    err_median: float
    err_optimum_median: float | None
    err_to_optimum_median: float | None
    same_basin: float
    notes: str = ""
