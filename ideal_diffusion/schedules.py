"""Noise-level grids for sampling and distillation.

All grids here are **descending** (noise -> data), as EDM's sampler stores them:
``sigmas[0]`` is the largest noise level. With ``append_zero`` a final 0 is added, so n
levels give n + 1 values and n solver steps. (The lecture indexes time ascending,
t_1 < ... < t_N; ``sigmas[::-1]`` without the trailing 0 is that grid.)
"""
from __future__ import annotations

import numpy as np

__all__ = ["karras_sigmas", "loguniform_sigmas", "uniform_sigmas"]


def _check(n, sigma_min, sigma_max):
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not (np.isfinite(sigma_min) and np.isfinite(sigma_max) and 0 < sigma_min <= sigma_max):
        raise ValueError(
            "need 0 < sigma_min <= sigma_max < inf, "
            f"got sigma_min={sigma_min}, sigma_max={sigma_max}"
        )


def _finish(s, append_zero):
    return np.append(s, 0.0) if append_zero else s


def karras_sigmas(n: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0,
                  append_zero: bool = True) -> np.ndarray:
    """The EDM time steps (Karras et al. 2022, eq. 5), descending.

    sigma_i = (sigma_max^(1/rho) + i/(n-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,
    i = 0..n-1, then 0 when ``append_zero`` -- exactly as EDM's ``edm_sampler`` builds
    ``t_steps``. n = 1 gives [sigma_max].

    Parameters
    ----------
    n : int
        Number of noise levels, >= 1.
    sigma_min, sigma_max : float
        0 < sigma_min <= sigma_max.
    rho : float
        Warping exponent, > 0 (7 in EDM; 1 is uniform in sigma).
    append_zero : bool

    Returns
    -------
    sigmas : (n,) or (n + 1,) float64 array, descending
    """
    _check(n, sigma_min, sigma_max)
    if not (np.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be > 0, got {rho}")
    i = np.arange(n, dtype=np.float64)
    frac = i / (n - 1) if n > 1 else i
    s = (sigma_max ** (1 / rho) + frac * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return _finish(s, append_zero)


def loguniform_sigmas(n: int, sigma_min: float = 0.002, sigma_max: float = 80.0,
                      append_zero: bool = True) -> np.ndarray:
    """n levels equally spaced in log sigma, descending from sigma_max to sigma_min (+ 0)."""
    _check(n, sigma_min, sigma_max)
    s = np.exp(np.linspace(np.log(sigma_max), np.log(sigma_min), n))
    if n > 1:
        s[0], s[-1] = sigma_max, sigma_min
    return _finish(s, append_zero)


def uniform_sigmas(n: int, sigma_min: float = 0.002, sigma_max: float = 80.0,
                   append_zero: bool = True) -> np.ndarray:
    """n levels equally spaced in sigma, descending from sigma_max to sigma_min (+ 0)."""
    _check(n, sigma_min, sigma_max)
    return _finish(np.linspace(sigma_max, sigma_min, n), append_zero)
