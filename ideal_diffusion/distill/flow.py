"""Flow matching with the exact velocity (lecture, "Moving towards fast DMs: 1. Flow based
approaches").

The flow-matching path
----------------------
Flow matching (Lipman et al. 2023; the rectified-flow interpolation of Liu et al. 2023) joins
a data point x0 and a noise eps ~ N(0, I) by the straight line

    x_t = (1 - t) x0 + t eps,        t in [0, 1]  (t = 0: data, t = 1: noise),

and regresses a velocity field u(x, t) onto d x_t / dt = eps - x0. The optimum of the
flow-matching loss E |u(x_t, t) - (eps - x0)|^2 is the conditional mean

    u(x, t) = E[eps - x0 | x_t = x].

The exact velocity from the VE denoiser
---------------------------------------
Divide the path by (1 - t): x_t / (1 - t) = x0 + sigma eps with sigma = t / (1 - t). So
x_t = x is the VE noising x0 + sigma eps = y at y = x / (1 - t), and conditioning on one
is conditioning on the other: E[x0 | x_t = x] = D(x / (1 - t), t / (1 - t)), with D the
ideal VE denoiser (exact for a delta mixture and for a Gaussian mixture: only D is used).
On the path, eps = (x - (1 - t) x0) / t, hence

    eps - x0 = (x - (1 - t) x0) / t - x0 = (x - x0) / t,

which is affine in x0, so its conditional mean is

    u(x, t) = (x - D(x / (1 - t), t / (1 - t))) / t.                  (:func:`fm_velocity`)

The FM ODE is the VE PF-ODE reparameterised
-------------------------------------------
Let y(sigma) solve the VE PF-ODE dy/dsigma = (y - D(y, sigma)) / sigma and put
x(t) = (1 - t) y(sigma(t)). With d sigma / dt = 1 / (1 - t)^2,

    dx/dt = -y + (1 - t) (y - D) / sigma * 1 / (1 - t)^2 = -y + (y - D) / t
          = ((1 - t) y - D) / t = (x - D(x / (1 - t), sigma)) / t = u(x, t).

So the ideal FM ODE and the VE PF-ODE have the same paths up to the time-dependent scale
(1 - t): x_FM(t) = (1 - t) x_VE(sigma = t / (1 - t)). The sampler's start x_T = 80 eps at
sigma_max = 80 is x_FM = (1 - t_max) x_T = t_max eps at t_max = 80 / 81, and its end sigma_min
is t_min = sigma_min / (1 + sigma_min). A single data point has D = x0 everywhere, so
u = (x - x0) / t and the path x0 + (x - x0) t / t_start is a straight line travelled at
constant speed: one Euler step in t is exact. A mixture's D moves along the path, so its FM
path bends (measured in :mod:`ideal_diffusion.experiments.flow`).

Euler in t is Euler in sigma on the mapped grid
-----------------------------------------------
An Euler step in t, x' = x + (t' - t) u = (t'/t) x + (1 - t'/t) D, divided by (1 - t') is
y' = (sigma'/sigma) y + (1 - sigma'/sigma) D: the Euler (DDIM) step of the VE ODE from sigma
to sigma' (because (t'/t)(1 - t)/(1 - t') = sigma'/sigma). The two ODEs are the same ODE and
the first-order samplers differ only by their grids: uniform in t, or Karras in sigma.

Grids in t are **descending** (noise -> data), like the sampler's sigma grids.
"""
from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from .. import _validate as _v
from ..schedules import SIGMA_MAX, SIGMA_MIN

__all__ = ["T_MIN", "T_MAX", "IdealVelocity", "euler_t", "fm_to_ve",
           "fm_velocity", "flow_path", "sigma_of_t", "solve_flow", "t_of_sigma", "uniform_t",
           "ve_to_fm"]

#: the FM times of the sampler's ends: t = sigma / (1 + sigma)
T_MIN = SIGMA_MIN / (1.0 + SIGMA_MIN)
T_MAX = SIGMA_MAX / (1.0 + SIGMA_MAX)


def _check_t(t, B=None, name="t", lo_closed=False, hi_closed=False) -> np.ndarray:
    a = _v.real_array(t, name, finite=False)
    if B is not None:
        if a.ndim == 0:
            a = np.full(B, float(a))
        elif a.shape != (B,):
            raise ValueError(f"{name} must be a scalar or have shape ({B},), got {a.shape}")
    lo_ok = (a >= 0) if lo_closed else (a > 0)
    hi_ok = (a <= 1) if hi_closed else (a < 1)
    if not np.all(np.isfinite(a)) or not np.all(lo_ok & hi_ok):
        rng = ("[" if lo_closed else "(") + "0, 1" + ("]" if hi_closed else ")")
        raise ValueError(f"{name} must be in {rng}, got {a.min() if a.size else a!r}"
                         f"..{a.max() if a.size else a!r}")
    return a


def _check_x(x, name="x") -> np.ndarray:
    return _v.states(x, name)


def sigma_of_t(t):
    """The VE noise level of FM time t: sigma = t / (1 - t), t in [0, 1) (array or float)."""
    a = _check_t(t, lo_closed=True)
    return a / (1.0 - a)


def t_of_sigma(sigma):
    """The FM time of a VE noise level: t = sigma / (1 + sigma), sigma in [0, inf)."""
    s = _v.real_array(sigma, "sigma", finite=False)
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"sigma must be finite and in [0, inf), got {sigma!r}")
    return s / (1.0 + s)


def ve_to_fm(y, sigma):
    """x_FM = y / (1 + sigma) = (1 - t) y: a VE state at sigma as the FM state at t(sigma)."""
    return np.asarray(y, dtype=np.float64) * (1.0 - t_of_sigma(sigma))


def fm_to_ve(x, t):
    """y = x / (1 - t): an FM state at t as the VE state at sigma = t / (1 - t)."""
    return np.asarray(x, dtype=np.float64) / (1.0 - _check_t(t, lo_closed=True))


def fm_velocity(denoiser, x, t) -> np.ndarray:
    """The exact flow-matching velocity u(x, t) = E[eps - x0 | x_t = x] (see the module notes).

    u(x, t) = (x - D(x / (1 - t), t / (1 - t))) / t.

    Parameters
    ----------
    denoiser : callable ``D(y, sigma) -> (B, d)``, sigma a scalar or (B,) array
        The VE ideal denoiser (:class:`~ideal_diffusion.denoiser.IdealDenoiser`).
    x : (B, d) array
        FM states.
    t : float or (B,) array in (0, 1)

    Returns
    -------
    u : (B, d) float64 array

    Raises
    ------
    TypeError
        If ``x`` or ``t`` is not real.
    ValueError
        If t is outside (0, 1), x is not a finite (B, d) array, the denoiser's output has
        the wrong shape, or u overflows float64 (t so small that |x - D| / t exceeds it).
    FloatingPointError
        If the denoiser returns NaN or inf.
    """
    x = _check_x(x)
    t = _check_t(t, x.shape[0])
    sig = t / (1.0 - t)
    y = x / (1.0 - t)[:, None]
    D = _v.model_output(denoiser(y, sig), x.shape, "the denoiser in fm_velocity")
    with np.errstate(over="ignore"):
        u = (x - D) / t[:, None]
    if not np.all(np.isfinite(u)):
        raise ValueError(f"fm_velocity overflows float64 at t = {float(t.min()):g}: u "
                                 "scales like 1/t, so t must be larger there")
    return u


class IdealVelocity:
    """The exact FM velocity of a data set as a callable ``u(x, t)`` (see :func:`fm_velocity`).

    Parameters
    ----------
    denoiser : IdealDenoiser (or any VE denoiser accepting per-row sigma)

    Attributes
    ----------
    nfe : int
        Velocity evaluations so far, counted per row (single-point evaluations).
    """

    def __init__(self, denoiser):
        self.denoiser = denoiser
        self.nfe = 0

    def __call__(self, x, t):
        x = _check_x(x)
        self.nfe += x.shape[0]
        return fm_velocity(self.denoiser, x, t)


def uniform_t(steps: int, t_min: float = T_MIN, t_max: float = T_MAX) -> np.ndarray:
    """The uniform FM sampler grid: ``steps + 1`` values from t_max down to t_min, **descending**.

    Raises
    ------
    ValueError
        If steps < 1 or not 0 < t_min < t_max < 1.
    """
    steps = _v.integer(steps, "steps", 1)
    t_min = _v.real(t_min, "t_min", 0.0, 1.0, lo_open=True, hi_open=True)
    t_max = _v.real(t_max, "t_max", 0.0, 1.0, lo_open=True, hi_open=True)
    if not 0 < t_min < t_max < 1:
        raise ValueError(f"need 0 < t_min < t_max < 1, got t_min={t_min}, t_max={t_max}")
    ts = np.linspace(t_max, t_min, int(steps) + 1)
    ts[0], ts[-1] = t_max, t_min
    return ts


def _check_tgrid(ts) -> np.ndarray:
    g = np.asarray(ts, dtype=np.float64)
    if g.ndim != 1 or g.size < 2:
        raise ValueError(f"ts must be a 1-D grid with >= 2 values, got shape {g.shape}")
    _check_t(g, name="ts")
    if np.any(np.diff(g) >= 0):
        raise ValueError("ts must be strictly descending (noise -> data), values in (0, 1)")
    return g


def euler_t(velocity, x, ts, return_trajectory: bool = False):
    """Euler in t: x <- x + (t' - t) v(x, t) along a **descending** t grid.

    Parameters
    ----------
    velocity : callable ``v(x, t) -> (B, d)`` (t a float)
    x : (B, d) array, the state at ``ts[0]``
    ts : (n + 1,) array, strictly descending, in (0, 1)
    return_trajectory : bool
        Also return the states ``(n + 1, B, d)``, ``states[i]`` at ``ts[i]``.

    Returns
    -------
    x : (B, d) array at ``ts[-1]`` (NFE = n)
    states : (n + 1, B, d) array, only with ``return_trajectory``

    Raises
    ------
    ValueError
        On a bad grid or x, or a velocity output of the wrong shape (nothing is broadcast).
    FloatingPointError
        If the velocity returns NaN or inf (the message names the time).
    """
    if not callable(velocity):
        raise TypeError(f"velocity must be callable v(x, t), got {type(velocity).__name__}")
    g = _check_tgrid(ts)
    x = _check_x(x).copy()
    states = [x.copy()] if return_trajectory else None
    for t, t_next in zip(g[:-1], g[1:]):
        v = _v.model_output(velocity(x, float(t)), x.shape, f"the velocity in euler_t at t = {t:g}")
        x = x + (float(t_next) - float(t)) * v
        if return_trajectory:
            states.append(x.copy())
    return (x, np.stack(states)) if return_trajectory else x


def solve_flow(velocity, x, t_from: float, t_to: float, rtol: float = 1e-10,
               atol: float = 1e-10) -> np.ndarray:
    """The FM ODE dx/dt = v(x, t) from ``t_from`` to ``t_to``, by DOP853 **in t** (not log sigma).

    An integration independent of :func:`~ideal_diffusion.solvers.solve_ode` (other variable,
    other field, other step sequence): with the exact velocity, its result equals
    (1 - t_to) x_VE(sigma(t_to)) to the tolerances.

    Parameters
    ----------
    velocity : callable ``v(x, t) -> (B, d)`` (t a float)
    x : (B, d) array at ``t_from``
    t_from, t_to : float in (0, 1); either direction
    rtol, atol : float, > 0

    Returns
    -------
    x_to : (B, d) float64 array
    """
    return flow_path(velocity, x, np.array([t_from, t_to]), rtol, atol)[-1]


def flow_path(velocity, x, ts, rtol: float = 1e-10, atol: float = 1e-10) -> np.ndarray:
    """States of the FM ODE at the monotone times ``ts`` (one DOP853 solve in t, all rows).

    Parameters
    ----------
    velocity : callable ``v(x, t) -> (B, d)``
    x : (B, d) array at ``ts[0]``
    ts : (T,) array in (0, 1), strictly monotone (descending: noise -> data)

    Returns
    -------
    states : (T, B, d) float64 array, ``states[i]`` at ``ts[i]``

    Raises
    ------
    ValueError
        On bad times or x; RuntimeError if the integrator fails.
    """
    if not callable(velocity):
        raise TypeError(f"velocity must be callable v(x, t), got {type(velocity).__name__}")
    rtol = _v.real(rtol, "rtol", 0.0, lo_open=True)
    atol = _v.real(atol, "atol", 0.0)
    x = _check_x(x)
    g = _check_t(ts, name="ts")
    if g.ndim != 1 or g.size < 2 or not (np.all(np.diff(g) < 0) or np.all(np.diff(g) > 0)):
        raise ValueError("ts must be a strictly monotone 1-D grid with >= 2 values in (0, 1)")
    shape = x.shape

    def field(t, z):
        return np.asarray(velocity(z.reshape(shape), float(t)), dtype=np.float64).ravel()

    sol = solve_ivp(field, (float(g[0]), float(g[-1])), x.ravel(), method="DOP853",
                    t_eval=g, rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    out = sol.y.T.reshape((g.size,) + shape)
    out[0] = x
    return out
