"""Summary slide, "Ours, 4 steps" vs "Teacher, 50 steps", on the real handwritten digits.

Data: scikit-learn's 1,797 8 x 8 digits in [-1, 1] (d = 64); the teacher is their ideal
denoiser. From the same held-out noises x_T = 80 z (:func:`~.common.reference`) we compare,
every sample being the state at sigma_min = 0.002 (no final projection onto the data):

* **Teacher, 50 steps**: Heun on the 50-step sampler grid (100 denoiser evaluations);
* **Ours, K steps**: the K-boundary CD student (:mod:`.students`, a committed checkpoint),
  sampled by K jumps s_N -> b_{K-1} -> ... -> b_0 = s_1 = sigma_min (K network evaluations);
* **its exact optimum**: the same K jumps with
  :class:`~ideal_diffusion.distill.optima.ConsistencyOracle`, the teacher's Heun chain along the
  distillation grid -- what the student is trained to be;
* **plain teacher, K evaluations**: Euler and DPM-Solver++(2M) with K steps -- few-step
  diffusion without distillation: blurred averages of digits.

Every sampler is measured against the exact ODE state at sigma_min: the median distance, the
fraction of samples nearest the same training image, and the median distance to the nearest
training image (how blurred the sample is).
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ..distill.optima import ConsistencyOracle
from ..distill.sampling import kjump_sample
from ..solvers import nfe, sample
from . import _checks as check
from ._cache import cached
from .common import Measurement, ideal_denoiser, measure, reference, sampler_sigmas
from .students import CHECKPOINTED, student

__all__ = ["Config", "Result", "Sampler", "plot", "run"]


@dataclass(frozen=True)
class Config:
    """The slide figure's setting.

    Attributes
    ----------
    K : int -- boundaries of the student (network evaluations at sampling)
    teacher_steps : int -- Heun steps of the reference teacher
    n : int -- held-out noises measured; seed : int -- their seed
    show : int -- rows drawn in the figure (the first ``show`` noises, not selected)
    """

    K: int = 4
    teacher_steps: int = 50
    n: int = 400
    seed: int = 2024
    show: int = 8

    def __post_init__(self):
        check.integer(self, "K", 1)
        ks = sorted({s.K for s in CHECKPOINTED if s.data == "digits" and s.method != "kd"})
        check.require(self, self.K in ks, "K", f"one of the committed digit students' {ks}")
        check.integer(self, "teacher_steps", 1)
        check.integer(self, "n", 1)
        check.integer(self, "seed", 0)
        check.integer(self, "show", 1, self.n)


@dataclass(frozen=True, eq=False)
class Sampler:
    """One sampler's samples of the held-out noises and their quality."""

    label: str
    nfe: int
    samples: np.ndarray
    quality: Measurement


@dataclass(frozen=True, eq=False)
class Result:
    """The samplers of :func:`run`, in figure order, and the exact states."""

    config: Config
    samplers: tuple
    x_exact: np.ndarray
    teacher_evals: int

    def get(self, label: str) -> Sampler:
        for s in self.samplers:
            if s.label == label:
                return s
        raise KeyError(label)

    def table(self) -> str:
        """One line per sampler: NFE, median error, same image, median distance to data."""
        lines = [f"{'sampler':<28}{'NFE':>5}{'median err':>12}{'same image':>12}{'to data':>10}"]
        for s in self.samplers:
            q = s.quality
            lines.append(f"{s.label:<28}{s.nfe:>5}{q.err_median:>12.3f}{q.same_basin:>12.3f}"
                         f"{q.dist_to_data_median:>10.3f}")
        return "\n".join(lines)


def _spec(K):
    for s in CHECKPOINTED:
        if s.data == "digits" and s.method == ("cd" if K == 1 else "mbcd") and s.K == K:
            return s
    raise ValueError(f"K must be one of the committed digit students' "
                     f"{sorted({s.K for s in CHECKPOINTED if s.method != 'kd'})}, got {K!r}")


@cached
def run(cfg: Config = Config()) -> Result:
    """Sample the held-out noises with every sampler and measure them (cached on ``cfg``)."""
    spec = _spec(cfg.K)
    ref = reference("digits", cfg.n, cfg.seed)
    den = ideal_denoiser("digits")
    st = student(spec)
    orc = ConsistencyOracle(den, st.grid, spec.solver, st.boundaries)
    x_T = ref.x_T
    teacher_grid = sampler_sigmas(cfg.teacher_steps)
    few = sampler_sigmas(cfg.K)
    rows = [
        (f"Teacher, {cfg.teacher_steps} steps (Heun)", nfe("heun", teacher_grid),
         sample(den, x_T, teacher_grid, "heun")),
        (f"Ours, {cfg.K} steps", cfg.K, kjump_sample(st, x_T)),
        (f"exact optimum, {cfg.K} jumps", cfg.K, kjump_sample(orc, x_T, st.grid, st.boundaries)),
        (f"teacher Euler, {cfg.K} steps", cfg.K, sample(den, x_T, few, "euler")),
        (f"teacher DPM++(2M), {cfg.K} steps", cfg.K, sample(den, x_T, few, "dpmpp_2m")),
    ]
    samplers = tuple(Sampler(label=lab, nfe=n, samples=x, quality=measure(x, ref))
                     for lab, n, x in rows)
    return Result(config=cfg, samplers=samplers, x_exact=ref.x_exact,
                  teacher_evals=int(st.teacher_evals))


def _strip(images, size=8, gap=1):
    """(k, size*size) images in [-1, 1] -> one (size, k*(size+gap)-gap) row, white gaps."""
    k = len(images)
    out = np.full((size, k * (size + gap) - gap), -1.0)
    for j, im in enumerate(images):
        out[:, j * (size + gap):j * (size + gap) + size] = im.reshape(size, size)
    return out


def plot(result: Result, axes=None):
    """One row per sampler (the exact state first): the first ``show`` held-out noises' samples,
    with the NFE and the median error against the exact state at sigma_min beside them.

    Returns
    -------
    matplotlib.figure.Figure
    """
    show = result.config.show
    rows = [("exact ODE state at $\\sigma_{min}$", None, result.x_exact)] + [
        (s.label, s, s.samples) for s in result.samplers]
    if axes is None:
        fig, axes = plt.subplots(len(rows), 1, figsize=(1.0 + 0.95 * show, 1.05 * len(rows)))
    else:
        fig = axes[0].figure
    for ax, (label, s, x) in zip(axes, rows):
        ax.imshow(_strip(x[:show]), cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.set_ylabel(label.replace(", ", ",\n", 1), rotation=0, ha="right", va="center",
                      fontsize=9)
        if s is not None:
            ax.text(1.01, 0.5, f"NFE {s.nfe}\nerr {s.quality.err_median:.2g}",
                    transform=ax.transAxes, va="center", fontsize=9)
    fig.suptitle("Ours, few steps vs Teacher, 50 steps: real 8x8 digits, states at "
                 "$\\sigma_{min}$, the same noises", fontsize=11)
    return fig
