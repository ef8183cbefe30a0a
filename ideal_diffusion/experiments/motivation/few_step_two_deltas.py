"""Few-step sampling of two deltas (slide "1. Sampling from ideal diffusion model")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...data import two_points
from ...denoiser import IdealDenoiser
from ...metrics import nearest_point
from ...schedules import SIGMA_MAX, SIGMA_MIN, sampling_grid
from ...solvers import nfe, sample, solve_ode
from .. import _checks as check
from .._cache import cached
from .._figure import SlideFigure
from ..common import (
    REF_RTOL,
    noise,
)
from ._shared import (
    LABELS,
    _box,
    _figure,
)


@dataclass(frozen=True)
class Config:
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

    def __post_init__(self):
        check.integers(self, "steps", 1)
        check.solver(self, "solver")
        check.integer(self, "n_noises", 1)
        check.integer(self, "seed", 0)
        check.real(self, "distance", 0.0, lo_open=True)
        check.real(self, "near", 0.0, lo_open=True)


@dataclass(frozen=True, eq=False)
class Result:
    """Attributes: config; points (2,); x_T (B,); samples (S, B) at sigma_min; exact (B,) exact
    ODE state at sigma_min; nfe (S,); and per row of ``samples`` then the exact state (S + 1,):
    median_dist (to the nearest point), frac_near, frac_same (same nearest point as exact)."""

    config: Config
    points: np.ndarray
    x_T: np.ndarray
    samples: np.ndarray
    exact: np.ndarray
    nfe: np.ndarray
    median_dist: np.ndarray
    frac_near: np.ndarray
    frac_same: np.ndarray


@cached
def run(cfg: Config = Config()) -> Result:
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
    return Result(
        config=cfg, points=data.points[:, 0].copy(), x_T=x_T[:, 0],
        samples=np.stack(samples)[..., 0], exact=exact[:, 0],
        nfe=np.array([nfe(cfg.solver, sampling_grid(n)) for n in cfg.steps]),
        median_dist=np.array(med), frac_near=np.array(near), frac_same=np.array(same))


def plot(result: Result, ax=None):
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


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("few_step_two_deltas", "1. Sampling from ideal diffusion model: 1/2/3/5 Euler "
                "steps on two deltas, states at sigma_min against the exact ODE",
                lambda: plot(run(Config())), group="motivation"),
)
