"""The same noises with n steps on the real digits (slide "1. Motivation: "Diffusion Models
are slow. Why?"")."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ...metrics import nearest_point
from ...schedules import SIGMA_MIN, sampling_grid
from ...solvers import nfe, sample
from .. import _checks as check
from .._cache import cached
from .._figure import SlideFigure
from ..common import (
    dataset,
    ideal_denoiser,
    noise,
)
from ._shared import (
    COLORS,
    LABELS,
    NFE_RULE,
    _clipped,
    _show_images,
    _side,
)


@dataclass(frozen=True)
class Config:
    """"Diffusion models are slow": the same noises with n steps, on the real digits.

    Attributes
    ----------
    data : str -- data set name (:func:`.common.dataset`)
    steps : tuple of int -- step counts of the distance curve (each sampler, each n)
    shown_steps : tuple of int -- step counts whose samples are drawn (a subset of ``steps``)
    solvers : tuple of str -- solvers of the distance curve
    image_solvers : tuple of str -- solvers whose samples are drawn, one row each
    n_noises : int -- noises of the curve; the first ``n_shown`` are drawn
    n_shown : int
    seed : int -- seed of the noises
    y_clip : float -- distances above are drawn at the clip (few-step Heun: see
        :class:`error_vs_steps.Config`), with their values written
    """

    data: str = "digits"
    steps: tuple = (1, 2, 3, 4, 5, 7, 10, 15, 20, 30)
    shown_steps: tuple = (3, 5, 7, 30)
    solvers: tuple = ("euler", "heun", "dpmpp_2m")
    image_solvers: tuple = ("euler", "dpmpp_2m")
    n_noises: int = 32
    n_shown: int = 6
    seed: int = 1
    y_clip: float = 10.0

    def __post_init__(self):
        check.choice(self, "data", check.IMAGE_SETS)
        check.integers(self, "steps", 1)
        check.integers(self, "shown_steps", 1)
        check.choices(self, "solvers", check.SOLVERS)
        check.choices(self, "image_solvers", check.SOLVERS)
        check.integer(self, "n_noises", 1)
        check.integer(self, "seed", 0)
        check.real(self, "y_clip", 0.0, lo_open=True)
        check.require(self, set(self.shown_steps) <= set(self.steps), "shown_steps",
                      f"a subset of steps {self.steps}")
        check.require(self, set(self.image_solvers) <= set(self.solvers), "image_solvers",
                      f"a subset of solvers {self.solvers}")
        check.integer(self, "n_shown", 1, self.n_noises)


@dataclass(frozen=True, eq=False)
class Result:
    """Samples at sigma_min and their distance to the nearest training point.

    Attributes
    ----------
    config : Config
    nfe : (K, S) int -- evaluations per sample, solver k, ``config.steps[j]``
    dist : (K, S, B) -- distance of each sample to its nearest training point
    dist_median : (K, S)
    images : (I, P, n_shown, d) -- samples of ``image_solvers[i]`` at ``shown_steps[p]``
    noise_floor : float -- sigma_min sqrt(d): the typical distance of a noisy training point
        at sigma_min, i.e. what the exact ODE state keeps
    """

    config: Config
    nfe: np.ndarray
    dist: np.ndarray
    dist_median: np.ndarray
    images: np.ndarray
    noise_floor: float


@cached
def run(cfg: Config = Config()) -> Result:
    den = ideal_denoiser(cfg.data)
    x_T = noise(den.d, cfg.n_noises, cfg.seed)
    K, S = len(cfg.solvers), len(cfg.steps)
    n_fe = np.empty((K, S), dtype=int)
    dist = np.empty((K, S, cfg.n_noises))
    images = np.empty((len(cfg.image_solvers), len(cfg.shown_steps), cfg.n_shown, den.d))
    for k, solver in enumerate(cfg.solvers):
        for j, n in enumerate(cfg.steps):
            grid = sampling_grid(n)
            x = sample(den, x_T, grid, solver)
            n_fe[k, j] = nfe(solver, grid)
            dist[k, j] = nearest_point(den.data, x)[1]
            if solver in cfg.image_solvers and n in cfg.shown_steps:
                images[cfg.image_solvers.index(solver), cfg.shown_steps.index(n)] = \
                    x[:cfg.n_shown]
    return Result(
        config=cfg, nfe=n_fe, dist=dist, dist_median=np.median(dist, axis=2), images=images,
        noise_floor=SIGMA_MIN * np.sqrt(den.d))


def plot(result: Result, ax=None):
    """Samples (rows: solvers, columns: steps) and the median distance to the data vs NFE.

    ``ax``: optional single axes for the distance curve only.
    """
    cfg = result.config
    if ax is not None:
        fig = ax.figure
        _plot_distance_curve(result, ax)
        return fig
    I, P = len(cfg.image_solvers), len(cfg.shown_steps)
    few = {}
    side = _side(result.images)
    cols = (cfg.n_shown + 1) // 2
    fig = plt.figure(figsize=(15.5, 5.0))
    outer = fig.add_gridspec(1, 2, width_ratios=[P, 1.9], wspace=0.16)
    gs = outer[0].subgridspec(I, P, wspace=0.08, hspace=0.3)
    for i, solver in enumerate(cfg.image_solvers):
        for p, n in enumerate(cfg.shown_steps):
            a = fig.add_subplot(gs[i, p])
            out = _show_images(a, result.images[i, p], side, cols)
            k, j = cfg.solvers.index(solver), cfg.steps.index(n)
            if p == 0:
                few[solver] = (n, out, result.dist_median[k, j])
            a.set_title(f"{n} steps, NFE {result.nfe[k, j]}\nmedian dist. "
                        f"{result.dist_median[k, j]:.2g}", fontsize=10)
            if p == 0:
                a.set_ylabel(LABELS[solver], fontsize=11)
    _plot_distance_curve(result, fig.add_subplot(outer[1]))
    words = "; ".join(
        f"{LABELS[sv]} {n}: " + (f"overshoot ({100 * o:.0f}% px outside [-1, 1])" if o > 0.02
                                 else f"averaged, blurry (dist. {d:.2g})")
        for sv, (n, o, d) in few.items())
    fig.suptitle(f"Diffusion models are slow: the same {cfg.n_shown} noises, n steps from "
                 f"$\\sigma$ = 80 to 0.002, exact denoiser of {dataset(cfg.data).N:,} "
                 f"8x8 digits\nfewest steps shown: {words}; {max(cfg.shown_steps)} steps: "
                 "sharp training images", fontsize=12, y=1.02)
    return fig


def _plot_distance_curve(result, ax):
    cfg = result.config
    clip = cfg.y_clip
    for k, solver in enumerate(cfg.solvers):
        _clipped(ax, result.nfe[k], result.dist_median[k], clip, COLORS[solver], marker="o",
                 ms=4, label=f"{LABELS[solver]} ({NFE_RULE[solver]})")
        over = np.flatnonzero(result.dist_median[k] > clip)
        if over.size:
            vals = ", ".join(f"{result.dist_median[k, j]:.1e}" for j in over)
            nf = ", ".join(str(result.nfe[k, j]) for j in over)
            ax.annotate(f"{LABELS[solver]} off the scale:\n{vals}\nat NFE {nf}",
                        (result.nfe[k, over[-1]], clip), xytext=(22, -14),
                        textcoords="offset points", fontsize=8, color=COLORS[solver],
                        arrowprops=dict(arrowstyle="->", color=COLORS[solver]))
    ax.axhline(result.noise_floor, color="0.4", ls=":", lw=1.2,
               label=f"$\\sigma_{{min}}\\sqrt{{d}}$ = {result.noise_floor:.3f} "
                     "(noise left at $\\sigma_{min}$)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(result.noise_floor / 20, clip * 2)  # room for the legend below the floor
    ax.set_xlabel("denoiser evaluations (NFE)")
    ax.set_ylabel(f"median distance to the nearest\ntraining image ({cfg.n_noises} noises)")
    ax.set_title("Distance to the data vs NFE (blur, or overshoot)", fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("steps_comparison", "1. Motivation: \"Diffusion Models are slow. Why?\": the same "
                "noises with 3/5/7/30 steps on 1,797 real 8x8 digits, and the distance to the "
                "nearest training image vs NFE",
                lambda: plot(run(Config())), group="motivation"),
)
