"""Integrators of the VE probability-flow ODE  dx/dsigma = (x - D(x, sigma)) / sigma.

* One step of each fixed-step solver, written once: :func:`euler_step`, :func:`heun_step`
  (EDM Algorithm 1, deterministic) and :func:`dpmpp_2m_step` (DPM-Solver++(2M)). Each takes
  a scalar or a per-row ``(B,)`` sigma, so the sampler and the distillation teacher
  (:func:`ideal_diffusion.distill.optima.teacher_step`) share the same update.
* :func:`sample_steps` -- a generator over a **descending** sigma grid yielding the state
  after each step (and the denoiser output), in the style of smalldiffusion's sampler;
  :func:`sample` -- the few-step samplers whose error the lecture is about, built on it.
* :func:`solve_ode` -- the reference solution (scipy's DOP853 at tight tolerances), in
  the variable u = log sigma, where the field x - D is well scaled at every noise level.

``denoiser`` is any callable ``denoiser(x, sigma) -> (B, d)`` with ``x : (B, d)`` and
``sigma`` a Python float (scalar grids, as in :func:`sample`) or a ``(B,)`` array (per-row
steps): the :class:`~ideal_diffusion.denoiser.IdealDenoiser` or a trained student. Its
output must have exactly the shape of ``x`` and be finite; it is used in ``x``'s dtype.
"""
from __future__ import annotations

import warnings
from contextlib import nullcontext

import numpy as np
from scipy.integrate import solve_ivp

from . import _validate as _v
from ._threads import small_blas
from .schedules import _real

__all__ = ["sample", "sample_steps", "euler_step", "heun_step", "dpmpp_2m_step", "solve_ode",
           "nfe", "SOLVERS", "ZeroEndWarning"]

SOLVERS = ("euler", "heun", "dpmpp_2m")


# ----------------------------------------------------------------------------- validation


def _check_grid(sigmas) -> np.ndarray:
    s = _v.real_array(sigmas, "sigmas", finite=False)
    if s.ndim != 1 or s.size < 2:
        raise ValueError(f"sigmas must be a 1-D grid with >= 2 values, got shape {s.shape}")
    if not np.all(np.isfinite(s)) or np.any(s[:-1] <= 0) or s[-1] < 0:
        raise ValueError("sigmas must be finite, > 0, with only the last value allowed to be 0")
    if np.any(np.diff(s) >= 0):
        raise ValueError("sigmas must be strictly descending (noise -> data)")
    return s


def _check_x(x_T, name: str = "x_T") -> np.ndarray:
    """Finite real (B, d) states; float32 kept, every other real dtype as float64."""
    return _v.states(x_T, name, dtype=None)


def _check_solver(solver, allowed=SOLVERS) -> str:
    if not isinstance(solver, str):
        raise TypeError(f"solver must be a string, one of {allowed}, got "
                        f"{type(solver).__name__} {solver!r}")
    if solver not in allowed:
        raise ValueError(f"solver must be one of {allowed}, got {solver!r}")
    return solver


def _sig(sigma, B: int, name: str, allow_zero: bool):
    """A noise level as a Python float (scalar) or a (B,) float64 array, validated."""
    if sigma is None or isinstance(sigma, (str, bytes)):
        raise TypeError(f"{name} must be a real number or a ({B},) array, got {sigma!r}")
    a = np.asarray(sigma)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real number or a ({B},) array, got dtype {a.dtype}")
    if a.ndim == 0:
        v = float(a)
        bad = not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero)
    elif a.shape == (B,):
        v = a.astype(np.float64)
        bad = not np.all(np.isfinite(v)) or np.any(v < 0) or (not allow_zero and np.any(v == 0))
    else:
        raise ValueError(f"{name} must be a scalar or have shape ({B},), got {a.shape}")
    if bad:
        rng = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {rng}, got {sigma!r}")
    return v


# ----------------------------------------------------------------------------- one step


def _col(v, x):
    """A per-step coefficient in x's dtype: a Python float, or a (B, 1) column."""
    return float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=x.dtype)[:, None]


def _denoise(denoiser, x, sigma):
    """denoiser(x, sigma) checked: exactly x's shape, finite, in x's dtype."""
    D = np.asarray(denoiser(x, sigma))
    if D.shape != x.shape:
        raise ValueError(f"the denoiser returned shape {D.shape} at sigma={_show(sigma)}; "
                         f"it must return x's shape {x.shape} (no broadcasting)")
    if D.dtype.kind not in "fiu":
        raise TypeError(f"the denoiser returned dtype {D.dtype} at sigma={_show(sigma)}; "
                        "it must return real numbers")
    if not np.all(np.isfinite(D)):
        raise FloatingPointError(f"the denoiser returned NaN or inf at sigma={_show(sigma)}")
    return D.astype(x.dtype, copy=False)


def _blas(denoiser, x):
    """One BLAS thread for a whole solve when the denoiser's matrices are small (the denoiser's
    ``blas_work``; a callable without one is left alone: student models pin themselves)."""
    work = getattr(denoiser, "blas_work", None)
    if not callable(work):
        return nullcontext()
    return small_blas(work(x.shape[0]), lower=False)


def _show(sigma) -> str:
    a = np.asarray(sigma)
    return f"{float(a):g}" if a.ndim == 0 else f"[{a.min():g} .. {a.max():g}]"


def _euler(denoiser, x, s, t):
    D = _denoise(denoiser, x, s)
    dx = (x - D) / _col(s, x)  # the ODE slope dx/dsigma at (x, s)
    return x + _col(np.subtract(t, s), x) * dx, D, dx


def _heun(denoiser, x, s, t):
    x_e, D, dx = _euler(denoiser, x, s, t)
    if np.ndim(t) == 0:
        if t == 0:  # the slope at sigma = 0 is undefined: the last step stays Euler
            return x_e, D
        dx_next = (x_e - _denoise(denoiser, x_e, t)) / t
        return x + (t - s) * 0.5 * (dx + dx_next), D
    rows = np.flatnonzero(t > 0)
    if rows.size == 0:
        return x_e, D
    full = rows.size == t.size
    xr, tr = (x_e, t) if full else (x_e[rows], t[rows])
    dx_next = (xr - _denoise(denoiser, xr, tr)) / _col(tr, x)
    h = _col(np.subtract(t, s), x)
    if full:
        return x + h * 0.5 * (dx + dx_next), D
    out = x_e.copy()
    out[rows] = x[rows] + h[rows] * 0.5 * (dx[rows] + dx_next)
    return out, D


def _dpmpp_2m(denoiser, x, s, t, s_prev=None, D_prev=None):
    D = _denoise(denoiser, x, s)
    scalar = np.ndim(s) == 0 and np.ndim(t) == 0 and np.ndim(s_prev) == 0
    s_a, t_a = np.asarray(s, dtype=np.float64), np.asarray(t, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.log(s_a) - np.log(t_a)  # t = -log sigma: h = t' - t > 0; inf when t = 0
        D2 = D
        if D_prev is not None:
            r = (np.log(np.asarray(s_prev, dtype=np.float64)) - np.log(s_a)) / h
            c = np.where(t_a == 0, 0.0, 1 / (2 * r))  # a step to 0 uses D alone
            if scalar:
                c = float(c)
            D2 = (1 + _col(c, x)) * D - _col(c, x) * D_prev
        ratio = np.where(t_a == 0, 0.0, t_a / s_a)
        em = np.where(t_a == 0, -1.0, np.expm1(-h))  # the limit h -> inf: x' = D
    return _col(ratio, x) * x - _col(em, x) * D2, D


def euler_step(denoiser, x, sigma, sigma_next):
    """One Euler step of the PF-ODE: x' = x + (sigma' - sigma) (x - D(x, sigma)) / sigma.

    Parameters
    ----------
    denoiser : callable ``denoiser(x, sigma) -> (B, d)``
    x : (B, d) array
        The state at ``sigma``.
    sigma : float or (B,) array, > 0
    sigma_next : float or (B,) array, >= 0 (either direction)

    Returns
    -------
    x_next : (B, d) array, x's dtype (float32 stays float32)
    denoised : (B, d) array, D(x, sigma)

    Raises
    ------
    ValueError, TypeError
        On a bad x or sigma, or a denoiser output of the wrong shape;
        FloatingPointError if the denoiser returns NaN or inf.
    """
    x = _check_x(x, "x")
    s = _sig(sigma, x.shape[0], "sigma", False)
    t = _sig(sigma_next, x.shape[0], "sigma_next", True)
    return _euler(denoiser, x, s, t)[:2]


def heun_step(denoiser, x, sigma, sigma_next):
    """One Heun step (EDM Algorithm 1, S_churn = 0): Euler predictor, trapezoidal corrector.

    x_e = x + (t - s) d with d = (x - D(x, s)) / s, then x' = x + (t - s) (d + d') / 2 with
    d' = (x_e - D(x_e, t)) / t. Rows with t = 0 keep the Euler step (the slope is undefined
    there), so such a row costs one denoiser evaluation instead of two.

    Parameters and Returns are as for :func:`euler_step`.
    """
    x = _check_x(x, "x")
    s = _sig(sigma, x.shape[0], "sigma", False)
    t = _sig(sigma_next, x.shape[0], "sigma_next", True)
    return _heun(denoiser, x, s, t)


def dpmpp_2m_step(denoiser, x, sigma, sigma_next, sigma_prev=None, denoised_prev=None):
    """One DPM-Solver++(2M) step (Lu et al. 2022, Algorithm 2) in EDM's sigma form.

    With t = -log sigma and h = t' - t: x' = (sigma'/sigma) x - expm1(-h) D_2, where
    D_2 = (1 + 1/2r) D - (1/2r) D_prev, r = (log sigma_prev - log sigma) / h (the
    multistep correction, as in k-diffusion). Without ``denoised_prev`` (the first step),
    and on a step to sigma' = 0 (the limit h -> inf), D_2 = D, so a step to 0 returns D.

    Parameters
    ----------
    denoiser : callable
    x : (B, d) array, the state at ``sigma``
    sigma : float or (B,) array, > 0
    sigma_next : float or (B,) array, >= 0, below ``sigma``
    sigma_prev : float or (B,) array, > sigma, optional
        The level of the previous step; required with ``denoised_prev``.
    denoised_prev : (B, d) array, optional
        D at the previous step (what the previous call returned as ``denoised``).

    Returns
    -------
    x_next : (B, d) array, x's dtype
    denoised : (B, d) array, D(x, sigma): pass it as ``denoised_prev`` to the next step
    """
    x = _check_x(x, "x")
    B = x.shape[0]
    s = _sig(sigma, B, "sigma", False)
    t = _sig(sigma_next, B, "sigma_next", True)
    if np.any(np.asarray(t) >= np.asarray(s)):
        raise ValueError("sigma_next must be below sigma (DPM-Solver++ steps towards the data)")
    if (sigma_prev is None) != (denoised_prev is None):
        raise ValueError("sigma_prev and denoised_prev must be given together")
    if denoised_prev is not None:
        sp = _sig(sigma_prev, B, "sigma_prev", False)
        if np.any(np.asarray(sp) <= np.asarray(s)):
            raise ValueError("sigma_prev must be above sigma (the previous, noisier level)")
        dp = _check_x(denoised_prev, "denoised_prev")
        if dp.shape != x.shape:
            raise ValueError(f"denoised_prev must have shape {x.shape}, got {dp.shape}")
        return _dpmpp_2m(denoiser, x, s, t, sp, dp.astype(x.dtype, copy=False))
    return _dpmpp_2m(denoiser, x, s, t)


_STEPS = {"euler": lambda den, x, s, t, sp, Dp: _euler(den, x, s, t)[:2],
          "heun": lambda den, x, s, t, sp, Dp: _heun(den, x, s, t),
          "dpmpp_2m": _dpmpp_2m}


# ----------------------------------------------------------------------------- sampling


def nfe(solver: str, sigmas) -> int:
    """Number of denoiser evaluations ``sample`` spends on the grid ``sigmas`` (descending).

    Euler and DPM-Solver++(2M): one per step, n. Heun: two per step except a step that ends at
    sigma = 0 (Euler there), so 2n - 1 on a grid with a trailing 0 and 2n without.
    """
    solver = _check_solver(solver)
    s = _check_grid(sigmas)
    n = s.size - 1
    if solver == "heun":
        return 2 * n - int(s[-1] == 0)
    return n


def sample_steps(denoiser, x_T, sigmas, solver: str = "heun", last_first_order: bool = False):
    """Step through a **descending** grid, yielding after each step (a generator).

    Parameters
    ----------
    denoiser : callable ``denoiser(x, sigma) -> (B, d)``, called with Python float sigmas
    x_T : (B, d) array, the state at ``sigmas[0]``
    sigmas : (n + 1,) array, strictly descending, > 0 except possibly a final 0
    solver : {"euler", "heun", "dpmpp_2m"}
    last_first_order : bool
        ``dpmpp_2m`` only: the last step drops the multistep correction (see :func:`sample`).

    Yields
    ------
    x : (B, d) array
        The state at ``sigmas[i + 1]`` after step i (i = 0..n-1), x_T's dtype.
    denoised : (B, d) array
        D(state at sigmas[i], sigmas[i]).

    Raises
    ------
    ValueError, TypeError
        On bad arguments (at the first ``next``), or a denoiser output of the wrong shape;
        FloatingPointError when the denoiser returns NaN or inf (naming the step and sigma).
    """
    solver = _check_solver(solver)
    s = _check_grid(sigmas)
    x = _check_x(x_T)
    _check_last(last_first_order, solver)
    _warn_zero(s)
    return _steps(denoiser, x, s, _STEPS[solver], last_first_order)


def _check_last(last_first_order, solver: str) -> None:
    if not isinstance(last_first_order, (bool, np.bool_)):
        raise TypeError(f"last_first_order must be a bool, got {last_first_order!r}")
    if last_first_order and solver != "dpmpp_2m":
        raise ValueError(f"last_first_order=True applies to solver 'dpmpp_2m' only, got "
                         f"{solver!r} (Euler is first-order already; Heun's last step to a "
                         "trailing 0 is Euler)")


class ZeroEndWarning(UserWarning):
    """A sampler grid ends at sigma = 0: its sample is snapped onto the sigma -> 0 limit."""


def _warn_zero(s: np.ndarray) -> None:
    if s[-1] == 0:
        warnings.warn(
            "the sigma grid ends at 0: the last step returns D(x, sigma_{n-1}), for a delta "
            "mixture (nearly) the nearest data point, which hides how far the sample was from "
            "the data. The project's samples stop at sigma_min: use sampling_grid(n) or "
            "karras_sigmas(n, append_zero=False); for the limit itself call "
            "IdealDenoiser.nearest_point. (Silence with warnings.simplefilter('ignore', "
            "ZeroEndWarning) when the step to 0 is meant.)", ZeroEndWarning, stacklevel=3)


def _steps(denoiser, x, s, step, last_first_order: bool = False):
    D_prev, s_prev = None, None
    for i in range(s.size - 1):
        s_cur, s_next = float(s[i]), float(s[i + 1])  # Python floats keep float32 float32
        if last_first_order and i == s.size - 2:
            D_prev, s_prev = None, None  # the last step uses D alone (first order)
        try:
            x, D = step(denoiser, x, s_cur, s_next, s_prev, D_prev)
        except (ValueError, TypeError, FloatingPointError) as e:
            raise type(e)(f"step {i} (sigma {s_cur:g} -> {s_next:g}): {e}") from e
        D_prev, s_prev = D, s_cur
        yield x, D


def sample(denoiser, x_T, sigmas, solver: str = "heun", return_trajectory: bool = False,
           last_first_order: bool = False):
    """Integrate the PF-ODE from ``sigmas[0]`` to ``sigmas[-1]`` with a fixed-step solver.

    ``euler``: x <- x + (s' - s) (x - D(x, s)) / s (:func:`euler_step`).
    ``heun``: EDM Algorithm 1 with S_churn = 0 (deterministic): an Euler predictor, then the
    trapezoidal corrector with the slope at (x', s') -- on every step except one ending at
    s' = 0, which stays Euler (the slope is undefined there). NFE = 2n - 1 for n steps to 0
    (:func:`heun_step`).
    ``dpmpp_2m``: DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2) in EDM's sigma
    parameterisation, as in k-diffusion (:func:`dpmpp_2m_step`). NFE = n.
    With ``last_first_order=True`` its last step uses D alone (the DPM-Solver++(1) / DDIM
    step, as diffusers' ``lower_order_final``): few-step grids end with a long step in
    log sigma on which the extrapolated D_2 = D + (D - D_prev)/(2r) overshoots when the
    exact D jumps between data points late (``experiments.dpm_overshoot``). NFE unchanged.

    A grid ending at **sigma = 0** raises a :class:`ZeroEndWarning`: the step to 0 returns
    D(x, sigma_{n-1}), for a delta mixture (nearly) the nearest data point, so such a sample
    says nothing about how close the sampler came to the data. We warn rather than drop the
    trailing 0 from :func:`karras_sigmas`' default because that function reproduces EDM's
    ``t_steps`` (which end at 0), and a changed default would silently give existing calls
    one step fewer.

    Parameters
    ----------
    denoiser : callable, ``denoiser(x, sigma) -> (B, d)``
    x_T : (B, d) real array
        Start states at ``sigmas[0]`` (typically sigma_max * N(0, I)); float32 stays float32.
    sigmas : (n + 1,) array
        **Descending** grid, > 0 except possibly a final 0 (e.g. :func:`karras_sigmas`,
        or :func:`sampling_grid`, which stops at sigma_min).
    solver : {"euler", "heun", "dpmpp_2m"}
    return_trajectory : bool
        Also return the states and denoiser outputs along the way.
    last_first_order : bool
        ``dpmpp_2m`` only (a ValueError for the others): make the last step first-order.

    Returns
    -------
    x : (B, d) array
        The state at ``sigmas[-1]``.
    states : (n + 1, B, d) array, only with ``return_trajectory``
        ``states[i]`` is the state at ``sigmas[i]``; ``states[0] = x_T``.
    denoised : (n, B, d) array, only with ``return_trajectory``
        ``denoised[i] = D(states[i], sigmas[i])``.

    Raises
    ------
    ValueError, TypeError
        On an unknown solver, a grid that is not strictly descending and positive, a bad or
        complex x_T, or a denoiser output of the wrong shape.
    FloatingPointError
        If the denoiser returns NaN or inf (the message names the step and sigma).
    """
    solver = _check_solver(solver)
    s = _check_grid(sigmas)
    x = _check_x(x_T).copy()
    _check_last(last_first_order, solver)
    _warn_zero(s)
    n = s.size - 1
    step = _STEPS[solver]
    if not return_trajectory:
        x_n = x
        with _blas(denoiser, x):
            for x_n, _ in _steps(denoiser, x, s, step, last_first_order):  # noqa: B007
                pass
        return x_n
    states = np.empty((n + 1,) + x.shape, dtype=x.dtype)
    denoised = np.empty((n,) + x.shape, dtype=x.dtype)
    states[0] = x
    x_n = x
    with _blas(denoiser, x):
        for i, (x_n, D) in enumerate(_steps(denoiser, x, s, step, last_first_order)):
            states[i + 1], denoised[i] = x_n, D
    return x_n, states, denoised


def solve_ode(denoiser, x, sigma_from: float, sigma_to: float, rtol: float = 1e-10,
              atol: float = 1e-10, sigma_floor: float = 1e-4):
    """The reference PF-ODE solution x(sigma_to) from x(sigma_from) = x, by DOP853.

    The ODE is integrated in u = log sigma, dx/du = x - D(x, e^u), whose field stays of the
    order of the data scale at every sigma, vectorised over the batch (one solve for all
    rows). With ``sigma_to = 0`` it integrates to ``sigma_floor`` and returns the exact
    limit D(x(sigma_floor), 0) (for a delta mixture: the nearest data point, which by then
    is the point the trajectory converges to; the denoiser must accept sigma = 0). Only the
    end state is kept (``t_eval`` = the end point), not every internal step.

    Parameters
    ----------
    denoiser : callable, ``denoiser(x, sigma) -> (B, d)``
    x : (B, d) real array
        State at ``sigma_from``.
    sigma_from, sigma_to : float
        sigma_from > 0, 0 <= sigma_to; either direction is allowed.
    rtol : float
        Relative tolerance passed to ``solve_ivp``, > 0.
    atol : float
        Absolute tolerance passed to ``solve_ivp``, >= 0.
    sigma_floor : float
        Where the integration stops when ``sigma_to = 0``, in (0, sigma_from).

    Returns
    -------
    x_to : (B, d) float64 array

    Raises
    ------
    ValueError, TypeError
        On bad sigmas, tolerances or x; RuntimeError if the integrator fails.
    """
    x = _check_x(x, "x").astype(np.float64)
    sigma_from, sigma_to = _real(sigma_from, "sigma_from"), _real(sigma_to, "sigma_to")
    rtol, atol = _real(rtol, "rtol"), _real(atol, "atol")
    sigma_floor = _real(sigma_floor, "sigma_floor")
    if not sigma_from > 0:
        raise ValueError(f"sigma_from must be finite and > 0, got {sigma_from}")
    if not sigma_to >= 0:
        raise ValueError(f"sigma_to must be finite and >= 0, got {sigma_to}")
    if not rtol > 0:
        raise ValueError(f"rtol must be > 0, got {rtol}")
    if not atol >= 0:
        raise ValueError(f"atol must be >= 0, got {atol}")
    to_zero = sigma_to == 0
    if to_zero:
        if not 0 < sigma_floor < sigma_from:
            raise ValueError(f"sigma_floor must be in (0, sigma_from), got {sigma_floor}")
        sigma_to = sigma_floor
    shape = x.shape

    def field(u, y):
        xs = y.reshape(shape)
        return (xs - _denoise(denoiser, xs, float(np.exp(u)))).ravel()

    with _blas(denoiser, x):  # one BLAS thread for small matrices (bench_busy.py)
        if sigma_to != sigma_from:
            end = np.log(sigma_to)
            sol = solve_ivp(field, (np.log(sigma_from), end), x.ravel(), method="DOP853",
                            rtol=rtol, atol=atol, t_eval=[end])
            if not sol.success:
                raise RuntimeError(f"solve_ivp failed: {sol.message}")
            x = sol.y[:, -1].reshape(shape)
        if to_zero:
            x = _denoise(denoiser, x, 0.0).astype(np.float64, copy=False)
    return x
