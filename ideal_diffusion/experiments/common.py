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
* ``"digits"`` -- scikit-learn's 1,797 handwritten 8 x 8 digits in [-1, 1] (d = 64), a delta
  mixture: a **memorising** teacher (its exact ODE ends on a training image);
* ``"digits_gmm"`` -- a Gaussian mixture fitted to those digits (:func:`data.digits_gmm`): a
  **generalising** teacher (its exact ODE ends on a new image), the regime of real image
  diffusion, where few-step samplers blur and distillation pays;
* ``"glyphs"`` -- ten 12 x 12 digit glyphs, the fallback that needs no extra dependency.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from .. import data as _data
from ..denoiser import IdealDenoiser
from ..metrics import nearest_point
from ..nn import blas_threads
from ..schedules import SIGMA_MAX, SIGMA_MIN
from ..solvers import solve_ode

__all__ = ["DATASETS", "IMAGE_DATASETS", "PIXEL_TOL", "Measurement", "Reference", "SummaryRow",
           "basin", "dataset", "ideal_denoiser", "is_generalising", "measure", "nn_spacing",
           "noise", "out_of_range", "reference", "training_points"]

DATASETS = ("clusters", "ring", "digits", "digits_gmm", "glyphs")
#: a pixel counts as out of the data's range [-1, 1] when it is beyond it by more than this: a
#: state at sigma_min carries noise of 0.002 per pixel, and the digits' grey levels are 1/8 apart
PIXEL_TOL = 0.05
#: data sets whose points are images in [-1, 1] (pixel range checks apply)
IMAGE_DATASETS = ("digits", "digits_gmm", "glyphs")

#: tolerance of the reference ODE solve (DOP853 in log sigma); its error is far below every
#: error reported against it
REF_RTOL = 1e-9


@functools.cache
def dataset(name: str) -> _data.DeltaMixture | _data.GaussianMixture:
    """The named data set (a DeltaMixture, or for ``"digits_gmm"`` a GaussianMixture)."""
    if name == "clusters":
        return _data.clusters()
    if name == "ring":
        return _data.ring(8)
    if name == "digits":
        return _data.digits()
    if name == "glyphs":
        return _data.glyphs("0123456789", size=12)
    if name == "digits_gmm":
        return _data.digits_gmm()
    raise ValueError(f"data must be one of {DATASETS}, got {name!r}")


@functools.cache
def training_points(name: str) -> _data.DeltaMixture:
    """The training images behind data set ``name``: itself for a delta mixture, the digits
    the mixture was fitted to for ``"digits_gmm"`` (for "distance to the nearest training
    image": ~0 means a copy, i.e. memorisation).

    Returns
    -------
    DeltaMixture with points of shape (N, d)

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`DATASETS`.
    """
    if name == "digits_gmm":
        return dataset("digits")
    return dataset(name)


def is_generalising(name: str) -> bool:
    """True for a data set whose exact ODE makes new points (a Gaussian mixture)."""
    return isinstance(dataset(name), _data.GaussianMixture)


def basin(name: str, x) -> np.ndarray:
    """Where each row of x belongs: the nearest data point's index for a delta mixture, the
    most probable mixture component (the posterior at sigma = 0) for a Gaussian mixture.

    Parameters
    ----------
    name : str -- one of :data:`DATASETS`
    x : (B, d) array

    Returns
    -------
    (B,) int array

    Raises
    ------
    ValueError
        For an unknown ``name`` or an ``x`` that is not a finite (B, d) array.
    """
    if is_generalising(name):
        return np.argmax(ideal_denoiser(name).posterior(x, 0.0), axis=1)
    return nearest_point(dataset(name), x)[0]


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
    basin : (n,) int -- :func:`basin` of ``x_exact`` (nearest data point, or most probable
        component of a Gaussian mixture)
    exact_spread : float -- Gaussian mixtures: median |x_exact - mu_k| to its component mean
        (the denominator of :class:`Measurement`'s ``detail``); NaN for delta mixtures
    """

    data: str
    x_T: np.ndarray
    x_exact: np.ndarray
    basin: np.ndarray
    exact_spread: float = float("nan")


@functools.cache
def reference(data: str, n: int = 400, seed: int = 2024) -> Reference:
    """n held-out noises of data set ``data`` and their exact states at sigma_min (cached)."""
    den = ideal_denoiser(data)
    x_T = noise(den.data.d, n, seed)
    with blas_threads(1):
        x_exact = solve_ode(den, x_T, SIGMA_MAX, SIGMA_MIN, rtol=REF_RTOL, atol=REF_RTOL)
    spread = _spread(data, x_exact) if is_generalising(data) else float("nan")
    return Reference(data, x_T, x_exact, basin(data, x_exact), spread)


@dataclass(frozen=True)
class Measurement:
    """How close B samples are to the exact ODE states of the same noises.

    Attributes
    ----------
    err_median : float -- median |sample - exact state at sigma_min|
    same_basin : float -- fraction in the exact state's :func:`basin`
    dist_to_data_median : float -- median distance to the nearest training point: for a delta
        mixture its sharpness (0 = on a data point; an average lies off the data), for a
        Gaussian mixture its novelty (a generalising teacher's samples are new images)
    errors : (n,) array -- |sample - exact state| per noise (for paired comparisons)
    out_of_range : float -- image data sets: fraction of pixels outside [-1, 1] by more than
        :data:`PIXEL_TOL` (overshoot);
        NaN for 2-D data
    detail : float -- Gaussian mixtures: median |x - mu_k| to the sample's most probable
        component mean, divided by the same for the exact states (1: as detailed as exact
        samples; below 1: averaged towards the mean, i.e. blurred; above 1: overshoot); NaN
        for delta mixtures
    """

    err_median: float
    same_basin: float
    dist_to_data_median: float
    errors: np.ndarray = field(default=None, repr=False, compare=False)
    out_of_range: float = float("nan")
    detail: float = float("nan")


def measure(samples, ref: Reference) -> Measurement:
    """Compare ``samples`` (n, d), made from ``ref.x_T``, with ``ref.x_exact``."""
    x = np.asarray(samples, dtype=np.float64)
    if x.shape != ref.x_exact.shape:
        raise ValueError(f"samples must have shape {ref.x_exact.shape}, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples must be finite")
    _, dist = nearest_point(training_points(ref.data), x)
    err = np.linalg.norm(x - ref.x_exact, axis=1)
    oor = out_of_range(x) if ref.data in IMAGE_DATASETS else float("nan")
    detail = float("nan")
    if is_generalising(ref.data):
        detail = _spread(ref.data, x) / ref.exact_spread
    return Measurement(float(np.median(err)), float(np.mean(basin(ref.data, x) == ref.basin)),
                       float(np.median(dist)), err, oor, detail)


def nn_spacing(points) -> float:
    """Median distance from each point to its nearest other point: the data's own spacing.

    Parameters
    ----------
    points : (N, d) array, N >= 2

    Rows are taken in chunks, so the (N, N) distances of 1,797 digits never need N * N * d
    memory at once.
    """
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"points must be an (N, d) array with N >= 2, got shape {x.shape}")
    step = max(1, 2 ** 22 // (x.shape[0] * x.shape[1]))
    nearest = np.empty(x.shape[0])
    for lo in range(0, x.shape[0], step):
        d = np.linalg.norm(x[lo:lo + step, None] - x[None], axis=-1)
        d[np.arange(d.shape[0]), np.arange(lo, lo + d.shape[0])] = np.inf
        nearest[lo:lo + step] = d.min(axis=1)
    return float(np.median(nearest))


def out_of_range(x) -> float:
    """Fraction of pixels beyond the data's range [-1, 1] by more than :data:`PIXEL_TOL`.

    Parameters
    ----------
    x : (B, d) array of images (any shape is accepted; every entry is a pixel)

    Raises
    ------
    ValueError
        If ``x`` is empty or not finite.
    """
    a = np.asarray(x, dtype=np.float64)
    if a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"x must be a non-empty finite array of pixels, got shape {a.shape}")
    return float(np.mean(np.abs(a) > 1.0 + PIXEL_TOL))


def _spread(name: str, x) -> float:
    """Median distance of each row of x to the mean of its most probable component."""
    mu = dataset(name).means[basin(name, x)]
    return float(np.median(np.linalg.norm(x - mu, axis=1)))


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
    dist_to_data : float or None -- median distance to the nearest training point
        (:class:`Measurement`: sharpness for delta data, novelty for a Gaussian mixture)
    out_of_range : float or None -- images: fraction of pixels outside [-1, 1]
    detail : float or None -- Gaussian mixtures: spread about the component mean relative
        to the exact samples' (below 1: blurred)
    frechet : float or None -- Frechet distance (pixel space) between these samples and the
        exact ODE states of the same noises
    baseline : str or None -- students: the best plain teacher with at most this NFE (lowest
        ``err_median``), the baseline of the next four columns
    vs_best_teacher : float or None -- err_median minus the baseline's (negative: closer)
    vs_best_teacher_lo, vs_best_teacher_hi : float or None -- its 95% paired-bootstrap CI
        (held-out noises resampled, both medians recomputed)
    win_rate : float or None -- fraction of noises on which this row is closer than the baseline
    n_noises : int or None -- held-out noises behind the row's columns
    n_optimum_noises : int or None -- when the optimum columns (method and training error)
        use fewer noises than the rest (an expensive oracle), how many: the first ones
    samples, optimum_samples : (n, d) arrays or None -- the states at sigma_min behind the row
        and its exact optimum's, on the noises of :func:`reference` (not written to the CSV)
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
    dist_to_data: float | None = None
    out_of_range: float | None = None
    detail: float | None = None
    frechet: float | None = None
    baseline: str | None = None
    vs_best_teacher: float | None = None
    vs_best_teacher_lo: float | None = None
    vs_best_teacher_hi: float | None = None
    win_rate: float | None = None
    n_noises: int | None = None
    n_optimum_noises: int | None = None
    samples: np.ndarray | None = field(default=None, repr=False, compare=False)
    optimum_samples: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def is_teacher(self) -> bool:
        return self.method.startswith("teacher")

    @property
    def verdict(self) -> str | None:
        """"beats" / "ties with" / "loses to" its baseline, by the paired CI (None: no CI)."""
        if self.vs_best_teacher_hi is None or self.vs_best_teacher_lo is None:
            return None
        if self.vs_best_teacher_hi < 0:
            return "beats"
        return "loses to" if self.vs_best_teacher_lo > 0 else "ties with"
