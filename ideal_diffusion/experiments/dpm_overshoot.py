"""Why few-step DPM-Solver++(2M) loses to Euler with the exact D, and a switch that repairs it.

DPM-Solver++(2M) steps with an *extrapolated* denoiser value. With t = -log sigma, the step
from sigma_i to sigma_{i+1} (h_i = log sigma_i - log sigma_{i+1}) is

    x_{i+1} = (sigma_{i+1}/sigma_i) x_i + (1 - sigma_{i+1}/sigma_i) D_hat,
    D_hat = (1 + c_i) D_i - c_i D_{i-1},   c_i = h_i / (2 h_{i-1})

(k-diffusion's 1/(2r); the issue's (1 + r/2) D_i - (r/2) D_{i-1} with r = h_i / h_{i-1}).
D_hat is a linear extrapolation of D in t, exact when D changes smoothly. On a few-step
Karras grid the last step to sigma_min is the longest in log sigma (c >= about 0.8), and
sigma_min/sigma_{n-1} is tiny, so the sample is almost D_hat itself. The exact D of a delta
mixture is nearly a step function near sigma_min: between the last two evaluations it jumps
from an average (or one data point) to one data point. Extrapolating that jump throws the
sample **past** the data point by c times the jump: overshoot (on the digits, pixels beyond
[-1, 1]), not blur.

The switch ``last_first_order=True`` of :func:`~ideal_diffusion.solvers.sample` makes the last
step use D alone (first order; diffusers' ``lower_order_final``). :func:`run` measures, per
data set and step count n (NFE = n): the errors of Euler, DPM-Solver++(2M) and DPM-Solver++(2M)
with a first-order last step against the exact ODE state at sigma_min; the last step's
coefficient c; the jump |D_{n-1} - D_{n-2}| and how often it changes the nearest data point;
the overshoot |D_hat - D_{n-1}| = c |D_{n-1} - D_{n-2}|; the distance to the data and (images)
the out-of-range pixel fraction; and the paired-bootstrap CI of the switch's error change.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ..metrics import paired_bootstrap
from ..schedules import sampling_grid
from ..solvers import sample
from . import _checks as check
from ._cache import cached
from ._figure import SlideFigure
from .common import DATASETS, IMAGE_DATASETS, basin, ideal_denoiser, measure, reference

__all__ = ["Config", "DataRun", "Result", "last_coefficient", "plot", "run"]


def last_coefficient(steps: int) -> float:
    """c of DPM-Solver++(2M)'s last step on ``sampling_grid(steps)``: h_{n-1} / (2 h_{n-2}).

    Parameters
    ----------
    steps : int >= 2

    Returns
    -------
    float -- the weight of D_{n-1} - D_{n-2} in the extrapolated D_hat of the last step
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"steps must be an integer >= 2, got {steps!r}")
    ls = np.log(sampling_grid(int(steps)))
    return float((ls[-2] - ls[-1]) / (2 * (ls[-3] - ls[-2])))


@dataclass(frozen=True)
class Config:
    """Attributes
    ----------
    data : tuple of str -- :func:`~.common.dataset` names (delta mixtures: "clusters",
        "ring", "digits", "glyphs")
    steps : tuple of int >= 2 -- step counts n (NFE = n for all three samplers)
    n : int >= 2 -- held-out noises of :func:`~.common.reference`; seed : int -- their seed
    n_boot : int >= 100 -- paired-bootstrap resamples; boot_seed : int
    """

    data: tuple = ("clusters", "digits")
    steps: tuple = (2, 3, 4, 5, 6, 8)
    n: int = 400
    seed: int = 2024
    n_boot: int = 2000
    boot_seed: int = 0

    def __post_init__(self):
        check.choices(self, "data", tuple(x for x in DATASETS if x != "digits_gmm"))
        check.integers(self, "steps", 2)  # (a 1-step 2M is Euler)
        check.integer(self, "n", 2)
        check.integer(self, "seed", 0)
        check.integer(self, "n_boot", 100)
        check.integer(self, "boot_seed", 0)


@dataclass(frozen=True, eq=False)
class DataRun:
    """One data set; arrays over ``config.steps`` (S,).

    Attributes
    ----------
    data : str
    err_euler, err_2m, err_last1 : (S,) -- median |sample - exact state at sigma_min| of Euler,
        DPM-Solver++(2M), and 2M with a first-order last step
    quality_2m, quality_last1 : tuple of S :class:`~.common.Measurement`
    switch : tuple of S :class:`~ideal_diffusion.metrics.PairedComparison` -- errors of the
        switch minus those of plain 2M, paired per noise (negative: the switch is closer)
    coef : (S,) -- the last step's c = h_{n-1} / (2 h_{n-2})
    jump : (S,) -- median |D_{n-1} - D_{n-2}| (the last two denoiser values of 2M)
    jump_basin : (S,) -- fraction of noises whose D_{n-1} and D_{n-2} have different
        nearest data points (D jumps between data points late)
    overshoot : (S,) -- median |D_hat - D_{n-1}| = c |D_{n-1} - D_{n-2}|
    peak_2m, peak_last1 : (S,) -- median over noises of max_k |x_k| of the samples (images:
        above 1 is overshoot beyond the pixel range); peak_exact : float -- the same for the
        exact states
    """

    data: str
    err_euler: np.ndarray
    err_2m: np.ndarray
    err_last1: np.ndarray
    quality_2m: tuple
    quality_last1: tuple
    switch: tuple
    coef: np.ndarray
    jump: np.ndarray
    jump_basin: np.ndarray
    overshoot: np.ndarray
    peak_2m: np.ndarray
    peak_last1: np.ndarray
    peak_exact: float

    @property
    def is_image(self) -> bool:
        return self.data in IMAGE_DATASETS


@dataclass(frozen=True, eq=False)
class Result:
    """Attributes: config (Config); runs (dict data name -> DataRun)."""

    config: Config
    runs: dict

    def explain(self, data: str, steps: int | None = None) -> str:
        """Markdown sentences about ``data`` at ``steps`` (default: the step count where the
        switch changes the error most), every number from the run."""
        cfg, r = self.config, self.runs[data]
        if steps is None:
            k = int(np.argmax(r.err_2m - r.err_last1))
        elif steps in cfg.steps:
            k = cfg.steps.index(steps)
        else:
            raise ValueError(f"steps must be one of {cfg.steps}, got {steps!r}")
        n = cfg.steps[k]
        sw = r.switch[k]
        q2, q1 = r.quality_2m[k], r.quality_last1[k]
        txt = (f"On {data}, at NFE {n} plain DPM-Solver++(2M) is {r.err_2m[k]:.3g} from the "
               f"exact state against Euler's {r.err_euler[k]:.3g}. Its last step extrapolates "
               f"D with weight c = {r.coef[k]:.2f}: D jumps by a median {r.jump[k]:.3g} between "
               f"the last two evaluations (to another nearest data point for "
               f"{r.jump_basin[k]:.0%} of the noises), so D_hat lands a median "
               f"{r.overshoot[k]:.3g} beyond D. ")
        if r.is_image:
            txt += (f"The largest pixel magnitude of a sample (median over noises) is "
                    f"{r.peak_2m[k]:.2f} with the extrapolation, {r.peak_last1[k]:.2f} with a "
                    f"first-order last step and {r.peak_exact:.3f} for the exact states; pixels "
                    f"outside [-1, 1]: {q2.out_of_range:.0%} and {q1.out_of_range:.0%}. ")
        else:
            txt += (f"Median distance to the nearest data point: {q2.dist_to_data_median:.3g} "
                    f"with the extrapolation, {q1.dist_to_data_median:.3g} with a first-order "
                    f"last step. ")
        txt += (f"The first-order last step ({r.err_last1[k]:.3g}) {sw.verdict} plain 2M "
                f"(paired difference {sw.diff:+.3g}, 95% CI [{sw.lo:+.3g}, {sw.hi:+.3g}], "
                f"closer on {sw.win_rate:.0%} of {sw.n} noises).")
        return txt


def _one(data: str, cfg: Config) -> DataRun:
    den = ideal_denoiser(data)
    ref = reference(data, cfg.n, cfg.seed)
    S = len(cfg.steps)
    e_eu, e_2m, e_l1, coef, jump, jb, over, p2, p1 = (np.empty(S) for _ in range(9))
    peak = lambda x: float(np.median(np.abs(x).max(axis=1)))  # noqa: E731
    q2, q1, sw = [], [], []
    for j, n in enumerate(cfg.steps):
        grid = sampling_grid(n)
        x2, _, Ds = sample(den, ref.x_T, grid, "dpmpp_2m", return_trajectory=True)
        x1 = sample(den, ref.x_T, grid, "dpmpp_2m", last_first_order=True)
        xe = sample(den, ref.x_T, grid, "euler")
        m2, m1, me = measure(x2, ref), measure(x1, ref), measure(xe, ref)
        c = last_coefficient(n)
        dD = np.linalg.norm(Ds[-1] - Ds[-2], axis=1)
        e_eu[j], e_2m[j], e_l1[j] = me.err_median, m2.err_median, m1.err_median
        coef[j], jump[j], over[j] = c, np.median(dD), np.median(c * dD)
        jb[j] = np.mean(basin(data, Ds[-1]) != basin(data, Ds[-2]))
        p2[j], p1[j] = peak(x2), peak(x1)
        q2.append(m2)
        q1.append(m1)
        sw.append(paired_bootstrap(m1.errors, m2.errors, cfg.n_boot, cfg.boot_seed + j))
    return DataRun(data, e_eu, e_2m, e_l1, tuple(q2), tuple(q1), tuple(sw), coef, jump, jb,
                   over, p2, p1, peak(ref.x_exact))


@cached
def run(cfg: Config = Config()) -> Result:
    """Measure the three samplers on every data set of ``cfg`` (cached on ``cfg``)."""
    return Result(config=cfg, runs={d: _one(d, cfg) for d in cfg.data})


def plot(result: Result, fig=None):
    """Per data set (one row): error vs NFE of Euler, 2M and 2M with a first-order last step;
    the last step's jump |D_{n-1} - D_{n-2}| and overshoot c |D_{n-1} - D_{n-2}| with c."""
    cfg = result.config
    rows = len(cfg.data)
    if fig is None:
        fig = plt.figure(figsize=(12.5, 4.2 * rows))
    axes = np.asarray(fig.subplots(rows, 2, squeeze=False))
    st = np.asarray(cfg.steps)
    for (a1, a2), data in zip(axes, cfg.data):
        r = result.runs[data]
        a1.plot(st, r.err_euler, "o-", color="tab:blue", label="Euler")
        a1.plot(st, r.err_2m, "s-", color="tab:green", label="DPM-Solver++(2M)")
        a1.plot(st, r.err_last1, "^--", color="tab:olive",
                label="2M, first-order last step")
        for j, sw in enumerate(r.switch):
            if sw.verdict != "ties with":
                a1.annotate(sw.verdict.split()[0], (st[j], r.err_last1[j]), fontsize=7,
                            xytext=(0, -11), textcoords="offset points", ha="center",
                            color="tab:olive")
        a1.set_yscale("log")
        a1.set_xticks(st)
        a1.set_xlabel("NFE (= steps n)")
        a1.set_ylabel("median $|x_n - x_{ODE}(\\sigma_{min})|$")
        a1.set_title(f"{data}: error vs NFE (labels: switch vs 2M, paired 95% CI)",
                     fontsize=10)
        a1.legend(fontsize=8)
        a2.plot(st, r.jump, "o-", color="0.4", label="jump $|D_{n-1} - D_{n-2}|$")
        a2.plot(st, r.overshoot, "s-", color="tab:red",
                label="overshoot $|\\hat D - D_{n-1}| = c\\,|D_{n-1} - D_{n-2}|$")
        for j in range(st.size):
            a2.annotate(f"c={r.coef[j]:.2f}\n{r.jump_basin[j]:.0%}", (st[j], r.overshoot[j]),
                        fontsize=7, xytext=(0, 6), textcoords="offset points", ha="center")
        a2.set_xticks(st)
        a2.set_xlabel("NFE (= steps n)")
        a2.set_ylabel("median distance")
        a2.set_title(f"{data}: the last step (labels: c; share of noises whose D changes "
                     "point)", fontsize=9)
        a2.legend(fontsize=8)
    fig.suptitle("Few-step DPM-Solver++(2M) with the exact $D$: the last step extrapolates a "
                 f"late jump of $D$ ({cfg.n} noises per data set)", fontsize=11)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("dpm_overshoot",
                "1. Why Diffusion Models are slow? (solver error?): few-step DPM-Solver++(2M) "
                "with the exact D extrapolates a late jump of D and overshoots; a first-order "
                "last step",
                lambda: plot(run(Config()))),
)
