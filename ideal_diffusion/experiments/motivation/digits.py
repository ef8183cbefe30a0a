"""Section 1 on the real digits: the same noises with n steps (slide "1. Motivation: "Diffusion
Models are slow. Why?"") and D(x_sigma, sigma) along one trajectory (slide "1. Sampling from
ideal diffusion model: "What about images?"")."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ...metrics import nearest_point, posterior_entropy
from ...schedules import SIGMA_MAX, SIGMA_MIN, sampling_grid
from ...solvers import nfe, sample
from .._cache import cached
from ..common import dataset, ideal_denoiser, noise
from ._shared import (
    COLORS,
    LABELS,
    NFE_RULE,
    _clipped,
    _show_images,
    _side,
)

# ----------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class StepsComparisonConfig:
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
        :class:`ErrorVsStepsConfig`), with their values written
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
        if not set(self.shown_steps) <= set(self.steps):
            raise ValueError("shown_steps must be a subset of steps")
        if not set(self.image_solvers) <= set(self.solvers):
            raise ValueError("image_solvers must be a subset of solvers")
        if not 1 <= self.n_shown <= self.n_noises:
            raise ValueError("need 1 <= n_shown <= n_noises")


@dataclass(frozen=True, eq=False)
class StepsComparisonResult:
    """Samples at sigma_min and their distance to the nearest training point.

    Attributes
    ----------
    config : StepsComparisonConfig
    nfe : (K, S) int -- evaluations per sample, solver k, ``config.steps[j]``
    dist : (K, S, B) -- distance of each sample to its nearest training point
    dist_median : (K, S)
    images : (I, P, n_shown, d) -- samples of ``image_solvers[i]`` at ``shown_steps[p]``
    noise_floor : float -- sigma_min sqrt(d): the typical distance of a noisy training point
        at sigma_min, i.e. what the exact ODE state keeps
    """

    config: StepsComparisonConfig
    nfe: np.ndarray
    dist: np.ndarray
    dist_median: np.ndarray
    images: np.ndarray
    noise_floor: float


@cached
def run_steps_comparison(cfg: StepsComparisonConfig = StepsComparisonConfig()
                         ) -> StepsComparisonResult:
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
    return StepsComparisonResult(cfg, n_fe, dist, np.median(dist, axis=2), images,
                                 SIGMA_MIN * np.sqrt(den.d))


def plot_steps_comparison(result: StepsComparisonResult, ax=None):
    """Samples (rows: solvers, columns: steps) and the median distance to the data vs NFE.

    ``ax``: optional single axes for the distance curve only.
    """
    cfg = result.config
    if ax is not None:
        fig = ax.figure
        _plot_distance_curve(result, ax)
        return fig
    I, P = len(cfg.image_solvers), len(cfg.shown_steps)
    side = _side(result.images)
    cols = (cfg.n_shown + 1) // 2
    fig = plt.figure(figsize=(15.5, 5.0))
    outer = fig.add_gridspec(1, 2, width_ratios=[P, 1.9], wspace=0.16)
    gs = outer[0].subgridspec(I, P, wspace=0.08, hspace=0.3)
    for i, solver in enumerate(cfg.image_solvers):
        for p, n in enumerate(cfg.shown_steps):
            a = fig.add_subplot(gs[i, p])
            _show_images(a, result.images[i, p], side, cols)
            k, j = cfg.solvers.index(solver), cfg.steps.index(n)
            a.set_title(f"{n} steps, NFE {result.nfe[k, j]}\nmedian dist. "
                        f"{result.dist_median[k, j]:.2g}", fontsize=10)
            if p == 0:
                a.set_ylabel(LABELS[solver], fontsize=11)
    _plot_distance_curve(result, fig.add_subplot(outer[1]))
    fig.suptitle(f"Diffusion models are slow: the same {cfg.n_shown} noises, n steps from "
                 f"$\\sigma$ = 80 to 0.002, exact denoiser of {dataset(cfg.data).N:,} "
                 f"8x8 digits\nfew steps: averaged, blurry samples (Euler 3, DPM-Solver++(2M) "
                 "3-5 steps); 30 steps: sharp training images", fontsize=12, y=1.0)
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
    ax.set_title("Blur: distance to the data vs NFE", fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)



# ----------------------------------------------------------------------------- image track


@dataclass(frozen=True)
class ImageTrackConfig:
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


@dataclass(frozen=True, eq=False)
class ImageTrackResult:
    """Attributes: config; sigmas (T,) the grid; states (T, d); denoised (T, d) =
    D(states[i], sigmas[i]) (the last at sigma_min too); entropy (T,) posterior entropy (nats);
    n_points (N of the data set); nfe; shown (P,) grid indices drawn; nearest (index of the
    final state's nearest training image) and its distance."""

    config: ImageTrackConfig
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
def run_image_denoiser_track(cfg: ImageTrackConfig = ImageTrackConfig()) -> ImageTrackResult:
    den = ideal_denoiser(cfg.data)
    sig = sampling_grid(cfg.steps)
    x_T = noise(den.d, 1, cfg.seed)
    _, states, denoised = sample(den, x_T, sig, cfg.solver, return_trajectory=True)
    D = np.concatenate([denoised[:, 0], den(states[-1], sig[-1])], axis=0)
    ent = np.array([posterior_entropy(den, states[i], sig[i])[0] for i in range(sig.size)])
    shown = np.array([int(np.argmin(np.abs(np.log(sig) - np.log(t)))) for t in cfg.shown])
    idx, dist = nearest_point(den.data, states[-1])
    return ImageTrackResult(cfg, sig, states[:, 0], D, ent, den.data.N, nfe(cfg.solver, sig),
                            shown, int(idx[0]), float(dist[0]))


def plot_image_denoiser_track(result: ImageTrackResult, ax=None):
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


