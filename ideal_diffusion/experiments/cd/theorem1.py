"""Theorem 1 (lecture slide "Summary"): the CD optimum's error against the grid size, per
teacher solver; it falls at the solver's order."""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ...distill.optima import TEACHER_SOLVERS, consistency_optimum, distill_grid
from .. import _checks as check
from .. import common
from .._cache import cached
from .._figure import SlideFigure

__all__ = ["Config", "Result", "plot", "run"]


@dataclass(frozen=True)
class Config:
    """The CD optimum f*(x_T, s_N) against the exact ODE state at s_1 = sigma_min, vs N."""

    data: str = "clusters"
    Ns: tuple = (16, 32, 64, 128, 256)
    solvers: tuple = ("euler", "heun")
    n: int = 100
    seed: int = 2024

    def __post_init__(self):
        check.dataset(self, "data")
        check.integers(self, "Ns", 2, min_len=2)
        check.require(self, len(set(self.Ns)) >= 2, "Ns",
                      "at least two different grid sizes (the order is a fitted slope)")
        check.choices(self, "solvers", TEACHER_SOLVERS)
        check.integer(self, "n", 1)
        check.integer(self, "seed", 0)


@dataclass(frozen=True, eq=False)
class Result:
    """``err[solver]`` (M,) median error per N; ``order[solver]`` the fitted order (slope of
    log error against log N, sign flipped); ``nfe[solver]`` (M,) evaluations per sample."""

    config: Config
    N: np.ndarray
    err: dict
    order: dict
    nfe: dict


@cached
def run(cfg: Config = Config()) -> Result:
    den = common.ideal_denoiser(cfg.data)
    ref = common.reference(cfg.data, cfg.n, cfg.seed)
    Ns = np.asarray(cfg.Ns)
    err, order, nfe = {}, {}, {}
    for solver in cfg.solvers:
        e = []
        for N in Ns:
            g = distill_grid(int(N))
            f = consistency_optimum(den, ref.x_T, g[-1], g, solver)
            e.append(np.median(np.linalg.norm(f - ref.x_exact, axis=1)))
        err[solver] = np.array(e)
        order[solver] = float(-np.polyfit(np.log(Ns), np.log(e), 1)[0])
        nfe[solver] = (Ns - 1) * (2 if solver == "heun" else 1)
    return Result(config=cfg, N=Ns, err=err, order=order, nfe=nfe)


def plot(result: Result, ax=None):
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.6))
    fig = ax.figure
    r = result
    for solver, c in zip(r.config.solvers, ("tab:blue", "tab:orange", "tab:green")):
        ax.loglog(r.N, r.err[solver], "o-", c=c,
                  label=f"{solver.capitalize()} teacher: order p = {r.order[solver]:.2f}")
    ax.set_xticks(r.N, [str(int(n)) for n in r.N])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_xlabel("grid levels N (steps N - 1)")
    ax.set_ylabel(r"median $|f^*(x_T, 80) - x_{ODE}(\sigma_{min})|$")
    ax.set_title(r"Theorem 1: CD optimum error $\sim$ (grid spacing)$^p$")
    ax.legend()
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("cd_theorem1",
                "Summary: the CD optimum's error falls with the grid at the teacher solver's "
                "order (Theorem 1)",
                lambda: plot(run(Config())), group="cd"),
)
