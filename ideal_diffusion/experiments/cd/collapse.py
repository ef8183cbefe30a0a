"""CD without the boundary condition (lecture slide "What about optimal solution?": the trivial
solution f = 0 and the boundary condition f(x, s_1) = x), traced over training.

Two factors, crossed: the output (plain F_phi, no boundary condition; or the boundary
parameterisation, f(x, s_1) = x exactly) and an AdamW weight decay (on or off). Four runs with
the same seed and batches; the spread of the student's outputs across held-out inputs is traced
against the data's spread, so the figure shows which factor shrinks the outputs.
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
from .._figure import SlideFigure
from . import student_vs_optimum
from ._shared import C_STUDENT, heldout, train_student

__all__ = ["LABELS", "RUNS", "Config", "Result", "plot", "run", "verdict"]

#: run name -> (parameterisation, weight decay on?)
RUNS = {"plain": ("plain", True), "bc": ("consistency", True),
        "plain0": ("plain", False), "bc0": ("consistency", False)}
LABELS = {"plain": "no boundary cond., decay", "bc": "boundary cond., decay",
          "plain0": "no boundary cond., no decay", "bc0": "boundary cond., no decay"}


@dataclass(frozen=True)
class Config:
    """CD with and without the boundary condition, with and without weight decay.

    ``cd`` gives data, grid, solver and the network; ``train`` the runs' training (its
    ``weight_decay``, a pull of the weights towards 0 that the CD loss does not resist once
    outputs are consistent, applies to the ``plain`` and ``bc`` runs; ``plain0`` and ``bc0``
    have none). The output spread is traced every ``every`` steps on ``n`` held-out inputs per
    level of ``cd.levels``. A run whose final spread is below ``collapsed_below`` times the
    data's spread is called collapsed (the words of the titles).
    """

    cd: student_vs_optimum.Config = student_vs_optimum.Config(hidden=64)
    train: TrainConfig = TrainConfig(steps=1500, batch=64, lr=3e-3, warmup=100, ema=0.9,
                                     weight_decay=1.0)
    every: int = 50
    n: int = 200
    seed: int = 102
    sample_level: int = 1  # index into cd.levels of the level drawn as a scatter
    collapsed_below: float = 0.5

    def __post_init__(self):
        check.instance(self, "cd", student_vs_optimum.Config)
        check.instance(self, "train", TrainConfig)
        check.require(self, self.train.weight_decay > 0, "train",
                      "a TrainConfig with weight_decay > 0 (the decay runs need one)")
        check.integer(self, "every", 1)
        check.integer(self, "n", 1)
        check.integer(self, "seed", 0)
        check.integer(self, "sample_level", 0, len(self.cd.levels) - 1)
        check.real(self, "collapsed_below", 0.0, 1.0, lo_open=True, hi_open=True)


@dataclass(frozen=True, eq=False)
class Result:
    """Per run (keys of :data:`RUNS`; dict fields keyed by run):

    ``loss`` (steps,) training losses; ``trace`` (T,) median over levels of the RMS spread of
    f(x, sigma) across held-out x, at ``trace_steps`` (T,); ``spread`` (L,) final spread per
    level; ``err_optimum`` median |f - f*| pooled over levels; ``samples`` (n, d) outputs at
    ``samples_sigma`` on ``samples_input``. ``data_spread``: RMS spread of the data points
    (what a student tied to the data reproduces at small sigma).
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

    def trace_ratio(self, run: str) -> np.ndarray:
        """(T,) the traced spread / data spread."""
        return self.trace[run] / self.data_spread

    def collapsed(self) -> tuple:
        """The runs whose final spread is below ``config.collapsed_below`` of the data's."""
        return tuple(k for k in RUNS if self.ratio(k) < self.config.collapsed_below)

    def loss_turn(self, run: str, window: int = 50) -> tuple:
        """(step of the lowest running-mean loss, last window's mean / that lowest mean)."""
        h = self.loss[run]
        w = min(window, h.size)
        m = np.convolve(h, np.ones(w) / w, mode="valid")
        i = int(np.argmin(m))
        return i + w - 1, float(m[-1] / m[i])


def _rms_spread(y) -> float:
    return float(np.sqrt(np.mean(np.sum((y - y.mean(axis=0)) ** 2, axis=1))))


@cached
def run(cfg: Config = Config()) -> Result:
    """Four runs: {plain, boundary} x {decay, no decay}, same seed and batches."""
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
    for name, (param, decay) in RUNS.items():
        trace, t_steps = [], []

        def cb(i, model, _theta, param=param, trace=trace, t_steps=t_steps):
            b = None if param == "plain" else grid[0]
            trace.append(np.median([_rms_spread(model(x, s, b)) for x, s in zip(xs, levels)]))
            t_steps.append(i)

        wd = cfg.train.weight_decay if decay else 0.0
        res = train_student(den, data, grid, c.solver, None, cfg.train.replace(weight_decay=wd),
                            param=param, hidden=c.hidden, depth=c.depth, weighting=c.weighting,
                            callback=cb, callback_every=cfg.every)
        f = [res(x, s) for x, s in zip(xs, levels)]
        out["loss"][name] = res.history
        out["trace"][name] = np.array(trace)
        out["spread"][name] = np.array([_rms_spread(y) for y in f])
        out["err_optimum"][name] = float(np.median(np.linalg.norm(np.concatenate(f) - opt,
                                                                  axis=1)))
        out["samples"][name] = f[cfg.sample_level]
        steps_seen = t_steps
    k = cfg.sample_level
    return Result(config=cfg, level_sigma=grid[list(c.levels)],
                  trace_steps=np.array(steps_seen), loss=out["loss"], trace=out["trace"],
                  spread=out["spread"], err_optimum=out["err_optimum"], samples=out["samples"],
                  samples_input=xs[k], samples_sigma=float(grid[c.levels[k]]),
                  data_spread=_rms_spread(data.points), train_seconds=time.perf_counter() - t0)


def _names(runs) -> str:
    return "; ".join(LABELS[k] for k in runs) if runs else "none"


def verdict(result: Result) -> str:
    """One sentence from the measured final spreads: which runs collapsed."""
    r = result
    bad = r.collapsed()
    lim = r.config.collapsed_below
    if not bad:
        return f"no run ends below {lim:g} of the data's spread"
    return f"ends below {lim:g} of the data's spread: {_names(bad)}"


def _loss_title(r: Result) -> str:
    parts = []
    for k in RUNS:
        step, up = r.loss_turn(k)
        if up > 1.5:
            parts.append(f"{LABELS[k]}: lowest at step {step}, then x{up:.1f}")
    if not parts:
        return "The running-mean loss ends within x1.5 of its lowest in every run"
    return "Loss rises after its lowest point in\n" + "\n".join(parts)


STYLE = {"plain": ("tab:red", "-"), "plain0": ("tab:red", ":"),
         "bc": (C_STUDENT, "-"), "bc0": (C_STUDENT, ":")}


def plot(result: Result, ax=None):
    """Loss curves, the output spread over training, and the outputs at one level (3 axes)."""
    if ax is None:
        fig, ax = plt.subplots(1, 3, figsize=(17, 5.4))
    a1, a2, a3 = ax
    fig = a1.figure
    r = result
    wd = r.config.train.weight_decay
    data = common.dataset(r.config.cd.data)
    k = 50
    sm = lambda h: np.convolve(h, np.ones(k) / k, mode="valid")  # noqa: E731
    for run in RUNS:
        h = r.loss[run]
        c, ls = STYLE[run]
        a1.semilogy(np.arange(k - 1, h.size), sm(h), c=c, ls=ls, label=LABELS[run])
    a1.set_xlabel("training step")
    a1.set_ylabel(f"CD loss (running mean of {k})")
    a1.set_title(_loss_title(r), fontsize=9)
    a1.legend(fontsize=8, loc="lower left", title=f"decay = AdamW weight decay {wd:g}",
              title_fontsize=8)
    vals = np.concatenate([r.trace_ratio(run) for run in RUNS])
    for run in RUNS:
        c, ls = STYLE[run]
        a2.plot(r.trace_steps, r.trace_ratio(run), c=c, ls=ls, marker="o", ms=2.5,
                label=f"{LABELS[run]}: final {r.ratio(run):.2f}, "
                      f"{r.err_optimum[run]:.2f} from $f^*$")
    a2.axhline(1.0, c="k", ls="--", lw=0.8, label=f"the data's spread ({r.data_spread:.2f})")
    a2.axhline(r.config.collapsed_below, c="0.5", ls="-.", lw=0.8,
               label=f"collapse line ({r.config.collapsed_below:g})")
    a2.set_yscale("log")
    a2.set_ylim(min(vals.min(), r.config.collapsed_below) / 1.3, max(vals.max(), 1.0) * 1.3)
    a2.set_xlabel("training step")
    a2.set_ylabel(r"RMS spread of $f(x, \sigma)$ across $x$ / the data's" "\n"
                  rf"(median over {len(r.level_sigma)} levels $\sigma$)")
    a2.set_title("Output spread / data spread over training:\n" + verdict(r), fontsize=9)
    a2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              title=r"final spread ratio, median distance to the CD optimum $f^*$",
              title_fontsize=8)
    a3.scatter(*r.samples_input.T, s=5, c="0.8", label=r"inputs $x$ (noisy data)")
    for run in ("bc", "plain"):  # the decay runs; the no-decay runs are in the middle panel
        c, _ = STYLE[run]
        a3.scatter(*r.samples[run].T, s=7, c=c, alpha=0.5,
                   label=f"{LABELS[run]} ({r.ratio(run):.2f})")
    a3.scatter(*data.points.T, s=50, marker="x", c="k", label="data points")
    a3.set_aspect("equal")
    a3.set_xlabel("$x_1$")
    a3.set_ylabel("$x_2$")
    a3.set_title(rf"Outputs $f(x, \sigma = {r.samples_sigma:.2f})$ of the decay runs at the "
                 "end\n(final spread ratio)", fontsize=9)
    a3.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=8, ncol=2)
    fig.suptitle(f"CD on {r.config.cd.data}, with/without the boundary condition "
                 f"$f(x, s_1) = x$ and with/without weight decay: {r.config.train.steps} "
                 f"steps x batch {r.config.train.batch}, EMA target $\\mu$ = {r.config.train.ema}, "
                 "same seed and batches")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("cd_collapse",
                "3. What about optimal solution? (trivial solution, boundary condition): CD "
                "with/without the boundary condition f(x, s_1) = x and with/without weight "
                "decay: the spread of the student's outputs against the data's over training",
                lambda: plot(run(Config())), group="cd"),
)
