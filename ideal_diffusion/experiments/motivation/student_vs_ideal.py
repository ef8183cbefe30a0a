"""The denoiser student against the ideal denoiser it approximates (slides "1. Towards ideal
approximation / 1. Ideal diffusion model")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...schedules import SIGMA_MAX
from .. import _checks as check
from .._cache import cached
from .._figure import SlideFigure
from ..common import (
    dataset,
    ideal_denoiser,
)
from . import denoiser_student
from ._shared import (
    _figure,
)


@dataclass(frozen=True)
class Config:
    """The trained denoiser student against the ideal denoiser it approximates.

    Attributes
    ----------
    student : denoiser_student.Config
    sigma_lo, sigma_hi : float -- range of the error curve (log-spaced)
    n_sigmas : int
    n_eval : int -- noisy data points per sigma
    eval_seed : int
    plane_sigmas : tuple of float -- levels of the outputs drawn in the plane
    n_plane : int
    plane_seed : int
    band : (float, float) -- the sigma band the tests check
    """

    student: denoiser_student.Config = denoiser_student.Config()
    sigma_lo: float = 0.02
    sigma_hi: float = SIGMA_MAX
    n_sigmas: int = 25
    n_eval: int = 2000
    eval_seed: int = 1
    plane_sigmas: tuple = (0.1, 0.6, 3.0)
    n_plane: int = 300
    plane_seed: int = 2
    band: tuple = (0.05, 5.0)

    def __post_init__(self):
        check.instance(self, "student", denoiser_student.Config)
        check.real(self, "sigma_lo", 0.0, lo_open=True)
        check.real(self, "sigma_hi", self.sigma_lo, lo_open=True)
        check.integer(self, "n_sigmas", 1)
        check.integer(self, "n_eval", 1)
        check.integer(self, "eval_seed", 0)
        check.reals(self, "plane_sigmas", 0.0, lo_open=True)
        check.integer(self, "n_plane", 1)
        check.integer(self, "plane_seed", 0)
        check.reals(self, "band", 0.0, lo_open=True, min_len=2, max_len=2)
        check.require(self, self.band[0] < self.band[1], "band", "(lo, hi) with lo < hi")


@dataclass(frozen=True, eq=False)
class Result:
    """Attributes: config; steps (Adam steps trained); sigmas (S,); rms, median (S,)
    |D_theta - D| on noisy data; dist_mean_ideal, dist_mean_student (S,) mean distance of D
    and D_theta to the data mean; spread (mean |x0 - mean| of the data); points (N, 2);
    plane_ideal, plane_student (P, n_plane, 2)."""

    config: Config
    steps: int
    sigmas: np.ndarray
    rms: np.ndarray
    median: np.ndarray
    dist_mean_ideal: np.ndarray
    dist_mean_student: np.ndarray
    spread: float
    points: np.ndarray
    plane_ideal: np.ndarray
    plane_student: np.ndarray


@cached
def run(cfg: Config = Config()) -> Result:
    from ...distill.denoiser_student import student_error_by_sigma

    st = denoiser_student.run(cfg.student)
    data = dataset(cfg.student.data)
    D = ideal_denoiser(cfg.student.data)
    sigmas = np.geomspace(cfg.sigma_lo, cfg.sigma_hi, cfg.n_sigmas)
    stats = student_error_by_sigma(st.student, data, sigmas, n=cfg.n_eval, rng=cfg.eval_seed,
                                   denoiser=D)
    rng = np.random.default_rng(cfg.plane_seed)
    ideal, student = [], []
    for s in cfg.plane_sigmas:
        x = data.sample(cfg.n_plane, rng) + s * rng.standard_normal((cfg.n_plane, data.d))
        ideal.append(D(x, s))
        student.append(st.student(x, s))
    mean = data.weights @ data.points
    spread = float(data.weights @ np.linalg.norm(data.points - mean, axis=1))
    return Result(
        config=cfg, steps=int(st.history.size), sigmas=sigmas, rms=stats["rms"],
        median=stats["median"], dist_mean_ideal=stats["dist_mean_ideal"],
        dist_mean_student=stats["dist_mean_student"], spread=spread, points=data.points.copy(),
        plane_ideal=np.stack(ideal), plane_student=np.stack(student))


def plot(result: Result, ax=None):
    """Three panels: |D_theta - D| vs sigma, distance to the data mean vs sigma, outputs."""
    cfg, r = result.config, result
    fig, axes = _figure(ax, 3, figsize=(15, 4.8))
    a = axes[0]
    a.axvspan(*cfg.band, color="0.92", label=f"$\\sigma \\in [{cfg.band[0]:g}, "
                                             f"{cfg.band[1]:g}]$ (tested band)")
    a.loglog(r.sigmas, r.rms, "o-", color="C3", ms=4, label="RMS $|D_\\theta - D|$")
    a.loglog(r.sigmas, r.median, "s--", color="C3", ms=4, alpha=0.6,
             label="median $|D_\\theta - D|$")
    a.loglog(r.sigmas, r.dist_mean_ideal, ":", color="k",
             label="scale: mean $|D - \\bar{x}_0|$")
    a.set_ylim(min(r.median.min(), r.dist_mean_ideal.min()) / 3,
               max(r.rms.max(), r.dist_mean_ideal.max()) * 30)
    a.set_xlabel("noise level $\\sigma$")
    a.set_ylabel("distance")
    a.set_title(f"student vs ideal denoiser ({r.steps} Adam steps)", fontsize=11)
    a.legend(loc="upper left", fontsize=8, ncol=2)

    a = axes[1]
    a.semilogx(r.sigmas, r.dist_mean_ideal, "k-", lw=2, label="ideal $D(x, \\sigma)$")
    a.semilogx(r.sigmas, r.dist_mean_student, "o", color="C3", ms=5,
               label="student $D_\\theta(x, \\sigma)$")
    a.axhline(r.spread, color="0.6", lw=1, ls="--")
    a.text(r.sigmas[-1], r.spread * 1.03, "data spread $E|x_0 - \\bar{x}_0|$", color="0.4",
           fontsize=9, ha="right")
    a.set_ylim(0, r.spread * 1.15)
    a.set_xlabel("noise level $\\sigma$")
    a.set_ylabel("mean distance to the data mean $\\bar{x}_0$")
    a.set_title("large $\\sigma$: both return the mean\n(the averaging is in the optimum)",
                fontsize=11)
    a.legend(loc="center left", fontsize=9)

    a = axes[2]
    for i, (color, s) in enumerate(zip(("C0", "C1", "C2"), cfg.plane_sigmas)):
        a.scatter(*r.plane_ideal[i].T, s=30, facecolors="none", edgecolors=color,
                  label=f"$D$, $\\sigma$={s:g}")
        a.scatter(*r.plane_student[i].T, s=8, marker="x", color=color, alpha=0.8,
                  label=f"$D_\\theta$, $\\sigma$={s:g}")
    a.scatter(*r.points.T, s=60, marker="*", color="k", zorder=3, label="data")
    a.set_aspect("equal")
    a.set_xlabel("$x_1$")
    a.set_ylabel("$x_2$")
    a.set_title("outputs: near a point at small $\\sigma$,\naverages at large $\\sigma$",
                fontsize=11)
    a.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    if ax is None:
        fig.suptitle("A trained MLP denoiser reproduces the ideal denoiser $E[x_0|x]$ "
                     f"({cfg.student.data}, EDM loss)", y=1.02)
        fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("denoiser_student_vs_ideal", "1. Towards ideal approximation / 1. Ideal "
                "diffusion model: a trained MLP denoiser reproduces E[x0|x], averaging included",
                lambda: plot(run(Config()))),
)
