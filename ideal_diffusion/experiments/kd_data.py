"""KD's data hunger, measured (lecture slide "Summary": KD "requires a lot of synthetic
samples"): a learning curve of the one-step KD student, error against the number of teacher
pairs, at two network sizes.

Every student is trained exactly as in :mod:`.kd` (same teacher, same inputs
x_T = x0 + 80 eps, same optimiser and number of training steps); only the number of pairs and
the network size change. The pair sets are nested: the first n of one draw of
``max(n_pairs)`` pairs. Each pair costs one full teacher solve (``nfe`` evaluations), so the
x-axis is also the data-collection cost. Errors are against the exact ODE state at sigma_min
of held-out noises (:func:`.common.reference`); comparisons are paired per noise with a 95%
bootstrap CI (:func:`~ideal_diffusion.metrics.paired_bootstrap`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import matplotlib.pyplot as plt
import numpy as np

from ..distill.kd import collect_pairs, noisy_pairs, train_kd
from ..metrics import paired_bootstrap
from ..nn import TrainConfig
from ..schedules import SIGMA_MAX, sampling_grid
from ..solvers import sample
from . import _checks as check
from . import common, kd
from ._cache import cached
from ._figure import SlideFigure

__all__ = ["Config", "Result", "plot", "run"]


@dataclass(frozen=True)
class Config:
    """Attributes
    ----------
    data : str -- a 2-D :func:`~.common.dataset` name ("clusters" or "ring")
    solver, steps : the teacher (as :class:`.kd.Config`'s many-step teacher)
    n_pairs : tuple of int, ascending -- training set sizes (nested subsets of one draw)
    pair_seed : int
    nets : tuple of (hidden, depth) -- the two (or more) network sizes
    sigma_data : float -- EDM preconditioning constant
    train : TrainConfig -- the same for every student (the same number of steps)
    n_test, test_seed : held-out noises
    n_boot, boot_seed : paired bootstrap
    """

    data: str = "clusters"
    solver: str = "heun"
    steps: int = 50
    n_pairs: tuple = (256, 512, 1024, 2048, 4096, 8192)
    pair_seed: int = 0
    nets: tuple = ((16, 2), (64, 3))
    sigma_data: float = 0.5
    train: TrainConfig = kd.Config().train  # the KD students' (one student per name)
    n_test: int = 400
    test_seed: int = 2024
    n_boot: int = 2000
    boot_seed: int = 0

    def __post_init__(self):
        check.choice(self, "data", ("clusters", "ring"))
        check.solver(self, "solver")
        check.integer(self, "steps", 1)
        check.integers(self, "n_pairs", 2, min_len=2)
        check.require(self, list(self.n_pairs) == sorted(set(self.n_pairs)), "n_pairs",
                      "strictly ascending")
        check.instance(self, "nets", tuple)
        check.require(self, len(self.nets) >= 1 and all(
            isinstance(net, tuple) and len(net) == 2
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1
                    for v in net) for net in self.nets),
            "nets", "a non-empty tuple of (hidden, depth) pairs of integers >= 1")
        check.real(self, "sigma_data", 0.0, lo_open=True)
        check.instance(self, "train", TrainConfig)
        check.integer(self, "n_test", 2)
        check.integer(self, "n_boot", 100)
        for name in ("pair_seed", "test_seed", "boot_seed"):
            check.integer(self, name, 0)


@dataclass(frozen=True, eq=False)
class Result:
    """Learning curves; arrays are (K nets, P pair counts).

    Attributes
    ----------
    config : Config
    nfe : int -- teacher evaluations per pair
    teacher_evals : (P,) int -- evaluations spent on each training set
    err : (K, P) -- median |student - exact state at sigma_min|
    same_basin : (K, P)
    err_to_teacher : (K, P) -- median |student - teacher map| (the training error)
    teacher_err : float -- the teacher map's own median error (the method error)
    errors : (K, P, n_test) -- per-noise errors (for paired comparisons)
    more_data : tuple of K PairedComparison -- largest vs smallest n_pairs, per net
        (negative diff: more pairs is closer)
    bigger_net : tuple of P PairedComparison -- last net vs first net, per n_pairs
    vs_most : tuple of K tuples of P PairedComparison -- each n_pairs vs the largest, per net
        (positive diff: fewer pairs is farther)
    """

    config: Config
    nfe: int
    teacher_evals: np.ndarray
    err: np.ndarray
    same_basin: np.ndarray
    err_to_teacher: np.ndarray
    teacher_err: float
    errors: np.ndarray
    more_data: tuple
    bigger_net: tuple
    vs_most: tuple

    def net_label(self, k: int) -> str:
        h, d = self.config.nets[k]
        return f"MLP {h} wide x {d} deep"

    def explain(self) -> str:
        """What the curves show on this data, every number and verdict from the run."""
        cfg = self.config
        lo, hi = cfg.n_pairs[0], cfg.n_pairs[-1]
        parts = [f"On {cfg.data}, with the {cfg.solver} {cfg.steps}-step teacher "
                 f"(NFE {self.nfe} per pair; its own error {self.teacher_err:.3g}):"]
        for k, c in enumerate(self.more_data):
            parts.append(
                f"the {self.net_label(k)} trained on {hi:,} pairs ({self.err[k, -1]:.3g}) "
                f"{c.verdict} the same net on {lo:,} pairs ({self.err[k, 0]:.3g}; paired "
                f"difference {c.diff:+.3g}, 95% CI [{c.lo:+.3g}, {c.hi:+.3g}]);")
        b = self.bigger_net[-1]
        parts.append(
            f"at {hi:,} pairs the {self.net_label(len(cfg.nets) - 1)} {b.verdict} the "
            f"{self.net_label(0)} (difference {b.diff:+.3g}, CI [{b.lo:+.3g}, {b.hi:+.3g}]).")
        for k in range(len(cfg.nets)):
            by = {v: [f"{n:,}" for n, c in zip(cfg.n_pairs[:-1], self.vs_most[k][:-1])
                      if c.verdict == v] for v in ("loses to", "ties with", "beats")}
            if not by["ties with"] and not by["beats"]:
                parts.append(f"The {self.net_label(k)} keeps improving: with any fewer pairs "
                             f"it loses to itself at {hi:,}.")
            else:
                said = "; ".join(f"with {', '.join(ns)} pairs it {v} itself at {hi:,}"
                                 for v, ns in by.items() if ns)
                parts.append(f"The {self.net_label(k)}: {said} (a pair costs {self.nfe} "
                             "teacher evaluations).")
        parts.append("Every student's error is almost all training error (its distance to "
                     "the teacher map), not the teacher's own error."
                     if self.teacher_err < 0.1 * self.err.min() else
                     "The teacher's own error is a visible part of the students' error.")
        return " ".join(parts)


@cached
def run(cfg: Config = Config()) -> Result:
    """Train one KD student per (net, n_pairs) and measure it (cached on ``cfg``)."""
    den = common.ideal_denoiser(cfg.data)
    x_T, _ = noisy_pairs(common.dataset(cfg.data), cfg.n_pairs[-1], SIGMA_MAX, cfg.pair_seed)
    grid = sampling_grid(cfg.steps)
    full = collect_pairs(den, x_T, grid, cfg.solver)
    ref = common.reference(cfg.data, cfg.n_test, cfg.test_seed)
    teach_ref = sample(den, ref.x_T, grid, cfg.solver)
    teacher = common.measure(teach_ref, ref)
    K, P = len(cfg.nets), len(cfg.n_pairs)
    err, basin, follow = (np.empty((K, P)) for _ in range(3))
    errors = np.empty((K, P, cfg.n_test))
    evals = np.empty(P, dtype=int)
    for j, n in enumerate(cfg.n_pairs):
        pairs = replace(full, x_T=full.x_T[:n], target=full.target[:n],
                        teacher_evals=full.nfe_per_sample * n)
        evals[j] = pairs.teacher_evals
        for k, (hidden, depth) in enumerate(cfg.nets):
            student = train_kd(pairs, cfg.train, hidden=hidden, depth=depth,
                               sigma_data=cfg.sigma_data)
            out = student(ref.x_T)
            m = common.measure(out, ref)
            err[k, j], basin[k, j], errors[k, j] = m.err_median, m.same_basin, m.errors
            follow[k, j] = np.median(np.linalg.norm(out - teach_ref, axis=1))
    more = tuple(paired_bootstrap(errors[k, -1], errors[k, 0], cfg.n_boot, cfg.boot_seed + k)
                 for k in range(K))
    bigger = tuple(paired_bootstrap(errors[-1, j], errors[0, j], cfg.n_boot,
                                    cfg.boot_seed + K + j) for j in range(P))
    most = tuple(tuple(paired_bootstrap(errors[k, j], errors[k, -1], cfg.n_boot,
                                        cfg.boot_seed + K + P + k * P + j) for j in range(P))
                 for k in range(K))
    return Result(config=cfg, nfe=int(full.nfe_per_sample), teacher_evals=evals, err=err,
                  same_basin=basin, err_to_teacher=follow, teacher_err=teacher.err_median,
                  errors=errors, more_data=more, bigger_net=bigger, vs_most=most)


def plot(result: Result, fig=None):
    """Left: error vs number of pairs (log-log), one curve per net, with the teacher's error.
    Right: the distance to the teacher map (training error) and same-basin fraction."""
    cfg, r = result.config, result
    if fig is None:
        fig = plt.figure(figsize=(12, 4.4))
    a1, a2 = fig.subplots(1, 2)
    n = np.asarray(cfg.n_pairs)
    for k in range(len(cfg.nets)):
        a1.loglog(n, r.err[k], "o-", label=f"{r.net_label(k)}: vs exact state")
        a2.loglog(n, r.err_to_teacher[k], "s--", label=f"{r.net_label(k)}")
    a1.axhline(r.teacher_err, color="k", lw=0.8, ls=":",
               label=f"teacher map itself ({cfg.solver} {cfg.steps} steps)")
    for a in (a1, a2):
        a.set_xticks(n, [f"{v:,}" for v in n])
        a.xaxis.set_minor_formatter(plt.NullFormatter())
        a.set_xlabel(f"KD pairs (x {r.nfe} teacher evaluations each)")
        a.legend(fontsize=8)
    a1.set_ylabel("median $|f_\\phi(x_T) - x_{ODE}(\\sigma_{min})|$")
    c = r.more_data
    a1.set_title(f"{cfg.data}: {n[-1]:,} vs {n[0]:,} pairs: "
                 + "; ".join(f"{x.verdict} ({x.lo:+.2g}..{x.hi:+.2g})" for x in c),
                 fontsize=9)
    a2.set_ylabel("median $|f_\\phi(x_T) - $ teacher map$|$ (training error)")
    a2.set_title(f"same training ({cfg.train.steps} steps, batch {cfg.train.batch}) for "
                 "every point", fontsize=9)
    fig.suptitle(f"KD's data hunger: one-step students vs the number of teacher pairs "
                 f"({cfg.n_test} held-out noises)", fontsize=11)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("kd_data_hunger",
                "Summary: KD \"requires a lot of synthetic samples\": the one-step student's "
                "error vs the number of teacher pairs, at two network sizes",
                lambda: plot(run(Config()))),
)
