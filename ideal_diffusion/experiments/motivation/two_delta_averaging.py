"""The optimum averages: D(x, sigma) of two deltas (slide "1. Ideal diffusion model: "two
delta functions"")."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ...data import two_points
from ...denoiser import IdealDenoiser
from .. import _checks as check
from .._cache import cached
from .._figure import SlideFigure
from ._shared import (
    _figure,
)


@dataclass(frozen=True)
class Config:
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

    def __post_init__(self):
        check.reals(self, "sigmas", 0.0, lo_open=True)
        check.real(self, "sigma_star", 0.0, lo_open=True)
        check.real(self, "weight", 0.0, 1.0, lo_open=True, hi_open=True)
        check.real(self, "distance", 0.0, lo_open=True)
        check.reals(self, "u_range", min_len=2, max_len=2)
        check.require(self, self.u_range[0] < self.u_range[1], "u_range", "(lo, hi) with lo < hi")
        check.integer(self, "n_grid", 2)


@dataclass(frozen=True, eq=False)
class Result:
    """Attributes: config; x (G,) first coordinate on the line; D (S, G) first coordinate of
    D(x, sigma); pi2 (S, G) posterior weight of x^2; x_star, d_star, w_star (the point where
    pi = (1 - weight, weight) at sigma_star, D there, both weights); d_mid (D at the midpoint)."""

    config: Config
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
def run(cfg: Config = Config()) -> Result:
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
    return Result(
        config=cfg, x1=float(x1[0]), x2=float(x2[0]), x=x[:, 0], D=D, pi2=pi2,
        x_star=float(x_star[0]), d_star=float(den(x_star[None], cfg.sigma_star)[0, 0]),
        w_star=den.posterior(x_star[None], cfg.sigma_star)[0],
        d_mid=float(den(((x1 + x2) / 2)[None], cfg.sigma_star)[0, 0]))


def plot(result: Result, ax=None):
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
    L = r.x2 - r.x1
    a2.set_title(f"Posterior weights (log-odds linear in $x$: ${L:g}x/\\sigma^2$)")
    a2.legend(fontsize=8, loc="upper left")
    if ax is None:
        fig.suptitle(f"Two deltas: $f$ = $(x^1+x^2)/2$ at equal distance; $f$ = ${w1:g}x^1 + "
                     f"{w2:g}x^2$ at $x$ = $\\sigma^2 \\ln({w2:g}/{w1:g})/{r.x2 - r.x1:g}$ = "
                     f"{r.x_star:.4f} "
                     f"($\\sigma$ = {cfg.sigma_star:g})", fontsize=12)
        fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("two_delta_averaging", "1. Ideal diffusion model: \"two delta functions\": "
                "f = (x1 + x2)/2 at equal distance, f = 0.3 x1 + 0.7 x2",
                lambda: plot(run(Config())), group="motivation"),
)
