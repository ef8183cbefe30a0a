"""The summary slide as a table: at equal NFE, the plain teacher, each distilled student, and
each method's exact optimum, split into **method error** and **training error**, with a paired
confidence interval behind every comparison.

For every data set (the asymmetric 2-D ``clusters``, the memorising ``digits`` delta mixture and
the generalising ``digits_gmm`` Gaussian mixture) and NFE 1, 2, 4 (plus the 50-step teacher),
each row gives (all on the same held-out noises of :func:`~.common.reference`):

* ``err_median`` -- median |sample - exact ODE state at sigma_min|;
* ``err_optimum_median`` -- the same for the method's **exact optimum** at that NFE: the
  method error, what a perfect student of the method would still get wrong;
* ``err_to_optimum_median`` -- median |student sample - exact optimum sample| of the same noise:
  the training error;
* ``same_basin`` -- the fraction of samples in the exact state's basin (nearest data point, or
  most probable mixture component);
* ``teacher_evals`` -- single-point teacher evaluations spent before sampling;
* ``dist_to_data``, ``out_of_range``, ``detail`` -- sharpness / novelty, overshoot and blur
  (:class:`~.common.Measurement`); ``frechet`` -- the Frechet distance in pixel space to the
  exact ODE states (the 50-step teacher's value is the floor);
* for every student row: ``baseline`` (the best plain teacher with at most the same NFE),
  ``vs_best_teacher`` with its 95% paired-bootstrap CI ``vs_best_teacher_lo/hi``, and
  ``win_rate``. A student "beats" its baseline only when the CI lies below 0.

Plain-teacher rows begin with "teacher" and name the solver. All samples are states at
sigma_min = 0.002 (no final projection onto the data).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np

from ..metrics import frechet_distance, paired_bootstrap
from ..schedules import sampling_grid
from ..solvers import nfe as count_nfe
from ..solvers import sample
from . import _checks as check
from ._cache import cached
from ._figure import SlideFigure
from .common import DATASETS, SummaryRow, ideal_denoiser, measure, reference

__all__ = ["Config", "SummaryResult", "finish_rows", "module_rows", "plot", "run",
           "teacher_rows"]

SOLVER_LABEL = {"euler": "Euler", "heun": "Heun", "dpmpp_2m": "DPM-Solver++(2M)"}


def row_modules() -> tuple:
    """The experiment modules that contribute student rows
    (``summary_rows(run(summary_config(data)))``): those of :data:`.registry.MODULES` that
    define ``summary_config``, in registry order, except that reflow (:mod:`.flow`: a new ODE,
    not a student of the teacher's) comes last."""
    from . import flow
    from .registry import MODULES  # here, not at the top: the registry imports this module

    rows = [m for m in MODULES if hasattr(m, "summary_config")]
    return tuple(sorted(rows, key=lambda m: m is flow))


@dataclass(frozen=True)
class Config:
    """Attributes: data sets, NFEs, the reference teacher's steps, held-out noises (count and
    seed), bootstrap resamples of the paired CIs."""

    datasets: tuple = ("clusters", "digits", "digits_gmm")
    nfes: tuple = (1, 2, 4)
    teacher_steps: int = 50
    n: int = 400
    seed: int = 2024
    n_boot: int = 2000

    def __post_init__(self):
        check.choices(self, "datasets", DATASETS)
        check.integers(self, "nfes", 1)
        check.integer(self, "teacher_steps", 1)
        check.integer(self, "n", 2)
        check.integer(self, "seed", 0)
        check.integer(self, "n_boot", 100)


@dataclass(frozen=True)
class SummaryResult:
    """The rows of the table, and the config that made them."""

    config: Config
    rows: tuple

    def for_data(self, data: str) -> list:
        return [r for r in self.rows if r.data == data]


def _teacher_row(data, solver, steps, ref, note=""):
    den = ideal_denoiser(data)
    grid = sampling_grid(steps)
    x = sample(den, ref.x_T, grid, solver)
    q = measure(x, ref)
    return SummaryRow(data, f"teacher {SOLVER_LABEL[solver]}, {steps} step"
                      f"{'s' if steps > 1 else ''}", count_nfe(solver, grid), 0, q.err_median,
                      None, None, q.same_basin, note, samples=x)


def teacher_rows(data: str, nfes=(1, 2, 4), teacher_steps: int = 50, n: int = 400,
                 seed: int = 2024) -> list:
    """The plain teacher samplers at each NFE (Heun only at even NFE), and the 50-step Heun."""
    ref = reference(data, n, seed)
    rows = []
    for k in nfes:
        rows.append(_teacher_row(data, "euler", k, ref))
        if k % 2 == 0:
            rows.append(_teacher_row(data, "heun", k // 2, ref))
        rows.append(_teacher_row(data, "dpmpp_2m", k, ref))
    rows.append(_teacher_row(data, "heun", teacher_steps, ref, "the reference teacher"))
    return rows


def finish_rows(rows, n: int = 400, seed: int = 2024, n_boot: int = 2000) -> list:
    """Fill every measured column from the rows' samples, on one set of noises per data set.

    Each row that carries ``samples`` made from :func:`~.common.reference` ``(data, n, seed)``
    gets its errors, sharpness, overshoot, blur and Frechet distance recomputed there; each
    student row (not a plain teacher) is compared with the best plain teacher of at most its
    NFE by a paired bootstrap over those noises. Rows without samples are returned unchanged.
    """
    rows = list(rows)
    measured = {}  # row index -> its Measurement, each row measured once
    for i, r in enumerate(rows):
        if r.samples is None:
            continue
        ref = reference(r.data, n, seed)
        if r.samples.shape != ref.x_exact.shape:
            raise ValueError(f"the samples of row {r.data!r}/{r.method!r} must be made from the "
                             f"summary's {n} reference noises (shape {ref.x_exact.shape}), got "
                             f"shape {r.samples.shape}")
        measured[i] = measure(r.samples, ref)
    out = []
    for i, r in enumerate(rows):
        if i not in measured:
            out.append(r)
            continue
        ref = reference(r.data, n, seed)
        q = measured[i]
        fields = dict(err_median=q.err_median, same_basin=q.same_basin,
                      dist_to_data=q.dist_to_data_median,
                      out_of_range=None if np.isnan(q.out_of_range) else q.out_of_range,
                      detail=None if np.isnan(q.detail) else q.detail,
                      frechet=frechet_distance(r.samples, ref.x_exact), n_noises=n)
        if r.optimum_samples is not None:
            fields.update(
                err_optimum_median=measure(r.optimum_samples, ref).err_median,
                err_to_optimum_median=float(np.median(np.linalg.norm(
                    r.samples - r.optimum_samples, axis=1))))
        if not r.is_teacher:
            rivals = [j for j, t in enumerate(rows) if j in measured and t.data == r.data
                      and t.is_teacher and t.nfe <= r.nfe]
            if rivals:
                best = min(rivals, key=lambda j: measured[j].err_median)
                c = paired_bootstrap(q.errors, measured[best].errors, n_boot, seed)
                fields.update(baseline=rows[best].method, vs_best_teacher=c.diff,
                              vs_best_teacher_lo=c.lo, vs_best_teacher_hi=c.hi,
                              win_rate=c.win_rate)
        out.append(replace(r, **fields))
    return out


def module_rows(data: str) -> list:
    """Every experiment's student rows on ``data``: ``summary_rows(run(summary_config(data)))``
    of each module of :func:`row_modules` (a module whose ``summary_config`` gives None has no
    rows there). The digit students are the experiments' own, committed in the store."""
    rows = []
    for mod in row_modules():
        cfg = mod.summary_config(data)
        if cfg is not None:
            rows += list(mod.summary_rows(mod.run(cfg)))
    return rows


@cached
def run(cfg: Config = Config()) -> SummaryResult:
    """Every row of the table (the students come from the store, or are trained now)."""
    rows = []
    for data in cfg.datasets:
        rows += teacher_rows(data, cfg.nfes, cfg.teacher_steps, cfg.n, cfg.seed)
        rows += module_rows(data)
    return SummaryResult(config=cfg, rows=tuple(finish_rows(rows, cfg.n, cfg.seed, cfg.n_boot)))


CLIP = 20.0  # errors above this are drawn at it (few-step Heun with the exact D), annotated
MARKERS = "osD^vP*X"


def _family(method: str) -> str:
    return method.split(",")[0].split(" (")[0]


def plot(result: SummaryResult, axes=None):
    """Error against the exact ODE vs NFE, per data set: plain teachers as grey lines,
    students as filled markers, their exact optima as open markers of the same colour (log-log;
    errors above ``CLIP`` drawn at it and annotated).

    Returns
    -------
    matplotlib.figure.Figure
    """
    datasets = result.config.datasets
    if axes is None:
        fig, axes = plt.subplots(1, len(datasets), figsize=(5.6 * len(datasets), 5.4))
    axes = np.atleast_1d(axes)
    fig = axes[0].figure
    nfes = result.config.nfes
    families = list(dict.fromkeys(_family(r.method) for r in result.rows
                                  if not r.method.startswith("teacher")))
    cmap = plt.get_cmap("tab10")
    style = {f: (cmap(i % 10), MARKERS[i % len(MARKERS)]) for i, f in enumerate(families)}
    teacher_style = {"Euler": ("0.25", "-"), "Heun": ("0.55", "--"),
                     "DPM-Solver++(2M)": ("0.4", ":")}
    for ax, data in zip(axes, datasets):
        rows = [r for r in result.rows if r.data == data]
        clipped = []
        for solver, (c, ls) in teacher_style.items():
            pts = sorted((r.nfe, r.err_median) for r in rows
                         if r.method.startswith(f"teacher {solver},") and r.nfe <= max(nfes))
            if not pts:
                continue
            k, e = map(np.asarray, zip(*pts))
            ax.plot(k, np.minimum(e, CLIP), ls, color=c, marker="o", ms=4, lw=1.5,
                    label=f"teacher {solver}")
            clipped += [(kk, ee) for kk, ee in zip(k, e) if ee > CLIP]
        if clipped:
            ax.text(0.98, 0.985, "teacher Heun with the exact D, drawn at the top:\n" + ", ".join(
                f"{ee:.0e} at NFE {kk}" for kk, ee in clipped), transform=ax.transAxes,
                ha="right", va="top", fontsize=7, color="0.35")
        for fam in families:
            mine = [r for r in rows if _family(r.method) == fam]
            if not mine:
                continue
            c, m = style[fam]
            ax.scatter([r.nfe for r in mine], [min(r.err_median, CLIP) for r in mine],
                       color=c, marker=m, s=45, zorder=3, label=fam)
            opt = [r for r in mine if r.err_optimum_median is not None]
            ax.scatter([r.nfe for r in opt], [max(r.err_optimum_median, 1e-4) for r in opt],
                       facecolor="none", edgecolor=c, marker=m, s=70, zorder=3)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_ylim(5e-5, CLIP * 2)
        ax.set_xticks(nfes, [str(k) for k in nfes])
        ax.set_xlabel("NFE (network / denoiser evaluations per sample)")
        ax.set_ylabel("median |sample - exact ODE state| at $\\sigma_{min}$")
        ax.set_title(f"{data}: filled = student, open = its exact optimum", fontsize=10)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3,
                  frameon=False)
    fig.suptitle("Summary: at equal NFE, distilled students and their exact optima vs the "
                 "plain teacher", fontsize=12)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("summary_error_vs_nfe",
                "Summary: at equal NFE, each distilled student (filled) and its exact optimum "
                "(open) against the plain teacher samplers, on the 2-D clusters and the digits",
                lambda: plot(run(Config())), group="images"),
)
