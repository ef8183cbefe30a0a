"""Progressive distillation against its exact per-round optima, and CD at equal teacher evaluations.

Setting: data set ``cfg.data``, the ideal denoiser sampled by DDIM (= Euler in sigma) on the
``cfg.steps_teacher``-step sampler grid (descending Karras, 80 -> 0.002, no trailing 0). Round k
of progressive distillation has N / 2^k sampling steps; its exact optimum sampled on its grid is
the teacher's N-step Euler sampler (``tests/test_progressive.py``), so every round is measured
against the same exact sample. Measured per round on the held-out noises of
:func:`~ideal_diffusion.experiments.common.reference` (states at sigma_min, never snapped):

* ``err_exact``: median |student sample - exact ODE state at sigma_min|;
* ``err_optimum``: median |student sample - its exact optimum's sample| (the teacher's);
* ``step_err``: median |f_k(x, sigma) - f*_k(x, sigma)| over held-out noisy x at the round's
  levels (one-call error against that round's exact optimum).

The contrast: a CD student (``distill.cd.train_cd``, Euler teacher on the same grid, so its exact
one-step optimum is the same N-step Euler map) trained with as many ideal-teacher evaluations
as PD's round 1 spends.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ..distill.cd import train_cd
from ..distill.optima import distill_grid
from ..distill.progressive import PDOracle, pd_sample, train_progressive
from ..nn import TrainConfig
from ..schedules import sampling_grid
from ..solvers import sample
from . import _checks as check
from ._cache import cached
from ._figure import SlideFigure
from .common import IMAGE_DATASETS, SummaryRow, dataset, ideal_denoiser, measure, reference

__all__ = ["Config", "Result", "plot", "run", "summary_config", "summary_rows"]


@dataclass(frozen=True)
class Config:
    """Every knob of the progressive-distillation experiment."""

    data: str = "clusters"
    steps_teacher: int = 8
    train: TrainConfig = TrainConfig(steps=400, batch=64, lr=3e-3, warmup=40, seed=0)
    hidden: int = 64
    depth: int = 3
    n_ref: int = 400
    ref_seed: int = 2024
    n_step_test: int = 1000
    cd_contrast: bool = True

    def __post_init__(self):
        check.dataset(self, "data")
        check.integer(self, "steps_teacher", 2)
        n = self.steps_teacher
        check.require(self, n & (n - 1) == 0, "steps_teacher",
                      "a power of 2 >= 2 (each round halves the steps)")
        check.instance(self, "train", TrainConfig)
        check.integer(self, "hidden", 1)
        check.integer(self, "depth", 1)
        check.integer(self, "n_ref", 1)
        check.integer(self, "ref_seed", 0)
        check.integer(self, "n_step_test", 1)
        check.flag(self, "cd_contrast")


@dataclass(frozen=True, eq=False)
class Result:
    """Per-round measurements (arrays indexed by round k = 1 .. K).

    Attributes
    ----------
    config : Config
    nfe : (K,) int -- sampling steps of round k, N / 2^k
    err_exact, err_optimum, step_err : (K,) float medians (module notes)
    same_basin : (K,) float
    teacher_err_exact : float -- the teacher's N-step Euler sample vs the exact ODE (every
        round's exact optimum)
    teacher_evals : int -- ideal-teacher evaluations (round 1)
    student_evals : int -- previous-round student evaluations (rounds 2 .. K)
    cd_err_exact, cd_err_optimum : float or None -- the one-step CD student
    cd_teacher_evals : int
    train_seconds : float
    """

    config: Config
    nfe: np.ndarray
    err_exact: np.ndarray
    err_optimum: np.ndarray
    step_err: np.ndarray
    same_basin: np.ndarray
    teacher_err_exact: float
    teacher_evals: int
    student_evals: int
    cd_err_exact: float | None
    cd_err_optimum: float | None
    cd_teacher_evals: int
    train_seconds: float
    samples: tuple = ()
    teacher_sample: np.ndarray | None = None
    cd_sample: np.ndarray | None = None


@cached
def run(cfg: Config = Config()) -> Result:
    data, D = dataset(cfg.data), ideal_denoiser(cfg.data)
    S = sampling_grid(cfg.steps_teacher)
    ref = reference(cfg.data, cfg.n_ref, cfg.ref_seed)
    teacher = sample(D, ref.x_T, S, "euler")
    t0 = time.perf_counter()
    res = train_progressive(D, data, S, cfg.train, hidden=cfg.hidden, depth=cfg.depth)
    secs = time.perf_counter() - t0
    rng = np.random.default_rng(cfg.train.seed + 1)
    nfe, ee, eo, se, sb, samples = [], [], [], [], [], []
    for k, (model, g) in enumerate(zip(res.students, res.grids), 1):
        x = pd_sample(model, ref.x_T, g)
        m = measure(x, ref)
        nfe.append(g.size - 1)
        ee.append(m.err_median)
        sb.append(m.same_basin)
        eo.append(float(np.median(np.linalg.norm(x - teacher, axis=1))))
        samples.append(x)
        lev = g[:-1][rng.integers(0, g.size - 1, cfg.n_step_test)]
        xs = data.sample(cfg.n_step_test, rng) + lev[:, None] * rng.standard_normal(
            (cfg.n_step_test, data.d))
        se.append(float(np.median(np.linalg.norm(
            model(xs, lev) - PDOracle(D, S, k)(xs, lev), axis=1))))
    cd_exact = cd_opt = cd_x = None
    cd_evals = 0
    if cfg.cd_contrast:
        # Euler CD: 1 ideal-teacher evaluation per sample, so 2x PD round 1's batch
        cd = train_cd(D, data, distill_grid(cfg.steps_teacher + 1), "euler", None,
                      cfg.train.replace(batch=2 * cfg.train.batch, ema=0.9),
                      hidden=cfg.hidden, depth=cfg.depth)
        x = cd(ref.x_T, np.full(ref.x_T.shape[0], S[0]))
        cd_exact = measure(x, ref).err_median
        cd_opt = float(np.median(np.linalg.norm(x - teacher, axis=1)))
        cd_evals = cd.teacher_evals
        cd_x = x
    return Result(config=cfg, nfe=np.array(nfe), err_exact=np.array(ee),
                  err_optimum=np.array(eo), step_err=np.array(se), same_basin=np.array(sb),
                  teacher_err_exact=measure(teacher, ref).err_median,
                  teacher_evals=res.teacher_evals, student_evals=res.student_evals,
                  cd_err_exact=cd_exact, cd_err_optimum=cd_opt, cd_teacher_evals=cd_evals,
                  train_seconds=secs, samples=tuple(samples), teacher_sample=teacher,
                  cd_sample=cd_x)


def plot(result: Result, ax=None):
    """Per-round errors: against the exact optimum (the teacher's sample) and the exact ODE."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(11, 4.4))
    else:
        fig = ax.figure
    r = result
    k = np.arange(1, r.nfe.size + 1)
    ax.semilogy(k, r.err_optimum, "o-", label="student vs its exact optimum (teacher's sample)")
    ax.semilogy(k, r.err_exact, "s-", label=r"student vs exact ODE state at $\sigma_{min}$")
    ax.semilogy(k, r.step_err, "^:", label=r"one call: $|f_k - f^*_k|$ at the round's levels")
    ax.axhline(r.teacher_err_exact, c="k", ls="--", lw=0.8,
               label=f"exact optimum (teacher, {r.config.steps_teacher} Euler steps) vs exact ODE")
    if r.cd_err_optimum is not None:
        ax.semilogy([k[-1]], [r.cd_err_optimum], "*", ms=12, c="tab:red",
                    label="1-step CD student vs the same optimum (equal teacher evals)")
    ax.set_xticks(k, [f"round {i}\n{n} step{'s' if n > 1 else ''}" for i, n in zip(k, r.nfe)])
    ax.set_ylabel("median error")
    ax.set_title("Distillation: ODE-based \"Progressive\": each round against its exact optimum")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def summary_config(data: str = "clusters") -> Config | None:
    """The Config of the summary table's progressive rows on ``data`` (2-D sets only).

    The image sets (d = 64) would need far more than the ~60 s training budget per set for
    students worth measuring, so they give None (no rows).
    """
    return None if data in IMAGE_DATASETS else Config(data=data)


def summary_rows(result: Result) -> list[SummaryRow]:
    """Rows at NFE 1, 2, 4 for the progressive students of ``result``."""
    r = result
    data = r.config.data
    rows = []
    xs = r.samples if r.samples else (None,) * len(r.nfe)
    for n, ee, eo, sb, x in zip(r.nfe, r.err_exact, r.err_optimum, r.same_basin, xs):
        if n in (1, 2, 4):
            name = f"progressive distillation ({n} DDIM step{'s' if n > 1 else ''})"
            rows.append(SummaryRow(data, name, int(n),
                                   r.teacher_evals, float(ee), r.teacher_err_exact, float(eo),
                                   float(sb),
                                   notes=f"plus {r.student_evals} previous-student evaluations; "
                                         f"optimum: teacher {r.config.steps_teacher}-step Euler",
                                   samples=x, optimum_samples=r.teacher_sample))
    return rows


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("progressive_rounds",
                "'Distillation: ODE-based \"Progressive\"': per-round errors against the exact "
                "optimum (the teacher's N-step sampler) and the exact ODE",
                lambda: plot(run(Config())), group="flow"),
)
