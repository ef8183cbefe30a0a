"""The curved-trajectory argument as numbers (lecture rows 9-10, and sample quality).

Why are diffusion models slow? Because the optimum of the diffusion loss is an averaged
sample (D(x, sigma) = E[x0 | x]), its output moves along the trajectory, so the PF-ODE paths
dx/dsigma = (x - D(x, sigma)) / sigma are curved, and a few-step solver pays a
discretisation error for the curvature. This module measures each link of that chain:

* per trajectory (``states : (T, B, d)``, ``states[0] = x_T``, ``states[-1] = x_end``):
  :func:`chord_deviation`, :func:`arc_chord_ratio`, :func:`first_step_angle`,
  :func:`denoiser_drift`, all at once in :func:`trajectory_geometry`;
* the discretisation error of the fixed-step solvers against :func:`~ideal_diffusion.solvers.
  solve_ode`, with the fitted order of convergence: :func:`convergence`;
* the quality of samples of a delta mixture lives in :mod:`ideal_diffusion.metrics`
  (:func:`nearest_point`, :func:`exact_endpoints`, :func:`sample_quality`,
  :func:`posterior_entropy`); it is re-exported here, where notebooks first meet it.

Grids follow :mod:`ideal_diffusion.schedules`: **descending** sigma, noise -> data, so
``sigmas[0] = sigma_T`` is the start of a trajectory and ``states[i]`` sits at ``sigmas[i]``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import _validate as _v
from .metrics import (  # re-exported: see the module docstring
    SampleQuality,
    exact_endpoints,
    nearest_point,
    posterior_entropy,
    sample_quality,
)
from .schedules import SIGMA_MAX, SIGMA_MIN, karras_sigmas, loguniform_sigmas, uniform_sigmas
from .solvers import SOLVERS, nfe, sample, solve_ode

__all__ = [
    "chord_deviation",
    "arc_chord_ratio",
    "first_step_angle",
    "denoiser_drift",
    "TrajectoryGeometry",
    "trajectory_geometry",
    "ConvergenceReport",
    "convergence",
    "fit_order",
    "nearest_point",
    "exact_endpoints",
    "SampleQuality",
    "sample_quality",
    "posterior_entropy",
]

_GRIDS = {"karras": karras_sigmas, "loguniform": loguniform_sigmas, "uniform": uniform_sigmas}


# ----------------------------------------------------------------------------- validation


def _check_states(states) -> np.ndarray:
    s = _v.real_array(states, "states", finite=False)
    if s.ndim != 3 or s.shape[0] < 2 or s.shape[1] < 1 or s.shape[2] < 1:
        raise ValueError(f"states must have shape (T, B, d) with T >= 2, got {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("states must be finite (found NaN or inf)")
    return s


def _check_sigmas(sigmas, T: int) -> np.ndarray:
    s = _v.real_array(sigmas, "sigmas", finite=False)
    if s.shape != (T,):
        raise ValueError(f"sigmas must have shape ({T},) to match states, got {s.shape}")
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError("sigmas must be finite and >= 0")
    if np.any(np.diff(s) >= 0):
        raise ValueError("sigmas must be strictly descending (noise -> data)")
    return s


# ----------------------------------------------------------------------------- per trajectory


def chord_deviation(states, relative: bool = False) -> np.ndarray:
    """The largest distance of a path to its chord, the segment from x_T to x_end.

    Parameters
    ----------
    states : (T, B, d) array
        B discrete paths, ``states[0] = x_T`` (noise end), ``states[-1] = x_end``.
    relative : bool
        Divide by the chord length |x_end - x_T| (a scale-free curvature measure).

    Returns
    -------
    dev : (B,) float64 array, >= 0
        max_t dist(states[t], [x_T, x_end]); zero iff every state lies on the segment, i.e.
        the path is straight in space. (A degenerate chord x_end = x_T gives the distance to
        x_T; with ``relative`` that row is inf, or 0 if the path never moved.)
    """
    s = _check_states(states)
    a, b = s[0], s[-1]
    v = b - a  # (B, d)
    vv = np.einsum("bd,bd->b", v, v)
    w = s - a[None]  # (T, B, d)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(vv > 0, np.einsum("tbd,bd->tb", w, v) / np.where(vv > 0, vv, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)
    dist = np.linalg.norm(w - t[..., None] * v[None], axis=2)  # (T, B)
    dev = dist.max(axis=0)
    if relative:
        chord = np.sqrt(vv)
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = np.where(chord > 0, dev / np.where(chord > 0, chord, 1.0),
                           np.where(dev > 0, np.inf, 0.0))
    return dev


def arc_chord_ratio(states) -> np.ndarray:
    """Polygonal arc length over chord length, per path: 1 iff the path is straight and monotone.

    Parameters
    ----------
    states : (T, B, d) array
        ``states[0] = x_T``, ``states[-1] = x_end``.

    Returns
    -------
    ratio : (B,) float64 array, >= 1
        sum_t |states[t+1] - states[t]| / |x_end - x_T|; 1 for a path that never moved, inf
        for a closed loop (zero chord, positive arc).
    """
    s = _check_states(states)
    arc = np.linalg.norm(np.diff(s, axis=0), axis=2).sum(axis=0)
    chord = np.linalg.norm(s[-1] - s[0], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(chord > 0, arc / np.where(chord > 0, chord, 1.0),
                     np.where(arc > 0, np.inf, 1.0))
    # the triangle inequality holds exactly; clip the last-ulp rounding of a straight path
    return np.maximum(r, 1.0)


def _angle(u, v) -> np.ndarray:
    """Angle between rows of u and v in [0, pi], by Kahan's stable half-angle formula."""
    nu = np.linalg.norm(u, axis=1, keepdims=True)
    nv = np.linalg.norm(v, axis=1, keepdims=True)
    ok = (nu[:, 0] > 0) & (nv[:, 0] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        a, b = u / nu, v / nv
        ang = 2 * np.arctan2(np.linalg.norm(a - b, axis=1), np.linalg.norm(a + b, axis=1))
    return np.where(ok, ang, np.nan)


def first_step_angle(states) -> np.ndarray:
    """The angle between the first step's direction and the net displacement, in radians.

    Parameters
    ----------
    states : (T, B, d) array
        ``states[0] = x_T``, ``states[1]`` the state after the first solver step.

    Returns
    -------
    angle : (B,) float64 array in [0, pi]
        angle(states[1] - x_T, x_end - x_T): 0 when the first step already points at the end,
        NaN where either vector is zero (undefined). On the EDM grid the first step is taken
        at sigma_max, where D = the data mean, so this angle is small (of order
        data scale / sigma_max): the bending happens late, at sigma ~ data scale.
    """
    s = _check_states(states)
    return _angle(s[1] - s[0], s[-1] - s[0])


def denoiser_drift(denoiser, states, sigmas) -> np.ndarray:
    """How far the denoiser output is from where the path ends: |D(x(sigma), sigma) - x_end|.

    If D(x(sigma), sigma) = x_end all the way, the PF-ODE dx/dsigma = (x - x_end) / sigma
    has the solution x(sigma) = x_end + (x_T - x_end) sigma / sigma_T: a straight line
    travelled at constant speed, which Euler integrates exactly. Conversely, on that line D
    equals x_end. So the drift is zero all the way iff the path is that line (for a path that
    ends at sigma = 0; pass grids with the trailing 0).

    A straight path does not imply zero drift: for a single Gaussian N(mu, s^2 I) the paths
    x(sigma) = mu + (x_T - mu) sqrt(s^2 + sigma^2) / sqrt(s^2 + sigma_T^2) are straight rays,
    but D = mu + s^2 / (s^2 + sigma^2) (x - mu) slides along the ray (non-zero drift), and
    the speed along the ray is not constant, so Euler is not exact there.

    Parameters
    ----------
    denoiser : callable ``denoiser(x, sigma) -> (B, d)``
        Must accept every sigma in ``sigmas`` (the ideal denoiser of a delta mixture accepts 0).
    states : (T, B, d) array
        ``states[i]`` at ``sigmas[i]``; ``states[-1] = x_end``.
    sigmas : (T,) array
        **Descending** noise levels of the states, >= 0.

    Returns
    -------
    drift : (T, B) float64 array
    """
    s = _check_states(states)
    sig = _check_sigmas(sigmas, s.shape[0])
    end = s[-1]
    out = np.empty(s.shape[:2])
    for i in range(s.shape[0]):
        with np.errstate(invalid="ignore"):  # sigma = 0: a benign 0/0 in log_density's shift
            D = np.asarray(denoiser(s[i], float(sig[i])), dtype=np.float64)
        out[i] = np.linalg.norm(D - end, axis=1)
    return out


@dataclass(frozen=True)
class TrajectoryGeometry:
    """Per-path curvature measures of B paths (see the functions of the same names).

    Attributes
    ----------
    chord_deviation : (B,) absolute max distance to the chord
    relative_chord_deviation : (B,) the same over the chord length
    arc_chord_ratio : (B,) arc length over chord, >= 1
    first_step_angle : (B,) radians
    drift : (T, B) |D(x(sigma_i), sigma_i) - x_end|, or None if no denoiser was given
    """

    chord_deviation: np.ndarray
    relative_chord_deviation: np.ndarray
    arc_chord_ratio: np.ndarray
    first_step_angle: np.ndarray
    drift: np.ndarray | None = None

    def summary(self) -> dict:
        """Medians and maxima over the batch, as plain floats."""
        out = {}
        for name in ("chord_deviation", "relative_chord_deviation", "arc_chord_ratio",
                     "first_step_angle"):
            v = getattr(self, name)
            out[f"median_{name}"] = float(np.nanmedian(v))
            out[f"max_{name}"] = float(np.nanmax(v))
        if self.drift is not None:
            out["max_drift"] = float(self.drift.max())
        return out


def trajectory_geometry(states, denoiser=None, sigmas=None) -> TrajectoryGeometry:
    """All per-path measures at once.

    Parameters
    ----------
    states : (T, B, d) array
        ``states[0] = x_T`` (noise), ``states[-1] = x_end``, e.g. from
        ``sample(..., return_trajectory=True)``.
    denoiser : callable, optional
        With ``sigmas``, also compute :func:`denoiser_drift`.
    sigmas : (T,) array, optional
        **Descending** noise levels of the states.

    Returns
    -------
    TrajectoryGeometry
    """
    s = _check_states(states)
    if (denoiser is None) != (sigmas is None):
        raise ValueError("denoiser and sigmas must be given together (or neither)")
    return TrajectoryGeometry(
        chord_deviation=chord_deviation(s),
        relative_chord_deviation=chord_deviation(s, relative=True),
        arc_chord_ratio=arc_chord_ratio(s),
        first_step_angle=first_step_angle(s),
        drift=None if denoiser is None else denoiser_drift(denoiser, s, sigmas),
    )


# ----------------------------------------------------------------------------- convergence


def fit_order(steps, errors) -> float:
    """The least-squares slope of log(error) against log(steps).

    Parameters
    ----------
    steps : (S,) array of positive numbers, S >= 2
    errors : (S,) array of errors, >= 0

    Returns
    -------
    slope : float
        About -p for a method of order p. NaN if any error is 0 (log undefined: e.g. a
        sample snapped exactly onto a data point), never a silently shortened fit.
    """
    n = np.asarray(steps, dtype=np.float64)
    e = np.asarray(errors, dtype=np.float64)
    if n.ndim != 1 or n.size < 2 or e.shape != n.shape:
        raise ValueError(f"steps and errors must be 1-D of equal length >= 2, got {n.shape}, "
                         f"{e.shape}")
    if np.any(n <= 0) or not np.all(np.isfinite(n)):
        raise ValueError("steps must be finite and > 0")
    if np.any(e < 0) or np.any(np.isnan(e)):
        raise ValueError("errors must be >= 0 and not NaN")
    if np.any(e == 0) or not np.all(np.isfinite(e)):
        return float("nan")
    return float(np.polyfit(np.log(n), np.log(e), 1)[0])


@dataclass(frozen=True)
class ConvergenceReport:
    """Discretisation error of fixed-step solvers against the DOP853 reference.

    Attributes
    ----------
    solvers : tuple of str, K names
    steps : (S,) int, numbers of solver steps n (grids of n + 1 levels, no trailing 0)
    nfe : (K, S) int, denoiser evaluations spent
    errors : (K, S, B) float, |x_n - x_ref| per sample
    median : (K, S) float, median over the batch (the fitted quantity)
    mean, max : (K, S) float, for comparison (dominated by target switches)
    switched : (K, S) int, samples whose target (most probable data point / component at
        ``sigma_end``) differs from the reference's; -1 where the denoiser has no
        ``posterior`` (unknown). Nothing is excluded from ``median``: switched samples count.
    slope : (K,) float, fitted slope of log median error vs log n over ``fit_steps``
    fit_steps : (S',) int, the step counts used in the fit
    sigma_max, sigma_end : float, the integration interval (grid descending from sigma_max)
    reference : (B, d) float, solve_ode(denoiser, x_T, sigma_max, sigma_end)
    """

    solvers: tuple
    steps: np.ndarray
    nfe: np.ndarray
    errors: np.ndarray
    median: np.ndarray
    mean: np.ndarray
    max: np.ndarray
    switched: np.ndarray
    slope: np.ndarray
    fit_steps: np.ndarray
    sigma_max: float
    sigma_end: float
    reference: np.ndarray

    @property
    def order(self) -> np.ndarray:
        """The fitted order of convergence, ``-slope`` (K,)."""
        return -self.slope

    def table(self) -> str:
        """A plain-text table: median error (switched samples) per solver and n."""
        B = self.errors.shape[2]
        head = f"{'solver':>9s} " + " ".join(f"{'n=' + str(n):>17s}" for n in self.steps)
        rows = [f"median |x_n - x_ref| over B={B} (samples that switched target), "
                f"sigma {self.sigma_max:g} -> {self.sigma_end:g}", head]
        for k, name in enumerate(self.solvers):
            cells = " ".join(f"{self.median[k, j]:10.3e} ({self.switched[k, j]:3d})"
                             for j in range(len(self.steps)))
            rows.append(f"{name:>9s} {cells}   order {self.order[k]:.2f}")
        return "\n".join(rows)


def _targets(denoiser, x, sigma):
    if not hasattr(denoiser, "posterior"):
        return None
    return np.argmax(np.asarray(denoiser.posterior(x, sigma)), axis=1)


def convergence(denoiser, x_T, steps: Sequence[int] = (8, 16, 32, 64),
                solvers: Sequence[str] = SOLVERS, sigma_max: float = SIGMA_MAX,
                sigma_end: float = SIGMA_MIN, rho: float = 7.0, grid: str = "karras",
                fit_min_steps: int = 1, rtol: float = 1e-10,
                atol: float = 1e-10) -> ConvergenceReport:
    """Discretisation error against ``solve_ode`` vs number of steps, per solver, with orders.

    For each n in ``steps`` the grid has n + 1 levels **descending** from ``sigma_max`` to
    ``sigma_end`` *without the trailing 0* (``karras_sigmas(n + 1, sigma_end, sigma_max, rho,
    append_zero=False)``), and the error is |x_n - x_ref| with x_ref =
    ``solve_ode(denoiser, x_T, sigma_max, sigma_end)``: both end at the same sigma.

    Why not integrate to 0? With the ideal denoiser of a delta mixture, any grid that ends with
    a trailing 0 (or a sigma tiny against the data spacing) snaps the last state onto the
    nearest data point: D(x, sigma -> 0) is that point exactly, so the error is exactly 0
    whenever the sample landed in the right basin and of the data spacing otherwise. That
    measures basins, not the order. End at a common ``sigma_end`` instead; for a mixture,
    0.05-0.5 keeps the last step away from the collapse. On a single Gaussian (a smooth field)
    ``sigma_end = 0.002`` is fine: Euler has order ~1, Heun ~2, DPM-Solver++(2M) ~2.

    Parameters
    ----------
    denoiser : callable ``denoiser(x, sigma) -> (B, d)``
        With a ``posterior`` method (the :class:`IdealDenoiser`), target switches are counted.
    x_T : (B, d) array
        Start states at ``sigma_max``.
    steps : sequence of int
        Numbers of solver steps, each >= 1, strictly increasing.
    solvers : sequence of str
        Any of ``"euler"``, ``"heun"``, ``"dpmpp_2m"``.
    sigma_max, sigma_end : float
        0 < sigma_end < sigma_max.
    rho : float
        The Karras warping (only for ``grid="karras"``).
    grid : {"karras", "loguniform", "uniform"}
    fit_min_steps : int
        Fit the slope over the n >= fit_min_steps only (few-step errors are pre-asymptotic:
        Heun's first step on the EDM grid can be far off). All errors stay in the report.
    rtol, atol : float
        Tolerances of the reference solve.

    Returns
    -------
    ConvergenceReport

    Notes
    -----
    Few-step Heun on the EDM grid is much worse than Euler: after one huge predictor step
    (sigma_max -> sigma_1) the Euler state is near the data mean, and the corrector slope
    (x' - D(x', sigma_1)) / sigma_1 divides a distance of the data scale by a small sigma_1;
    the averaged trapezoid then throws the sample far away (for ring(8), n = 1 to
    sigma = 0.002: median error ~2e4). The report keeps those numbers.
    """
    x = np.asarray(x_T)
    if x.ndim != 2:
        raise ValueError(f"x_T must have shape (B, d), got {x.shape}")
    st = np.asarray(steps)
    if (st.ndim != 1 or st.size < 1 or st.dtype.kind not in "iu" or np.any(st < 1)
            or np.any(np.diff(st) <= 0)):
        raise ValueError(f"steps must be strictly increasing integers >= 1, got {list(steps)}")
    solvers = tuple(solvers)
    bad = [s for s in solvers if s not in SOLVERS]
    if not solvers or bad:
        raise ValueError(f"solvers must be a non-empty subset of {SOLVERS}, got {solvers}")
    if not (np.isfinite(sigma_max) and np.isfinite(sigma_end) and 0 < sigma_end < sigma_max):
        raise ValueError(f"need 0 < sigma_end < sigma_max < inf, got sigma_end={sigma_end}, "
                         f"sigma_max={sigma_max}")
    if grid not in _GRIDS:
        raise ValueError(f"grid must be one of {tuple(_GRIDS)}, got {grid!r}")
    if not isinstance(fit_min_steps, (int, np.integer)) or fit_min_steps < 1:
        raise ValueError(f"fit_min_steps must be an integer >= 1, got {fit_min_steps!r}")
    fit = st[st >= fit_min_steps]
    if fit.size < 2:
        raise ValueError(f"fit_min_steps={fit_min_steps} leaves fewer than 2 step counts to fit")

    ref = solve_ode(denoiser, x, sigma_max, sigma_end, rtol=rtol, atol=atol)
    ref_t = _targets(denoiser, ref, sigma_end)
    K, S, B = len(solvers), st.size, x.shape[0]
    errors = np.empty((K, S, B))
    n_fe = np.empty((K, S), dtype=int)
    switched = np.full((K, S), -1, dtype=int)
    for j, n in enumerate(st):
        if grid == "karras":
            sig = karras_sigmas(int(n) + 1, sigma_end, sigma_max, rho, append_zero=False)
        else:
            sig = _GRIDS[grid](int(n) + 1, sigma_end, sigma_max, append_zero=False)
        for k, name in enumerate(solvers):
            xn = np.asarray(sample(denoiser, x, sig, name), dtype=np.float64)
            n_fe[k, j] = nfe(name, sig)
            with np.errstate(invalid="ignore", over="ignore"):  # a diverged row: inf error
                err = np.linalg.norm(xn - ref, axis=1)
            errors[k, j] = np.where(np.isfinite(err), err, np.inf)
            if ref_t is not None:  # a diverged (non-finite) sample counts as switched
                ok = np.all(np.isfinite(xn), axis=1)
                t = np.full(B, -1)
                if np.any(ok):
                    t[ok] = _targets(denoiser, xn[ok], sigma_end)
                switched[k, j] = int(np.sum(t != ref_t))
    median = np.median(errors, axis=2)
    sel = np.isin(st, fit)
    slope = np.array([fit_order(st[sel], median[k, sel]) for k in range(K)])
    return ConvergenceReport(
        solvers=solvers, steps=st.astype(int), nfe=n_fe, errors=errors, median=median,
        mean=errors.mean(axis=2), max=errors.max(axis=2), switched=switched, slope=slope,
        fit_steps=fit.astype(int), sigma_max=float(sigma_max), sigma_end=float(sigma_end),
        reference=ref,
    )
