"""Noise-level grids for sampling and distillation.

All grids here are **descending** (noise -> data), as EDM's sampler stores them:
``sigmas[0]`` is the largest noise level. With ``append_zero`` a final 0 is added, so n
levels give n + 1 values and n solver steps. (The lecture indexes time ascending,
t_1 < ... < t_N; ``sigmas[::-1]`` without the trailing 0 is that grid.)

:data:`SIGMA_MIN` and :data:`SIGMA_MAX` are the ends of every grid of the toolkit (EDM's
values): an n-step sampler goes from SIGMA_MAX to SIGMA_MIN. They are defined here only.
"""
from __future__ import annotations

import numpy as np

from . import _validate as _v

__all__ = ["SIGMA_MAX", "SIGMA_MIN", "karras_sigmas", "loguniform_sigmas", "sampling_grid",
           "uniform_sigmas"]

#: the lowest noise level: where every sampler stops and its sample is read (EDM)
SIGMA_MIN = 0.002
#: the highest noise level: where every sampler starts, x_T = SIGMA_MAX * z (EDM)
SIGMA_MAX = 80.0


def _real(v, name: str) -> float:
    """``v`` as a finite Python float, refusing None, strings, bools, arrays and complex."""
    return _v.real(v, name)


def _check(n, sigma_min, sigma_max, name: str = "n"):
    n = _v.integer(n, name, 1)
    sigma_min, sigma_max = _real(sigma_min, "sigma_min"), _real(sigma_max, "sigma_max")
    if not 0 < sigma_min <= sigma_max:
        raise ValueError(
            "need 0 < sigma_min <= sigma_max < inf, "
            f"got sigma_min={sigma_min}, sigma_max={sigma_max}"
        )
    if n > 1 and sigma_min == sigma_max:
        raise ValueError(f"sigma_min < sigma_max is needed for {name} > 1 levels "
                         f"(equal values would repeat), got both {sigma_min}")
    return int(n), sigma_min, sigma_max


def _finish(s, append_zero):
    if not isinstance(append_zero, (bool, np.bool_)):
        raise TypeError(f"append_zero must be a bool, got {append_zero!r}")
    return np.append(s, 0.0) if append_zero else s


def karras_sigmas(n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX,
                  rho: float = 7.0, append_zero: bool = True) -> np.ndarray:
    """The EDM time steps (Karras et al. 2022, eq. 5), descending.

    sigma_i = (sigma_max^(1/rho) + i/(n-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,
    i = 0..n-1, then 0 when ``append_zero`` -- exactly as EDM's ``edm_sampler`` builds
    ``t_steps``. n = 1 gives [sigma_max].

    Parameters
    ----------
    n : int
        Number of noise levels, >= 1.
    sigma_min, sigma_max : float
        0 < sigma_min <= sigma_max, and sigma_min < sigma_max when n > 1 (distinct levels).
    rho : float
        Warping exponent, > 0 (7 in EDM; 1 is uniform in sigma).
    append_zero : bool

    Returns
    -------
    sigmas : (n,) or (n + 1,) float64 array, descending
    """
    n, sigma_min, sigma_max = _check(n, sigma_min, sigma_max)
    rho = _real(rho, "rho")
    if not rho > 0:
        raise ValueError(f"rho must be > 0, got {rho}")
    i = np.arange(n, dtype=np.float64)
    frac = i / (n - 1) if n > 1 else i
    s = (sigma_max ** (1 / rho) + frac * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    if n > 1 and np.any(np.diff(s) >= 0):  # rho so large that levels round together
        raise ValueError(f"rho={rho} makes repeated levels in float64; use a smaller rho")
    return _finish(s, append_zero)


def sampling_grid(steps: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX,
                  rho: float = 7.0) -> np.ndarray:
    """The project's measurement grid: ``steps`` Karras steps from sigma_max to sigma_min.

    An n-step sampler takes n steps from sigma_max down to sigma_min and its sample is the
    state at sigma_min: there is **no trailing 0** (unlike :func:`karras_sigmas`' default).
    The grid is EDM's eq. 5 with steps + 1 levels, **descending**, and its end points are
    set to ``sigma_max`` and ``sigma_min`` exactly (the formula gives them only to rounding).

    Parameters
    ----------
    steps : int
        Number of solver steps, >= 1.
    sigma_min, sigma_max : float
        0 < sigma_min < sigma_max.
    rho : float
        Warping exponent, > 0.

    Returns
    -------
    sigmas : (steps + 1,) float64 array, strictly descending; ``sigmas[0] == sigma_max``,
    ``sigmas[-1] == sigma_min``.
    """
    steps, sigma_min, sigma_max = _check(steps, sigma_min, sigma_max, "steps")
    if not sigma_min < sigma_max:
        raise ValueError(f"need sigma_min < sigma_max, got {sigma_min} and {sigma_max}")
    s = karras_sigmas(steps + 1, sigma_min, sigma_max, rho, append_zero=False)
    s[0], s[-1] = sigma_max, sigma_min
    return s


def loguniform_sigmas(n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX,
                      append_zero: bool = True) -> np.ndarray:
    """n levels equally spaced in log sigma, descending from sigma_max to sigma_min (+ 0).

    Returns
    -------
    sigmas : (n,) or (n + 1,) float64 array, descending
    """
    n, sigma_min, sigma_max = _check(n, sigma_min, sigma_max)
    s = np.exp(np.linspace(np.log(sigma_max), np.log(sigma_min), n))
    if n > 1:
        s[0], s[-1] = sigma_max, sigma_min
    return _finish(s, append_zero)


def uniform_sigmas(n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX,
                   append_zero: bool = True) -> np.ndarray:
    """n levels equally spaced in sigma, descending from sigma_max to sigma_min (+ 0).

    Returns
    -------
    sigmas : (n,) or (n + 1,) float64 array, descending
    """
    n, sigma_min, sigma_max = _check(n, sigma_min, sigma_max)
    return _finish(np.linspace(sigma_max, sigma_min, n), append_zero)
