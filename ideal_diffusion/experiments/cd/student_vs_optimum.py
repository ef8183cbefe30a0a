"""One CD student against its exact optimum (lecture slides "Consistency Distillation. Main
idea" and "What about optimal solution?").

One CD student (or, with ``K > 1``, a multi-boundary student; see :mod:`..mbcd`) against its
exact optimum f* (the teacher's solver chained down the grid), the diffusion optimum D(x, sigma)
(the average) and the consistency-training target (a mixture), on held-out noisy points at
several grid levels; and its one-step sample against the exact ODE state at sigma_min.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np

from ...distill.cd import PARAMS, WEIGHTINGS, CDResult
from ...distill.kd import CountingDenoiser
from ...distill.mbcd import choose_boundaries
from ...distill.optima import (
    TEACHER_SOLVERS,
    ConsistencyOracle,
    consistency_optimum,
    consistency_training_target,
    distill_grid,
)
from ...distill.sampling import kjump_sample
from ...nn import TrainConfig
from .. import _checks as check
from .. import common, names
from .._cache import cached
from .._figure import SlideFigure
from ..store import persisted
from ._shared import C_AVG, C_CT, C_STUDENT, heldout, train_student

__all__ = ["DIGITS", "SUMMARY", "Config", "Result", "plot", "run", "student",
           "student_key", "summary_config", "summary_rows"]


@dataclass(frozen=True)
class Config:
    """One CD (K = 1) or multi-boundary CD (K > 1) student and how it is measured.

    Attributes
    ----------
    data : str -- :func:`common.dataset` name
    N : int -- levels of the ascending distillation grid ``distill_grid(N)``
    solver : {"euler", "heun"} -- the teacher's one-step solver
    K : int -- boundaries (:func:`~ideal_diffusion.distill.mbcd.choose_boundaries`); 1 is CD
    boundary_positions : tuple of K ints, optional -- the boundaries' positions in the
        ascending grid (0 first, strictly ascending, below N - 1) instead of
        ``choose_boundaries`` (e.g. those of :mod:`..boundaries`' search); None: the default
    param : str -- output parameterisation (``"consistency"``, ``"jump_edm"``, ``"jump"``,
        ``"plain"``: no boundary condition)
    hidden, depth : MLP size
    weighting : {"cout", "uniform"} -- per-level loss weights
    train : TrainConfig -- ``train.ema`` is the target network's decay mu
    eval_levels : positions in the ascending grid where f is compared with f*; None (the
        default): six positions evenly spread over s_2 .. s_N of whatever ``N`` is
    n_eval, eval_seed : held-out noisy points per level
    n_test, test_seed : held-out noises of :func:`common.reference` (sampling errors)
    with_ct : bool -- also measure the consistency-training target's optimum (K = 1 on a
        delta mixture only; it costs one chain per data point and held-out point, so the
        digit configs leave it out)
    """

    data: str = "clusters"
    N: int = 18
    solver: str = "heun"
    K: int = 1
    param: str = "consistency"
    hidden: int = 128
    depth: int = 3
    weighting: str = "cout"
    train: TrainConfig = TrainConfig(steps=1600, batch=128, lr=3e-3, warmup=100, ema=0.9)
    eval_levels: tuple | None = None
    n_eval: int = 500
    eval_seed: int = 101
    n_test: int = 400
    test_seed: int = 2024
    boundary_positions: tuple | None = None
    with_ct: bool = True

    def __post_init__(self):
        check.dataset(self, "data")
        check.integer(self, "N", 2)
        check.choice(self, "solver", TEACHER_SOLVERS)
        check.integer(self, "K", 1, self.N - 1)
        check.choice(self, "param", tuple(PARAMS))
        check.integer(self, "hidden", 1)
        check.integer(self, "depth", 1)
        check.choice(self, "weighting", WEIGHTINGS)
        check.instance(self, "train", TrainConfig)
        if self.eval_levels is not None:
            check.integers(self, "eval_levels", 0, self.N - 1)
        check.integer(self, "n_eval", 1)
        check.integer(self, "eval_seed", 0)
        check.integer(self, "n_test", 1)
        check.integer(self, "test_seed", 0)
        check.instance(self, "with_ct", bool)
        if self.boundary_positions is not None:
            p = self.boundary_positions
            check.integers(self, "boundary_positions", 0, self.N - 2, min_len=self.K,
                           max_len=self.K)
            check.require(self, p[0] == 0 and all(a < b for a, b in zip(p, p[1:])),
                          "boundary_positions", "strictly ascending grid positions from 0")

    def boundaries(self, grid) -> np.ndarray:
        """(K,) ascending boundaries on ``grid`` (ascending): ``boundary_positions`` or
        ``choose_boundaries(grid, K)``."""
        if self.boundary_positions is None:
            return choose_boundaries(grid, self.K)
        return np.asarray(grid)[list(self.boundary_positions)]

    @property
    def label(self) -> str:
        """The student's name in tables, figures and notebooks: ``CD (1 step)`` or
        ``MBCD (K=<K>)``, with the budget appended when it is made otherwise than the default
        student of that K on that data set (:func:`summary_config`; K > 1: with ``param`` =
        :data:`MBCD_PARAM`), e.g. ``CD (1 step), 150 steps``."""
        name = "CD (1 step)" if self.K == 1 else f"MBCD (K={self.K})"
        ref = summary_config(self.data)
        ref = replace(ref, K=self.K, param=ref.param if self.K == 1 else MBCD_PARAM)
        return names.label(name, self, ref, ignore=("data",) + _MEASURE)

    @property
    def levels(self) -> tuple:
        """The grid positions of the comparison (``eval_levels``, or six spread over the grid)."""
        if self.eval_levels is not None:
            return tuple(self.eval_levels)
        return tuple(int(i) for i in np.unique(np.round(np.linspace(2, self.N - 1, 6))))


#: the output parameterisation of the default multi-boundary (K > 1) students
MBCD_PARAM = "jump_edm"
#: fields that measure a student, not make it
_MEASURE = ("eval_levels", "n_eval", "eval_seed", "n_test", "test_seed", "with_ct")


@dataclass(frozen=True, eq=False)
class Result:
    """A trained (multi-boundary) CD student and its distances from the exact optimum
    (not to be confused with :class:`~ideal_diffusion.distill.cd.CDResult`, the student itself).

    Attributes
    ----------
    config : Config
    student : CDResult -- call it as ``student(x, sigma)``
    oracle : ConsistencyOracle -- the exact optimum f* of the same grid and boundaries
    grid, boundaries : ascending arrays
    teacher_evals : int -- counted single-point teacher evaluations spent in training
    train_seconds : float -- wall time of training (never drawn: it varies run to run)
    level_sigma : (L,) grid values of ``config.eval_levels``
    err_student : (L,) median |f_phi - f*| on held-out points per level
    err_average : (L,) median |D(x, sigma) - f*| (the diffusion optimum, an average)
    err_ct : (L,) median |f_CT - f*| (the one-sample CT target's optimum, a mixture; NaN
        for K > 1 and without ``config.with_ct``)
    spacing : float -- median distance of a data point to its nearest neighbour (for a
        Gaussian mixture: of the training images it was fitted to)
    sample, sample_oracle : (n_test, d) K-jump samples (the state at sigma_min) of the
        reference noises by the student and by f*
    measure, measure_oracle : common.Measurement against the exact ODE state at sigma_min
    err_to_oracle : float -- median |sample - sample_oracle|
    """

    config: Config
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


def student_key(cfg: Config) -> tuple:
    """Everything that makes the student of ``cfg`` (its identity in the store)."""
    key = (cfg.data, cfg.N, cfg.solver, cfg.K, cfg.param, cfg.hidden, cfg.depth,
           cfg.weighting, cfg.train)
    if cfg.boundary_positions is not None:  # (appended only then: the default keys stand)
        key += (("boundary_positions", cfg.boundary_positions),)
    return key


def student(cfg: Config = Config()) -> CDResult:
    """The trained student of ``cfg``: from the store (:mod:`..store`) when it holds one made
    exactly so, else trained now (deterministic: the config's seed, one BLAS thread).

    Parameters
    ----------
    cfg : Config -- a checked Config (its fields were validated when it was built)

    Returns
    -------
    CDResult -- call it as ``student(x, sigma)`` with x (B, d) and sigma a grid value or (B,)
    """
    data, den = common.dataset(cfg.data), common.ideal_denoiser(cfg.data)
    grid = distill_grid(cfg.N)

    def train():
        counter = CountingDenoiser(den)
        res = train_student(counter, data, grid, cfg.solver, cfg.boundaries(grid), cfg.train,
                            param=cfg.param, hidden=cfg.hidden, depth=cfg.depth,
                            weighting=cfg.weighting)
        # the count must agree with the trainer's own
        assert counter.evals == res.teacher_evals, (counter.evals, res.teacher_evals)
        return res

    return persisted("cd", student_key(cfg), train)


@cached
def run(cfg: Config = Config()) -> Result:
    """Train (or load) the student of ``cfg`` and measure it against its exact optimum."""
    den = common.ideal_denoiser(cfg.data)
    if cfg.with_ct and cfg.K == 1 and not den.is_delta:
        raise ValueError(f"with_ct needs a delta-mixture data set (the CT target's optimum is "
                         f"a mixture over its points); {cfg.data!r} is not one: set "
                         f"with_ct=False")
    grid = distill_grid(cfg.N)
    b = cfg.boundaries(grid)
    t0 = time.perf_counter()
    res = student(cfg)
    seconds = time.perf_counter() - t0
    orc = ConsistencyOracle(den, grid, cfg.solver, b)
    L = len(cfg.levels)
    err = {k: np.full(L, np.nan) for k in ("student", "average", "ct")}
    xs = heldout(cfg.data, grid, cfg.levels, cfg.n_eval, cfg.eval_seed)
    for j, (i, x) in enumerate(zip(cfg.levels, xs)):
        s = np.full(cfg.n_eval, grid[i])
        fs = consistency_optimum(den, x, s, grid, cfg.solver, b)
        err["student"][j] = np.median(np.linalg.norm(res(x, s) - fs, axis=1))
        err["average"][j] = np.median(np.linalg.norm(den(x, s) - fs, axis=1))
        if cfg.K == 1 and cfg.with_ct:
            f_ct = consistency_training_target(den, x, s, grid, cfg.solver, b)
            err["ct"][j] = np.median(np.linalg.norm(f_ct - fs, axis=1))
    ref = common.reference(cfg.data, cfg.n_test, cfg.test_seed)
    xs_, xo = kjump_sample(res, ref.x_T, grid, b), kjump_sample(orc, ref.x_T, grid, b)
    return Result(
        config=cfg, student=res, oracle=orc, grid=grid, boundaries=b,
        teacher_evals=int(res.teacher_evals), train_seconds=seconds,
        level_sigma=grid[list(cfg.levels)], err_student=err["student"],
        err_average=err["average"], err_ct=err["ct"], spacing=common.nn_spacing(
            common.training_points(cfg.data).points),
        sample=xs_, sample_oracle=xo, measure=common.measure(xs_, ref),
        measure_oracle=common.measure(xo, ref),
        err_to_oracle=float(np.median(np.linalg.norm(xs_ - xo, axis=1))))


def plot(result: Result, ax=None):
    """Left: median |f - f*| per level (student, average, CT target). Right: the loss curve.

    ``ax``: two axes, or None for a new figure.
    """
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(12, 4.6))
    a1, a2 = ax
    fig = a1.figure
    r = result
    s = r.level_sigma
    a1.loglog(s, r.err_student, "o-", c=C_STUDENT, label=f"trained {r.config.label}: " r"$f_\phi$")
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


# ----------------------------------------------------------------------------- summary


#: the CD student of the summary table on the 2-D sets: the default Config's, the same
#: student as the figures and notebooks 03 and 04 show (one student per name, :mod:`..names`)
SUMMARY = Config()

#: the CD students of the digits (d = 64): a wider network trained longer, with the
#: ``jump_edm`` parameterisation; on the generalising teacher (``digits_gmm``) 10,000 steps at
#: peak lr 5e-3 (the closing note of issue 16 gives what 2e-3 and fewer steps reached).
#: Committed in the store (:mod:`..students` names them; ``retrain`` remakes them).
DIGITS = {
    "digits": replace(SUMMARY, data="digits", param="jump_edm", hidden=256, depth=3,
                      train=TrainConfig(steps=6000, batch=256, lr=2e-3, ema=0.9),
                      with_ct=False),
    "digits_gmm": replace(SUMMARY, data="digits_gmm", param="jump_edm", hidden=256, depth=3,
                          train=TrainConfig(steps=10_000, batch=256, lr=5e-3, ema=0.9),
                          with_ct=False),
}


def summary_config(data: str = "clusters") -> Config:
    """The Config of the summary table's CD student on ``data``: :data:`DIGITS` for the digit
    sets, else :data:`SUMMARY` on ``data``."""
    return DIGITS[data] if data in DIGITS else replace(SUMMARY, data=data)


def summary_rows(result: Result) -> list:
    """Summary row of CD: the one-step student (NFE 1) of ``result``.

    Error against the exact ODE state at sigma_min of the reference noises; the optimum is
    the :class:`ConsistencyOracle` sampled the same way (one jump: the teacher's chain).
    Stochastic multistep sampling is left out: re-noising departs from the ODE map of x_T, so
    its error against the exact state grows with the steps (:mod:`.multistep`).
    """
    r = result
    cfg = r.config
    t = cfg.train
    return [common.SummaryRow(
        cfg.data, cfg.label, 1, r.teacher_evals, r.measure.err_median,
        r.measure_oracle.err_median, r.err_to_oracle, r.measure.same_basin,
        f"MLP {cfg.hidden}x{cfg.depth} ({cfg.param}), {t.steps} steps x batch {t.batch}, "
        f"mu {t.ema}; N={cfg.N} {cfg.solver} grid; {cfg.n_test} noises",
        samples=r.sample, optimum_samples=r.sample_oracle)]


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("cd_student_vs_optimum",
                "3. What about optimal solution? ('again a mixture? NO!'): the CD student's "
                "distance to the exact CD optimum (the teacher chained to s_1) per noise level, "
                "beside the average's and the data's nearest-neighbour spacing (the title says "
                "at which levels the student is closer than that spacing); the CT target is a "
                "mixture",
                lambda: plot(run(Config())), group="cd"),
)
