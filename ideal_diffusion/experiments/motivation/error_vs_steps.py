"""What curved trajectories cost: error vs NFE per solver, few-step Heun with the exact D vs a
trained student (slide "1. Why Diffusion Models are slow? (low capacity? solver error?)")."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from ...data import DeltaMixture, GaussianMixture
from ...denoiser import IdealDenoiser
from ...geometry import fit_order
from ...schedules import SIGMA_MAX, SIGMA_MIN, sampling_grid
from ...solvers import nfe, sample
from .. import _checks as check
from .._cache import cached
from .._figure import SlideFigure
from ..common import (
    ideal_denoiser,
    measure,
    noise,
    reference,
)
from . import denoiser_student
from ._shared import (
    COLORS,
    LABELS,
    NFE_RULE,
    _box,
    _clipped,
    _figure,
)


def gaussian_path(x_T, sigma, mu, std, sigma_T: float = SIGMA_MAX) -> np.ndarray:
    """The exact PF-ODE state of N(mu, std^2 I) at ``sigma`` from ``x_T`` at ``sigma_T``.

    D(x, sigma) = mu + std^2 (x - mu) / (std^2 + sigma^2), so dx/dsigma = sigma (x - mu) /
    (std^2 + sigma^2) and x(sigma) = mu + (x_T - mu) sqrt(std^2 + sigma^2) / sqrt(std^2 +
    sigma_T^2): a straight ray towards mu, travelled at a speed that is not constant.
    """
    x_T = np.asarray(x_T, dtype=np.float64)
    return mu + (x_T - mu) * np.sqrt(std ** 2 + sigma ** 2) / np.sqrt(std ** 2 + sigma_T ** 2)


@dataclass(frozen=True)
class Config:
    """Error against the exact ODE state at sigma_min vs NFE: curvature, not speed.

    Three data sets separate the two: a single point (straight path at constant speed: every
    solver is exact, error 0 to rounding), a single Gaussian (straight path, speed not
    constant: Euler already has an order-1 error) and a delta mixture (curved paths). Measured
    at sigma_min, the mixture's error need not be larger than the Gaussian's (the figure and
    notebook 01 print the values): near sigma_min its paths run straight into the data points
    and contract, so what few steps cost there is the basin (which point the sample lands on)
    and the blur (``steps_comparison``).

    Few-step Heun with the exact D. Heun's corrector evaluates D at the end of each step; on a
    1- or 2-step grid that end is sigma_min = 0.002, right after a huge predictor step that
    left x' near an average of the data. There the exact D is nearly discontinuous -- D(x',
    0.002) is, to many digits, the nearest data point -- so the corrector slope
    (x' - D(x', sigma))/sigma is about distance/sigma, hundreds of times the distance at
    0.002, and the trapezoid throws the sample far away. That is the exact D's
    near-discontinuity, not the solver: with the smooth trained student D_theta (whose EDM form
    D = c_skip x + c_out F keeps the slope of the order of F) or a single Gaussian, the same
    grids give errors bounded by the noise scale (about |x_T|/2 at one step, where the
    trapezoid averages the slope at 80 with the one at 0.002: poor, but not a blow-up).

    Attributes
    ----------
    steps : tuple of int -- solver steps n
    solvers : tuple of str
    mixture : str -- data set of the mixture (its reference: :func:`.common.reference`)
    n_ref : int -- noises of the mixture's reference
    ref_seed : int
    gaussian_std : float -- std of N(0, std^2 I); its exact state is :func:`gaussian_path`
    point : (float, float) -- the single point
    n_noises : int -- noises of the single point and Gaussian
    seed : int
    fit_min_steps : int -- orders are fitted on n >= this
    y_clip : float -- errors above are drawn at the clip (with their values written)
    floor : float -- where the single point's errors (0 to rounding) are drawn
    student : denoiser_student.Config -- the smooth D_theta run with Heun beside the exact D
    student_steps : tuple of int
    """

    steps: tuple = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
    solvers: tuple = ("euler", "heun", "dpmpp_2m")
    mixture: str = "clusters"
    n_ref: int = 400
    ref_seed: int = 2024
    gaussian_std: float = 0.5
    point: tuple = (1.0, 0.0)
    n_noises: int = 400
    seed: int = 10
    fit_min_steps: int = 16
    y_clip: float = 100.0
    floor: float = 1e-6
    student: denoiser_student.Config = denoiser_student.Config()
    student_steps: tuple = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)

    def __post_init__(self):
        check.integers(self, "steps", 1)
        check.choices(self, "solvers", check.SOLVERS)
        check.choice(self, "mixture", check.PLANE_SETS)
        check.integer(self, "n_ref", 1)
        check.integer(self, "ref_seed", 0)
        check.real(self, "gaussian_std", 0.0, lo_open=True)
        check.reals(self, "point", min_len=2, max_len=2)
        check.integer(self, "n_noises", 1)
        check.integer(self, "seed", 0)
        check.integer(self, "fit_min_steps", 1)
        check.require(self, len({n for n in self.steps if n >= self.fit_min_steps}) >= 2,
                      "fit_min_steps", "at most the second largest of steps (orders are "
                      "fitted on two or more step counts)")
        check.real(self, "y_clip", 0.0, lo_open=True)
        check.real(self, "floor", 0.0, lo_open=True)
        check.instance(self, "student", denoiser_student.Config)
        check.integers(self, "student_steps", 1)


@dataclass(frozen=True, eq=False)
class Result:
    """Median |x_n - x_exact(sigma_min)| per solver (K) and step count (S).

    Attributes
    ----------
    config : Config
    nfe : (K, S) int
    point_err_max : (K, S) -- single point, the max over the noises (0 to rounding)
    gauss_err : (K, S) -- single Gaussian, median
    mix_err : (K, S) -- mixture, median
    mix_same : (K, S) -- mixture, fraction with the exact state's nearest point
    gauss_order, mix_order : (K,) -- fitted orders (-slope of log median error vs log n)
    student_nfe : (S2,) -- Heun's NFE at ``student_steps``
    heun_exact_err : (S2,) -- Heun with the exact D, mixture (= mix_err at those steps)
    heun_student_err : (S2,) -- Heun with the student D_theta, against the same exact states
    heun_gauss_err : (S2,) -- Heun on the single Gaussian
    corrector_slope : (S2,) -- median |(x' - D(x', sigma_1)) / sigma_1| of Heun's last
        corrector with the exact D (sigma_1 = sigma_min): the near-discontinuity it meets
    student_slope : (S2,) -- the same with the student
    """

    config: Config
    nfe: np.ndarray
    point_err_max: np.ndarray
    gauss_err: np.ndarray
    mix_err: np.ndarray
    mix_same: np.ndarray
    gauss_order: np.ndarray
    mix_order: np.ndarray
    student_nfe: np.ndarray
    heun_exact_err: np.ndarray
    heun_student_err: np.ndarray
    heun_gauss_err: np.ndarray
    corrector_slope: np.ndarray
    student_slope: np.ndarray


def _last_corrector_slope(den, x_T, grid):
    """Median |(x' - D(x', s_n)) / s_n| at Heun's last corrector (x' its Euler predictor)."""
    x = sample(den, x_T, grid[:-1], "heun") if grid.size > 2 else x_T
    s, t = float(grid[-2]), float(grid[-1])
    xp = x + (t - s) * (x - den(x, s)) / s
    return float(np.median(np.linalg.norm((xp - den(xp, t)) / t, axis=1)))


@cached
def run(cfg: Config = Config()) -> Result:
    ref = reference(cfg.mixture, cfg.n_ref, cfg.ref_seed)
    mix = ideal_denoiser(cfg.mixture)
    gauss = IdealDenoiser(GaussianMixture(np.zeros((1, 2)), cfg.gaussian_std ** 2))
    point = IdealDenoiser(DeltaMixture(np.array([cfg.point])))
    x_T = noise(2, cfg.n_noises, cfg.seed)
    g_exact = gaussian_path(x_T, SIGMA_MIN, 0.0, cfg.gaussian_std)
    p_exact = np.asarray(cfg.point) + (x_T - np.asarray(cfg.point)) * SIGMA_MIN / SIGMA_MAX
    K, S = len(cfg.solvers), len(cfg.steps)
    n_fe = np.empty((K, S), dtype=int)
    p_err, g_err, m_err, m_same = (np.empty((K, S)) for _ in range(4))
    for j, n in enumerate(cfg.steps):
        grid = sampling_grid(n)
        for k, solver in enumerate(cfg.solvers):
            n_fe[k, j] = nfe(solver, grid)
            p_err[k, j] = np.linalg.norm(sample(point, x_T, grid, solver) - p_exact,
                                         axis=1).max()
            g_err[k, j] = np.median(np.linalg.norm(sample(gauss, x_T, grid, solver) - g_exact,
                                                   axis=1))
            m = measure(sample(mix, ref.x_T, grid, solver), ref)
            m_err[k, j], m_same[k, j] = m.err_median, m.same_basin
    fit = np.asarray(cfg.steps) >= cfg.fit_min_steps
    st = np.asarray(cfg.steps)
    g_ord = np.array([-fit_order(st[fit], g_err[k, fit]) for k in range(K)])
    m_ord = np.array([-fit_order(st[fit], m_err[k, fit]) for k in range(K)])

    student = denoiser_student.run(cfg.student).student
    s_nfe, h_ex, h_st, h_g, slope_ex, slope_st = ([] for _ in range(6))
    for n in cfg.student_steps:
        grid = sampling_grid(n)
        s_nfe.append(nfe("heun", grid))
        h_ex.append(measure(sample(mix, ref.x_T, grid, "heun"), ref).err_median)
        h_st.append(measure(sample(student, ref.x_T, grid, "heun"), ref).err_median)
        h_g.append(np.median(np.linalg.norm(sample(gauss, x_T, grid, "heun") - g_exact,
                                            axis=1)))
        slope_ex.append(_last_corrector_slope(mix, ref.x_T, grid))
        slope_st.append(_last_corrector_slope(student, ref.x_T, grid))
    return Result(
        config=cfg, nfe=n_fe, point_err_max=p_err, gauss_err=g_err, mix_err=m_err, mix_same=m_same,
        gauss_order=g_ord, mix_order=m_ord, student_nfe=np.array(s_nfe),
        heun_exact_err=np.array(h_ex), heun_student_err=np.array(h_st),
        heun_gauss_err=np.array(h_g), corrector_slope=np.array(slope_ex),
        student_slope=np.array(slope_st))




def plot(result: Result, ax=None):
    """(a) Euler on the three data sets; (b) the mixture, every solver; (c) Heun: exact D vs
    the student. x: NFE. Errors above ``y_clip`` are drawn at the clip (open triangles) and
    their values written beside them.
    """
    cfg, r = result.config, result
    fig, (a1, a2, a3) = _figure(ax, 3, figsize=(17, 5.3), sharey=True)
    clip, floor = cfg.y_clip, cfg.floor
    e = cfg.solvers.index("euler") if "euler" in cfg.solvers else 0
    # (a) curvature vs speed, Euler
    j4 = int(np.argmin(np.abs(r.nfe[e] - 4)))
    j32 = int(np.argmin(np.abs(r.nfe[e] - 32)))
    a1.loglog(r.nfe[e], r.mix_err[e], "o-", ms=4, color="tab:red",
              label=f"{cfg.mixture}: curved paths (order {r.mix_order[e]:.2f})")
    a1.loglog(r.nfe[e], r.gauss_err[e], "s-", ms=4, color="tab:purple",
              label=f"single Gaussian: straight, varying speed (order {r.gauss_order[e]:.2f})")
    a1.loglog(r.nfe[e], np.full(r.nfe.shape[1], floor), "D", ms=5, color="k", mfc="white",
              label=f"single point: straight, constant speed (drawn at {floor:g})")
    _box(a1, 0.97, 0.97, f"single point: Euler exact, max error {r.point_err_max[e].max():.0e}"
         f"\nNFE {r.nfe[e, j4]}: Gaussian {r.gauss_err[e, j4]:.2f}, {cfg.mixture} "
         f"{r.mix_err[e, j4]:.2f}\n{cfg.mixture}, same nearest point as the exact state:\n"
         f"{r.mix_same[e, j4]:.0%} at NFE {r.nfe[e, j4]}, {r.mix_same[e, j32]:.0%} at NFE "
         f"{r.nfe[e, j32]} (paths contract onto\nthe points near $\\sigma_{{min}}$: a basin "
         "error, not a drift)", ha="right", va="top")
    a1.set_title("Euler is exact only at constant velocity", fontsize=11)
    a1.set_ylabel("median $|x_n - x_{ODE}(\\sigma_{min})|$")
    # (b) the mixture, every solver
    for k, solver in enumerate(cfg.solvers):
        _clipped(a2, r.nfe[k], r.mix_err[k], clip, COLORS[solver], marker="o", ms=4,
                 label=f"{LABELS[solver]} ({NFE_RULE[solver]}): order {r.mix_order[k]:.2f}")
        if solver == "heun":
            over = np.flatnonzero(r.mix_err[k] > clip)
            if over.size:
                vals = ", ".join(f"{r.mix_err[k, j]:.2g}" for j in over)
                nf = ", ".join(str(r.nfe[k, j]) for j in over)
                a2.annotate(f"Heun off the scale:\n{vals} at NFE {nf}",
                            (r.nfe[k, over[-1]], clip), xytext=(12, -32),
                            textcoords="offset points", fontsize=8.5, color=COLORS[solver],
                            arrowprops=dict(arrowstyle="->", color=COLORS[solver]))
    a2.set_title(f"{cfg.mixture}: every solver (orders fitted for n $\\geq$ "
                 f"{cfg.fit_min_steps})", fontsize=11)
    # (c) Heun: the exact D's near-discontinuity, not the solver
    _clipped(a3, r.student_nfe, r.heun_exact_err, clip, COLORS["heun"], marker="o", ms=4,
             label="Heun, exact $D$")
    a3.loglog(r.student_nfe, r.heun_student_err, "s--", ms=4, color="tab:brown",
              label="Heun, trained student $D_\\theta$ (smooth; floor: $D_\\theta \\neq D$)")
    a3.loglog(r.student_nfe, r.heun_gauss_err, "^:", ms=4, color="tab:purple",
              label="Heun, single Gaussian")
    _box(a3, 0.97, 0.97, f"1 step: the corrector's slope $|x' - D(x', \\sigma_{{min}})|/"
         f"\\sigma_{{min}}$ is\n{r.corrector_slope[0]:.0f} with the exact $D$ (~ the nearest "
         f"point: distance/0.002),\n{r.student_slope[0]:.1f} with $D_\\theta$. Heun at NFE "
         f"{r.student_nfe[0]}: exact $D$ {r.heun_exact_err[0]:.1e},\n$D_\\theta$ "
         f"{r.heun_student_err[0]:.0f}, Gaussian {r.heun_gauss_err[0]:.0f} (about $|x_T|/2$: "
         "poor, bounded)", ha="right", va="top")
    a3.set_title(f"Few-step Heun on {cfg.mixture}: exact $D$ vs a smooth $D_\\theta$",
                 fontsize=11)
    lo = floor / 3
    ticks = [t for t in (1, 2, 4, 8, 16, 32, 64, 128, 256) if t <= r.nfe.max()]
    for a in (a1, a2, a3):
        a.set_xscale("log")
        a.set_yscale("log")
        a.set_xticks(ticks, [str(t) for t in ticks])
        a.xaxis.set_minor_formatter(plt.NullFormatter())
        a.set_ylim(lo, clip * 40)
        a.axhline(clip, color="0.5", lw=0.8, ls="--")
        a.set_xlabel("denoiser evaluations (NFE)")
        a.grid(True, which="major", alpha=0.3)
        a.legend(fontsize=8, loc="lower left")
    a1.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 0.06))
    if ax is None:
        fig.suptitle("Error against the exact ODE state at $\\sigma_{min}$ = 0.002 vs NFE "
                     f"(Karras grid from $\\sigma$ = 80; {cfg.n_ref} noises; errors above "
                     f"{clip:g} drawn at the dashed line)", fontsize=12)
        fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- slide figures

FIGURES = (
    SlideFigure("error_vs_steps", "1. Why Diffusion Models are slow? (low capacity? solver "
                "error?): error vs NFE for a point, a Gaussian and a mixture; few-step Heun with "
                "the exact D and with a trained student",
                lambda: plot(run(Config())), group="motivation"),
)
