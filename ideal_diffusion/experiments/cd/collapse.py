"""CD without the boundary condition (lecture slide "What about optimal solution?": the trivial
solution f = 0 and the boundary condition f(x, s_1) = x), traced over training: plain and
boundary runs with weight decay, and a plain run without decay as the control.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np

from ...distill.optima import consistency_optimum, distill_grid
from ...nn import TrainConfig
from .. import _checks as check
from .. import common
from .._cache import cached
from . import student_vs_optimum
from ._shared import C_STUDENT, heldout, train_student

__all__ = ["RUNS", "Config", "Result", "plot", "run"]


@dataclass(frozen=True)
class Config:
    """CD with and without the boundary condition, same seed, batches and steps.

    ``cd`` gives data, grid, solver and the network; ``train`` the runs' training (its
    ``weight_decay``, a pull of the weights towards 0 that the CD loss does not resist once
    outputs are consistent, applies to the ``plain`` and ``bc`` runs; the ``plain0`` control
    has none). The output spread is traced every ``every`` steps on ``n`` held-out inputs per
    level of ``cd.levels``.
    """

    cd: student_vs_optimum.Config = student_vs_optimum.Config(hidden=128)
    train: TrainConfig = TrainConfig(steps=400, batch=256, lr=3e-3, warmup=100, ema=0.9,
                                     weight_decay=1.0)
    every: int = 25
    n: int = 200
    seed: int = 102
    sample_level: int = 1  # index into cd.levels of the level drawn as a scatter

    def __post_init__(self):
        check.instance(self, "cd", student_vs_optimum.Config)
        check.instance(self, "train", TrainConfig)
        check.integer(self, "every", 1)
        check.integer(self, "n", 1)
        check.integer(self, "seed", 0)
        check.integer(self, "sample_level", 0, len(self.cd.levels) - 1)


RUNS = ("plain", "bc", "plain0")


@dataclass(frozen=True, eq=False)
class Result:
    """Per run (``"plain"``, ``"bc"``, ``"plain0"``; dict fields keyed by run):

    ``loss`` (steps,) training losses; ``trace`` (T,) median over levels of the RMS spread of
    f(x, sigma) across held-out x, at ``trace_steps`` (T,); ``spread`` (L,) final spread per
    level; ``err_optimum`` median |f - f*| pooled over levels; ``samples`` (n, d) outputs at
    ``samples_sigma`` on ``samples_input``. ``data_spread``: RMS spread of the data.
    """

    config: Config
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
def run(cfg: Config = Config()) -> Result:
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
    return Result(config=cfg, level_sigma=grid[list(c.levels)],
                  trace_steps=np.array(steps_seen), loss=out["loss"], trace=out["trace"],
                  spread=out["spread"], err_optimum=out["err_optimum"], samples=out["samples"],
                  samples_input=xs[k], samples_sigma=float(grid[c.levels[k]]),
                  data_spread=_rms_spread(data.points), train_seconds=time.perf_counter() - t0)


def plot(result: Result, ax=None):
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
