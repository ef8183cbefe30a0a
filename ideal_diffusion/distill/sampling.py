"""Sampling from a consistency function: one step, stochastic multistep, K boundary jumps.

``f`` is any callable ``f(x, sigma, boundary=None) -> (B, d)``: a trained student
(:class:`~ideal_diffusion.distill.cd.CDResult`) or the exact
:class:`~ideal_diffusion.distill.optima.ConsistencyOracle`. Grids are ascending
(s_1 = sigma_min < ... < s_N = sigma_max), as in :mod:`ideal_diffusion.distill.optima`.
"""
from __future__ import annotations

import numpy as np

from ..data import as_rng
from .optima import as_grid, check_boundaries

__all__ = ["default_taus", "kjump_sample", "multistep_sample", "one_step_sample"]


def one_step_sample(f, x_T, sigma_max: float) -> np.ndarray:
    """x0 = f(x_T, sigma_max): one network evaluation.

    Parameters
    ----------
    x_T : (B, d) array, noise at ``sigma_max`` (sigma_max * N(0, I))
    """
    x_T = np.asarray(x_T, dtype=np.float64)
    return f(x_T, np.full(x_T.shape[0], float(sigma_max)))


def default_taus(grid, steps: int) -> np.ndarray:
    """The default re-noising levels of ``steps``-step sampling: ``steps - 1`` grid values.

    They are the grid values at evenly spaced positions of the (Karras-spaced) grid,
    strictly between s_N and s_1, **descending** -- the same spread as an EDM sampler with
    ``steps`` levels, restricted to the grid so the exact oracle can be queried there too.

    Returns
    -------
    taus : (steps - 1,) array, descending
    """
    g = as_grid(grid)
    if not isinstance(steps, (int, np.integer)) or not 1 <= steps <= g.size - 1:
        raise ValueError(f"steps must be an integer in [1, {g.size - 1}], got {steps!r}")
    pos = np.unique(np.round(np.linspace(g.size - 1, 0, steps + 1)).astype(int))[::-1]
    return g[pos[1:-1]]


def multistep_sample(f, x_T, grid, taus=None, steps: int | None = None, rng=0) -> np.ndarray:
    """Stochastic multistep consistency sampling (Song et al. 2023, Algorithm 1).

    x = f(x_T, s_N); then for tau in ``taus`` (descending): z ~ N(0, I),
    x = f(x + sqrt(tau^2 - s_1^2) z, tau). Each re-noising restarts a trajectory at tau from
    the current estimate; it trades determinism (the sample is no longer the ODE map of x_T)
    for a chance to correct the one-step error.

    Parameters
    ----------
    f : callable ``f(x, sigma, boundary=None)``
    x_T : (B, d) array at s_N
    grid : (N,) grid values (any order): s_1 and s_N are read from it
    taus : (k,) descending array of sigmas in (s_1, s_N), optional
    steps : int, optional
        Total number of evaluations when ``taus`` is None: taus = :func:`default_taus`.
    rng : Generator or int

    Returns
    -------
    x0 : (B, d) array
    """
    g = as_grid(grid)
    rng = as_rng(rng)
    if taus is None:
        taus = default_taus(g, 1 if steps is None else steps)
    taus = np.asarray(taus, dtype=np.float64)
    if taus.size and (np.any(np.diff(taus) >= 0) or taus[0] >= g[-1] or taus[-1] <= g[0]):
        raise ValueError("taus must be strictly descending and lie in (s_1, s_N)")
    x = one_step_sample(f, x_T, g[-1])
    B = x.shape[0]
    for tau in taus:
        z = rng.standard_normal(x.shape)
        x = f(x + np.sqrt(tau * tau - g[0] * g[0]) * z, np.full(B, tau))
    return x


def kjump_sample(f, x_T, grid, boundaries) -> np.ndarray:
    """Deterministic K-jump sampling of multi-boundary CD: s_N -> b_{K-1} -> ... -> b_0.

    The lecture's 2-boundary example: x_n = f(x_N, t_N), then x_0 = f(x_n, t_n). Each jump
    is one evaluation ``f(x, sigma, boundary=b)`` from the top of a segment to its lower
    boundary; K boundaries give K evaluations (K = 1: one-step CD sampling).

    Parameters
    ----------
    f : callable ``f(x, sigma, boundary)``
    x_T : (B, d) array at s_N
    grid : (N,) grid values, any order
    boundaries : (K,) grid values containing s_1 (None: {s_1})

    Returns
    -------
    x0 : (B, d) array (the state at b_0 = s_1)
    """
    g = as_grid(grid)
    b = check_boundaries(g, boundaries)
    x = np.asarray(x_T, dtype=np.float64)
    B = x.shape[0]
    tops = np.append(b[1:], g[-1])  # segment k is (b_k, tops_k]
    for k in range(b.size - 1, -1, -1):
        x = f(x, np.full(B, tops[k]), np.full(B, b[k]))
    return x
