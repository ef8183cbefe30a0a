"""Lecture section 1, "What about images? Images become less and less averaged": a memorising
and a generalising teacher of the same digits, through the same noises.

* ``"digits"`` -- the 1,797 training images as a delta mixture. Its ideal denoiser averages
  training images; along the exact PF-ODE the posterior collapses onto **one** image by sigma of
  order 1, and from there D is that image: the teacher has **memorised** the data.
* ``"digits_gmm"`` -- a Gaussian mixture fitted to the same images (:func:`data.digits_gmm`).
  Its posterior also settles on one component, but inside a component E[x0 | x] keeps
  averaging (a Gaussian's posterior mean shrinks x towards the component mean, with posterior
  covariance Sigma (Sigma + sigma^2 I)^-1 sigma^2): D stays an average down to small sigma,
  and the exact ODE ends on a **new** image.

For each teacher, from the same noises x_T = 80 z, :func:`run` measures along the exact ODE

* the effective number of posterior components exp(H[pi(x, sigma)]) (training images for the
  delta mixture, Gaussian components for the mixture), and
* the posterior spread sqrt(tr Cov[x0 | x_sigma]) = sigma sqrt(tr dD/dx) (Tweedie): how much
  the denoiser still averages,

and samples both teachers with few Euler and DPM-Solver++(2M) steps. Each sample is measured
against the exact ODE state at sigma_min with a blur measure that fits its teacher: for the
delta mixture the distance to the nearest training image (0 = sharp, on a training image); for
the mixture the ``detail`` ratio of :class:`~.common.Measurement` (1 = as detailed as the exact
samples, below 1 = averaged towards the component mean). :meth:`Result.explain` turns the
measured values into the section's text.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ..metrics import posterior_entropy
from ..nn import blas_threads
from ..schedules import SIGMA_MAX, SIGMA_MIN, sampling_grid
from ..solvers import sample, solve_ode
from . import _checks as check
from ._cache import cached
from ._figure import SlideFigure
from .common import Measurement, dataset, ideal_denoiser, measure, nn_spacing, reference
from .images import _strip, display_range

__all__ = ["Config", "Result", "TeacherRun", "plot", "run"]

TEACHERS = ("digits", "digits_gmm")
SPREAD_FLOOR = 1e-3  # the spread curve is drawn down to here (a collapsed posterior has ~0)
LABEL = {"digits": "memorising (delta mixture of the digits)",
         "digits_gmm": "generalising (Gaussian mixture fitted to the digits)"}


@dataclass(frozen=True)
class Config:
    """Attributes
    ----------
    steps : tuple of int -- few-step sampler step counts (Euler and DPM-Solver++(2M))
    n : int -- held-out noises measured (:func:`~.common.reference`); seed : int -- their seed
    n_track : int -- of those, the first ``n_track`` followed along the exact ODE for the
        posterior curves
    n_sigma : int -- sigma values of the curves (log-spaced, descending from 80 to 0.002)
    show : int -- samples drawn per row
    """

    steps: tuple = (2, 4)
    n: int = 400
    seed: int = 2024
    n_track: int = 32
    n_sigma: int = 22
    show: int = 8

    def __post_init__(self):
        check.integers(self, "steps", 1)
        check.integer(self, "n", 1)
        check.integer(self, "seed", 0)
        check.integer(self, "n_track", 1, self.n)
        check.integer(self, "n_sigma", 2)
        check.integer(self, "show", 1, self.n)


@dataclass(frozen=True, eq=False)
class TeacherRun:
    """One teacher's measurements.

    Attributes
    ----------
    data : str
    sigmas : (S,) array, descending -- where the curves are measured
    eff_components : (S,) array -- median over tracked noises of exp(posterior entropy)
    spread : (S,) array -- median sqrt(tr Cov[x0 | x_sigma]) along the exact ODE
    x_exact : (n, 64) array -- the exact ODE states at sigma_min
    exact : Measurement -- of ``x_exact`` itself (its distance to the training images)
    samples : dict (solver, steps) -> (n, 64) array
    quality : dict (solver, steps) -> Measurement
    """

    data: str
    sigmas: np.ndarray
    eff_components: np.ndarray
    spread: np.ndarray
    x_exact: np.ndarray
    exact: Measurement
    samples: dict
    quality: dict

    @property
    def collapse_sigma(self) -> float:
        """The largest sigma on the curve below which the median posterior holds fewer than
        1.5 effective components (NaN if it never does)."""
        above = self.eff_components >= 1.5
        if not np.any(~above):
            return float("nan")
        k = np.flatnonzero(above)
        first_low = (k[-1] + 1) if k.size else 0
        return float(self.sigmas[min(first_low, self.sigmas.size - 1)])

    def spread_at(self, sigma: float) -> float:
        """The median posterior spread interpolated at ``sigma`` (linearly in log sigma)."""
        return float(np.interp(np.log(sigma), np.log(self.sigmas[::-1]), self.spread[::-1]))

    def blur(self, key) -> float:
        """The teacher's blur measure of sampler ``key`` (see the module docstring)."""
        q = self.quality[key]
        return q.detail if self.data == "digits_gmm" else q.dist_to_data_median


@dataclass(frozen=True, eq=False)
class Result:
    """Attributes: config; runs (data name -> :class:`TeacherRun`); data_spacing (the median
    distance from a training digit to its nearest other training digit: the scale against
    which "new image" is judged)."""

    config: Config
    runs: dict  # data -> TeacherRun
    data_spacing: float

    def explain(self) -> str:
        """The section's argument, with every number taken from this result."""
        cfg = self.config
        k = max(cfg.steps)
        m, g = self.runs["digits"], self.runs["digits_gmm"]
        me, ge = m.quality[("euler", k)], g.quality[("euler", k)]
        md, gd = m.quality[("dpmpp_2m", k)], g.quality[("dpmpp_2m", k)]
        n_img = dataset("digits").N
        return (
            f"Memorising teacher: at sigma = {m.sigmas[0]:g} its posterior spreads over "
            f"{m.eff_components[0]:.0f} of the {n_img:,} training images and by sigma = "
            f"{m.collapse_sigma:.2g} over fewer than 1.5: from there D(x, sigma) is one training "
            f"image. A {k}-step Euler sample is therefore sharp (median distance to the nearest "
            f"training image {me.dist_to_data_median:.2g}, against "
            f"{m.exact.dist_to_data_median:.2g} for the exact states) but often the wrong image: "
            f"median error {me.err_median:.3g}, "
            f"same image as the exact ODE on {100 * me.same_basin:.0f}% of {cfg.n} noises "
            f"(DPM-Solver++(2M): error {md.err_median:.3g}, {100 * md.same_basin:.0f}%).\n"
            f"Generalising teacher: its posterior settles on one of "
            f"{dataset('digits_gmm').K} components by sigma = {g.collapse_sigma:.2g}, yet its "
            f"posterior spread at sigma = {m.collapse_sigma:.2g} is still "
            f"{g.spread_at(m.collapse_sigma):.2g} (the memorising teacher's: "
            f"{m.spread_at(m.collapse_sigma):.2g}): D keeps averaging inside a component, and the "
            f"exact ODE ends on new images ({g.exact.dist_to_data_median:.2g} from the nearest "
            f"training image, against {m.exact.dist_to_data_median:.2g} for the memoriser and "
            f"{self.data_spacing:.2g} between a training image and its nearest neighbour). A "
            f"{k}-step Euler sample {_blur_word(ge.detail)} (detail {ge.detail:.2f} of the exact "
            f"samples') with median error {ge.err_median:.3g}; DPM-Solver++(2M)'s second-order "
            f"correction {_blur_word(gd.detail)} (detail {gd.detail:.2f}) with median error "
            f"{gd.err_median:.3g}. So on the generalising teacher few steps give averaged or "
            f"misplaced images, never a copy of a training image: the case distillation is for.")


def _blur_word(detail: float) -> str:
    if detail < 0.9:
        return "is blurred towards its component mean"
    if detail > 1.1:
        return "overshoots beyond the exact samples' spread"
    return "keeps about the exact samples' spread"




def _track(data: str, x_T, sigmas):
    den = ideal_denoiser(data)
    eff, spread = [], []
    x, s_prev = x_T, SIGMA_MAX
    for s in sigmas:
        if s != s_prev:
            x = solve_ode(den, x, s_prev, s, rtol=1e-8, atol=1e-8)
        s_prev = s
        eff.append(float(np.median(np.exp(posterior_entropy(den, x, s)))))
        tr = np.trace(den.jacobian(x, s), axis1=1, axis2=2)
        spread.append(float(np.median(s * np.sqrt(np.clip(tr, 0.0, None)))))
    return np.asarray(eff), np.asarray(spread)


@cached
def run(cfg: Config = Config()) -> Result:
    """Measure both teachers on the same noises (cached on ``cfg``; one BLAS thread)."""
    sigmas = np.geomspace(SIGMA_MAX, SIGMA_MIN, cfg.n_sigma)
    runs = {}
    with blas_threads(1):
        for data in TEACHERS:
            ref = reference(data, cfg.n, cfg.seed)
            den = ideal_denoiser(data)
            eff, spread = _track(data, ref.x_T[:cfg.n_track], sigmas)
            samples, quality = {}, {}
            for solver in ("euler", "dpmpp_2m"):
                for k in cfg.steps:
                    x = sample(den, ref.x_T, sampling_grid(k), solver)
                    samples[(solver, k)] = x
                    quality[(solver, k)] = measure(x, ref)
            runs[data] = TeacherRun(data=data, sigmas=sigmas, eff_components=eff, spread=spread,
                                    x_exact=ref.x_exact, exact=measure(ref.x_exact, ref),
                                    samples=samples, quality=quality)
    return Result(config=cfg, runs=runs, data_spacing=nn_spacing(dataset("digits").points))


def plot(result: Result, fig=None):
    """Left: effective components and posterior spread along the exact ODE, both teachers.
    Right: exact states and the largest-step-count Euler / DPM-Solver++(2M) samples of each
    teacher, drawn on one grey scale that covers every pixel (colour bar; nothing clipped).

    Returns
    -------
    matplotlib.figure.Figure
    """
    cfg = result.config
    k = max(cfg.steps)
    fig = fig or plt.figure(figsize=(15, 7.2))
    gs = fig.add_gridspec(2, 2, width_ratios=(1.0, 1.55), wspace=0.3, hspace=0.32,
                          left=0.07, right=0.86)
    ax_e, ax_s = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[1, 0])
    colors = {"digits": "tab:red", "digits_gmm": "tab:blue"}
    for data, r in result.runs.items():
        ax_e.plot(r.sigmas, r.eff_components, "o-", ms=3, color=colors[data], label=LABEL[data])
        ax_s.plot(r.sigmas, np.maximum(r.spread, SPREAD_FLOOR), "o-", ms=3, color=colors[data],
                  label=LABEL[data])
    for ax in (ax_e, ax_s):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("$\\sigma$ along the exact PF-ODE (80 $\\to$ 0.002)")
        ax.grid(alpha=0.3, which="both")
    ax_e.set_ylabel("effective posterior components\nexp(entropy), median")
    ax_e.axhline(1.0, color="0.5", lw=0.8)
    ax_e.legend(fontsize=8)
    ax_e.set_title("whom D(x, $\\sigma$) averages over", fontsize=10)
    ax_s.set_ylabel("posterior spread $\\sqrt{tr\\,Cov[x_0|x]}$, median")
    ax_s.set_ylim(SPREAD_FLOOR * 0.7, None)
    ax_s.text(0.02, 0.04, f"values below {SPREAD_FLOOR:g} drawn at it (collapsed posterior)",
              transform=ax_s.transAxes, fontsize=7, color="0.35")
    ax_s.set_title("how much D still averages (Tweedie: $\\sigma^2 \\partial D/\\partial x$)",
                   fontsize=10)
    rows = []
    for data, r in result.runs.items():
        short = "memorising" if data == "digits" else "generalising"
        rows.append((f"{short}: exact ODE", r.x_exact, None, r))
        for solver, name in (("euler", "Euler"), ("dpmpp_2m", "DPM++(2M)")):
            rows.append((f"{short}: {name} {k} steps", r.samples[(solver, k)],
                         r.quality[(solver, k)], r))
    vmax = display_range([x[:cfg.show] for _, x, _, _ in rows])
    inner = gs[:, 1].subgridspec(len(rows), 1, hspace=0.15)
    cmap = plt.get_cmap("gray_r").with_extremes(bad="white")
    axes = []
    for i, (label, x, q, r) in enumerate(rows):
        ax = fig.add_subplot(inner[i])
        axes.append(ax)
        im = ax.imshow(_strip(x[:cfg.show]), cmap=cmap, vmin=-vmax, vmax=vmax,
                       interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label.replace(": ", ":\n"), rotation=0, ha="right", va="center",
                      fontsize=8)
        if q is None:
            txt = (f"{r.exact.dist_to_data_median:.2g} to nearest\ntraining image (data's "
                   f"own\nspacing {result.data_spacing:.2g})")
        elif r.data == "digits":
            txt = (f"err {q.err_median:.2g}, same image {100 * q.same_basin:.0f}%\n"
                   f"{q.dist_to_data_median:.2g} to nearest training image")
        else:
            txt = f"err {q.err_median:.2g}\ndetail {q.detail:.2f} (1 = exact)"
        ax.text(1.01, 0.5, txt, transform=ax.transAxes, va="center", fontsize=7.5)
    fig.colorbar(im, ax=axes, location="bottom", fraction=0.04, pad=0.04, aspect=40,
                 label="pixel value (data: [-1, 1])")
    fig.suptitle("Memorising vs generalising teacher of the same digits, the same noises: "
                 f"{k} Euler steps land sharp on a (often wrong) training image of the memoriser "
                 "and blur the generaliser's new digits", fontsize=11)
    return fig


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("teachers_memorise_vs_generalise",
                "1. Sampling from ideal diffusion model, 'What about images? Images become less "
                "and less averaged': a memorising (delta) and a generalising (Gaussian-mixture) "
                "teacher of the digits, the same noises: posterior collapse and few-step "
                "samples",
                lambda: plot(run(Config())), group="images"),
)
