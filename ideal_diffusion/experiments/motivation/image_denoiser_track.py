"""D(x_sigma, sigma) along one trajectory on the real digits (slide "1. Sampling from ideal
diffusion model: "What about images?"")."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ...metrics import nearest_point, posterior_entropy
from ...schedules import SIGMA_MAX, SIGMA_MIN, sampling_grid
from ...solvers import nfe, sample
from .. import _checks as check
from .._cache import cached
from .._figure import SlideFigure
from ..common import (
    ideal_denoiser,
    noise,
)
from ._shared import (
    LABELS,
    _show_images,
    _side,
)


@dataclass(frozen=True)
class Config:
    """D(x_sigma, sigma) along one trajectory on an image data set.

    Attributes
    ----------
    data : str
    steps : int -- solver steps of the trajectory (80 -> 0.002)
    solver : str
    seed : int -- of the one noise
    shown : tuple of float -- sigma levels drawn (the nearest grid level is used)
    """

    data: str = "digits"
    steps: int = 64
    solver: str = "heun"
    seed: int = 8
    shown: tuple = (SIGMA_MAX, 20, 10, 5, 3, 2, 1, 0.5, 0.2, SIGMA_MIN)

    def __post_init__(self):
        check.choice(self, "data", check.IMAGE_SETS)
        check.integer(self, "steps", 1)
        check.solver(self, "solver")
        check.integer(self, "seed", 0)
        check.reals(self, "shown", 0.0, lo_open=True)


@dataclass(frozen=True, eq=False)
class Result:
    """Attributes: config; sigmas (T,) the grid; states (T, d); denoised (T, d) =
    D(states[i], sigmas[i]) (the last at sigma_min too); entropy (T,) posterior entropy (nats);
    n_points (N of the data set); nfe; shown (P,) grid indices drawn; nearest (index of the
    final state's nearest training image) and its distance."""

    config: Config
    sigmas: np.ndarray
    states: np.ndarray
    denoised: np.ndarray
    entropy: np.ndarray
    n_points: int
    nfe: int
    shown: np.ndarray
    nearest: int
    nearest_dist: float


@cached
def run(cfg: Config = Config()) -> Result:
    den = ideal_denoiser(cfg.data)
    sig = sampling_grid(cfg.steps)
    x_T = noise(den.d, 1, cfg.seed)
    _, states, denoised = sample(den, x_T, sig, cfg.solver, return_trajectory=True)
    D = np.concatenate([denoised[:, 0], den(states[-1], sig[-1])], axis=0)
    ent = np.array([posterior_entropy(den, states[i], sig[i])[0] for i in range(sig.size)])
    shown = np.array([int(np.argmin(np.abs(np.log(sig) - np.log(t)))) for t in cfg.shown])
    idx, dist = nearest_point(den.data, states[-1])
    return Result(
        config=cfg, sigmas=sig, states=states[:, 0], denoised=D, entropy=ent, n_points=den.data.N,
        nfe=nfe(cfg.solver, sig), shown=shown, nearest=int(idx[0]), nearest_dist=float(dist[0]))


def plot(result: Result, ax=None):
    """Rows: state (rescaled) and D(x_sigma, sigma) at the shown levels; below, the entropy.

    ``ax``: optional single axes for the entropy curve only.
    """
    r, cfg = result, result.config
    if ax is not None:
        _plot_entropy(r, ax)
        return ax.figure
    side = _side(r.states)
    P = r.shown.size
    fig = plt.figure(figsize=(14, 6.4))
    gs = fig.add_gridspec(3, P, height_ratios=[1, 1, 1.7], hspace=0.35)
    for k, i in enumerate(r.shown):
        a = fig.add_subplot(gs[0, k])
        _show_images(a, (r.states[i] / np.sqrt(1.0 + r.sigmas[i] ** 2))[None], side, 1)
        a.set_title(f"$\\sigma$={r.sigmas[i]:.3g}", fontsize=10)
        if k == 0:
            a.text(-0.15, 0.5, "state $x_\\sigma$\n(rescaled)", transform=a.transAxes,
                   ha="right", va="center", fontsize=10)
        a = fig.add_subplot(gs[1, k])
        _show_images(a, r.denoised[i][None], side, 1)
        if k == 0:
            a.text(-0.15, 0.5, "$D(x_\\sigma, \\sigma)$", transform=a.transAxes, ha="right",
                   va="center", fontsize=10)
    _plot_entropy(r, fig.add_subplot(gs[2, :]))
    fig.suptitle(f"Images become less and less averaged: $D(x_\\sigma, \\sigma)$ along one "
                 f"trajectory ({LABELS[cfg.solver]}, {cfg.steps} steps, NFE {r.nfe}, "
                 f"{r.n_points:,} 8x8 digits)", fontsize=12)
    return fig


def _plot_entropy(r, ax):
    ax.plot(r.sigmas, r.entropy, "o-", ms=3, color="tab:purple",
            label="posterior entropy $H(\\pi(x_\\sigma, \\sigma))$")
    ax.plot(r.sigmas[r.shown], r.entropy[r.shown], "o", ms=8, mfc="none", color="k",
            label="shown above")
    ax.axhline(np.log(r.n_points), color="0.5", ls=":",
               label=f"$\\ln {r.n_points}$: the average of all images")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("noise level $\\sigma$ (sampling runs from 80 down to 0.002)")
    ax.set_ylabel("entropy (nats)")
    ax.set_ylim(-0.3, np.log(r.n_points) * 1.08)
    ax.legend(loc="lower left", fontsize=9)


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("image_denoiser_track", "1. Sampling from ideal diffusion model: \"What about "
                "images?\": D(x_sigma, sigma) along one trajectory on the digits, with the "
                "posterior entropy",
                lambda: plot(run(Config())), group="motivation"),
)
