"""Points along teacher trajectories and where the student sends them (lecture slide
"Consistency Distillation. Main idea": every point of one trajectory maps to the same x0)."""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ...distill.optima import teacher_step
from .. import _checks as check
from .. import common
from .._cache import cached
from .._figure import SlideFigure
from . import student_vs_optimum

__all__ = ["Config", "Result", "plot", "run"]


@dataclass(frozen=True)
class Config:
    """Teacher chains from ``n_traj`` noises x_T = 80 z down the grid, and f at every state."""

    cd: student_vs_optimum.Config = student_vs_optimum.Config()
    n_traj: int = 6
    seed: int = 105

    def __post_init__(self):
        check.instance(self, "cd", student_vs_optimum.Config)
        check.integer(self, "n_traj", 1)
        check.integer(self, "seed", 0)


@dataclass(frozen=True, eq=False)
class Result:
    """``sigma`` (N,) ascending; ``states`` (N, n_traj, d) the teacher chain (``states[-1]``
    is x_T); ``student`` / ``oracle`` (N, n_traj, d): f at each state."""

    config: Config
    sigma: np.ndarray
    states: np.ndarray
    student: np.ndarray
    oracle: np.ndarray


@cached
def run(cfg: Config = Config()) -> Result:
    r = student_vs_optimum.run(cfg.cd)
    den, grid = common.ideal_denoiser(cfg.cd.data), r.grid
    d = common.dataset(cfg.cd.data).d
    x = common.noise(d, cfg.n_traj, cfg.seed)
    states = np.empty((grid.size, cfg.n_traj, d))
    states[-1] = x
    for i in range(grid.size - 1, 0, -1):
        states[i - 1] = teacher_step(den, states[i], grid[i], grid[i - 1], cfg.cd.solver)
    s = lambda i: np.full(cfg.n_traj, grid[i])  # noqa: E731
    return Result(config=cfg, sigma=grid, states=states,
                  student=np.stack([r.student(states[i], s(i)) for i in range(grid.size)]),
                  oracle=np.stack([r.oracle(states[i], s(i)) for i in range(grid.size)]))


def plot(result: Result, ax=None):
    """Left: the whole range (sigma = 80 down to 0.002); right: the data region."""
    from matplotlib.colors import LogNorm
    from matplotlib.patches import FancyArrowPatch

    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(13, 6.0), gridspec_kw=dict(width_ratios=[1, 1]))
    r = result
    fig = ax[0].figure
    data = common.dataset(r.config.cd.data)
    s = r.sigma
    cmap = plt.get_cmap("viridis")
    norm = LogNorm(s[0], s[-1])
    pts = data.points
    lo, hi = pts.min(axis=0) - 0.6, pts.max(axis=0) + 0.6
    def warp(x):  # radius r -> log10(1 + r / 0.1): the whole range, 0.002 .. 80, on one axes
        r = np.linalg.norm(x, axis=-1, keepdims=True)
        return x * np.log10(1 + r / 0.1) / np.maximum(r, 1e-300)

    for a, zoom in zip(ax, (False, True)):
        t = (lambda x: x) if zoom else warp
        a.scatter(*t(pts).T, s=60, marker="x", c="k", zorder=5, label="data points")
        for j in range(r.states.shape[1]):
            a.plot(*t(r.states[:, j]).T, c="0.6", lw=1, zorder=1)
            for i in range(s.size):
                x, y = t(r.states[i, j]), t(r.student[i, j])
                c = cmap(norm(s[i]))
                a.add_patch(FancyArrowPatch(x, y, arrowstyle="->", mutation_scale=8, color=c,
                                            lw=0.8, alpha=0.8, zorder=2))
                a.scatter(*x, s=12, color=c, zorder=3)
        a.set_aspect("equal")
        if zoom:
            a.set_xlabel("$x_1$")
            a.set_ylabel("$x_2$")
            a.set_xlim(lo[0], hi[0])
            a.set_ylim(lo[1], hi[1])
            a.set_title(r"Near the data (linear axes)")
        else:
            m = np.abs(t(r.states)).max() * 1.05
            a.set_xlim(-m, m)
            a.set_ylim(-m, m)
            a.set_xlabel(r"$x_1 \cdot \log_{10}(1 + |x| / 0.1) / |x|$")
            a.set_ylabel(r"$x_2 \cdot \log_{10}(1 + |x| / 0.1) / |x|$")
            a.set_title("Whole range, $\\sigma$ = 80 down to 0.002\n(radius compressed: "
                        r"$|x| \to \log_{10}(1 + |x| / 0.1)$)")
    ax[1].legend(loc="upper right", fontsize=8)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=norm)
    fig.colorbar(sm, ax=list(ax), label=r"$\sigma$ of the state on the trajectory",
                 shrink=0.8, pad=0.03)
    fig.suptitle(r"Teacher trajectories (grey) and where the trained student sends each state: "
                 r"$f_\phi(x_\sigma, \sigma)$ (arrows)")
    return fig


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("cd_consistency_trajectories",
                "3. Consistency Distillation. Main idea: points along one trajectory all map to "
                "the same x0: where the student sends them",
                lambda: plot(run(Config())), group="cd"),
)
