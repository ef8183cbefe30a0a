"""Multi-boundary CD experiment (lecture slides "Multiboundary CD" and "Summary").

:func:`run` trains one student per K (K = 1 is the plain CD student of ``cfg.cd``, shared with
:func:`.cd.student_vs_optimum.run` through the cache; K > 1 uses ``cfg.param``) and measures
each against its exact per-segment optimum: per grid level (median |f - f*_K|), per jump (the
final sample's error when only jump k is the student's, the other jumps exact), and as a K-jump
sampler (K evaluations) against the exact ODE state at sigma_min of the reference noises.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np

from ..distill.cd import PARAMS
from . import _checks as check
from . import common
from ._cache import cached
from ._figure import SlideFigure
from .cd import student_vs_optimum

__all__ = ["SUMMARY", "Config", "Result", "jump_errors", "plot", "run", "summary_config",
           "summary_rows"]


@dataclass(frozen=True)
class Config:
    """Attributes: ``cd`` (data, grid, network, training; its ``param`` is the K = 1
    student's), ``param`` (the K > 1 students' parameterisation), ``Ks``."""

    cd: student_vs_optimum.Config = student_vs_optimum.Config()
    param: str = student_vs_optimum.MBCD_PARAM
    Ks: tuple = (1, 2, 4)

    def __post_init__(self):
        check.instance(self, "cd", student_vs_optimum.Config)
        check.choice(self, "param", tuple(PARAMS))
        check.integers(self, "Ks", 1, self.cd.N - 1)

    def label(self, K: int) -> str:
        """The name of the K-boundary student (:attr:`.cd.student_vs_optimum.Config.label`)."""
        return self.student_config(K).label

    def student_config(self, K: int) -> student_vs_optimum.Config:
        """The :class:`.cd.student_vs_optimum.Config` of the K-boundary student."""
        return self.cd if K == 1 else replace(self.cd, K=int(K), param=self.param)


@dataclass(frozen=True, eq=False)
class Result:
    """Per K (arrays of length M = len(Ks), lists of per-K arrays):

    ``runs`` the :class:`.cd.student_vs_optimum.Result` of each student; ``err`` /
    ``err_oracle`` median |K-jump sample - exact ODE state at sigma_min| of the student / exact
    optimum; ``same_basin`` / ``same_basin_oracle``; ``err_to_oracle`` median |student - oracle
    sample|; ``teacher_evals`` (counted); ``level_sigma`` (L,) and ``level_error`` (M, L) median
    |f - f*_K| on held-out points; ``boundaries`` and ``jump_error`` lists of (K,) arrays,
    ascending (jump k lands on b_k).
    """

    config: Config
    Ks: np.ndarray
    runs: tuple
    err: np.ndarray
    err_oracle: np.ndarray
    same_basin: np.ndarray
    same_basin_oracle: np.ndarray
    err_to_oracle: np.ndarray
    teacher_evals: np.ndarray
    level_sigma: np.ndarray
    level_error: np.ndarray
    boundaries: list
    jump_error: list


def jump_errors(student, oracle, x_T) -> np.ndarray:
    """Median |final sample - oracle sample| when only jump k is the student's (k = 0 bottom).

    Jump k starts from the exact (oracle) state at its segment's top; every other jump is
    exact. Returns a (K,) array ordered like the (ascending) boundaries.
    """
    b = oracle.boundaries
    tops = np.append(b[1:], oracle.grid[-1])
    B = x_T.shape[0]
    jump = lambda f, x, k: f(x, np.full(B, tops[k]), np.full(B, b[k]))  # noqa: E731
    full = x_T
    for k in range(b.size - 1, -1, -1):
        full = jump(oracle, full, k)
    err = np.empty(b.size)
    state = x_T
    for k in range(b.size - 1, -1, -1):
        y = jump(student, state, k)
        for j in range(k - 1, -1, -1):
            y = jump(oracle, y, j)
        err[k] = np.median(np.linalg.norm(y - full, axis=1))
        state = jump(oracle, state, k)
    return err


@cached
def run(cfg: Config = Config()) -> Result:
    runs = tuple(student_vs_optimum.run(cfg.student_config(K)) for K in cfg.Ks)
    ref = common.reference(cfg.cd.data, cfg.cd.n_test, cfg.cd.test_seed)
    return Result(
        config=cfg, Ks=np.asarray(cfg.Ks), runs=runs,
        err=np.array([r.measure.err_median for r in runs]),
        err_oracle=np.array([r.measure_oracle.err_median for r in runs]),
        same_basin=np.array([r.measure.same_basin for r in runs]),
        same_basin_oracle=np.array([r.measure_oracle.same_basin for r in runs]),
        err_to_oracle=np.array([r.err_to_oracle for r in runs]),
        teacher_evals=np.array([r.teacher_evals for r in runs]),
        level_sigma=runs[0].level_sigma, level_error=np.stack([r.err_student for r in runs]),
        boundaries=[r.boundaries for r in runs],
        jump_error=[jump_errors(r.student, r.oracle, ref.x_T) for r in runs])


def plot(result: Result, ax=None):
    """K-jump error vs K, per-level error vs the per-segment optimum, per-jump errors (3 axes)."""
    if ax is None:
        fig, ax = plt.subplots(1, 3, figsize=(17, 5.2))
    a1, a2, a3 = ax
    fig = a1.figure
    r = result
    K = r.Ks
    cols = plt.get_cmap("tab10")([0, 4, 2, 3, 5])
    a1.semilogy(K, r.err, "o-", c="tab:blue", label="trained students")
    a1.semilogy(K, r.err_oracle, "s--", c="tab:orange", label="exact per-segment optimum")
    for j, k in enumerate(K):
        a1.annotate(f"{r.same_basin[j]:.0%} on the exact\ndata point", (k, r.err[j]),
                    textcoords="offset points", xytext=(6, 4), fontsize=7)
    a1.set_xticks(K, [str(int(k)) for k in K])
    a1.set_xlim(K.min() - 0.3, K.max() + 1.2)
    a1.set_xlabel("boundaries K (= network evaluations)")
    a1.set_ylabel(r"median |K-jump sample - exact ODE state at $\sigma_{min}$|")
    a1.set_title("K-jump sampling, same $x_T$")
    a1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=8, ncol=2)
    s = r.level_sigma
    for j, k in enumerate(K):
        a2.loglog(s, r.level_error[j], "o-", c=cols[j],
                  label=f"K = {k} ({r.runs[j].config.param})")
        for bb in r.boundaries[j][1:]:
            a2.axvline(bb, c=cols[j], ls=":", lw=1)
    a2.set_xlabel(r"noise level $\sigma$ (dotted: boundaries)")
    a2.set_ylabel(r"median $|f(x, \sigma) - f^*_K(x, \sigma)|$")
    a2.set_title("Each student vs its per-segment optimum")
    a2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=8, ncol=3)
    w = 0.8 / len(K)
    floor = 1e-4
    for j, k in enumerate(K):
        e = r.jump_error[j]
        pos = np.arange(e.size) + (j - (len(K) - 1) / 2) * w
        a3.bar(pos, np.maximum(e, floor), w, color=cols[j],
               label=f"K = {k}: all jumps {r.err_to_oracle[j]:.3f}")
    a3.set_yscale("log")
    a3.set_ylim(floor, 1)
    kmax = int(K.max())
    a3.set_xticks(range(kmax), [f"jump to $b_{i}$" for i in range(kmax)])
    a3.set_ylabel(f"median error of the final sample (floor {floor:g})")
    a3.set_title("Only jump k by the student (the rest exact)")
    a3.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=8, ncol=3,
              title="vs the optimum's K-jump sample", title_fontsize=8)
    t = r.config.cd.train
    fig.suptitle(f"Multi-boundary CD on {r.config.cd.data}: each student {t.steps} steps x "
                 f"batch {t.batch}, N = {r.config.cd.N} {r.config.cd.solver} grid")
    fig.tight_layout()
    return fig


#: the MBCD students of the summary table: those of the default Config (the figure
#: ``mbcd_vs_K`` and notebook 04 show the same students; K = 1 is the CD row)
SUMMARY = Config(Ks=(2, 4))


def summary_config(data: str = "clusters") -> Config:
    """The Config of the summary table's MBCD students on ``data``: :data:`SUMMARY` around the
    CD student of :func:`.cd.student_vs_optimum.summary_config` (the digit sets' own network
    and training)."""
    return replace(SUMMARY, cd=student_vs_optimum.summary_config(data))


def summary_rows(result: Result) -> list:
    """Summary rows of ``result``, one per K (NFE = K; K = 1 is the CD row); the optimum is the
    per-segment :class:`~ideal_diffusion.distill.optima.ConsistencyOracle` sampled by the same
    K jumps."""
    r = result
    rows = []
    for j, K in enumerate(r.Ks):
        c = r.runs[j].config
        t = c.train
        rows.append(common.SummaryRow(
            c.data, c.label, int(K),
            int(r.teacher_evals[j]), float(r.err[j]),
            float(r.err_oracle[j]), float(r.err_to_oracle[j]), float(r.same_basin[j]),
            f"MLP {c.hidden}x{c.depth} ({c.param}), {t.steps} steps x batch {t.batch}, "
            f"mu {t.ema}; N={c.N} {c.solver} grid; {c.n_test} noises",
            samples=r.runs[j].sample, optimum_samples=r.runs[j].sample_oracle))
    return rows


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("mbcd_vs_K",
                "3. Multiboundary CD: multi-boundary CD: each student approaches its "
                "per-segment optimum; K-jump error against the exact ODE vs K, student and "
                "exact optimum",
                lambda: plot(run(Config())), group="cd"),
)
