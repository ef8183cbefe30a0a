"""Sampling as a film: the states x_sigma and the denoiser's guesses D(x_sigma, sigma), from
sigma = 80 down to sigma_min, on the 2-D clusters and on the real digits (Motivation:
"images become less and less averaged").

:func:`run` integrates the PF-ODE with the ideal denoiser (Heun, ``steps`` steps on the
descending sampler grid 80 -> 0.002) and keeps every state and every D; :func:`plot` draws
one frame per step: top, the 2-D samples (dots) and their D (crosses) over the data; bottom,
the first digits' states and their D. Early frames show D as the data mean (an average), late
frames as one training point: the averaging the lecture is about, and its end.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import animation

from ..schedules import sampling_grid
from ..solvers import SOLVERS, sample_steps
from . import _checks as check
from ._cache import cached
from ._figure import SlideFigure
from .common import dataset, ideal_denoiser, noise

__all__ = ["Config", "Result", "Track", "plot", "run"]


@dataclass(frozen=True)
class Config:
    """Attributes: steps and solver of the film, 2-D samples drawn, digits drawn, seed."""

    steps: int = 24
    solver: str = "heun"
    n_points: int = 300
    n_digits: int = 4
    seed: int = 7

    def __post_init__(self):
        check.integer(self, "steps", 1)
        check.choice(self, "solver", SOLVERS)
        check.integer(self, "n_points", 1)
        check.integer(self, "n_digits", 1)
        check.integer(self, "seed", 0)


@dataclass(frozen=True, eq=False)
class Track:
    """One data set's film: ``states[i]`` at ``sigmas[i]`` and ``denoised[i] = D(states[i])``."""

    data: str
    sigmas: np.ndarray
    states: np.ndarray
    denoised: np.ndarray


@dataclass(frozen=True, eq=False)
class Result:
    """The two films of :func:`run` and the config that made them."""

    config: Config
    points: Track
    digits: Track


def _track(name, n, steps, solver, seed) -> Track:
    den = ideal_denoiser(name)
    s = sampling_grid(steps)
    x = noise(den.data.d, n, seed)
    states, denoised = [x], []
    for x_next, D in sample_steps(den, x, s, solver):
        states.append(x_next)
        denoised.append(D)
    denoised.append(den(states[-1], float(s[-1])))
    return Track(data=name, sigmas=s, states=np.stack(states), denoised=np.stack(denoised))


@cached
def run(cfg: Config = Config()) -> Result:
    """Integrate both films (cached on ``cfg``)."""
    return Result(config=cfg,
                  points=_track("clusters", cfg.n_points, cfg.steps, cfg.solver, cfg.seed),
                  digits=_track("digits", cfg.n_digits, cfg.steps, cfg.solver, cfg.seed + 1))


def plot(result: Result, interval: int = 250) -> animation.FuncAnimation:
    """One frame per sampler step; returns a FuncAnimation (``.to_jshtml()`` in a notebook,
    ``.save(path, writer=PillowWriter(fps=4))`` for a GIF)."""
    p, g = result.points, result.digits
    pts = dataset("clusters").points
    k = g.states.shape[1]
    fig = plt.figure(figsize=(7.2, 4.6))
    ax = fig.add_axes([0.05, 0.08, 0.42, 0.78])
    ax.scatter(pts[:, 0], pts[:, 1], s=50, facecolor="none", edgecolor="k", lw=1.2,
               label="data $x_0^j$", zorder=3)
    lim = 2.2
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    dots = ax.scatter([], [], s=6, color="tab:blue", alpha=0.5, label="$x_\\sigma$")
    guesses = ax.scatter([], [], s=14, marker="x", color="tab:red", alpha=0.7,
                         label="$D(x_\\sigma, \\sigma)$")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    title = fig.suptitle("")
    img_axes = []
    for row in range(2):
        for j in range(k):
            a = fig.add_axes([0.53 + j * 0.115, 0.47 - row * 0.34, 0.105, 0.3])
            a.set_xticks([])
            a.set_yticks([])
            img_axes.append(a)
    img_axes[0].set_ylabel("$x_\\sigma$")
    img_axes[k].set_ylabel("$D(x_\\sigma, \\sigma)$")
    ims = [a.imshow(np.zeros((8, 8)), cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
           for a in img_axes]

    def frame(i):
        sigma = p.sigmas[i]
        dots.set_offsets(p.states[i])  # far-out states at large sigma leave the view
        guesses.set_offsets(p.denoised[i])
        for j in range(k):
            # states at large sigma are mostly noise: show them rescaled to [-1, 1]
            x = g.states[i, j] / max(1.0, float(np.abs(g.states[i, j]).max()))
            ims[j].set_data(x.reshape(8, 8))
            ims[k + j].set_data(g.denoised[i, j].reshape(8, 8))
        title.set_text(f"PF-ODE sampling, step {i} of {len(p.sigmas) - 1}: "
                       f"$\\sigma$ = {sigma:.3g}")
        return [dots, guesses, title, *ims]

    return animation.FuncAnimation(fig, frame, frames=len(p.sigmas), interval=interval,
                                   blit=False)


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("sampling_film",
                "Motivation: samples x_sigma and the denoiser's guess D(x_sigma, sigma) from "
                "sigma = 80 to sigma_min, on the 2-D clusters and the real digits (an animated "
                "GIF)",
                lambda: plot(run(Config())), animated=True),
)
