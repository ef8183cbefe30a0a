"""Stochastic multistep consistency sampling (lecture slide "Sampling from CD"): the student
and its exact optimum, 1 .. max_steps evaluations."""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ...distill.sampling import default_taus, multistep_sample
from ...metrics import nearest_point
from .. import _checks as check
from .. import common
from .._cache import cached
from .._figure import SlideFigure
from . import student_vs_optimum
from ._shared import C_ORACLE, C_STUDENT

__all__ = ["Config", "Result", "plot", "run"]


@dataclass(frozen=True)
class Config:
    """Stochastic multistep sampling (1..max_steps evaluations) of the student of ``cd``."""

    cd: student_vs_optimum.Config = student_vs_optimum.Config()
    max_steps: int = 8
    seed: int = 104

    def __post_init__(self):
        check.instance(self, "cd", student_vs_optimum.Config)
        check.integer(self, "max_steps", 1, self.cd.N - 1)
        check.integer(self, "seed", 0)


@dataclass(frozen=True, eq=False)
class Result:
    """``steps`` (S,); per ``who`` in ("student", "oracle"): ``err`` (S,) median distance to
    the exact ODE state at sigma_min, ``same_basin`` (S,), ``dist_to_data`` (S,);
    ``err_to_oracle`` (S,) median |student sample - oracle sample| (same noise and draws);
    ``dist_rows`` per ``who``: (S, n) distance of each sample to its nearest training point (for
    paired comparisons between step counts)."""

    config: Config
    steps: np.ndarray
    err: dict
    same_basin: dict
    dist_to_data: dict
    err_to_oracle: np.ndarray
    dist_rows: dict = None


@cached
def run(cfg: Config = Config()) -> Result:
    r = student_vs_optimum.run(cfg.cd)
    ref = common.reference(cfg.cd.data, cfg.cd.n_test, cfg.cd.test_seed)
    steps = np.arange(1, cfg.max_steps + 1)
    fs = {"student": r.student, "oracle": r.oracle}
    err, basin, dist, rows = ({w: [] for w in fs} for _ in range(4))
    to_orc = []
    for k in steps:
        taus = default_taus(r.grid, int(k))
        x = {w: multistep_sample(f, ref.x_T, r.grid, taus, rng=cfg.seed) for w, f in fs.items()}
        for w in fs:
            m = common.measure(x[w], ref)
            err[w].append(m.err_median)
            basin[w].append(m.same_basin)
            dist[w].append(m.dist_to_data_median)
            rows[w].append(nearest_point(common.training_points(cfg.cd.data), x[w])[1])
        to_orc.append(np.median(np.linalg.norm(x["student"] - x["oracle"], axis=1)))
    arr = lambda d: {w: np.array(v) for w, v in d.items()}  # noqa: E731
    return Result(config=cfg, steps=steps, err=arr(err), same_basin=arr(basin),
                  dist_to_data=arr(dist), err_to_oracle=np.array(to_orc),
                  dist_rows=arr(rows))


def plot(result: Result, ax=None):
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(12, 4.6))
    a1, a2 = ax
    fig = a1.figure
    r = result
    st = r.steps
    who = f"trained {r.config.cd.label}"
    a1.semilogy(st, r.err["student"], "o-", c=C_STUDENT, label=f"{who}: vs exact ODE")
    a1.semilogy(st, r.err["oracle"], "s--", c=C_ORACLE, label="exact CD optimum: vs exact ODE")
    a1.semilogy(st, r.dist_to_data["student"], "o:", c=C_STUDENT, alpha=0.6,
                label=f"{who}: to nearest data point")
    a1.semilogy(st, r.dist_to_data["oracle"], "s:", c=C_ORACLE, alpha=0.6,
                label="exact CD optimum: to nearest data point")
    a1.set_xticks(st)
    a1.set_xlabel("sampling steps (= network evaluations)")
    a1.set_ylabel(r"median distance (state at $\sigma_{min}$)")
    a1.set_title("Re-noising sharpens the sample\nbut departs from the ODE map of $x_T$")
    a1.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    a2.plot(st, r.same_basin["student"], "o-", c=C_STUDENT, label=who)
    a2.plot(st, r.same_basin["oracle"], "s--", c=C_ORACLE, label="exact CD optimum")
    a2.set_ylim(0, 1.05)
    a2.set_xticks(st)
    a2.set_xlabel("sampling steps (= network evaluations)")
    a2.set_ylabel("fraction in the exact ODE state's basin")
    a2.set_title("Agreement with the ODE map of the same $x_T$")
    a2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("cd_multistep",
                "3. Sampling from CD: stochastic multistep consistency sampling: quality vs "
                "steps; re-noising departs from the ODE map",
                lambda: plot(run(Config())), group="cd"),
)
