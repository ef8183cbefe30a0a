"""Integrators of the VE probability-flow ODE  dx/dsigma = (x - D(x, sigma)) / sigma.

* :func:`sample` -- the few-step samplers whose error the lecture is about: Euler, Heun
  (EDM Algorithm 1, deterministic) and DPM-Solver++(2M), on a descending sigma grid.
* :func:`solve_ode` -- the reference solution (scipy's DOP853 at tight tolerances), in
  the variable u = log sigma, where the field x - D is well scaled at every noise level.

``denoiser`` is any callable ``denoiser(x, sigma) -> (B, d)`` with ``x : (B, d)`` and a
scalar ``sigma``: the :class:`~ideal_diffusion.denoiser.IdealDenoiser` or a trained student.
"""
from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

__all__ = ["sample", "solve_ode", "nfe", "SOLVERS"]

SOLVERS = ("euler", "heun", "dpmpp_2m")


def _check_grid(sigmas) -> np.ndarray:
    s = np.asarray(sigmas, dtype=np.float64)
    if s.ndim != 1 or s.size < 2:
        raise ValueError(f"sigmas must be a 1-D grid with >= 2 values, got shape {s.shape}")
    if not np.all(np.isfinite(s)) or np.any(s[:-1] <= 0) or s[-1] < 0:
        raise ValueError("sigmas must be finite, > 0, with only the last value allowed to be 0")
    if np.any(np.diff(s) >= 0):
        raise ValueError("sigmas must be strictly descending (noise -> data)")
    return s


def _check_x(x_T) -> np.ndarray:
    x = np.asarray(x_T)
    if x.ndim != 2:
        raise ValueError(f"x_T must have shape (B, d), got {x.shape}")
    if x.dtype != np.float32:
        x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("x_T must be finite")
    return x


def nfe(solver: str, sigmas) -> int:
    """Number of denoiser evaluations ``sample`` spends on the grid ``sigmas`` (descending).

    Euler and DPM-Solver++(2M): one per step, n. Heun: two per step except a step that ends at
    sigma = 0 (Euler there), so 2n - 1 on a grid with a trailing 0 and 2n without.
    """
    s = _check_grid(sigmas)
    n = s.size - 1
    if solver == "heun":
        return 2 * n - int(s[-1] == 0)
    if solver in SOLVERS:
        return n
    raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")


def sample(denoiser, x_T, sigmas, solver: str = "heun", return_trajectory: bool = False):
    """Integrate the PF-ODE from ``sigmas[0]`` to ``sigmas[-1]`` with a fixed-step solver.

    ``euler``: x <- x + (s' - s) (x - D(x, s)) / s.
    ``heun``: EDM Algorithm 1 with S_churn = 0 (deterministic): an Euler predictor, then the
    trapezoidal corrector with the slope at (x', s') -- on every step except one ending at
    s' = 0, which stays Euler (the slope is undefined there). NFE = 2n - 1 for n steps to 0.
    ``dpmpp_2m``: DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2) in EDM's sigma
    parameterisation, as in k-diffusion: with t = -log sigma and h = t' - t,
    x <- (s'/s) x - expm1(-h) D_2, where D_2 = (1 + 1/2r) D_i - (1/2r) D_{i-1}, r = h_{i-1}/h
    (first step and a step to 0 use D_i alone). NFE = n.

    Parameters
    ----------
    denoiser : callable, ``denoiser(x, sigma) -> (B, d)``
    x_T : (B, d) array
        Start states at ``sigmas[0]`` (typically sigma_max * N(0, I)).
    sigmas : (n + 1,) array
        **Descending** grid, > 0 except possibly a final 0 (e.g. :func:`karras_sigmas`).
    solver : {"euler", "heun", "dpmpp_2m"}
    return_trajectory : bool
        Also return the states and denoiser outputs along the way.

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
    ValueError
        On an unknown solver, a grid that is not strictly descending and positive, or a bad x_T.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    s = _check_grid(sigmas)
    x = _check_x(x_T).copy()
    n = s.size - 1
    states = np.empty((n + 1,) + x.shape, dtype=x.dtype) if return_trajectory else None
    denoised = np.empty((n,) + x.shape, dtype=x.dtype) if return_trajectory else None
    old = None  # previous denoised output (DPM-Solver++(2M))
    for i in range(n):
        s_cur, s_next = float(s[i]), float(s[i + 1])  # Python floats keep float32 states float32
        if return_trajectory:
            states[i] = x
        D = denoiser(x, s_cur)
        if return_trajectory:
            denoised[i] = D
        if solver == "dpmpp_2m":
            if s_next == 0:
                x_next = D  # the limit h -> inf of the update below
            else:
                h = float(np.log(s_cur) - np.log(s_next))
                D2 = D
                if old is not None:
                    r = (np.log(s[i - 1]) - np.log(s_cur)) / h
                    r = float(r)
                    D2 = (1 + 1 / (2 * r)) * D - (1 / (2 * r)) * old
                x_next = (s_next / s_cur) * x - np.expm1(-h) * D2
            old = D
        else:
            dx = (x - D) / s_cur  # the ODE slope dx/dsigma at (x, s_cur)
            x_next = x + (s_next - s_cur) * dx
            if solver == "heun" and s_next != 0:
                dx_next = (x_next - denoiser(x_next, s_next)) / s_next
                x_next = x + (s_next - s_cur) * 0.5 * (dx + dx_next)
        x = x_next
    if return_trajectory:
        states[n] = x
        return x, states, denoised
    return x


def solve_ode(denoiser, x, sigma_from: float, sigma_to: float, rtol: float = 1e-10,
              atol: float = 1e-10, sigma_floor: float = 1e-4):
    """The reference PF-ODE solution x(sigma_to) from x(sigma_from) = x, by DOP853.

    The ODE is integrated in u = log sigma, dx/du = x - D(x, e^u), whose field stays of the
    order of the data scale at every sigma, vectorised over the batch (one solve for all
    rows). With ``sigma_to = 0`` it integrates to ``sigma_floor`` and returns the exact
    limit D(x(sigma_floor), 0) (for a delta mixture: the nearest data point, which by then
    is the point the trajectory converges to; the denoiser must accept sigma = 0).

    Parameters
    ----------
    denoiser : callable, ``denoiser(x, sigma) -> (B, d)``
    x : (B, d) array
        State at ``sigma_from``.
    sigma_from, sigma_to : float
        sigma_from > 0, 0 <= sigma_to; either direction is allowed.
    rtol, atol : float
        Tolerances passed to ``solve_ivp``.
    sigma_floor : float
        Where the integration stops when ``sigma_to = 0`` (must be < sigma_from).

    Returns
    -------
    x_to : (B, d) float64 array

    Raises
    ------
    ValueError
        On bad sigmas or x; RuntimeError if the integrator fails.
    """
    x = _check_x(x).astype(np.float64)
    if not (np.isfinite(sigma_from) and sigma_from > 0):
        raise ValueError(f"sigma_from must be finite and > 0, got {sigma_from}")
    if not (np.isfinite(sigma_to) and sigma_to >= 0):
        raise ValueError(f"sigma_to must be finite and >= 0, got {sigma_to}")
    to_zero = sigma_to == 0
    if to_zero:
        if not 0 < sigma_floor < sigma_from:
            raise ValueError(f"sigma_floor must be in (0, sigma_from), got {sigma_floor}")
        sigma_to = sigma_floor
    shape = x.shape

    def field(u, y):
        xs = y.reshape(shape)
        return (xs - denoiser(xs, float(np.exp(u)))).ravel()

    if sigma_to != sigma_from:
        sol = solve_ivp(field, (np.log(sigma_from), np.log(sigma_to)), x.ravel(),
                        method="DOP853", rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed: {sol.message}")
        x = sol.y[:, -1].reshape(shape)
    if to_zero:
        x = np.asarray(denoiser(x, 0.0), dtype=np.float64)
    return x
