"""Curved trajectories (slide "1. DMs speed are limited!: "Diffusion has curved
trajectories"")."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ...data import DeltaMixture, GaussianMixture
from ...denoiser import IdealDenoiser
from ...geometry import chord_deviation, denoiser_drift
from ...schedules import sampling_grid
from ...solvers import nfe, sample
from .. import _checks as check
from .._cache import cached
from .._figure import SlideFigure
from ..common import (
    dataset,
    noise,
)
from ._shared import (
    LABELS,
    _box,
    _figure,
)


@dataclass(frozen=True)
class Config:
    """PF-ODE paths of a delta mixture, a single Gaussian and a single point.

    Attributes
    ----------
    mixture : str -- data set of the mixture panel
    gaussian_std : float -- std of the single Gaussian N(0, std^2 I)
    point : (float, float) -- the single data point
    steps : int -- solver steps of each path (80 -> 0.002)
    solver : str
    n_paths : int
    seed : int
    window : float -- half-width of the drawn window around the origin
    """

    mixture: str = "clusters"
    gaussian_std: float = 0.5
    point: tuple = (1.0, 0.0)
    steps: int = 96
    solver: str = "heun"
    n_paths: int = 14
    seed: int = 9
    window: float = 2.6

    def __post_init__(self):
        check.choice(self, "mixture", check.PLANE_SETS)
        check.real(self, "gaussian_std", 0.0, lo_open=True)
        check.reals(self, "point", min_len=2, max_len=2)
        check.integer(self, "steps", 1)
        check.solver(self, "solver")
        check.integer(self, "n_paths", 1)
        check.integer(self, "seed", 0)
        check.real(self, "window", 0.0, lo_open=True)


@dataclass(frozen=True, eq=False)
class CurvedCase:
    """One panel: title; centres (M, 2) the data points or the Gaussian's mean; states
    (T, B, 2) along ``sigmas``; denoised (T, B, 2) = D(states, sigmas); chord (B,) and
    chord_rel (B,) chord deviation (absolute, relative); drift (T, B) |D(x(sigma), sigma) -
    x_end|."""

    title: str
    centres: np.ndarray
    states: np.ndarray
    denoised: np.ndarray
    chord: np.ndarray
    chord_rel: np.ndarray
    drift: np.ndarray


@dataclass(frozen=True, eq=False)
class Result:
    """Attributes: config; sigmas (T,); nfe; cases (mixture, Gaussian, point)."""

    config: Config
    sigmas: np.ndarray
    nfe: int
    cases: tuple


@cached
def run(cfg: Config = Config()) -> Result:
    sig = sampling_grid(cfg.steps)
    x_T = noise(2, cfg.n_paths, cfg.seed)
    gauss = GaussianMixture(np.zeros((1, 2)), cfg.gaussian_std ** 2)
    cases = []
    for title, data in ((f"{cfg.mixture}: {dataset(cfg.mixture).N} points (delta mixture)",
                         dataset(cfg.mixture)),
                        (f"single Gaussian $N(0, {cfg.gaussian_std:g}^2 I)$", gauss),
                        ("single data point", DeltaMixture(np.array([cfg.point])))):
        den = IdealDenoiser(data)
        _, states, _ = sample(den, x_T, sig, cfg.solver, return_trajectory=True)
        D = np.stack([den(states[i], sig[i]) for i in range(sig.size)])
        centres = data.means if isinstance(data, GaussianMixture) else data.points
        cases.append(CurvedCase(
            title=title, centres=centres, states=states, denoised=D, chord=chord_deviation(states),
            chord_rel=chord_deviation(states, relative=True),
            drift=denoiser_drift(den, states, sig)))
    return Result(config=cfg, sigmas=sig, nfe=nfe(cfg.solver, sig), cases=tuple(cases))


def plot(result: Result, ax=None):
    """Three path panels (mixture, Gaussian, point) and the denoiser drift along the path."""
    cfg, r = result.config, result
    fig, axes = _figure(ax, 4, figsize=(17, 4.9), gridspec_kw={"width_ratios": [1, 1, 1, 1.25]})
    colors = plt.get_cmap("tab20")(np.arange(cfg.n_paths) % 20)
    w = cfg.window
    for a, case in zip(axes, r.cases):
        for b in range(cfg.n_paths):
            a.plot(case.states[:, b, 0], case.states[:, b, 1], color=colors[b], lw=1.6)
            a.plot(case.denoised[:, b, 0], case.denoised[:, b, 1], color=colors[b], lw=1.0,
                   ls="--")
            a.plot(*case.states[-1, b], "o", color=colors[b], ms=4)
        a.scatter(*case.centres.T, marker="x", s=50, color="k", lw=1.5, zorder=5)
        a.set_xlim(-w, w)
        a.set_ylim(-w, w)
        a.set_aspect("equal")
        a.set_xlabel("$x_1$")
        a.set_title(case.title, fontsize=11)
        _box(a, 0.02, 0.02, f"chord deviation: median {np.median(case.chord):.2g}\n"
             f"(relative {np.median(case.chord_rel):.1e})\nmax drift $|D - x_{{end}}|$ = "
             f"{case.drift.max():.2g}", va="bottom")
        a.plot([], [], color="0.3", lw=1.6, label="path $x(\\sigma)$")
        a.plot([], [], color="0.3", lw=1, ls="--", label="$D(x(\\sigma), \\sigma)$")
        a.legend(loc="upper right", fontsize=8)
        axes[3].plot(r.sigmas, np.median(case.drift, axis=1), lw=2, label=case.title)
    axes[0].set_ylabel("$x_2$")
    ad = axes[3]
    ad.set_xscale("log")
    ad.invert_xaxis()
    ad.set_xlabel("noise level $\\sigma$ (80 $\\to$ 0.002)")
    ad.set_ylabel("median drift $|D(x(\\sigma), \\sigma) - x_{end}|$")
    ad.set_title("Denoiser drift along the path", fontsize=11)
    ad.legend(fontsize=8, loc="upper right")
    ad.text(0.98, 0.6, "single point: $D$ is the point all the way\n(straight line, constant "
            "speed)\nGaussian: straight ray, $D$ moves", transform=ad.transAxes, ha="right",
            fontsize=8.5)
    if ax is None:
        fig.suptitle(f"Diffusion has curved trajectories: {cfg.n_paths} PF-ODE paths from "
                     f"$\\sigma$ = 80 to 0.002 ({LABELS[cfg.solver]}, {cfg.steps} steps, "
                     f"NFE {r.nfe}; window $\\pm{w:g}$ around the data)", fontsize=12)
        fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("curved_trajectories", "1. DMs speed are limited!: \"Diffusion has curved "
                "trajectories\" (a single Gaussian and a single point for contrast)",
                lambda: plot(run(Config())), group="motivation"),
)
