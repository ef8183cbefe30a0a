"""Sampling from a consistency function: one step, stochastic multistep, K boundary jumps.

``f`` is any callable ``f(x, sigma, boundary=None) -> (B, d)``: a trained student
(:class:`~ideal_diffusion.distill.cd.CDResult`) or the exact
:class:`~ideal_diffusion.distill.optima.ConsistencyOracle`. Grids are ascending
(s_1 = sigma_min < ... < s_N = sigma_max), as in :mod:`ideal_diffusion.distill.optima`.

Both carry their ``grid`` and ``boundaries``; the samplers use them by default and refuse a
``grid`` or ``boundaries`` argument that disagrees (a 2-boundary student sampled as if it had
one boundary makes one jump to b_1 and returns a state that is not a sample: no silent wrong
answer).
"""
from __future__ import annotations

import numpy as np

from ..data import as_rng
from .optima import as_grid, check_boundaries

__all__ = ["default_taus", "kjump_sample", "multistep_sample", "one_step_sample"]


def _resolve(f, grid, boundaries, who):
    """``(grid, boundaries)`` for sampler ``who``: the arguments checked against ``f``'s own."""
    own_g, own_b = getattr(f, "grid", None), getattr(f, "boundaries", None)
    if grid is None:
        if own_g is None:
            raise ValueError(f"{who}: grid is required when f does not store one "
                             "(a CDResult or ConsistencyOracle does)")
        g = as_grid(own_g)
    else:
        g = as_grid(grid)
        if own_g is not None and not np.array_equal(g, as_grid(own_g)):
            raise ValueError(f"{who}: grid disagrees with the grid f was built on "
                             f"({g.size} levels [{g[0]:g} .. {g[-1]:g}] vs "
                             f"{np.size(own_g)} stored); omit grid to use f's own")
    if own_b is not None:
        own_b = check_boundaries(g, own_b)
    if boundaries is None:
        b = own_b if own_b is not None else check_boundaries(g, None)
    else:
        b = check_boundaries(g, boundaries)
        if own_b is not None and not np.array_equal(b, own_b):
            raise ValueError(f"{who}: boundaries {b.tolist()} disagree with those f was trained "
                             f"on, {own_b.tolist()}; omit boundaries to use f's own")
    return g, b


def one_step_sample(f, x_T, sigma_max: float) -> np.ndarray:
    """x0 = f(x_T, sigma_max): one network evaluation.

    Parameters
    ----------
    x_T : (B, d) array, noise at ``sigma_max`` (sigma_max * N(0, I))
    """
    x_T = np.asarray(x_T, dtype=np.float64)
    if x_T.ndim != 2:
        raise ValueError(f"x_T must have shape (B, d), got {x_T.shape}")
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


def multistep_sample(f, x_T, grid=None, taus=None, steps: int | None = None,
                     rng=0) -> np.ndarray:
    """Stochastic multistep consistency sampling (Song et al. 2023, Algorithm 1).

    x = f(x_T, s_N); then for tau in ``taus`` (descending): z ~ N(0, I),
    x = f(x + sqrt(tau^2 - s_1^2) z, tau). Each re-noising restarts a trajectory at tau from
    the current estimate; it trades determinism (the sample is no longer the ODE map of x_T)
    for a chance to correct the one-step error.

    Only a one-boundary consistency function maps every sigma to s_1, which this algorithm
    needs; a K-boundary student maps sigma to its segment's lower boundary and is sampled by
    :func:`kjump_sample` instead (refused here with a ValueError saying so).

    Parameters
    ----------
    f : callable ``f(x, sigma, boundary=None)``
    x_T : (B, d) array at s_N
    grid : (N,) grid values (any order), optional
        s_1 and s_N are read from it; default: ``f.grid`` (a disagreeing grid is refused).
    taus : (k,) strictly descending array of sigmas in (s_1, s_N], optional
        Any values for a trained student (the paper's taus are arbitrary); the exact oracle
        needs grid values.
    steps : int, optional
        Total number of evaluations when ``taus`` is None: taus = :func:`default_taus`.
        Giving both ``taus`` and ``steps`` is an error unless ``steps == len(taus) + 1``.
    rng : Generator or int

    Returns
    -------
    x0 : (B, d) array
    """
    g, b = _resolve(f, grid, None, "multistep_sample")
    if b.size != 1:
        raise ValueError(
            f"multistep_sample needs a one-boundary consistency function (every sigma mapped to "
            f"s_1); f has {b.size} boundaries {b.tolist()}, so each evaluation lands on its "
            "segment's lower boundary, not on the data. Sample it with kjump_sample(f, x_T) "
            f"({b.size} deterministic evaluations)")
    rng = as_rng(rng)
    if taus is None:
        taus = default_taus(g, 1 if steps is None else steps)
    else:
        taus = np.asarray(taus, dtype=np.float64)
        if taus.ndim != 1:
            raise ValueError(f"taus must be a 1-D array, got shape {taus.shape}")
        if steps is not None and steps != taus.size + 1:
            raise ValueError(f"steps ({steps!r}) must equal len(taus) + 1 = {taus.size + 1} "
                             "when both are given (or give only one of them)")
    taus = np.asarray(taus, dtype=np.float64)
    if taus.size and (not np.all(np.isfinite(taus)) or np.any(np.diff(taus) >= 0)
                      or taus[0] > g[-1] or taus[-1] <= g[0]):
        raise ValueError(f"taus must be strictly descending and lie in (s_1, s_N] = "
                         f"({g[0]:g}, {g[-1]:g}], got {taus.tolist()}")
    x = one_step_sample(f, x_T, g[-1])
    B = x.shape[0]
    for tau in taus:
        z = rng.standard_normal(x.shape)
        x = f(x + np.sqrt(tau * tau - g[0] * g[0]) * z, np.full(B, tau))
    return x


def kjump_sample(f, x_T, grid=None, boundaries=None) -> np.ndarray:
    """Deterministic K-jump sampling of multi-boundary CD: s_N -> b_{K-1} -> ... -> b_0.

    The lecture's 2-boundary example: x_n = f(x_N, t_N), then x_0 = f(x_n, t_n). Each jump
    is one evaluation ``f(x, sigma, boundary=b)`` from the top of a segment to its lower
    boundary; K boundaries give K evaluations (K = 1: one-step CD sampling).

    Parameters
    ----------
    f : callable ``f(x, sigma, boundary)``
    x_T : (B, d) array at s_N
    grid : (N,) grid values, any order, optional
        Default ``f.grid`` (a disagreeing grid is refused).
    boundaries : (K,) grid values containing s_1, optional
        Default ``f.boundaries`` when f stores them (a student or the oracle), else {s_1}.
        Boundaries that disagree with f's stored ones are refused.

    Returns
    -------
    x0 : (B, d) array (the state at b_0 = s_1)
    """
    g, b = _resolve(f, grid, boundaries, "kjump_sample")
    x = np.asarray(x_T, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x_T must have shape (B, d), got {x.shape}")
    B = x.shape[0]
    tops = np.append(b[1:], g[-1])  # segment k is (b_k, tops_k]
    for k in range(b.size - 1, -1, -1):
        x = f(x, np.full(B, tops[k]), np.full(B, b[k]))
    return x
