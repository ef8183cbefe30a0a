"""Summary slide, "Ours, 4 steps" vs "Teacher, 50 steps", on the real handwritten digits.

Two teachers of the same 8 x 8 digits (d = 64), chosen by ``Config.data``:

* ``"digits_gmm"`` (default) -- the exact denoiser of a Gaussian mixture fitted to the digits,
  a **generalising** teacher: its exact ODE makes new digits, and few-step samplers blur them,
  as in real image diffusion. This is where the slide's claim is tested.
* ``"digits"`` -- the 1,797 training images as a delta mixture, a **memorising** teacher: its
  posterior collapses onto one training image by sigma ~ 1, so even 4 plain steps land sharp,
  on *some* training image (often another one than the exact ODE's): few-step error here is a
  wrong image, not a blur.

From the same held-out noises x_T = 80 z (:func:`~.common.reference`) we compare,
every sample being the state at sigma_min = 0.002 (no final projection onto the data):

* **Teacher, 50 steps**: Heun on the 50-step sampler grid (100 denoiser evaluations);
* **Ours, K steps**: the summary's K-boundary CD student (:func:`student_config`, committed),
  sampled by K jumps s_N -> b_{K-1} -> ... -> b_0 = s_1 = sigma_min (K network evaluations);
* **its exact optimum**: the same K jumps with
  :class:`~ideal_diffusion.distill.optima.ConsistencyOracle`, the teacher's Heun chain along the
  distillation grid -- what the student is trained to be;
* **plain teacher, K evaluations**: Euler and DPM-Solver++(2M) with K steps -- few-step
  diffusion without distillation.

Every sampler is measured against the exact ODE state at sigma_min: the median distance, the
fraction in the same basin (training image, or mixture component), the median distance to the
nearest training image, the fraction of pixels outside [-1, 1] (overshoot) and the Frechet
distance in pixel space to the exact states.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ..distill.optima import ConsistencyOracle
from ..distill.sampling import kjump_sample
from ..metrics import frechet_distance
from ..schedules import sampling_grid
from ..solvers import nfe, sample
from . import _checks as check
from . import mbcd
from ._cache import cached
from ._figure import SlideFigure
from .cd import student_vs_optimum
from .common import Measurement, ideal_denoiser, measure, out_of_range, reference

__all__ = ["Config", "Result", "Sampler", "plot", "run", "student_config"]


@dataclass(frozen=True)
class Config:
    """The slide figure's setting.

    Attributes
    ----------
    data : {"digits_gmm", "digits"} -- the generalising or the memorising teacher
    K : int -- boundaries of the student (network evaluations at sampling)
    teacher_steps : int -- Heun steps of the reference teacher
    n : int -- held-out noises measured; seed : int -- their seed
    show : int -- rows drawn in the figure (the first ``show`` noises, not selected)
    """

    data: str = "digits_gmm"
    K: int = 4
    teacher_steps: int = 50
    n: int = 400
    seed: int = 2024
    show: int = 8

    def __post_init__(self):
        check.choice(self, "data", ("digits_gmm", "digits"))
        check.integer(self, "K", 1)  # a committed student of ``data``: checked by run
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
    frechet: float


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
        """One line per sampler: NFE, median error, same basin, median distance to the nearest
        training image, pixels out of [-1, 1], Frechet distance to the exact states."""
        lines = [f"{'sampler':<30}{'NFE':>5}{'median err':>12}{'same basin':>12}"
                 f"{'to data':>10}{'out of range':>14}{'Frechet':>10}"]
        for s in self.samplers:
            q = s.quality
            lines.append(f"{s.label:<30}{s.nfe:>5}{q.err_median:>12.3f}{q.same_basin:>12.3f}"
                         f"{q.dist_to_data_median:>10.3f}{q.out_of_range:>14.3f}"
                         f"{s.frechet:>10.3g}")
        return "\n".join(lines)


def student_config(data: str, K: int) -> student_vs_optimum.Config:
    """The summary's K-boundary student of ``data`` (K = 1: CD; else :mod:`.mbcd`'s).

    Parameters
    ----------
    data : str -- a data set name (``"digits"``, ``"digits_gmm"``, ...)
    K : int -- boundaries: 1 or one of ``mbcd.summary_config(data).Ks``

    Returns
    -------
    cd.student_vs_optimum.Config

    Raises
    ------
    ValueError
        If the summary has no K-boundary student.
    """
    mb = mbcd.summary_config(data)
    known = (1,) + tuple(mb.Ks)
    if K not in known:
        raise ValueError(f"K must be one of the summary's {data} students' {known}, got {K!r}")
    return mb.student_config(K)


@cached
def run(cfg: Config = Config()) -> Result:
    """Sample the held-out noises with every sampler and measure them (cached on ``cfg``)."""
    c = student_config(cfg.data, cfg.K)
    ref = reference(cfg.data, cfg.n, cfg.seed)
    den = ideal_denoiser(cfg.data)
    st = student_vs_optimum.student(c)
    orc = ConsistencyOracle(den, st.grid, c.solver, st.boundaries)
    x_T = ref.x_T
    teacher_grid = sampling_grid(cfg.teacher_steps)
    few = sampling_grid(cfg.K)
    rows = [
        (f"Teacher, {cfg.teacher_steps} steps (Heun)", nfe("heun", teacher_grid),
         sample(den, x_T, teacher_grid, "heun")),
        (f"Ours, {cfg.K} steps", cfg.K, kjump_sample(st, x_T)),
        (f"exact optimum, {cfg.K} jumps", cfg.K, kjump_sample(orc, x_T, st.grid, st.boundaries)),
        (f"teacher Euler, {cfg.K} steps", cfg.K, sample(den, x_T, few, "euler")),
        (f"teacher DPM++(2M), {cfg.K} steps", cfg.K, sample(den, x_T, few, "dpmpp_2m")),
    ]
    samplers = tuple(Sampler(label=lab, nfe=n, samples=x, quality=measure(x, ref),
                             frechet=frechet_distance(x, ref.x_exact))
                     for lab, n, x in rows)
    return Result(config=cfg, samplers=samplers, x_exact=ref.x_exact,
                  teacher_evals=int(st.teacher_evals))


def _strip(images, size=8, gap=1, fill=np.nan):
    """(k, size*size) images -> one (size, k*(size+gap)-gap) row, gaps filled with ``fill``."""
    k = len(images)
    out = np.full((size, k * (size + gap) - gap), fill)
    for j, im in enumerate(images):
        out[:, j * (size + gap):j * (size + gap) + size] = im.reshape(size, size)
    return out


def display_range(arrays) -> float:
    """A symmetric grey scale [-v, v] that covers every pixel shown (v >= 1, rounded up to a
    tenth): overshoot beyond the data's [-1, 1] stays visible instead of being clipped."""
    v = max(float(np.max(np.abs(a))) for a in arrays)
    return max(1.0, float(np.ceil(v * 10.0) / 10.0))


def plot(result: Result, axes=None):
    """One row per sampler (the exact state first): the first ``show`` held-out noises' samples,
    with the NFE, the median error against the exact state at sigma_min, the Frechet distance
    and the fraction of pixels outside [-1, 1] beside them. The grey scale covers every pixel
    shown (a colour bar gives it), so overshoot is drawn, never clipped.

    Returns
    -------
    matplotlib.figure.Figure
    """
    show = result.config.show
    rows = [("exact ODE state at $\\sigma_{min}$", None, result.x_exact)] + [
        (s.label, s, s.samples) for s in result.samplers]
    vmax = display_range([x[:show] for _, _, x in rows])
    if axes is None:
        fig, axes = plt.subplots(len(rows), 1, figsize=(4.4 + 0.95 * show, 1.15 * len(rows) + 1.2))
        fig.subplots_adjust(left=0.2, right=0.8, top=0.86, bottom=0.16, hspace=0.25)
    else:
        fig = axes[0].figure
    cmap = plt.get_cmap("gray_r").with_extremes(bad="white")
    for ax, (label, s, x) in zip(axes, rows):
        im = ax.imshow(_strip(x[:show]), cmap=cmap, vmin=-vmax, vmax=vmax,
                       interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.set_ylabel(label.replace(", ", ",\n", 1), rotation=0, ha="right", va="center",
                      fontsize=9)
        if s is not None:
            ax.text(1.01, 0.5, f"NFE {s.nfe}, err {s.quality.err_median:.2g}\n"
                    f"Frechet {s.frechet:.3g}\n"
                    f"{100 * s.quality.out_of_range:.0f}% px out of [-1, 1]",
                    transform=ax.transAxes, va="center", fontsize=8)
        else:
            ax.text(1.01, 0.5, f"{100 * out_of_range(x):.0f}% px out of [-1, 1]",
                    transform=ax.transAxes, va="center", fontsize=8)
    cax = fig.add_axes((0.3, 0.075, 0.4, 0.018))
    fig.colorbar(im, cax=cax, orientation="horizontal",
                 label="pixel value (data: [-1, 1]; the scale covers every pixel drawn)")
    cfg = result.config
    kind = ("Gaussian mixture fitted to the digits: a generalising teacher"
            if cfg.data == "digits_gmm" else
            "the 1,797 digits as a delta mixture: a memorising teacher")
    fig.suptitle(f"Ours, {cfg.K} steps vs Teacher, {cfg.teacher_steps} steps\n{kind}; states at "
                 f"$\\sigma_{{min}}$, the same {cfg.n} noises (first {show} shown)", fontsize=10)
    return fig


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("images_4step_vs_teacher",
                "Summary: 'Ours, 4 steps' vs 'Teacher, 50 steps' on the generalising digit "
                "teacher (a Gaussian mixture fitted to the digits), beside the exact optimum and "
                "the plain 4-step teachers (states at sigma_min, full pixel range)",
                lambda: plot(run(Config(data="digits_gmm"))), group="images"),
    SlideFigure("images_4step_vs_teacher_memorising",
                "Summary, on the memorising digit teacher (the 1,797 digits as a delta "
                "mixture): plain 4-step samplers already land sharp, on a training image that "
                "is often not the exact ODE's, so the student's error is a wrong image, not a "
                "blur",
                lambda: plot(run(Config(data="digits"))), group="images"),
)
