"""The optimum averages: two deltas (slide "1. Ideal diffusion model: "two delta functions"")
and few-step sampling of two deltas (slide "1. Sampling from ideal diffusion model")."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ...data import two_points
from ...denoiser import IdealDenoiser
from ...metrics import nearest_point
from ...schedules import SIGMA_MAX, SIGMA_MIN, sampling_grid
from ...solvers import nfe, sample, solve_ode
from .._cache import cached
from ..common import REF_RTOL, noise
from ._shared import (
    LABELS,
    _box,
    _figure,
)

# ----------------------------------------------------------------------------- two deltas


@dataclass(frozen=True)
class TwoDeltaConfig:
    """D(x, sigma) of two equal deltas x^1 = -1, x^2 = +1 along the line through them.

    Attributes
    ----------
    sigmas : tuple of float -- noise levels drawn
    sigma_star : float -- where the 0.3 / 0.7 point is marked
    weight : float -- the posterior weight of x^2 marked (0.7 on the slide)
    distance : float -- |x^2 - x^1|
    u_range : (float, float) -- the line x = x^1 + u (x^2 - x^1), u in this range
    n_grid : int
    """

    sigmas: tuple = (0.1, 0.3, 0.6, 1.0, 2.0, 5.0)
    sigma_star: float = 1.0
    weight: float = 0.7
    distance: float = 2.0
    u_range: tuple = (-0.25, 1.25)
    n_grid: int = 601


@dataclass(frozen=True, eq=False)
class TwoDeltaResult:
    """Attributes: config; x (G,) first coordinate on the line; D (S, G) first coordinate of
    D(x, sigma); pi2 (S, G) posterior weight of x^2; x_star, d_star, w_star (the point where
    pi = (1 - weight, weight) at sigma_star, D there, both weights); d_mid (D at the midpoint)."""

    config: TwoDeltaConfig
    x1: float
    x2: float
    x: np.ndarray
    D: np.ndarray
    pi2: np.ndarray
    x_star: float
    d_star: float
    w_star: np.ndarray
    d_mid: float


@cached
def run_two_delta_averaging(cfg: TwoDeltaConfig = TwoDeltaConfig()) -> TwoDeltaResult:
    data = two_points(cfg.distance)
    den = IdealDenoiser(data)
    x1, x2 = data.points
    L = np.linalg.norm(x2 - x1)
    u = np.linspace(*cfg.u_range, cfg.n_grid)
    x = x1 + u[:, None] * (x2 - x1)
    # log(pi2/pi1) = (|x - x1|^2 - |x - x2|^2) / (2 sigma^2) = L^2 (2u - 1) / (2 sigma^2)
    w = cfg.weight
    u_star = 0.5 + cfg.sigma_star ** 2 * np.log(w / (1 - w)) / L ** 2
    x_star = x1 + u_star * (x2 - x1)
    D = np.stack([den(x, s)[:, 0] for s in cfg.sigmas])
    pi2 = np.stack([den.posterior(x, s)[:, 1] for s in cfg.sigmas])
    return TwoDeltaResult(cfg, float(x1[0]), float(x2[0]), x[:, 0], D, pi2, float(x_star[0]),
                          float(den(x_star[None], cfg.sigma_star)[0, 0]),
                          den.posterior(x_star[None], cfg.sigma_star)[0],
                          float(den(((x1 + x2) / 2)[None], cfg.sigma_star)[0, 0]))


def plot_two_delta_averaging(result: TwoDeltaResult, ax=None):
    """Two panels: D(x, sigma) and the weight pi_2 along the line, per sigma."""
    cfg, r = result.config, result
    fig, (a1, a2) = _figure(ax, 2, figsize=(13, 5))
    cmap = plt.get_cmap("viridis")
    for i, s in enumerate(cfg.sigmas):
        c = cmap(i / max(len(cfg.sigmas) - 1, 1))
        lw = 2.8 if s == cfg.sigma_star else 1.5
        a1.plot(r.x, r.D[i], color=c, lw=lw, label=f"$\\sigma$ = {s:g}")
        a2.plot(r.x, r.pi2[i], color=c, lw=lw, label=f"$\\sigma$ = {s:g}")
    a1.plot(r.x, r.x, color="0.6", ls=":", lw=1, label="identity $f = x$")
    for a in (a1, a2):
        a.axvline(r.x1, color="k", lw=0.8, ls="--")
        a.axvline(r.x2, color="k", lw=0.8, ls="--")
        a.set_xlabel(f"position $x$ on the line through $x^1 = {r.x1:g}$ and "
                     f"$x^2 = +{r.x2:g}$")
    w1, w2 = 1 - cfg.weight, cfg.weight
    a1.plot([0.0], [r.d_mid], "o", color="crimson", ms=9, zorder=5,
            label=f"equidistant $x$ = 0: $f$ = {r.d_mid:g} = $(x^1 + x^2)/2$")
    a1.plot([r.x_star], [r.d_star], "s", color="crimson", ms=9, zorder=5,
            label=f"$x$ = {r.x_star:.4f}: $f$ = {r.d_star:.4f} = ${w1:g}x^1 + {w2:g}x^2$")
    a1.set_ylabel("$f(x, \\sigma) = E[x_0 | x]$ (first coordinate)")
    a1.set_title("The ideal denoiser averages the two points")
    a1.legend(fontsize=8, loc="upper left")
    a2.plot([0.0], [0.5], "o", color="crimson", ms=9, zorder=5, label="weights 0.5 / 0.5")
    a2.plot([r.x_star], [r.w_star[1]], "s", color="crimson", ms=9, zorder=5,
            label=f"weights {r.w_star[0]:.4f} / {r.w_star[1]:.4f} at "
                  f"$\\sigma$ = {cfg.sigma_star:g}")
    a2.axhline(cfg.weight, color="crimson", lw=0.6, ls=":")
    a2.set_ylabel("posterior weight $\\pi_2$ of $x^2$  ($\\pi_1 = 1 - \\pi_2$)")
    a2.set_title("Posterior weights (log-odds linear in $x$: $2x/\\sigma^2$)")
    a2.legend(fontsize=8, loc="upper left")
    if ax is None:
        fig.suptitle(f"Two deltas: $f$ = $(x^1+x^2)/2$ at equal distance; $f$ = ${w1:g}x^1 + "
                     f"{w2:g}x^2$ at $x$ = $\\sigma^2 \\ln({w2:g}/{w1:g})/2$ = {r.x_star:.4f} "
                     f"($\\sigma$ = {cfg.sigma_star:g})", fontsize=12)
        fig.tight_layout()
    return fig



# ----------------------------------------------------------------------------- few steps


@dataclass(frozen=True)
class FewStepTwoDeltasConfig:
    """n-step samples of two deltas at -1, +1 (d = 1), against the exact ODE at sigma_min.

    Attributes
    ----------
    steps : tuple of int
    solver : str
    n_noises : int
    seed : int
    distance : float -- between the two points
    near : float -- "within ``near`` of a point" counts as on the data
    """

    steps: tuple = (1, 2, 3, 5)
    solver: str = "euler"
    n_noises: int = 2000
    seed: int = 7
    distance: float = 2.0
    near: float = 0.05


@dataclass(frozen=True, eq=False)
class FewStepTwoDeltasResult:
    """Attributes: config; points (2,); x_T (B,); samples (S, B) at sigma_min; exact (B,) exact
    ODE state at sigma_min; nfe (S,); and per row of ``samples`` then the exact state (S + 1,):
    median_dist (to the nearest point), frac_near, frac_same (same nearest point as exact)."""

    config: FewStepTwoDeltasConfig
    points: np.ndarray
    x_T: np.ndarray
    samples: np.ndarray
    exact: np.ndarray
    nfe: np.ndarray
    median_dist: np.ndarray
    frac_near: np.ndarray
    frac_same: np.ndarray


@cached
def run_few_step_two_deltas(cfg: FewStepTwoDeltasConfig = FewStepTwoDeltasConfig()
                            ) -> FewStepTwoDeltasResult:
    data = two_points(cfg.distance, d=1)
    den = IdealDenoiser(data)
    x_T = noise(1, cfg.n_noises, cfg.seed)
    exact = solve_ode(den, x_T, SIGMA_MAX, SIGMA_MIN, rtol=REF_RTOL, atol=REF_RTOL)
    samples = [sample(den, x_T, sampling_grid(n), cfg.solver) for n in cfg.steps]
    idx_e, _ = nearest_point(data, exact)
    med, near, same = [], [], []
    for x in samples + [exact]:
        idx, dist = nearest_point(data, x)
        med.append(np.median(dist))
        near.append(np.mean(dist < cfg.near))
        same.append(np.mean(idx == idx_e))
    return FewStepTwoDeltasResult(
        cfg, data.points[:, 0].copy(), x_T[:, 0], np.stack(samples)[..., 0], exact[:, 0],
        np.array([nfe(cfg.solver, sampling_grid(n)) for n in cfg.steps]),
        np.array(med), np.array(near), np.array(same))


def plot_few_step_two_deltas(result: FewStepTwoDeltasResult, ax=None):
    """One histogram per step count, then the exact ODE state at sigma_min."""
    cfg, r = result.config, result
    S = len(cfg.steps)
    fig, axes = _figure(ax, S + 1, figsize=(16, 4.2), sharey=True)
    half = cfg.distance / 2
    bins = np.linspace(-1.425 * half, 1.425 * half, 58)
    rows = [(f"{n} {LABELS[cfg.solver]} step{'s' if n > 1 else ''} (NFE {r.nfe[i]})",
             r.samples[i]) for i, n in enumerate(cfg.steps)]
    rows.append(("exact ODE at $\\sigma_{min}$ (DOP853)", r.exact))
    for i, (a, (title, x)) in enumerate(zip(axes, rows)):
        a.hist(np.clip(x, bins[0] + 0.025, bins[-1] - 0.025), bins=bins, color="tab:blue",
               alpha=0.8)
        for p in r.points:
            a.axvline(p, color="k", ls="--", lw=1)
        a.set_title(title, fontsize=11)
        a.set_xlabel(f"state at $\\sigma$ = {SIGMA_MIN:g} (data at $\\pm{half:g}$)")
        _box(a, 0.5, 0.97, f"median dist. to data {r.median_dist[i]:.3f}\n"
             f"within {cfg.near:g} of a point: {r.frac_near[i]:.0%}\n"
             f"same point as exact: {r.frac_same[i]:.0%}", ha="center", va="top")
    axes[0].set_ylabel(f"count (of {cfg.n_noises} noises)")
    axes[0].set_yscale("log")
    axes[0].set_ylim(0.5, 3 * cfg.n_noises)
    if ax is None:
        fig.suptitle(f"Even in the simplest case few steps fail: two deltas at $\\pm{half:g}$, "
                     f"the same {cfg.n_noises} noises from $\\sigma$ = 80 to 0.002.\n"
                     "One step returns $D(x_T, 80)$ $\\approx$ the mean of the two points; "
                     "few steps land between them", fontsize=12)
        fig.tight_layout()
    return fig


