"""Consistency distillation experiments (lecture section 3: slides "Consistency Distillation.
Main idea", "What about optimal solution?", "Sampling from CD", "Summary").

Each experiment is a frozen Config (every knob; the slide figure's settings as defaults), a
cached ``run_xxx(cfg) -> XxxResult`` and a ``plot_xxx(result, ax=None) -> Figure``:

* :func:`run_cd` -- one CD student (or, with ``K > 1``, a multi-boundary student; see
  :mod:`.mbcd`) against its exact optimum f* (the teacher's solver chained down the grid), the
  diffusion optimum D(x, sigma) (the average) and the consistency-training target (a mixture),
  on held-out noisy points at several grid levels; and its one-step sample against the exact
  ODE state at sigma_min;
* :func:`run_collapse` -- CD without the boundary condition, traced over training (plain and
  boundary runs with weight decay, and a plain run without decay as the control);
* :func:`run_theorem1` -- the CD optimum's error against the grid size, per teacher solver;
* :func:`run_multistep` -- stochastic multistep consistency sampling, student and exact optimum;
* :func:`run_trajectories` -- points along teacher trajectories and where f sends them.

Grids are ascending as in :mod:`ideal_diffusion.distill.optima` (s_1 = sigma_min < ... <
s_N = sigma_max). Every sample is the state at s_1 = sigma_min and is compared with the exact
ODE state at sigma_min of the same noise (:func:`~ideal_diffusion.experiments.common.reference`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import matplotlib.pyplot as plt
import numpy as np

from ..distill.cd import CDResult, train_cd
from ..distill.kd import CountingDenoiser
from ..distill.mbcd import choose_boundaries
from ..distill.optima import (
    ConsistencyOracle,
    consistency_optimum,
    consistency_training_target,
    distill_grid,
    teacher_step,
)
from ..distill.sampling import default_taus, kjump_sample, multistep_sample
from ..nn import TrainConfig
from . import common
from ._cache import cached
from .students import persisted

__all__ = [
    "CDConfig", "CDRunResult", "heldout", "CollapseConfig", "CollapseResult", "MultistepConfig",
    "MultistepResult", "Theorem1Config", "Theorem1Result", "TrajectoryConfig",
    "TrajectoryResult", "plot_cd_student_vs_optimum", "plot_collapse", "plot_multistep",
    "plot_theorem1", "plot_trajectories", "run_cd", "run_collapse", "run_multistep",
    "run_theorem1", "run_trajectories", "summary_rows", "train_student",
]

C_STUDENT, C_ORACLE, C_AVG, C_CT = "tab:blue", "tab:orange", "tab:gray", "tab:green"


# ----------------------------------------------------------------------------- one student


@dataclass(frozen=True)
class CDConfig:
    """One CD (K = 1) or multi-boundary CD (K > 1) student and how it is measured.

    Attributes
    ----------
    data : str -- :func:`common.dataset` name
    N : int -- levels of the ascending distillation grid ``distill_grid(N)``
    solver : {"euler", "heun"} -- the teacher's one-step solver
    K : int -- boundaries (:func:`~ideal_diffusion.distill.mbcd.choose_boundaries`); 1 is CD
    param : str -- output parameterisation (``"consistency"``, ``"jump_edm"``, ``"jump"``,
        ``"plain"``: no boundary condition)
    hidden, depth : MLP size
    weighting : {"cout", "uniform"} -- per-level loss weights
    train : TrainConfig -- ``train.ema`` is the target network's decay mu
    eval_levels : positions in the ascending grid where f is compared with f*; None (the
        default): six positions evenly spread over s_2 .. s_N of whatever ``N`` is
    n_eval, eval_seed : held-out noisy points per level
    n_test, test_seed : held-out noises of :func:`common.reference` (sampling errors)
    """

    data: str = "clusters"
    N: int = 18
    solver: str = "heun"
    K: int = 1
    param: str = "consistency"
    hidden: int = 64
    depth: int = 3
    weighting: str = "cout"
    train: TrainConfig = TrainConfig(steps=1000, batch=128, lr=3e-3, warmup=100, ema=0.9)
    eval_levels: tuple | None = None
    n_eval: int = 500
    eval_seed: int = 101
    n_test: int = 400
    test_seed: int = 2024

    @property
    def levels(self) -> tuple:
        """The grid positions of the comparison (``eval_levels``, or six spread over the grid)."""
        if self.eval_levels is not None:
            return tuple(self.eval_levels)
        return tuple(int(i) for i in np.unique(np.round(np.linspace(2, self.N - 1, 6))))


def train_student(den, data, grid, solver, boundaries, train: TrainConfig, *, param, hidden,
                  depth, weighting, callback=None, callback_every=50) -> CDResult:
    """``train_cd`` with every knob named."""
    return train_cd(den, data, grid, solver, boundaries, train, param=param, hidden=hidden,
                    depth=depth, weighting=weighting, callback=callback,
                    callback_every=callback_every)


def heldout(data: str, grid, levels, n: int, seed: int) -> list:
    """n held-out noisy points x0 + s eps per grid level ``grid[i]`` for i in ``levels``."""
    ds = common.dataset(data)
    rng = np.random.default_rng(seed)
    out = []
    for i in levels:
        x0 = ds.sample(n, rng)
        out.append(x0 + grid[i] * rng.standard_normal(x0.shape))
    return out


@dataclass(frozen=True, eq=False)
class CDRunResult:
    """A trained (multi-boundary) CD student and its distances from the exact optimum.

    Attributes
    ----------
    config : CDConfig
    student : CDResult -- call it as ``student(x, sigma)``
    oracle : ConsistencyOracle -- the exact optimum f* of the same grid and boundaries
    grid, boundaries : ascending arrays
    teacher_evals : int -- counted single-point teacher evaluations spent in training
    train_seconds : float -- wall time of training (never drawn: it varies run to run)
    level_sigma : (L,) grid values of ``config.eval_levels``
    err_student : (L,) median |f_phi - f*| on held-out points per level
    err_average : (L,) median |D(x, sigma) - f*| (the diffusion optimum, an average)
    err_ct : (L,) median |f_CT - f*| (the one-sample CT target's optimum, a mixture; NaN
        for K > 1)
    spacing : float -- median distance of a data point to its nearest neighbour
    sample, sample_oracle : (n_test, d) K-jump samples (the state at sigma_min) of the
        reference noises by the student and by f*
    measure, measure_oracle : common.Measurement against the exact ODE state at sigma_min
    err_to_oracle : float -- median |sample - sample_oracle|
    """

    config: CDConfig
    student: CDResult
    oracle: ConsistencyOracle
    grid: np.ndarray
    boundaries: np.ndarray
    teacher_evals: int
    train_seconds: float
    level_sigma: np.ndarray
    err_student: np.ndarray
    err_average: np.ndarray
    err_ct: np.ndarray
    spacing: float
    sample: np.ndarray
    sample_oracle: np.ndarray
    measure: common.Measurement
    measure_oracle: common.Measurement
    err_to_oracle: float


def _spacing(points) -> float:
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    return float(np.median(d.min(axis=1)))


@cached
def run_cd(cfg: CDConfig = CDConfig()) -> CDRunResult:
    """Train the student of ``cfg`` and measure it against its exact optimum."""
    data, den = common.dataset(cfg.data), common.ideal_denoiser(cfg.data)
    grid = distill_grid(cfg.N)
    b = choose_boundaries(grid, cfg.K)
    counter = CountingDenoiser(den)
    t0 = time.perf_counter()
    key = (cfg.data, cfg.N, cfg.solver, cfg.K, cfg.param, cfg.hidden, cfg.depth,
           cfg.weighting, cfg.train)  # everything that makes the student
    res = persisted("cd", key, lambda: train_student(
        counter, data, grid, cfg.solver, b, cfg.train, param=cfg.param, hidden=cfg.hidden,
        depth=cfg.depth, weighting=cfg.weighting))
    seconds = time.perf_counter() - t0
    if counter.evals:  # trained now: the count must agree with the trainer's own
        assert counter.evals == res.teacher_evals, (counter.evals, res.teacher_evals)
    orc = ConsistencyOracle(den, grid, cfg.solver, b)
    L = len(cfg.levels)
    err = {k: np.full(L, np.nan) for k in ("student", "average", "ct")}
    xs = heldout(cfg.data, grid, cfg.levels, cfg.n_eval, cfg.eval_seed)
    for j, (i, x) in enumerate(zip(cfg.levels, xs)):
        s = np.full(cfg.n_eval, grid[i])
        fs = consistency_optimum(den, x, s, grid, cfg.solver, b)
        err["student"][j] = np.median(np.linalg.norm(res(x, s) - fs, axis=1))
        err["average"][j] = np.median(np.linalg.norm(den(x, s) - fs, axis=1))
        if cfg.K == 1:
            f_ct = consistency_training_target(den, x, s, grid, cfg.solver, b)
            err["ct"][j] = np.median(np.linalg.norm(f_ct - fs, axis=1))
    ref = common.reference(cfg.data, cfg.n_test, cfg.test_seed)
    xs_, xo = kjump_sample(res, ref.x_T, grid, b), kjump_sample(orc, ref.x_T, grid, b)
    return CDRunResult(
        cfg, res, orc, grid, b, int(res.teacher_evals), seconds, grid[list(cfg.levels)],
        err["student"], err["average"], err["ct"], _spacing(data.points), xs_, xo,
        common.measure(xs_, ref), common.measure(xo, ref),
        float(np.median(np.linalg.norm(xs_ - xo, axis=1))))


def plot_cd_student_vs_optimum(result: CDRunResult, ax=None):
    """Left: median |f - f*| per level (student, average, CT target). Right: the loss curve.

    ``ax``: two axes, or None for a new figure.
    """
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(12, 4.6))
    a1, a2 = ax
    fig = a1.figure
    r = result
    s = r.level_sigma
    a1.loglog(s, r.err_student, "o-", c=C_STUDENT, label=r"trained CD student $f_\phi$")
    a1.loglog(s, r.err_average, "s--", c=C_AVG,
              label=r"diffusion optimum $D(x, \sigma)$ (an average)")
    ct = np.where(r.err_ct > 1e-3, r.err_ct, np.nan)
    a1.loglog(s, ct, "^:", c=C_CT, label="CT target's optimum (a mixture; not drawn where = $f^*$)")
    a1.axhline(r.spacing, c="k", lw=0.8, ls=":")
    a1.text(s[0], r.spacing * 1.12, "nearest-neighbour spacing of the data", fontsize=8)
    a1.set_xlabel(r"noise level $\sigma$ (grid value)")
    a1.set_ylabel(r"median $|f(x, \sigma) - f^*(x, \sigma)|$")
    near = r.err_student < r.spacing  # closer to f* than neighbouring data points are apart
    worst = int(np.argmax(r.err_student))
    where = ("at every level" if near.all() else "at no level" if not near.any() else
             "only at $\\sigma$ = " + ", ".join(f"{v:.2g}" for v in s[near]))
    a1.set_title(f"Distance to the exact CD optimum $f^*$ (held-out $x$): the student is closer "
                 f"than the data's\nspacing ({r.spacing:.2g}) {where}; at $\\sigma$ = "
                 f"{s[worst]:.2g} it is {r.err_student[worst]:.2g} away", fontsize=9)
    a1.set_ylim(1e-3, 5)
    a1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=8, ncol=1)
    h = r.student.history
    k = 25
    a2.semilogy(np.arange(k - 1, h.size), np.convolve(h, np.ones(k) / k, mode="valid"),
                c=C_STUDENT)
    t = r.config.train
    a2.set_xlabel("training step")
    a2.set_ylabel(f"weighted CD loss (running mean of {k})")
    a2.set_title(f"Training: {t.steps} steps x batch {t.batch}, EMA target $\\mu$ = {t.ema}\n"
                 f"({r.teacher_evals:,} teacher evaluations)")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- collapse


@dataclass(frozen=True)
class CollapseConfig:
    """CD with and without the boundary condition, same seed, batches and steps.

    ``cd`` gives data, grid, solver and the network; ``train`` the runs' training (its
    ``weight_decay``, a pull of the weights towards 0 that the CD loss does not resist once
    outputs are consistent, applies to the ``plain`` and ``bc`` runs; the ``plain0`` control
    has none). The output spread is traced every ``every`` steps on ``n`` held-out inputs per
    level of ``cd.levels``.
    """

    cd: CDConfig = CDConfig(hidden=128)
    train: TrainConfig = TrainConfig(steps=400, batch=256, lr=3e-3, warmup=100, ema=0.9,
                                     weight_decay=1.0)
    every: int = 25
    n: int = 200
    seed: int = 102
    sample_level: int = 1  # index into cd.levels of the level drawn as a scatter


RUNS = ("plain", "bc", "plain0")


@dataclass(frozen=True, eq=False)
class CollapseResult:
    """Per run (``"plain"``, ``"bc"``, ``"plain0"``; dict fields keyed by run):

    ``loss`` (steps,) training losses; ``trace`` (T,) median over levels of the RMS spread of
    f(x, sigma) across held-out x, at ``trace_steps`` (T,); ``spread`` (L,) final spread per
    level; ``err_optimum`` median |f - f*| pooled over levels; ``samples`` (n, d) outputs at
    ``samples_sigma`` on ``samples_input``. ``data_spread``: RMS spread of the data.
    """

    config: CollapseConfig
    level_sigma: np.ndarray
    trace_steps: np.ndarray
    loss: dict
    trace: dict
    spread: dict
    err_optimum: dict
    samples: dict
    samples_input: np.ndarray
    samples_sigma: float
    data_spread: float
    train_seconds: float = field(default=0.0)

    def ratio(self, run: str) -> float:
        """Median over levels of the final spread / data spread."""
        return float(np.median(self.spread[run]) / self.data_spread)


def _rms_spread(y) -> float:
    return float(np.sqrt(np.mean(np.sum((y - y.mean(axis=0)) ** 2, axis=1))))


@cached
def run_collapse(cfg: CollapseConfig = CollapseConfig()) -> CollapseResult:
    """Three runs: plain (decay), boundary (decay), plain without decay (control)."""
    c = cfg.cd
    data, den = common.dataset(c.data), common.ideal_denoiser(c.data)
    grid = distill_grid(c.N)
    xs = heldout(c.data, grid, c.levels, cfg.n, cfg.seed)
    levels = [np.full(cfg.n, grid[i]) for i in c.levels]
    opt = np.concatenate([consistency_optimum(den, x, s, grid, c.solver)
                          for x, s in zip(xs, levels)])
    out = {k: {} for k in ("loss", "trace", "spread", "err_optimum", "samples")}
    steps_seen = []
    t0 = time.perf_counter()
    for run, param, wd in (("plain", "plain", cfg.train.weight_decay),
                           ("bc", "consistency", cfg.train.weight_decay),
                           ("plain0", "plain", 0.0)):
        trace, t_steps = [], []

        def cb(i, model, _theta, param=param, trace=trace, t_steps=t_steps):
            b = None if param == "plain" else grid[0]
            trace.append(np.median([_rms_spread(model(x, s, b)) for x, s in zip(xs, levels)]))
            t_steps.append(i)

        res = train_student(den, data, grid, c.solver, None, cfg.train.replace(weight_decay=wd),
                            param=param, hidden=c.hidden, depth=c.depth, weighting=c.weighting,
                            callback=cb, callback_every=cfg.every)
        f = [res(x, s) for x, s in zip(xs, levels)]
        out["loss"][run] = res.history
        out["trace"][run] = np.array(trace)
        out["spread"][run] = np.array([_rms_spread(y) for y in f])
        out["err_optimum"][run] = float(np.median(np.linalg.norm(np.concatenate(f) - opt, axis=1)))
        out["samples"][run] = f[cfg.sample_level]
        steps_seen = t_steps
    k = cfg.sample_level
    return CollapseResult(cfg, grid[list(c.levels)], np.array(steps_seen), out["loss"],
                          out["trace"], out["spread"], out["err_optimum"], out["samples"],
                          xs[k], float(grid[c.levels[k]]), _rms_spread(data.points),
                          time.perf_counter() - t0)


def plot_collapse(result: CollapseResult, ax=None):
    """Loss curves, the output spread over training, and the outputs at one level (3 axes)."""
    if ax is None:
        fig, ax = plt.subplots(1, 3, figsize=(17, 5.0))
    a1, a2, a3 = ax
    fig = a1.figure
    r = result
    wd = r.config.train.weight_decay
    data = common.dataset(r.config.cd.data)
    k = 10
    sm = lambda h: np.convolve(h, np.ones(k) / k, mode="valid")  # noqa: E731
    runs = (("plain", "tab:red", "-", f"plain output, weight decay {wd:g}"),
            ("plain0", "tab:red", ":", "plain output, no decay"),
            ("bc", C_STUDENT, "-", f"boundary param., weight decay {wd:g}"))
    for run, c, ls, lab in runs:
        h = r.loss[run]
        a1.semilogy(np.arange(k - 1, h.size), sm(h), c=c, ls=ls, label=lab)
    a1.set_xlabel("training step")
    a1.set_ylabel(f"CD loss (running mean of {k})")
    a1.set_title("The loss falls in every run")
    a1.legend(fontsize=8, loc="upper right")
    top = max(max(np.max(r.trace[run]) for run in RUNS), r.data_spread) * 1.1
    for run, c, ls, lab in runs:
        a2.plot(r.trace_steps, r.trace[run], c=c, ls=ls, marker="o", ms=3,
                label=f"{lab}: {r.err_optimum[run]:.2f}")
    a2.axhline(r.data_spread, c="k", ls="--", lw=0.8, label="spread of the data")
    a2.set_ylim(0, top)
    a2.set_xlabel("training step")
    a2.set_ylabel(r"RMS spread of $f(x, \sigma)$ across $x$" "\n"
                  rf"(median over {len(r.level_sigma)} levels $\sigma$)")
    a2.set_title(f"Final spread / data spread: plain {r.ratio('plain'):.2f}, "
                 f"boundary {r.ratio('bc'):.2f}")
    a2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              title=r"median distance to the CD optimum $f^*$", title_fontsize=8)
    a3.scatter(*r.samples_input.T, s=5, c="0.8", label=r"inputs $x$ (noisy data)")
    a3.scatter(*r.samples["bc"].T, s=7, c=C_STUDENT, alpha=0.5, label="boundary param.")
    a3.scatter(*r.samples["plain"].T, s=7, c="tab:red", alpha=0.5, label="plain (decay)")
    a3.scatter(*data.points.T, s=50, marker="x", c="k", label="data points")
    a3.set_aspect("equal")
    a3.set_xlabel("$x_1$")
    a3.set_ylabel("$x_2$")
    a3.set_title(rf"Outputs $f(x, \sigma = {r.samples_sigma:.2f})$: the plain run shrinks," "\n"
                 "the boundary run keeps the spread")
    a3.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=8, ncol=2)
    fig.suptitle(r"CD without the boundary condition $f(x, s_1) = x$: "
                 f"{r.config.train.steps} steps, EMA target $\\mu$ = {r.config.train.ema}, "
                 "same seed and batches")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- Theorem 1


@dataclass(frozen=True)
class Theorem1Config:
    """The CD optimum f*(x_T, s_N) against the exact ODE state at s_1 = sigma_min, vs N."""

    data: str = "clusters"
    Ns: tuple = (16, 32, 64, 128, 256)
    solvers: tuple = ("euler", "heun")
    n: int = 100
    seed: int = 2024


@dataclass(frozen=True, eq=False)
class Theorem1Result:
    """``err[solver]`` (M,) median error per N; ``order[solver]`` the fitted order (slope of
    log error against log N, sign flipped); ``nfe[solver]`` (M,) evaluations per sample."""

    config: Theorem1Config
    N: np.ndarray
    err: dict
    order: dict
    nfe: dict


@cached
def run_theorem1(cfg: Theorem1Config = Theorem1Config()) -> Theorem1Result:
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
    return Theorem1Result(cfg, Ns, err, order, nfe)


def plot_theorem1(result: Theorem1Result, ax=None):
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


# ----------------------------------------------------------------------------- multistep


@dataclass(frozen=True)
class MultistepConfig:
    """Stochastic multistep sampling (1..max_steps evaluations) of the student of ``cd``."""

    cd: CDConfig = CDConfig()
    max_steps: int = 8
    seed: int = 104


@dataclass(frozen=True, eq=False)
class MultistepResult:
    """``steps`` (S,); per ``who`` in ("student", "oracle"): ``err`` (S,) median distance to
    the exact ODE state at sigma_min, ``same_basin`` (S,), ``dist_to_data`` (S,);
    ``err_to_oracle`` (S,) median |student sample - oracle sample| (same noise and draws)."""

    config: MultistepConfig
    steps: np.ndarray
    err: dict
    same_basin: dict
    dist_to_data: dict
    err_to_oracle: np.ndarray


@cached
def run_multistep(cfg: MultistepConfig = MultistepConfig()) -> MultistepResult:
    r = run_cd(cfg.cd)
    ref = common.reference(cfg.cd.data, cfg.cd.n_test, cfg.cd.test_seed)
    steps = np.arange(1, cfg.max_steps + 1)
    fs = {"student": r.student, "oracle": r.oracle}
    err, basin, dist = ({w: [] for w in fs} for _ in range(3))
    to_orc = []
    for k in steps:
        taus = default_taus(r.grid, int(k))
        x = {w: multistep_sample(f, ref.x_T, r.grid, taus, rng=cfg.seed) for w, f in fs.items()}
        for w in fs:
            m = common.measure(x[w], ref)
            err[w].append(m.err_median)
            basin[w].append(m.same_basin)
            dist[w].append(m.dist_to_data_median)
        to_orc.append(np.median(np.linalg.norm(x["student"] - x["oracle"], axis=1)))
    arr = lambda d: {w: np.array(v) for w, v in d.items()}  # noqa: E731
    return MultistepResult(cfg, steps, arr(err), arr(basin), arr(dist), np.array(to_orc))


def plot_multistep(result: MultistepResult, ax=None):
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(12, 4.6))
    a1, a2 = ax
    fig = a1.figure
    r = result
    st = r.steps
    a1.semilogy(st, r.err["student"], "o-", c=C_STUDENT, label="trained student: vs exact ODE")
    a1.semilogy(st, r.err["oracle"], "s--", c=C_ORACLE, label="exact CD optimum: vs exact ODE")
    a1.semilogy(st, r.dist_to_data["student"], "o:", c=C_STUDENT, alpha=0.6,
                label="trained student: to nearest data point")
    a1.semilogy(st, r.dist_to_data["oracle"], "s:", c=C_ORACLE, alpha=0.6,
                label="exact CD optimum: to nearest data point")
    a1.set_xticks(st)
    a1.set_xlabel("sampling steps (= network evaluations)")
    a1.set_ylabel(r"median distance (state at $\sigma_{min}$)")
    a1.set_title("Re-noising sharpens the sample\nbut departs from the ODE map of $x_T$")
    a1.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    a2.plot(st, r.same_basin["student"], "o-", c=C_STUDENT, label="student")
    a2.plot(st, r.same_basin["oracle"], "s--", c=C_ORACLE, label="exact CD optimum")
    a2.set_ylim(0, 1.05)
    a2.set_xticks(st)
    a2.set_xlabel("sampling steps (= network evaluations)")
    a2.set_ylabel("fraction in the exact ODE state's basin")
    a2.set_title("Agreement with the ODE map of the same $x_T$")
    a2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- trajectories


@dataclass(frozen=True)
class TrajectoryConfig:
    """Teacher chains from ``n_traj`` noises x_T = 80 z down the grid, and f at every state."""

    cd: CDConfig = CDConfig()
    n_traj: int = 6
    seed: int = 105


@dataclass(frozen=True, eq=False)
class TrajectoryResult:
    """``sigma`` (N,) ascending; ``states`` (N, n_traj, d) the teacher chain (``states[-1]``
    is x_T); ``student`` / ``oracle`` (N, n_traj, d): f at each state."""

    config: TrajectoryConfig
    sigma: np.ndarray
    states: np.ndarray
    student: np.ndarray
    oracle: np.ndarray


@cached
def run_trajectories(cfg: TrajectoryConfig = TrajectoryConfig()) -> TrajectoryResult:
    r = run_cd(cfg.cd)
    den, grid = common.ideal_denoiser(cfg.cd.data), r.grid
    d = common.dataset(cfg.cd.data).d
    x = common.noise(d, cfg.n_traj, cfg.seed)
    states = np.empty((grid.size, cfg.n_traj, d))
    states[-1] = x
    for i in range(grid.size - 1, 0, -1):
        states[i - 1] = teacher_step(den, states[i], grid[i], grid[i - 1], cfg.cd.solver)
    s = lambda i: np.full(cfg.n_traj, grid[i])  # noqa: E731
    return TrajectoryResult(cfg, grid, states,
                            np.stack([r.student(states[i], s(i)) for i in range(grid.size)]),
                            np.stack([r.oracle(states[i], s(i)) for i in range(grid.size)]))


def plot_trajectories(result: TrajectoryResult, ax=None):
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


# ----------------------------------------------------------------------------- summary


#: the CD student of the summary table: wider and trained longer than the figures' default
SUMMARY_CD = CDConfig(hidden=128, train=TrainConfig(steps=1600, batch=128, lr=3e-3, warmup=100,
                                                    ema=0.9))


def summary_rows(data: str = "clusters") -> list:
    """Summary row of CD: the one-step student (NFE 1) of :data:`SUMMARY_CD`.

    Error against the exact ODE state at sigma_min of the reference noises; the optimum is
    the :class:`ConsistencyOracle` sampled the same way (one jump: the teacher's chain).
    Stochastic multistep sampling is left out: re-noising departs from the ODE map of x_T, so
    its error against the exact state grows with the steps (:func:`run_multistep`).
    """
    cfg = replace(SUMMARY_CD, data=data)
    r = run_cd(cfg)
    t = cfg.train
    return [common.SummaryRow(
        data, "CD (1 step)", 1, r.teacher_evals, r.measure.err_median,
        r.measure_oracle.err_median, r.err_to_oracle, r.measure.same_basin,
        f"MLP {cfg.hidden}x{cfg.depth} ({cfg.param}), {t.steps} steps x batch {t.batch}, "
        f"mu {t.ema}; N={cfg.N} {cfg.solver} grid; {cfg.n_test} noises")]
