"""Knowledge distillation experiments (lecture slides "Knowledge distillation",
"Knowledge distillation. Optimal solution" and "Summary").

One experiment, :func:`run` (frozen :class:`Config` -> :class:`Result`), trains three
one-step students f_phi(x_T, sigma_max) on the same inputs x_T = x0 + 80 eps with the same
network and optimiser; only the regression target differs:

* ``many``: the state at sigma_min of the ``many``-step teacher (KD; its exact optimum is that
  teacher map, close to the exact ODE);
* ``few``: the state at sigma_min of a ``few``-step teacher (KD of a poor teacher: the student
  inherits the teacher's discretisation error);
* ``x0``: the x0 that generated each x_T (the diffusion loss; its optimum is the average
  D(x_T, 80), about the data mean).

Every n-step teacher takes n steps on ``sampling_grid(n)`` (80 -> 0.002, no final step
to 0) and its sample is the state at sigma_min. Errors are against the exact ODE state at
sigma_min of the same noise (:func:`common.reference`). Figures: :func:`plot`,
:func:`plot_inherits_error`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np

from ..distill.kd import collect_pairs, noisy_pairs, regression_pairs, train_kd
from ..metrics import nearest_point
from ..nn import TrainConfig
from ..schedules import SIGMA_MAX, sampling_grid
from ..solvers import SOLVERS, nfe, sample
from . import _checks as check
from . import common, names
from ._cache import cached
from ._figure import SlideFigure
from .store import persisted

__all__ = ["DIGITS", "SUMMARY", "Config", "Result", "plot", "plot_inherits_error", "run",
           "student", "student_key", "summary_config", "summary_rows", "teacher_sample"]

STUDENTS = ("many", "few", "x0")


@dataclass(frozen=True)
class Config:
    """Every knob of the KD experiment.

    Attributes
    ----------
    data : str -- :func:`common.dataset` name
    solver_many, steps_many : the good teacher (KD target of the ``many`` student)
    solver_few, steps_few : the poor teacher (KD target of the ``few`` student)
    n_pairs, pair_seed : training inputs x_T = x0 + 80 eps (shared by the three students)
    hidden, depth, sigma_data : the student ``Model(MLP, EDMPrecond)`` at sigma = 80
    train : TrainConfig of every student
    n_test, test_seed : held-out noises of :func:`common.reference`
    students : tuple -- which of ``"many"``, ``"few"``, ``"x0"`` to train (the figures need
        all three; the digit rows of the summary only ``"many"``)
    """

    data: str = "clusters"
    solver_many: str = "heun"
    steps_many: int = 50
    solver_few: str = "euler"
    steps_few: int = 3
    n_pairs: int = 8192
    pair_seed: int = 0
    hidden: int = 64
    depth: int = 3
    sigma_data: float = 0.5
    train: TrainConfig = TrainConfig(steps=1500, batch=256, lr=5e-3, warmup=100)
    n_test: int = 400
    test_seed: int = 2024
    students: tuple = STUDENTS

    def __post_init__(self):
        check.dataset(self, "data")
        check.choice(self, "solver_many", SOLVERS)
        check.integer(self, "steps_many", 1)
        check.choice(self, "solver_few", SOLVERS)
        check.integer(self, "steps_few", 1)
        check.integer(self, "n_pairs", 1)
        check.integer(self, "pair_seed", 0)
        check.integer(self, "hidden", 1)
        check.integer(self, "depth", 1)
        check.real(self, "sigma_data", 0.0, lo_open=True)
        check.instance(self, "train", TrainConfig)
        check.integer(self, "n_test", 1)
        check.integer(self, "test_seed", 0)
        check.choices(self, "students", STUDENTS)

    def label(self, which: str = "many") -> str:
        """The name of student ``which`` (``"many"``, ``"few"`` or ``"x0"``) in tables, figures
        and notebooks, e.g. ``KD (Heun 50-step teacher)``; with the budget appended when the
        student is made otherwise than the default's (:func:`.names.label`), e.g.
        ``KD (Heun 50-step teacher), 150 steps``."""
        if which not in STUDENTS:
            raise ValueError(f"which must be one of {STUDENTS}, got {which!r}")
        if which == "x0":
            name = "x0-regression student (diffusion loss)"
        else:
            solver, steps = ((self.solver_many, self.steps_many) if which == "many"
                             else (self.solver_few, self.steps_few))
            name = f"KD ({solver.capitalize()} {steps}-step teacher)"
        # the teachers are in the name (or, for the other student, do not make this one)
        ref = replace(summary_config(self.data), **{f: getattr(self, f) for f in _TEACHERS})
        return names.label(name, self, ref, ignore=("data", "n_test", "test_seed", "students"))


#: the teacher fields: named in a KD student's name, never part of its budget
_TEACHERS = ("solver_many", "steps_many", "solver_few", "steps_few")


def teacher_sample(data: str, x_T, solver: str, steps: int) -> np.ndarray:
    """The plain teacher's ``steps``-step state at sigma_min (``schedules.sampling_grid``)."""
    return sample(common.ideal_denoiser(data), x_T, sampling_grid(steps), solver)


def _pairs(cfg: Config, which: str):
    """The regression pairs of student ``which``: the inputs x_T = x0 + 80 eps (shared by the
    three students) and their targets (the teacher's state at sigma_min, or x0)."""
    data, den = common.dataset(cfg.data), common.ideal_denoiser(cfg.data)
    x_T, x0 = noisy_pairs(data, cfg.n_pairs, SIGMA_MAX, cfg.pair_seed)
    if which == "x0":
        return regression_pairs(x_T, x0, SIGMA_MAX)
    solver, steps = ((cfg.solver_many, cfg.steps_many) if which == "many"
                     else (cfg.solver_few, cfg.steps_few))
    return collect_pairs(den, x_T, sampling_grid(steps), solver)


def student_key(cfg: Config, which: str = "many") -> tuple:
    """Everything that makes student ``which`` of ``cfg`` (its identity in the store)."""
    if which not in STUDENTS:
        raise ValueError(f"which must be one of {STUDENTS}, got {which!r}")
    return (which, cfg.data, cfg.n_pairs, cfg.pair_seed, cfg.solver_many, cfg.steps_many,
            cfg.solver_few, cfg.steps_few, cfg.hidden, cfg.depth, cfg.sigma_data, cfg.train)


def student(cfg: Config = Config(), which: str = "many"):
    """The trained KD (or x0-regression) student ``which`` of ``cfg``: from the store
    (:mod:`.store`) when it holds one made exactly so, else trained now (its pairs are
    collected only then).

    Parameters
    ----------
    cfg : Config
    which : {"many", "few", "x0"} -- the target: the many-step teacher, the few-step one, or x0

    Returns
    -------
    KDResult -- call it as ``student(x_T)`` on (B, d) noises

    Raises
    ------
    ValueError
        If ``which`` is not one of the three.
    """
    return persisted("kd", student_key(cfg, which), lambda: train_kd(_pairs(cfg, which), cfg.train,
                                                 hidden=cfg.hidden, depth=cfg.depth,
                                                 sigma_data=cfg.sigma_data))


@dataclass(frozen=True, eq=False)
class Result:
    """The students and the teachers on the reference noises.

    Dict fields are keyed by student (``"many"``, ``"few"``, ``"x0"``: those of
    ``config.students``).

    Attributes
    ----------
    config : Config
    students : dict of trained ``distill.kd.KDResult`` (call as ``student(x_T)``)
    x_T, x_exact : (n, d) reference noises and their exact ODE states at sigma_min
    outputs : dict of (n, d) student outputs f_phi(x_T)
    teacher_many, teacher_few : (n, d) the teachers' states at sigma_min (the KD optima)
    average : (n, d) D(x_T, 80), the diffusion-loss optimum
    measure : dict of common.Measurement (students) against the exact ODE state
    measure_teacher : dict ``"many"``/``"few"`` -> common.Measurement of the teachers
    err_to_optimum : dict: median |f_phi - its exact optimum| (teacher map, or the average)
    nfe_teacher : dict ``"many"``/``"few"`` -> evaluations per teacher sample
    teacher_evals : dict: counted single-point evaluations spent on the pairs (0 for x0)
    train_seconds : dict: wall time per student (never drawn)
    """

    config: Config
    students: dict
    x_T: np.ndarray
    x_exact: np.ndarray
    outputs: dict
    teacher_many: np.ndarray
    teacher_few: np.ndarray
    average: np.ndarray
    measure: dict
    measure_teacher: dict
    err_to_optimum: dict
    nfe_teacher: dict
    teacher_evals: dict
    train_seconds: dict

    def optimum(self, key: str) -> np.ndarray:
        """The exact optimum of student ``key`` on ``x_T``."""
        return {"many": self.teacher_many, "few": self.teacher_few, "x0": self.average}[key]


@cached
def run(cfg: Config = Config()) -> Result:
    """Train (or load) the students of ``cfg`` and measure them on the reference noises."""
    den = common.ideal_denoiser(cfg.data)
    grids = {"many": sampling_grid(cfg.steps_many),
             "few": sampling_grid(cfg.steps_few)}
    solvers = {"many": cfg.solver_many, "few": cfg.solver_few}
    students, seconds = {}, {}
    for k in cfg.students:
        t0 = time.perf_counter()
        students[k] = student(cfg, k)
        seconds[k] = time.perf_counter() - t0
    ref = common.reference(cfg.data, cfg.n_test, cfg.test_seed)
    teach = {k: sample(den, ref.x_T, grids[k], solvers[k]) for k in ("many", "few")}
    avg = den(ref.x_T, SIGMA_MAX)
    opt = {"many": teach["many"], "few": teach["few"], "x0": avg}
    out = {k: students[k](ref.x_T) for k in cfg.students}
    dist = lambda a, b: float(np.median(np.linalg.norm(a - b, axis=1)))  # noqa: E731
    return Result(
        config=cfg, students=students, x_T=ref.x_T, x_exact=ref.x_exact, outputs=out,
        teacher_many=teach["many"], teacher_few=teach["few"], average=avg,
        measure={k: common.measure(out[k], ref) for k in cfg.students},
        measure_teacher={k: common.measure(teach[k], ref) for k in ("many", "few")},
        err_to_optimum={k: dist(out[k], opt[k]) for k in cfg.students},
        nfe_teacher={k: nfe(solvers[k], grids[k]) for k in ("many", "few")},
        teacher_evals={k: int(students[k].teacher_evals) for k in cfg.students},
        train_seconds=seconds)


def _need_all(result: Result) -> None:
    if set(result.config.students) != set(STUDENTS):
        raise ValueError(f"the KD figures need every student {STUDENTS}; this result trained "
                         f"only {result.config.students}")


def _data_axes(ax, data, pad=0.45):
    pts = data.points
    ax.scatter(*pts.T, s=70, marker="*", color="k", zorder=4, label="data points")
    lo, hi = pts.min(axis=0) - pad, pts.max(axis=0) + pad
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")


def _legend_below(ax, ncol=1, **kw):
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=8, ncol=ncol,
              markerscale=1.5, **kw)


def plot(result: Result, ax=None, n_show: int = 400):
    """The diffusion-loss student (average) beside the KD student (sharp), same inputs.

    ``ax``: three axes, or None for a new figure.
    """
    if ax is None:
        fig, ax = plt.subplots(1, 3, figsize=(16, 5.6))
    a1, a2, a3 = ax
    fig = a1.figure
    r = result
    _need_all(r)
    data = common.dataset(r.config.data)
    basin = nearest_point(data, r.x_exact)[0]
    colors = plt.get_cmap("tab20")(basin % 20)[:n_show]
    x0s, kd, avg = (r.outputs["x0"][:n_show], r.outputs["many"][:n_show], r.average[:n_show])
    _data_axes(a1, data)
    a1.scatter(*x0s.T, s=12, c=colors, alpha=0.7, label=r"student $f_\phi(x_T, 80)$")
    a1.scatter(*avg.T, s=16, facecolors="none", edgecolors="k", lw=0.6,
               label=r"ideal $D(x_T, 80)$ (the average)")
    a1.set_title("Diffusion loss: regress $x_T$ onto its own $x_0$\n"
                 r"$\to$ the average $D(x_T, \sigma{=}80)$")
    _legend_below(a1)
    _data_axes(a2, data)
    a2.scatter(*kd.T, s=12, c=colors, alpha=0.7,
               label=f"{r.config.label('many')}: " r"$f_\phi(x_T, 80)$")
    c = r.config
    a2.set_title(f"KD: regress $x_T$ onto the teacher's sample\n"
                 f"({c.solver_many.capitalize()}, {c.steps_many} steps) $\\to$ near a data point")
    _legend_below(a2)
    d_kd = nearest_point(data, r.outputs["many"])[1]
    d_x0 = nearest_point(data, r.outputs["x0"])[1]
    hi = max(d_x0.max(), d_kd.max()) * 1.05
    bins = np.geomspace(1e-3, max(hi, 2e-3), 40)
    a3.hist(d_x0, bins=bins, color="C3", alpha=0.7, label="diffusion-loss student")
    a3.hist(d_kd, bins=bins, color="C0", alpha=0.7, label="KD student")
    a3.set_xscale("log")
    a3.set_xlabel("distance of the one-step output to the nearest data point")
    a3.set_ylabel(f"count (of {d_kd.size} held-out $x_T$)")
    a3.set_title("KD optimum = the teacher's map, not the average")
    _legend_below(a3, ncol=2)
    fig.suptitle(r"One step from $\sigma_{max}$ = 80: same inputs, same MLP "
                 f"({c.hidden}x{c.depth}, {c.train.steps} Adam steps), different targets "
                 "(colour: data point of the exact ODE state)")
    fig.tight_layout()
    return fig


def plot_inherits_error(result: Result, ax=None):
    """Outputs of the few-step teacher, its KD student and the many-step KD student, and their
    errors against the exact ODE (distance and basin on separate axes).

    ``ax``: five axes, or None for a new figure.
    """
    r = result
    _need_all(r)
    c = r.config
    if ax is None:
        fig = plt.figure(figsize=(21, 5.6))
        gs = fig.add_gridspec(1, 6, width_ratios=[1, 1, 1, 0.3, 0.8, 0.8], wspace=0.35,
                              left=0.04, right=0.99, top=0.8, bottom=0.24)
        ax = [fig.add_subplot(gs[0, i]) for i in (0, 1, 2, 4, 5)]
    fig = ax[0].figure
    data = common.dataset(c.data)
    few = f"{c.solver_few.capitalize()} {c.steps_few}"
    many = f"{c.solver_many.capitalize()} {c.steps_many}"
    outs = ((f"{few}-step teacher ({r.nfe_teacher['few']} evaluations)", r.teacher_few),
            ("its KD student (1 evaluation)", r.outputs["few"]),
            (f"KD student of the {many}-step teacher", r.outputs["many"]))
    err_max = max(np.quantile(np.linalg.norm(x - r.x_exact, axis=1), 0.95) for _, x in outs)
    for a, (name, x) in zip(ax[:3], outs):
        _data_axes(a, data)
        e = np.linalg.norm(x - r.x_exact, axis=1)
        sc = a.scatter(*x.T, s=9, c=e, cmap="magma_r", vmin=0, vmax=err_max, alpha=0.8,
                       label="outputs (colour: distance to the exact state)")
        a.set_title(name, fontsize=11)
        _legend_below(a)
    cax = ax[2].inset_axes([1.04, 0.0, 0.05, 1.0])
    fig.colorbar(sc, cax=cax, label="|output - exact ODE state|")
    keys = (("teacher", "few"), ("student", "few"), ("student", "many"), ("teacher", "many"))
    names = [f"teacher\n{few}", f"KD of\n{few}", f"KD of\n{many}", f"teacher\n{many}"]
    m = [r.measure_teacher[k] if who == "teacher" else r.measure[k] for who, k in keys]
    xs = np.arange(4)
    err = np.array([q.err_median for q in m])
    a4, a5 = ax[3], ax[4]
    a4.bar(xs, np.maximum(err, 1e-5), 0.6, color="C0")
    a4.set_yscale("log")
    a4.set_xticks(xs, names, fontsize=8)
    a4.set_ylabel(r"median |sample - exact ODE state at $\sigma_{min}$|")
    a4.set_title("Distance to the exact state")
    for x, e in zip(xs, err):
        a4.text(x, max(e, 1e-5) * 1.15, f"{e:.3g}", ha="center", fontsize=8)
    a4.set_ylim(top=err.max() * 4)
    basin = [q.same_basin for q in m]
    a5.bar(xs, basin, 0.6, color="C3")
    a5.set_ylim(0, 1.12)
    a5.set_xticks(xs, names, fontsize=8)
    a5.set_ylabel("fraction on the exact state's data point")
    a5.set_title("Same data point as the exact ODE")
    for x, b in zip(xs, basin):
        a5.text(x, b + 0.02, f"{b:.0%}", ha="center", fontsize=8)
    follow = r.err_to_optimum["few"]
    fig.suptitle(f"KD inherits the teacher's discretisation error: the student of the {few}-step "
                 f"teacher lands where its teacher does (median distance {follow:.3f}),\n"
                 f"not on the exact ODE state; teacher evaluations spent on the pairs: "
                 f"{r.teacher_evals['few']:,} ({few}) and {r.teacher_evals['many']:,} ({many})")
    fig.canvas.draw_idle()
    return fig


#: the KD students of the summary table on the 2-D sets: the default Config's, the same
#: students as the figures and notebook 02 show (one student per name, :mod:`.names`)
SUMMARY = Config()

#: the KD students of the digits (d = 64): the 50-step Heun teacher's student only, a wider
#: network. Committed in the store (:mod:`.students` names them; ``retrain`` remakes them).
DIGITS = {
    "digits": replace(SUMMARY, data="digits", hidden=256, depth=3, students=("many",),
                      train=TrainConfig(steps=3000, batch=256, lr=2e-3)),
    "digits_gmm": replace(SUMMARY, data="digits_gmm", hidden=256, depth=3, students=("many",),
                          train=TrainConfig(steps=6000, batch=256, lr=2e-3)),
}


def summary_config(data: str = "clusters") -> Config:
    """The Config of the summary table's KD students on ``data``: :data:`DIGITS` for the digit
    sets, else :data:`SUMMARY` on ``data``."""
    return DIGITS[data] if data in DIGITS else replace(SUMMARY, data=data)


def summary_rows(result: Result) -> list:
    """Summary rows of KD: the one-step students of the ``many``- and ``few``-step teacher
    maps (NFE 1).

    err_optimum_median is that teacher map's own error (KD's exact optimum), err_to_optimum
    the student's distance from it; teacher_evals are counted while collecting the pairs.
    """
    r = result
    cfg = r.config
    data = cfg.data
    t = cfg.train
    rows = []
    for k, steps in (("many", cfg.steps_many), ("few", cfg.steps_few)):
        if k not in cfg.students:
            continue
        rows.append(common.SummaryRow(
            data, cfg.label(k), 1, r.teacher_evals[k],
            r.measure[k].err_median, r.measure_teacher[k].err_median, r.err_to_optimum[k],
            r.measure[k].same_basin,
            f"optimum: the teacher's {steps}-step map ({r.nfe_teacher[k]} evals/sample); "
            f"{cfg.n_pairs} pairs; MLP {cfg.hidden}x{cfg.depth}, {t.steps} steps x batch "
            f"{t.batch}; {cfg.n_test} noises",
            samples=r.outputs[k], optimum_samples=r.optimum(k)))
    return rows


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("kd_vs_average",
                "2. Knowledge distillation. Optimal solution: the one-step diffusion output (an "
                "average) beside the one-step KD student (sharp)",
                lambda: plot(run(Config()))),
    SlideFigure("kd_inherits_error",
                "Summary: KD inherits the teacher's discretisation error (a 3-step Euler "
                "teacher vs a 50-step Heun teacher)",
                lambda: plot_inherits_error(run(Config()))),
)
