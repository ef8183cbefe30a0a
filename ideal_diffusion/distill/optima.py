"""Exact optima of the distillation losses, for an ideal-denoiser teacher.

Conventions (used by every module of :mod:`ideal_diffusion.distill`)
--------------------------------------------------------------------
* A **distillation grid** is the EDM/Karras grid without its trailing 0. In the lecture's
  ascending notation it is sigma_min = s_1 < s_2 < ... < s_N = sigma_max. Functions here
  take a grid as an array of its N values in *any* order (it is a set: it is sorted
  ascending internally), or as a :class:`Grid` (checked once, when it is built: pass one to
  skip the check), and take and return **sigma values, never bare indices**, so there
  is no off-by-one or direction ambiguity. A sigma passed as "a grid value" must equal one
  of them (to 1e-9 relative).
* One **teacher step** Solver(x, s_n -> s_{n-1}) is one Euler or Heun step of the PF-ODE
  dx/dsigma = (x - D(x, sigma)) / sigma with the ideal denoiser D (EDM Algorithm 1;
  s_{n-1} > 0, so Heun always applies its corrector).
* **Boundaries** are a sorted subset b_0 = s_1 < b_1 < ... < b_{K-1} of the grid. A grid
  point s_n > s_1 belongs to the segment (b_k, b_{k+1}] that contains it (b_K := s_N), and
  its consistency target is the state at the segment's lower boundary b_k: the top point
  of a segment belongs to it, so sampling jumps b_{k+1} -> b_k. At s_1 the target is the
  point itself. One boundary {s_1} is plain consistency distillation.

The optima
----------
* KD (lecture, "Knowledge distillation. Optimal solution"): for a deterministic teacher the
  loss E|x0_hat(x_T) - f(x_T)|^2 is minimised pointwise by f = x0_hat: the teacher's own
  n-step map, :func:`teacher_map` -- not the average E[x0 | x_T].
* CD (lecture, "again a mixture? NO!"): x_hat_{n-1} = Solver(x_n, s_n -> s_{n-1}) is a
  deterministic function of x_n, so the posterior-weighted sum over data points collapses
  and f*(x_n, s_n) = f*(x_hat_{n-1}, s_{n-1}); unrolled down to the boundary this is the
  teacher's solver chained along the grid: :func:`consistency_optimum`.
* CT (the one-sample target x0 + s_{n-1} z with the same z): the target depends on which
  data point made x_n, so its optimum *is* a posterior mixture:
  :func:`consistency_training_target`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as _v
from ..denoiser import IdealDenoiser
from ..schedules import SIGMA_MAX, SIGMA_MIN, karras_sigmas
from ..solvers import euler_step, heun_step, sample

__all__ = [
    "ConsistencyOracle",
    "Grid",
    "as_grid",
    "check_boundaries",
    "consistency_optimum",
    "consistency_training_target",
    "distill_grid",
    "grid_index",
    "lower_boundary",
    "teacher_chain",
    "teacher_map",
    "teacher_step",
]

TEACHER_SOLVERS = ("euler", "heun")
_CT_CHUNK_ELEMS = 1 << 20  # entries of one (chunk, N, d) block in consistency_training_target


# ----------------------------------------------------------------------------- grids


def distill_grid(N: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX,
                 rho: float = 7.0) -> np.ndarray:
    """The distillation grid s_1 < ... < s_N: the Karras grid without its 0, **ascending**.

    The end points are set to ``sigma_min`` and ``sigma_max`` exactly (EDM's formula gives
    them only to rounding, e.g. 0.002000000000000003), so a student built with boundary
    ``sigma_min`` satisfies f(x, s_1) == x bit for bit.

    Returns
    -------
    grid : (N,) float64 array, ascending; ``grid[0] == sigma_min``, ``grid[-1] == sigma_max``.
    """
    if not isinstance(N, (int, np.integer)) or N < 2:
        raise ValueError(f"N must be an integer >= 2, got {N!r}")
    g = karras_sigmas(N, sigma_min, sigma_max, rho, append_zero=False)[::-1].copy()
    g[0], g[-1] = sigma_min, sigma_max
    return g


def _check_grid(grid) -> np.ndarray:
    g = np.sort(np.asarray(grid, dtype=np.float64).ravel())
    if g.size < 2 or not np.all(np.isfinite(g)) or g[0] <= 0:
        raise ValueError("grid must hold >= 2 finite sigmas > 0 (no trailing 0)")
    if np.any(np.diff(g) <= 1e-12 * g[1:]):
        raise ValueError("grid values must be distinct")
    return g


@dataclass(frozen=True, eq=False)
class Grid:
    """A checked distillation grid: its N values **ascending**, s_1 < ... < s_N (read-only).

    ``Grid(values)`` checks the values once (any order; >= 2 finite values > 0, distinct);
    every function here accepts a Grid and does not check it again (:func:`as_grid`).

    Attributes
    ----------
    sigmas : (N,) float64 array, ascending, read-only
    """

    sigmas: np.ndarray

    def __post_init__(self):
        raw = self.sigmas.sigmas if isinstance(self.sigmas, Grid) else self.sigmas
        g = _check_grid(raw)
        g.flags.writeable = False
        object.__setattr__(self, "sigmas", g)

    def __len__(self) -> int:
        return self.sigmas.size

    def __array__(self, dtype=None, copy=None):
        return np.array(self.sigmas, dtype=dtype, copy=True)


def _grid(grid) -> Grid:
    """``grid`` as a :class:`Grid` (checked unless it is one already)."""
    return grid if isinstance(grid, Grid) else Grid(grid)


def canonical_grid(stored) -> np.ndarray:
    """A stored ascending grid, replaced by this machine's :func:`distill_grid` of its size when
    the two agree to 1e-12 relative: numpy's vectorised ``**`` may round a level one ulp
    differently across versions and CPUs, and a saved student must not be refused for that.

    Parameters
    ----------
    stored : (N,) array, ascending

    Returns
    -------
    (N,) array, ascending -- ``distill_grid(N)`` or, when they differ by more, ``stored``
    """
    stored = np.asarray(stored, dtype=np.float64)
    fresh = distill_grid(stored.size)
    return fresh if np.allclose(fresh, stored, rtol=1e-12, atol=0) else stored


def canonical_boundaries(stored, grid) -> np.ndarray:
    """Stored boundaries, each snapped onto the value of ``grid`` it agrees with to 1e-12.

    Parameters
    ----------
    stored : (K,) array, ascending
    grid : (N,) array, ascending (e.g. :func:`canonical_grid` of the stored grid)

    Returns
    -------
    (K,) array
    """
    b = np.asarray(stored, dtype=np.float64).copy()
    g = np.asarray(grid, dtype=np.float64)
    for i, v in enumerate(b):
        j = int(np.argmin(np.abs(g - v)))
        if abs(g[j] - v) <= 1e-12 * abs(v):
            b[i] = g[j]
    return b


def as_grid(grid) -> np.ndarray:
    """Validate a grid (any order) and return it sorted **ascending**, shape (N,).

    A :class:`Grid` is returned as its (read-only) values without a second check.

    Raises
    ------
    ValueError
        If it has fewer than 2 values, a value <= 0 or non-finite, or repeated values.
    """
    return grid.sigmas if isinstance(grid, Grid) else _check_grid(grid)


def grid_index(grid, sigma) -> np.ndarray:
    """Positions in the ascending grid of grid values ``sigma`` (0 for s_1, N-1 for s_N).

    Parameters
    ----------
    grid : (N,) array, any order
    sigma : float or (B,) array of grid values

    Returns
    -------
    idx : int array with the shape of ``sigma``

    Raises
    ------
    ValueError
        If a sigma is not a grid value (to 1e-9 relative).
    """
    g = as_grid(grid)
    s = np.asarray(sigma, dtype=np.float64)
    i = _nearest(g, s)
    if not np.all(np.abs(g[i] - s) <= 1e-9 * g[i]):
        bad = s.ravel()[~(np.abs(g[i] - s) <= 1e-9 * g[i]).ravel()][0]
        raise ValueError(f"sigma must be a grid value; {bad!r} is not in the grid")
    return i


def _nearest(g, s) -> np.ndarray:
    """Position of the grid value nearest to each s (g ascending)."""
    i = np.clip(np.searchsorted(g, s), 1, g.size - 1)
    return np.where(np.abs(g[i - 1] - s) < np.abs(g[i] - s), i - 1, i)


def check_boundaries(grid, boundaries=None) -> np.ndarray:
    """Validate boundaries against the grid: a sorted subset containing s_1 (ascending).

    ``None`` means plain CD, the single boundary {s_1}.

    Returns
    -------
    boundaries : (K,) float64 array, ascending, exactly equal to grid values.
    """
    G = _grid(grid)
    g = G.sigmas
    if boundaries is None:
        return g[:1].copy()
    b = np.asarray(boundaries, dtype=np.float64).ravel()
    if b.size < 1 or np.any(np.diff(b) <= 0):
        raise ValueError("boundaries must be a non-empty, strictly ascending list of grid values")
    b = g[grid_index(G, b)]
    if b[0] != g[0]:
        raise ValueError(f"boundaries must contain s_1 = sigma_min = {g[0]!r}")
    if b[-1] == g[-1] and b.size > 1:
        raise ValueError("s_N (sigma_max) cannot be a boundary: it is the top of the last segment")
    return b


def lower_boundary(grid, boundaries, sigma) -> np.ndarray:
    """The consistency target level of each sigma: the lower boundary of its segment.

    For sigma in (b_k, b_{k+1}] this is b_k; for s_1 it is s_1 itself. sigma may be any value
    in [s_1, s_N], not only a grid value (a trained student is evaluated between grid values);
    a value within 1e-9 (relative) of a grid value counts as that grid value.

    Parameters
    ----------
    grid : (N,) array, any order, or a :class:`Grid`
    boundaries : (K,) array or None (plain CD: {s_1})
    sigma : float or (B,) array in [s_1, s_N]

    Returns
    -------
    b : float64 array with the shape of ``sigma``

    Raises
    ------
    ValueError
        If a sigma lies outside [s_1, s_N] (to 1e-9 relative).
    """
    G = _grid(grid)
    g = G.sigmas
    b = check_boundaries(G, boundaries)
    s = np.asarray(sigma, dtype=np.float64)
    i = _nearest(g, s)
    on_grid = np.abs(g[i] - s) <= 1e-9 * g[i]
    if not np.all(on_grid | ((s >= g[0]) & (s <= g[-1]))):
        raise ValueError(f"sigma must lie in [s_1, s_N] = [{g[0]:g}, {g[-1]:g}], got values in "
                         f"[{np.min(s):g}, {np.max(s):g}]")
    s = np.where(on_grid, g[i], s)
    k = np.searchsorted(b, s, side="left") - 1  # largest boundary strictly below s
    return np.where(k < 0, s, b[np.maximum(k, 0)])


# ----------------------------------------------------------------------------- the teacher


def teacher_step(denoiser, x, sigma_from, sigma_to, solver: str = "heun") -> np.ndarray:
    """One PF-ODE step of the teacher, per sample: Solver(x, sigma_from -> sigma_to).

    Euler: x + (t - s) (x - D(x, s)) / s. Heun (EDM Algorithm 1): the Euler predictor x',
    then x + (t - s) (d + d') / 2 with d' = (x' - D(x', t)) / t.

    The update is :func:`~ideal_diffusion.solvers.euler_step` /
    :func:`~ideal_diffusion.solvers.heun_step`, the sampler's own (one copy of each).

    Parameters
    ----------
    denoiser : callable ``denoiser(x, sigma)`` accepting a (B,) sigma array
    x : (B, d) real array
    sigma_from, sigma_to : float or (B,) arrays, > 0
    solver : {"euler", "heun"}

    Returns
    -------
    x_next : (B, d) array (x's dtype: float32 stays float32)

    Raises
    ------
    ValueError, TypeError
        On a bad solver, x, or sigma (None, non-numeric, wrong shape, <= 0).
    """
    if not isinstance(solver, str) or solver not in TEACHER_SOLVERS:
        raise ValueError(f"solver must be one of {TEACHER_SOLVERS}, got {solver!r}")
    if x is None:
        raise TypeError("x must be a real (B, d) array, got None")
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (B, d), got {x.shape}")
    B = x.shape[0]
    s = _level(sigma_from, B, "sigma_from")
    t = _level(sigma_to, B, "sigma_to")
    step = euler_step if solver == "euler" else heun_step  # the sampler's own updates
    return step(denoiser, x, s, t)[0]


def _level(v, B: int, name: str) -> np.ndarray:
    """A teacher-step noise level as a (B,) float64 array > 0, validated."""
    return _v.sigma_levels(v, B, name)


def teacher_chain(denoiser, x, sigma, sigma_to, grid, solver: str = "heun") -> np.ndarray:
    """The teacher's solver chained along the grid, per sample, from ``sigma`` down to ``sigma_to``.

    Sample i takes the steps s_n -> s_{n-1} -> ... -> sigma_to[i] of the grid (none when
    sigma[i] == sigma_to[i]). All samples step together, each at its own level.

    Parameters
    ----------
    x : (B, d) array
    sigma, sigma_to : float or (B,) arrays of grid values, sigma >= sigma_to
    grid : (N,) array, any order

    Returns
    -------
    x_to : (B, d) array
    """
    G = _grid(grid)
    g = G.sigmas
    x = np.array(x, dtype=np.float64)
    B = x.shape[0]
    cur = np.broadcast_to(grid_index(G, sigma), (B,)).copy()
    end = np.broadcast_to(grid_index(G, sigma_to), (B,))
    if np.any(end > cur):
        raise ValueError("sigma_to must be <= sigma (the chain runs towards the data)")
    while True:
        act = np.flatnonzero(cur > end)
        if act.size == 0:
            return x
        x[act] = teacher_step(denoiser, x[act], g[cur[act]], g[cur[act] - 1], solver)
        cur[act] -= 1


def teacher_map(denoiser, x_T, sigmas, solver: str = "heun") -> np.ndarray:
    """The KD target: the teacher's own solve of x_T along ``sigmas`` (EDM sampler grid).

    Parameters
    ----------
    denoiser : callable
    x_T : (B, d) array at ``sigmas[0]``
    sigmas : **descending** sampler grid, e.g. ``karras_sigmas(n)`` (n steps, trailing 0)
    solver : {"euler", "heun", "dpmpp_2m"}

    Returns
    -------
    x0_hat : (B, d) array
    """
    return sample(denoiser, x_T, sigmas, solver)


def consistency_optimum(denoiser, x, sigma, grid, solver: str = "heun",
                        boundaries=None) -> np.ndarray:
    """The exact minimiser of the CD loss: the teacher chained from sigma to its lower boundary.

    f*(x, s_n) = Solver(... Solver(x, s_n -> s_{n-1}) ... -> b_k), with b_k the lower
    boundary of s_n's segment (s_1 when ``boundaries`` is None); f*(x, s_1) = x.

    Parameters
    ----------
    denoiser : callable (the ideal denoiser)
    x : (B, d) array
    sigma : float or (B,) array of grid values
    grid : (N,) array, any order
    solver : {"euler", "heun"}
    boundaries : (K,) array of grid values containing s_1, or None

    Returns
    -------
    f_star : (B, d) array

    Raises
    ------
    TypeError
        If ``x`` or ``sigma`` is not real (None, strings, complex).
    ValueError
        If ``x`` is not a finite (B, d) array, ``sigma`` neither a scalar nor a (B,) array of
        grid values, or on a bad grid or solver.
    """
    x = _v.states(x, "x")
    s = _v.real_array(sigma, "sigma")
    if s.ndim > 1 or (s.ndim == 1 and s.shape != (x.shape[0],)):
        raise ValueError(f"sigma must be a scalar or have shape ({x.shape[0]},), got shape "
                         f"{s.shape}")
    G = _grid(grid)
    return teacher_chain(denoiser, x, s, lower_boundary(G, boundaries, s), G, solver)


class ConsistencyOracle:
    """The exact CD optimum as a student-shaped callable ``f(x, sigma, boundary=None)``.

    With ``boundary`` given it chains to that grid value instead of the segment's lower
    boundary (what K-jump sampling asks of a student at a boundary). Useful wherever a
    trained student goes: samplers, losses, figures.
    """

    def __init__(self, denoiser, grid, solver: str = "heun", boundaries=None):
        self._grid = _grid(grid)
        self.denoiser, self.grid, self.solver = denoiser, self._grid.sigmas, solver
        self.boundaries = check_boundaries(self._grid, boundaries)

    def __call__(self, x, sigma, boundary=None):
        B = np.asarray(x).shape[0]
        s = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (B,))
        if boundary is None:
            to = lower_boundary(self._grid, self.boundaries, s)
        else:
            to = np.broadcast_to(np.asarray(boundary, dtype=np.float64), (B,))
        return teacher_chain(self.denoiser, x, s, to, self._grid, self.solver)


def consistency_training_target(denoiser: IdealDenoiser, x, sigma, grid, solver: str = "heun",
                                boundaries=None, target=None) -> np.ndarray:
    """The optimum of the one-sample (consistency-training) loss at one grid level: a mixture.

    CT replaces the teacher step by the one-sample estimate x_{n-1} = x0 + s_{n-1} z with
    the z of x_n = x0 + s_n z, i.e. x_{n-1} = x0^j + (s_{n-1}/s_n)(x_n - x0^j) when x0 = x0^j.
    Minimising E|f(x_n, s_n) - g(x_{n-1}, s_{n-1})|^2 pointwise gives the posterior mixture

        f_CT(x, s_n) = sum_j pi_j(x, s_n) g(x0^j + (s_{n-1}/s_n)(x - x0^j), s_{n-1}),

    whereas CD's target g(Solver(x, s_n -> s_{n-1}), s_{n-1}) is one point (lecture:
    "again a mixture? NO!"). The mean of the CT points is exactly the Euler step.

    Parameters
    ----------
    denoiser : IdealDenoiser of a DeltaMixture (the posterior pi is needed)
    x : (B, d) array
    sigma : float or (B,) array of grid values > s_1 (not a segment's lowest point)
    grid : (N,) array, any order
    solver, boundaries :
        Define the default ``g``: the exact CD optimum at s_{n-1} (identity at a boundary).
    target : callable ``g(x, sigma, boundary) -> (M, d)``, optional
        The next-level function, called with the segment's lower boundary (a student or
        the default, :class:`ConsistencyOracle`: the exact CD optimum).

    Returns
    -------
    f_ct : (B, d) array
    """
    if not isinstance(denoiser, IdealDenoiser) or not denoiser.is_delta:
        raise ValueError("denoiser must be an IdealDenoiser of a DeltaMixture")
    G = _grid(grid)
    g = G.sigmas
    if x is None:
        raise TypeError("x must be a real (B, d) array, got None")
    x = np.asarray(x)
    if x.dtype.kind not in "fiu" or x.ndim != 2 or x.shape[1] != denoiser.d:
        raise ValueError(f"x must be a real array of shape (B, {denoiser.d}), "
                         f"got {x.dtype} {x.shape}")
    x = x.astype(np.float64)
    B, d = x.shape
    s = _level(sigma, B, "sigma")
    i = grid_index(G, s)
    if np.any(i == 0):
        raise ValueError("sigma must be above s_1 (there is no level below s_1)")
    s_prev = g[i - 1]
    to = lower_boundary(G, boundaries, s)  # the segment's target level, kept by g below
    if target is None:
        target = ConsistencyOracle(denoiser, G, solver, boundaries)
    pts = denoiser.data.points  # (N, d)
    M = pts.shape[0]
    out = np.empty((B, d))
    # rows in chunks, so that the (chunk, N, d) blocks (the one-sample points and their
    # targets) stay near _CT_CHUNK_ELEMS entries whatever B is
    step = max(1, _CT_CHUNK_ELEMS // max(1, M * d))
    for lo in range(0, B, step):
        hi = min(lo + step, B)
        pi = denoiser.posterior(x[lo:hi], s[lo:hi])  # (b, N)
        ratio = (s_prev[lo:hi] / s[lo:hi])[:, None, None]
        x_prev = pts[None] + ratio * (x[lo:hi, None, :] - pts[None])  # (b, N, d)
        b = hi - lo
        vals = target(x_prev.reshape(b * M, d), np.repeat(s_prev[lo:hi], M),
                      np.repeat(to[lo:hi], M))
        del x_prev
        out[lo:hi] = np.einsum("bn,bnd->bd", pi, np.asarray(vals).reshape(b, M, d))
    return out
