"""The lecture's section 1 ("Why are diffusion models slow?") as experiments.

Each experiment is a frozen ``XxxConfig`` (every knob; the defaults are the slide figure's
settings), a cached ``run_xxx(cfg) -> XxxResult`` and a ``plot_xxx(result, ax=None)`` that
returns a matplotlib Figure (or draws on the axes it is given). ``figures/core.py`` and
``figures/students.py`` only call ``plot_xxx(run_xxx(XxxConfig()))``.

Convention (:mod:`.common`): an n-step sampler takes n steps on the descending Karras grid
``sampler_sigmas(n)`` from sigma_max = 80 to sigma_min = 0.002 (no trailing 0) and its sample is
the state at sigma_min; Euler and DPM-Solver++(2M) spend NFE = n denoiser evaluations, Heun
NFE = 2n. Errors are against the exact PF-ODE state at sigma_min of the same noise. The
sigma -> 0 limit of the ideal denoiser (the nearest data point) is never applied to a sample:
with it every averaged state would snap onto the data and the lecture's point -- few steps give
averaged, blurry samples -- would disappear.

=========================  ====================================================================
experiment                 slide (LECTURE_MAP title)
=========================  ====================================================================
steps_comparison           1. Motivation: "Diffusion Models are slow. Why?"
two_delta_averaging        1. Ideal diffusion model: "two delta functions"
few_step_two_deltas        1. Sampling from ideal diffusion model
image_denoiser_track       1. Sampling from ideal diffusion model: "What about images?"
curved_trajectories        1. DMs speed are limited!: "Diffusion has curved trajectories"
error_vs_steps             1. Why Diffusion Models are slow? (low capacity? solver error?)
denoiser_student_vs_ideal  1. Towards ideal approximation / 1. Ideal diffusion model
=========================  ====================================================================
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np

from ..data import DeltaMixture, GaussianMixture, two_points
from ..denoiser import IdealDenoiser
from ..geometry import chord_deviation, denoiser_drift, fit_order
from ..metrics import nearest_point, posterior_entropy
from ..nn import TrainConfig, blas_threads
from ..solvers import nfe, sample, solve_ode
from ._cache import cached
from .common import (
    REF_RTOL,
    SIGMA_MAX,
    SIGMA_MIN,
    dataset,
    ideal_denoiser,
    measure,
    noise,
    reference,
    sampler_sigmas,
)

__all__ = [
    "StepsComparisonConfig", "StepsComparisonResult", "run_steps_comparison",
    "plot_steps_comparison",
    "TwoDeltaConfig", "TwoDeltaResult", "run_two_delta_averaging", "plot_two_delta_averaging",
    "FewStepTwoDeltasConfig", "FewStepTwoDeltasResult", "run_few_step_two_deltas",
    "plot_few_step_two_deltas",
    "ImageTrackConfig", "ImageTrackResult", "run_image_denoiser_track",
    "plot_image_denoiser_track",
    "CurvedConfig", "CurvedCase", "CurvedResult", "run_curved_trajectories",
    "plot_curved_trajectories",
    "DenoiserStudentConfig", "DenoiserStudentResult", "run_denoiser_student",
    "ErrorVsStepsConfig", "ErrorVsStepsResult", "run_error_vs_steps", "plot_error_vs_steps",
    "StudentVsIdealConfig", "StudentVsIdealResult", "run_student_vs_ideal",
    "plot_student_vs_ideal",
    "gaussian_path",
]

COLORS = {"euler": "tab:blue", "heun": "tab:orange", "dpmpp_2m": "tab:green"}
LABELS = {"euler": "Euler", "heun": "Heun", "dpmpp_2m": "DPM-Solver++(2M)"}
NFE_RULE = {"euler": "NFE = n", "heun": "NFE = 2n", "dpmpp_2m": "NFE = n"}


# ----------------------------------------------------------------------------- helpers


def _one_thread(run):
    """Run ``run(cfg)`` with BLAS held to one thread: the arrays are small, and several BLAS
    threads on a busy machine are many times slower (and the bits then do not depend on the
    environment's thread settings)."""
    @functools.wraps(run)
    def wrapper(cfg):
        with blas_threads(1):
            return run(cfg)

    wrapper.__defaults__ = run.__defaults__  # @cached reads the default Config from here
    return wrapper


def _figure(ax, ncols=1, **kw):
    """``(fig, axes)``: new subplots, or the figure of the given axes."""
    if ax is None:
        fig, axes = plt.subplots(1, ncols, **kw)
        return fig, np.atleast_1d(axes)
    axes = np.atleast_1d(ax)
    if axes.size != ncols:
        raise ValueError(f"this plot draws on {ncols} axes, got {axes.size}")
    return axes[0].figure, axes


def _mosaic(images: np.ndarray, size: int, cols: int) -> np.ndarray:
    """Tile (M, size*size) images into one array, 1-pixel gaps (NaN, drawn white)."""
    M = images.shape[0]
    rows = -(-M // cols)
    out = np.full((rows * (size + 1) - 1, cols * (size + 1) - 1), np.nan)
    for i in range(M):
        r, c = divmod(i, cols)
        out[r * (size + 1):r * (size + 1) + size, c * (size + 1):c * (size + 1) + size] = \
            images[i].reshape(size, size)
    return out


def _show_images(ax, images, size, cols):
    """Draw a mosaic of [-1, 1] images (clipped; -1 white background, +1 black ink)."""
    cmap = plt.get_cmap("gray_r").with_extremes(bad="white")
    ax.imshow(_mosaic(np.clip(images, -1, 1), size, cols), cmap=cmap, vmin=-1, vmax=1,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_visible(False)


def _box(ax, x, y, text, **kw):
    kw.setdefault("fontsize", 8.5)
    ax.text(x, y, text, transform=ax.transAxes,
            bbox=dict(boxstyle="round", fc="white", ec="0.6", alpha=0.9), **kw)


def _side(images) -> int:
    side = int(round(np.sqrt(images.shape[-1])))
    if side * side != images.shape[-1]:
        raise ValueError(f"images must be square, got d = {images.shape[-1]}")
    return side


def gaussian_path(x_T, sigma, mu, std, sigma_T: float = SIGMA_MAX) -> np.ndarray:
    """The exact PF-ODE state of N(mu, std^2 I) at ``sigma`` from ``x_T`` at ``sigma_T``.

    D(x, sigma) = mu + std^2 (x - mu) / (std^2 + sigma^2), so dx/dsigma = sigma (x - mu) /
    (std^2 + sigma^2) and x(sigma) = mu + (x_T - mu) sqrt(std^2 + sigma^2) / sqrt(std^2 +
    sigma_T^2): a straight ray towards mu, travelled at a speed that is not constant.
    """
    x_T = np.asarray(x_T, dtype=np.float64)
    return mu + (x_T - mu) * np.sqrt(std ** 2 + sigma ** 2) / np.sqrt(std ** 2 + sigma_T ** 2)


# ----------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class StepsComparisonConfig:
    """"Diffusion models are slow": the same noises with n steps, on the real digits.

    Attributes
    ----------
    data : str -- data set name (:func:`.common.dataset`)
    steps : tuple of int -- step counts of the distance curve (each sampler, each n)
    shown_steps : tuple of int -- step counts whose samples are drawn (a subset of ``steps``)
    solvers : tuple of str -- solvers of the distance curve
    image_solvers : tuple of str -- solvers whose samples are drawn, one row each
    n_noises : int -- noises of the curve; the first ``n_shown`` are drawn
    n_shown : int
    seed : int -- seed of the noises
    y_clip : float -- distances above are drawn at the clip (few-step Heun: see
        :class:`ErrorVsStepsConfig`), with their values written
    """

    data: str = "digits"
    steps: tuple = (1, 2, 3, 4, 5, 7, 10, 15, 20, 30)
    shown_steps: tuple = (3, 5, 7, 30)
    solvers: tuple = ("euler", "heun", "dpmpp_2m")
    image_solvers: tuple = ("euler", "dpmpp_2m")
    n_noises: int = 32
    n_shown: int = 6
    seed: int = 1
    y_clip: float = 10.0

    def __post_init__(self):
        if not set(self.shown_steps) <= set(self.steps):
            raise ValueError("shown_steps must be a subset of steps")
        if not set(self.image_solvers) <= set(self.solvers):
            raise ValueError("image_solvers must be a subset of solvers")
        if not 1 <= self.n_shown <= self.n_noises:
            raise ValueError("need 1 <= n_shown <= n_noises")


@dataclass(frozen=True, eq=False)
class StepsComparisonResult:
    """Samples at sigma_min and their distance to the nearest training point.

    Attributes
    ----------
    config : StepsComparisonConfig
    nfe : (K, S) int -- evaluations per sample, solver k, ``config.steps[j]``
    dist : (K, S, B) -- distance of each sample to its nearest training point
    dist_median : (K, S)
    images : (I, P, n_shown, d) -- samples of ``image_solvers[i]`` at ``shown_steps[p]``
    noise_floor : float -- sigma_min sqrt(d): the typical distance of a noisy training point
        at sigma_min, i.e. what the exact ODE state keeps
    """

    config: StepsComparisonConfig
    nfe: np.ndarray
    dist: np.ndarray
    dist_median: np.ndarray
    images: np.ndarray
    noise_floor: float


@cached
@_one_thread
def run_steps_comparison(cfg: StepsComparisonConfig = StepsComparisonConfig()
                         ) -> StepsComparisonResult:
    den = ideal_denoiser(cfg.data)
    x_T = noise(den.d, cfg.n_noises, cfg.seed)
    K, S = len(cfg.solvers), len(cfg.steps)
    n_fe = np.empty((K, S), dtype=int)
    dist = np.empty((K, S, cfg.n_noises))
    images = np.empty((len(cfg.image_solvers), len(cfg.shown_steps), cfg.n_shown, den.d))
    for k, solver in enumerate(cfg.solvers):
        for j, n in enumerate(cfg.steps):
            grid = sampler_sigmas(n)
            x = sample(den, x_T, grid, solver)
            n_fe[k, j] = nfe(solver, grid)
            dist[k, j] = nearest_point(den.data, x)[1]
            if solver in cfg.image_solvers and n in cfg.shown_steps:
                images[cfg.image_solvers.index(solver), cfg.shown_steps.index(n)] = \
                    x[:cfg.n_shown]
    return StepsComparisonResult(cfg, n_fe, dist, np.median(dist, axis=2), images,
                                 SIGMA_MIN * np.sqrt(den.d))


def plot_steps_comparison(result: StepsComparisonResult, ax=None):
    """Samples (rows: solvers, columns: steps) and the median distance to the data vs NFE.

    ``ax``: optional single axes for the distance curve only.
    """
    cfg = result.config
    if ax is not None:
        fig = ax.figure
        _plot_distance_curve(result, ax)
        return fig
    I, P = len(cfg.image_solvers), len(cfg.shown_steps)
    side = _side(result.images)
    cols = (cfg.n_shown + 1) // 2
    fig = plt.figure(figsize=(15.5, 5.0))
    outer = fig.add_gridspec(1, 2, width_ratios=[P, 1.9], wspace=0.16)
    gs = outer[0].subgridspec(I, P, wspace=0.08, hspace=0.3)
    for i, solver in enumerate(cfg.image_solvers):
        for p, n in enumerate(cfg.shown_steps):
            a = fig.add_subplot(gs[i, p])
            _show_images(a, result.images[i, p], side, cols)
            k, j = cfg.solvers.index(solver), cfg.steps.index(n)
            a.set_title(f"{n} steps, NFE {result.nfe[k, j]}\nmedian dist. "
                        f"{result.dist_median[k, j]:.2g}", fontsize=10)
            if p == 0:
                a.set_ylabel(LABELS[solver], fontsize=11)
    _plot_distance_curve(result, fig.add_subplot(outer[1]))
    fig.suptitle(f"Diffusion models are slow: the same {cfg.n_shown} noises, n steps from "
                 f"$\\sigma$ = 80 to 0.002, exact denoiser of {dataset(cfg.data).N:,} "
                 f"8x8 digits\nfew steps: averaged, blurry samples (Euler 3, DPM-Solver++(2M) "
                 "3-5 steps); 30 steps: sharp training images", fontsize=12, y=1.0)
    return fig


def _plot_distance_curve(result, ax):
    cfg = result.config
    clip = cfg.y_clip
    for k, solver in enumerate(cfg.solvers):
        _clipped(ax, result.nfe[k], result.dist_median[k], clip, COLORS[solver], marker="o",
                 ms=4, label=f"{LABELS[solver]} ({NFE_RULE[solver]})")
        over = np.flatnonzero(result.dist_median[k] > clip)
        if over.size:
            vals = ", ".join(f"{result.dist_median[k, j]:.1e}" for j in over)
            nf = ", ".join(str(result.nfe[k, j]) for j in over)
            ax.annotate(f"{LABELS[solver]} off the scale:\n{vals}\nat NFE {nf}",
                        (result.nfe[k, over[-1]], clip), xytext=(22, -14),
                        textcoords="offset points", fontsize=8, color=COLORS[solver],
                        arrowprops=dict(arrowstyle="->", color=COLORS[solver]))
    ax.axhline(result.noise_floor, color="0.4", ls=":", lw=1.2,
               label=f"$\\sigma_{{min}}\\sqrt{{d}}$ = {result.noise_floor:.3f} "
                     "(noise left at $\\sigma_{min}$)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(result.noise_floor / 20, clip * 2)  # room for the legend below the floor
    ax.set_xlabel("denoiser evaluations (NFE)")
    ax.set_ylabel(f"median distance to the nearest\ntraining image ({cfg.n_noises} noises)")
    ax.set_title("Blur: distance to the data vs NFE", fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)


# ----------------------------------------------------------------------------- two deltas


@dataclass(frozen=True)
class TwoDeltaConfig:
    """D(x, sigma) of two equal deltas x^1 = -1, x^2 = +1 along the line through them.

    Attributes
    ----------
    sigmas : tuple of float -- noise levels drawn
    sigma_star : float -- where the 0.3 / 0.7 point is marked
    weight : float -- the posterior weight of x^2 marked (0.7 on the slide)
    distance : float -- |x^2 - x^1|
    u_range : (float, float) -- the line x = x^1 + u (x^2 - x^1), u in this range
    n_grid : int
    """

    sigmas: tuple = (0.1, 0.3, 0.6, 1.0, 2.0, 5.0)
    sigma_star: float = 1.0
    weight: float = 0.7
    distance: float = 2.0
    u_range: tuple = (-0.25, 1.25)
    n_grid: int = 601


@dataclass(frozen=True, eq=False)
class TwoDeltaResult:
    """Attributes: config; x (G,) first coordinate on the line; D (S, G) first coordinate of
    D(x, sigma); pi2 (S, G) posterior weight of x^2; x_star, d_star, w_star (the point where
    pi = (1 - weight, weight) at sigma_star, D there, both weights); d_mid (D at the midpoint)."""

    config: TwoDeltaConfig
    x1: float
    x2: float
    x: np.ndarray
    D: np.ndarray
    pi2: np.ndarray
    x_star: float
    d_star: float
    w_star: np.ndarray
    d_mid: float


@cached
@_one_thread
def run_two_delta_averaging(cfg: TwoDeltaConfig = TwoDeltaConfig()) -> TwoDeltaResult:
    data = two_points(cfg.distance)
    den = IdealDenoiser(data)
    x1, x2 = data.points
    L = np.linalg.norm(x2 - x1)
    u = np.linspace(*cfg.u_range, cfg.n_grid)
    x = x1 + u[:, None] * (x2 - x1)
    # log(pi2/pi1) = (|x - x1|^2 - |x - x2|^2) / (2 sigma^2) = L^2 (2u - 1) / (2 sigma^2)
    w = cfg.weight
    u_star = 0.5 + cfg.sigma_star ** 2 * np.log(w / (1 - w)) / L ** 2
    x_star = x1 + u_star * (x2 - x1)
    D = np.stack([den(x, s)[:, 0] for s in cfg.sigmas])
    pi2 = np.stack([den.posterior(x, s)[:, 1] for s in cfg.sigmas])
    return TwoDeltaResult(cfg, float(x1[0]), float(x2[0]), x[:, 0], D, pi2, float(x_star[0]),
                          float(den(x_star[None], cfg.sigma_star)[0, 0]),
                          den.posterior(x_star[None], cfg.sigma_star)[0],
                          float(den(((x1 + x2) / 2)[None], cfg.sigma_star)[0, 0]))


def plot_two_delta_averaging(result: TwoDeltaResult, ax=None):
    """Two panels: D(x, sigma) and the weight pi_2 along the line, per sigma."""
    cfg, r = result.config, result
    fig, (a1, a2) = _figure(ax, 2, figsize=(13, 5))
    cmap = plt.get_cmap("viridis")
    for i, s in enumerate(cfg.sigmas):
        c = cmap(i / max(len(cfg.sigmas) - 1, 1))
        lw = 2.8 if s == cfg.sigma_star else 1.5
        a1.plot(r.x, r.D[i], color=c, lw=lw, label=f"$\\sigma$ = {s:g}")
        a2.plot(r.x, r.pi2[i], color=c, lw=lw, label=f"$\\sigma$ = {s:g}")
    a1.plot(r.x, r.x, color="0.6", ls=":", lw=1, label="identity $f = x$")
    for a in (a1, a2):
        a.axvline(r.x1, color="k", lw=0.8, ls="--")
        a.axvline(r.x2, color="k", lw=0.8, ls="--")
        a.set_xlabel(f"position $x$ on the line through $x^1 = {r.x1:g}$ and "
                     f"$x^2 = +{r.x2:g}$")
    w1, w2 = 1 - cfg.weight, cfg.weight
    a1.plot([0.0], [r.d_mid], "o", color="crimson", ms=9, zorder=5,
            label=f"equidistant $x$ = 0: $f$ = {r.d_mid:g} = $(x^1 + x^2)/2$")
    a1.plot([r.x_star], [r.d_star], "s", color="crimson", ms=9, zorder=5,
            label=f"$x$ = {r.x_star:.4f}: $f$ = {r.d_star:.4f} = ${w1:g}x^1 + {w2:g}x^2$")
    a1.set_ylabel("$f(x, \\sigma) = E[x_0 | x]$ (first coordinate)")
    a1.set_title("The ideal denoiser averages the two points")
    a1.legend(fontsize=8, loc="upper left")
    a2.plot([0.0], [0.5], "o", color="crimson", ms=9, zorder=5, label="weights 0.5 / 0.5")
    a2.plot([r.x_star], [r.w_star[1]], "s", color="crimson", ms=9, zorder=5,
            label=f"weights {r.w_star[0]:.4f} / {r.w_star[1]:.4f} at "
                  f"$\\sigma$ = {cfg.sigma_star:g}")
    a2.axhline(cfg.weight, color="crimson", lw=0.6, ls=":")
    a2.set_ylabel("posterior weight $\\pi_2$ of $x^2$  ($\\pi_1 = 1 - \\pi_2$)")
    a2.set_title("Posterior weights (log-odds linear in $x$: $2x/\\sigma^2$)")
    a2.legend(fontsize=8, loc="upper left")
    if ax is None:
        fig.suptitle(f"Two deltas: $f$ = $(x^1+x^2)/2$ at equal distance; $f$ = ${w1:g}x^1 + "
                     f"{w2:g}x^2$ at $x$ = $\\sigma^2 \\ln({w2:g}/{w1:g})/2$ = {r.x_star:.4f} "
                     f"($\\sigma$ = {cfg.sigma_star:g})", fontsize=12)
        fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- few steps


@dataclass(frozen=True)
class FewStepTwoDeltasConfig:
    """n-step samples of two deltas at -1, +1 (d = 1), against the exact ODE at sigma_min.

    Attributes
    ----------
    steps : tuple of int
    solver : str
    n_noises : int
    seed : int
    distance : float -- between the two points
    near : float -- "within ``near`` of a point" counts as on the data
    """

    steps: tuple = (1, 2, 3, 5)
    solver: str = "euler"
    n_noises: int = 2000
    seed: int = 7
    distance: float = 2.0
    near: float = 0.05


@dataclass(frozen=True, eq=False)
class FewStepTwoDeltasResult:
    """Attributes: config; points (2,); x_T (B,); samples (S, B) at sigma_min; exact (B,) exact
    ODE state at sigma_min; nfe (S,); and per row of ``samples`` then the exact state (S + 1,):
    median_dist (to the nearest point), frac_near, frac_same (same nearest point as exact)."""

    config: FewStepTwoDeltasConfig
    points: np.ndarray
    x_T: np.ndarray
    samples: np.ndarray
    exact: np.ndarray
    nfe: np.ndarray
    median_dist: np.ndarray
    frac_near: np.ndarray
    frac_same: np.ndarray


@cached
@_one_thread
def run_few_step_two_deltas(cfg: FewStepTwoDeltasConfig = FewStepTwoDeltasConfig()
                            ) -> FewStepTwoDeltasResult:
    data = two_points(cfg.distance, d=1)
    den = IdealDenoiser(data)
    x_T = noise(1, cfg.n_noises, cfg.seed)
    exact = solve_ode(den, x_T, SIGMA_MAX, SIGMA_MIN, rtol=REF_RTOL, atol=REF_RTOL)
    samples = [sample(den, x_T, sampler_sigmas(n), cfg.solver) for n in cfg.steps]
    idx_e, _ = nearest_point(data, exact)
    med, near, same = [], [], []
    for x in samples + [exact]:
        idx, dist = nearest_point(data, x)
        med.append(np.median(dist))
        near.append(np.mean(dist < cfg.near))
        same.append(np.mean(idx == idx_e))
    return FewStepTwoDeltasResult(
        cfg, data.points[:, 0].copy(), x_T[:, 0], np.stack(samples)[..., 0], exact[:, 0],
        np.array([nfe(cfg.solver, sampler_sigmas(n)) for n in cfg.steps]),
        np.array(med), np.array(near), np.array(same))


def plot_few_step_two_deltas(result: FewStepTwoDeltasResult, ax=None):
    """One histogram per step count, then the exact ODE state at sigma_min."""
    cfg, r = result.config, result
    S = len(cfg.steps)
    fig, axes = _figure(ax, S + 1, figsize=(16, 4.2), sharey=True)
    half = cfg.distance / 2
    bins = np.linspace(-1.425 * half, 1.425 * half, 58)
    rows = [(f"{n} {LABELS[cfg.solver]} step{'s' if n > 1 else ''} (NFE {r.nfe[i]})",
             r.samples[i]) for i, n in enumerate(cfg.steps)]
    rows.append(("exact ODE at $\\sigma_{min}$ (DOP853)", r.exact))
    for i, (a, (title, x)) in enumerate(zip(axes, rows)):
        a.hist(np.clip(x, bins[0] + 0.025, bins[-1] - 0.025), bins=bins, color="tab:blue",
               alpha=0.8)
        for p in r.points:
            a.axvline(p, color="k", ls="--", lw=1)
        a.set_title(title, fontsize=11)
        a.set_xlabel(f"state at $\\sigma$ = {SIGMA_MIN:g} (data at $\\pm{half:g}$)")
        _box(a, 0.5, 0.97, f"median dist. to data {r.median_dist[i]:.3f}\n"
             f"within {cfg.near:g} of a point: {r.frac_near[i]:.0%}\n"
             f"same point as exact: {r.frac_same[i]:.0%}", ha="center", va="top")
    axes[0].set_ylabel(f"count (of {cfg.n_noises} noises)")
    axes[0].set_yscale("log")
    axes[0].set_ylim(0.5, 3 * cfg.n_noises)
    if ax is None:
        fig.suptitle(f"Even in the simplest case few steps fail: two deltas at $\\pm{half:g}$, "
                     f"the same {cfg.n_noises} noises from $\\sigma$ = 80 to 0.002.\n"
                     "One step returns $D(x_T, 80)$ $\\approx$ the mean of the two points; "
                     "few steps land between them", fontsize=12)
        fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- image track


@dataclass(frozen=True)
class ImageTrackConfig:
    """D(x_sigma, sigma) along one trajectory on an image data set.

    Attributes
    ----------
    data : str
    steps : int -- solver steps of the trajectory (80 -> 0.002)
    solver : str
    seed : int -- of the one noise
    shown : tuple of float -- sigma levels drawn (the nearest grid level is used)
    """

    data: str = "digits"
    steps: int = 64
    solver: str = "heun"
    seed: int = 8
    shown: tuple = (80, 20, 10, 5, 3, 2, 1, 0.5, 0.2, 0.002)


@dataclass(frozen=True, eq=False)
class ImageTrackResult:
    """Attributes: config; sigmas (T,) the grid; states (T, d); denoised (T, d) =
    D(states[i], sigmas[i]) (the last at sigma_min too); entropy (T,) posterior entropy (nats);
    n_points (N of the data set); nfe; shown (P,) grid indices drawn; nearest (index of the
    final state's nearest training image) and its distance."""

    config: ImageTrackConfig
    sigmas: np.ndarray
    states: np.ndarray
    denoised: np.ndarray
    entropy: np.ndarray
    n_points: int
    nfe: int
    shown: np.ndarray
    nearest: int
    nearest_dist: float


@cached
@_one_thread
def run_image_denoiser_track(cfg: ImageTrackConfig = ImageTrackConfig()) -> ImageTrackResult:
    den = ideal_denoiser(cfg.data)
    sig = sampler_sigmas(cfg.steps)
    x_T = noise(den.d, 1, cfg.seed)
    _, states, denoised = sample(den, x_T, sig, cfg.solver, return_trajectory=True)
    D = np.concatenate([denoised[:, 0], den(states[-1], sig[-1])], axis=0)
    ent = np.array([posterior_entropy(den, states[i], sig[i])[0] for i in range(sig.size)])
    shown = np.array([int(np.argmin(np.abs(np.log(sig) - np.log(t)))) for t in cfg.shown])
    idx, dist = nearest_point(den.data, states[-1])
    return ImageTrackResult(cfg, sig, states[:, 0], D, ent, den.data.N, nfe(cfg.solver, sig),
                            shown, int(idx[0]), float(dist[0]))


def plot_image_denoiser_track(result: ImageTrackResult, ax=None):
    """Rows: state (rescaled) and D(x_sigma, sigma) at the shown levels; below, the entropy.

    ``ax``: optional single axes for the entropy curve only.
    """
    r, cfg = result, result.config
    if ax is not None:
        _plot_entropy(r, ax)
        return ax.figure
    side = _side(r.states)
    P = r.shown.size
    fig = plt.figure(figsize=(14, 6.4))
    gs = fig.add_gridspec(3, P, height_ratios=[1, 1, 1.7], hspace=0.35)
    for k, i in enumerate(r.shown):
        a = fig.add_subplot(gs[0, k])
        _show_images(a, (r.states[i] / np.sqrt(1.0 + r.sigmas[i] ** 2))[None], side, 1)
        a.set_title(f"$\\sigma$={r.sigmas[i]:.3g}", fontsize=10)
        if k == 0:
            a.text(-0.15, 0.5, "state $x_\\sigma$\n(rescaled)", transform=a.transAxes,
                   ha="right", va="center", fontsize=10)
        a = fig.add_subplot(gs[1, k])
        _show_images(a, r.denoised[i][None], side, 1)
        if k == 0:
            a.text(-0.15, 0.5, "$D(x_\\sigma, \\sigma)$", transform=a.transAxes, ha="right",
                   va="center", fontsize=10)
    _plot_entropy(r, fig.add_subplot(gs[2, :]))
    fig.suptitle(f"Images become less and less averaged: $D(x_\\sigma, \\sigma)$ along one "
                 f"trajectory ({LABELS[cfg.solver]}, {cfg.steps} steps, NFE {r.nfe}, "
                 f"{r.n_points:,} 8x8 digits)", fontsize=12)
    return fig


def _plot_entropy(r, ax):
    ax.plot(r.sigmas, r.entropy, "o-", ms=3, color="tab:purple",
            label="posterior entropy $H(\\pi(x_\\sigma, \\sigma))$")
    ax.plot(r.sigmas[r.shown], r.entropy[r.shown], "o", ms=8, mfc="none", color="k",
            label="shown above")
    ax.axhline(np.log(r.n_points), color="0.5", ls=":",
               label=f"$\\ln {r.n_points}$: the average of all images")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("noise level $\\sigma$ (sampling runs from 80 down to 0.002)")
    ax.set_ylabel("entropy (nats)")
    ax.set_ylim(-0.3, np.log(r.n_points) * 1.08)
    ax.legend(loc="lower left", fontsize=9)


# ----------------------------------------------------------------------------- curved paths


@dataclass(frozen=True)
class CurvedConfig:
    """PF-ODE paths of a delta mixture, a single Gaussian and a single point.

    Attributes
    ----------
    mixture : str -- data set of the mixture panel
    gaussian_std : float -- std of the single Gaussian N(0, std^2 I)
    point : (float, float) -- the single data point
    steps : int -- solver steps of each path (80 -> 0.002)
    solver : str
    n_paths : int
    seed : int
    window : float -- half-width of the drawn window around the origin
    """

    mixture: str = "clusters"
    gaussian_std: float = 0.5
    point: tuple = (1.0, 0.0)
    steps: int = 96
    solver: str = "heun"
    n_paths: int = 14
    seed: int = 9
    window: float = 2.6


@dataclass(frozen=True, eq=False)
class CurvedCase:
    """One panel: title; centres (M, 2) the data points or the Gaussian's mean; states
    (T, B, 2) along ``sigmas``; denoised (T, B, 2) = D(states, sigmas); chord (B,) and
    chord_rel (B,) chord deviation (absolute, relative); drift (T, B) |D(x(sigma), sigma) -
    x_end|."""

    title: str
    centres: np.ndarray
    states: np.ndarray
    denoised: np.ndarray
    chord: np.ndarray
    chord_rel: np.ndarray
    drift: np.ndarray


@dataclass(frozen=True, eq=False)
class CurvedResult:
    """Attributes: config; sigmas (T,); nfe; cases (mixture, Gaussian, point)."""

    config: CurvedConfig
    sigmas: np.ndarray
    nfe: int
    cases: tuple


@cached
@_one_thread
def run_curved_trajectories(cfg: CurvedConfig = CurvedConfig()) -> CurvedResult:
    sig = sampler_sigmas(cfg.steps)
    x_T = noise(2, cfg.n_paths, cfg.seed)
    gauss = GaussianMixture(np.zeros((1, 2)), cfg.gaussian_std ** 2)
    cases = []
    for title, data in ((f"{cfg.mixture}: {dataset(cfg.mixture).N} points (delta mixture)",
                         dataset(cfg.mixture)),
                        (f"single Gaussian $N(0, {cfg.gaussian_std:g}^2 I)$", gauss),
                        ("single data point", DeltaMixture(np.array([cfg.point])))):
        den = IdealDenoiser(data)
        _, states, _ = sample(den, x_T, sig, cfg.solver, return_trajectory=True)
        D = np.stack([den(states[i], sig[i]) for i in range(sig.size)])
        centres = data.means if isinstance(data, GaussianMixture) else data.points
        cases.append(CurvedCase(title, centres, states, D, chord_deviation(states),
                                chord_deviation(states, relative=True),
                                denoiser_drift(den, states, sig)))
    return CurvedResult(cfg, sig, nfe(cfg.solver, sig), tuple(cases))


def plot_curved_trajectories(result: CurvedResult, ax=None):
    """Three path panels (mixture, Gaussian, point) and the denoiser drift along the path."""
    cfg, r = result.config, result
    fig, axes = _figure(ax, 4, figsize=(17, 4.9), gridspec_kw={"width_ratios": [1, 1, 1, 1.25]})
    colors = plt.get_cmap("tab20")(np.arange(cfg.n_paths) % 20)
    w = cfg.window
    for a, case in zip(axes, r.cases):
        for b in range(cfg.n_paths):
            a.plot(case.states[:, b, 0], case.states[:, b, 1], color=colors[b], lw=1.6)
            a.plot(case.denoised[:, b, 0], case.denoised[:, b, 1], color=colors[b], lw=1.0,
                   ls="--")
            a.plot(*case.states[-1, b], "o", color=colors[b], ms=4)
        a.scatter(*case.centres.T, marker="x", s=50, color="k", lw=1.5, zorder=5)
        a.set_xlim(-w, w)
        a.set_ylim(-w, w)
        a.set_aspect("equal")
        a.set_xlabel("$x_1$")
        a.set_title(case.title, fontsize=11)
        _box(a, 0.02, 0.02, f"chord deviation: median {np.median(case.chord):.2g}\n"
             f"(relative {np.median(case.chord_rel):.1e})\nmax drift $|D - x_{{end}}|$ = "
             f"{case.drift.max():.2g}", va="bottom")
        a.plot([], [], color="0.3", lw=1.6, label="path $x(\\sigma)$")
        a.plot([], [], color="0.3", lw=1, ls="--", label="$D(x(\\sigma), \\sigma)$")
        a.legend(loc="upper right", fontsize=8)
        axes[3].plot(r.sigmas, np.median(case.drift, axis=1), lw=2, label=case.title)
    axes[0].set_ylabel("$x_2$")
    ad = axes[3]
    ad.set_xscale("log")
    ad.invert_xaxis()
    ad.set_xlabel("noise level $\\sigma$ (80 $\\to$ 0.002)")
    ad.set_ylabel("median drift $|D(x(\\sigma), \\sigma) - x_{end}|$")
    ad.set_title("Denoiser drift along the path", fontsize=11)
    ad.legend(fontsize=8, loc="upper right")
    ad.text(0.98, 0.6, "single point: $D$ is the point all the way\n(straight line, constant "
            "speed)\nGaussian: straight ray, $D$ moves", transform=ad.transAxes, ha="right",
            fontsize=8.5)
    if ax is None:
        fig.suptitle(f"Diffusion has curved trajectories: {cfg.n_paths} PF-ODE paths from "
                     f"$\\sigma$ = 80 to 0.002 ({LABELS[cfg.solver]}, {cfg.steps} steps, "
                     f"NFE {r.nfe}; window $\\pm{w:g}$ around the data)", fontsize=12)
        fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- student


@dataclass(frozen=True)
class DenoiserStudentConfig:
    """A trained MLP denoiser D_theta (EDM loss) on a data set.

    Attributes
    ----------
    data : str
    train : TrainConfig
    hidden, depth : int -- MLP size
    wide_frac : float -- fraction of each batch with log-uniform sigma on [0.002, 80]
        (EDM's log-normal barely reaches the large sigma where the averaging happens)
    """

    data: str = "clusters"
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=1500, progress=False))
    hidden: int = 64
    depth: int = 3
    wide_frac: float = 0.25


@dataclass(frozen=True, eq=False)
class DenoiserStudentResult:
    """Attributes: config; student (``student(x, sigma)`` is D_theta); history (loss/step)."""

    config: DenoiserStudentConfig
    student: object
    history: np.ndarray


@cached
@_one_thread
def run_denoiser_student(cfg: DenoiserStudentConfig = DenoiserStudentConfig()
                         ) -> DenoiserStudentResult:
    # ideal_diffusion.distill.denoiser_student.train_denoiser_student(data, train, *, hidden,
    # depth, ..., wide_frac) -> DenoiserStudent (.model, .history, __call__(x, sigma))
    from ..distill.denoiser_student import train_denoiser_student

    st = train_denoiser_student(dataset(cfg.data), cfg.train, hidden=cfg.hidden,
                                depth=cfg.depth, wide_frac=cfg.wide_frac)
    return DenoiserStudentResult(cfg, st, np.asarray(st.history))


# ----------------------------------------------------------------------------- error vs NFE


@dataclass(frozen=True)
class ErrorVsStepsConfig:
    """Error against the exact ODE state at sigma_min vs NFE: curvature, not speed.

    Three data sets separate the two: a single point (straight path at constant speed: every
    solver is exact, error 0 to rounding), a single Gaussian (straight path, speed not
    constant: Euler already has an order-1 error) and a delta mixture (curved paths). Measured
    at sigma_min, the mixture's error is *not* larger than the Gaussian's (NFE 4: 0.18 against
    0.32 with the defaults): near sigma_min its paths run straight into the data points and
    contract, so what few steps cost there is the basin (which point: 14% land on the exact
    state's point at NFE 4, 86% at NFE 32) and the blur (``steps_comparison``).

    Few-step Heun with the exact D. Heun's corrector evaluates D at the end of each step; on a
    1- or 2-step grid that end is sigma_min = 0.002, right after a huge predictor step that
    left x' near an average of the data. There the exact D is nearly discontinuous -- D(x',
    0.002) is, to many digits, the nearest data point -- so the corrector slope
    (x' - D(x', sigma))/sigma is about distance/sigma, some 500 x the distance at 0.002 (367
    median on "clusters" at one step), and the trapezoid throws the sample ~10^4 away (1.5e4
    at NFE 2, 233 at NFE 4). That is the exact D's near-discontinuity, not the solver: with
    the smooth trained student D_theta (whose EDM form D = c_skip x + c_out F makes the slope
    -F-like, 0.5 at one step) or a single Gaussian, the same grids give errors bounded by the
    noise scale (about |x_T|/2 at one step, where the trapezoid averages the slope at 80 with
    the one at 0.002: poor, but not a blow-up).

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
    student : DenoiserStudentConfig -- the smooth D_theta run with Heun beside the exact D
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
    student: DenoiserStudentConfig = DenoiserStudentConfig()
    student_steps: tuple = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)


@dataclass(frozen=True, eq=False)
class ErrorVsStepsResult:
    """Median |x_n - x_exact(sigma_min)| per solver (K) and step count (S).

    Attributes
    ----------
    config : ErrorVsStepsConfig
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

    config: ErrorVsStepsConfig
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
@_one_thread
def run_error_vs_steps(cfg: ErrorVsStepsConfig = ErrorVsStepsConfig()) -> ErrorVsStepsResult:
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
        grid = sampler_sigmas(n)
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

    student = run_denoiser_student(cfg.student).student
    s_nfe, h_ex, h_st, h_g, slope_ex, slope_st = ([] for _ in range(6))
    for n in cfg.student_steps:
        grid = sampler_sigmas(n)
        s_nfe.append(nfe("heun", grid))
        h_ex.append(measure(sample(mix, ref.x_T, grid, "heun"), ref).err_median)
        h_st.append(measure(sample(student, ref.x_T, grid, "heun"), ref).err_median)
        h_g.append(np.median(np.linalg.norm(sample(gauss, x_T, grid, "heun") - g_exact,
                                            axis=1)))
        slope_ex.append(_last_corrector_slope(mix, ref.x_T, grid))
        slope_st.append(_last_corrector_slope(student, ref.x_T, grid))
    return ErrorVsStepsResult(cfg, n_fe, p_err, g_err, m_err, m_same, g_ord, m_ord,
                              np.array(s_nfe), np.array(h_ex), np.array(h_st), np.array(h_g),
                              np.array(slope_ex), np.array(slope_st))


def _clipped(ax, x, y, clip, color, **kw):
    """Plot y vs x with values above ``clip`` drawn at the clip as open triangles."""
    y = np.asarray(y, dtype=float)
    over = y > clip
    line = ax.plot(x, np.minimum(y, clip), color=color, **kw)
    if np.any(over):
        ax.plot(np.asarray(x)[over], np.full(over.sum(), clip), "^", color=color, ms=9,
                mfc="white", mew=1.8, zorder=6)
    return line


def plot_error_vs_steps(result: ErrorVsStepsResult, ax=None):
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


# ----------------------------------------------------------------------------- student vs D


@dataclass(frozen=True)
class StudentVsIdealConfig:
    """The trained denoiser student against the ideal denoiser it approximates.

    Attributes
    ----------
    student : DenoiserStudentConfig
    sigma_lo, sigma_hi : float -- range of the error curve (log-spaced)
    n_sigmas : int
    n_eval : int -- noisy data points per sigma
    eval_seed : int
    plane_sigmas : tuple of float -- levels of the outputs drawn in the plane
    n_plane : int
    plane_seed : int
    band : (float, float) -- the sigma band the tests check
    """

    student: DenoiserStudentConfig = DenoiserStudentConfig()
    sigma_lo: float = 0.02
    sigma_hi: float = 80.0
    n_sigmas: int = 25
    n_eval: int = 2000
    eval_seed: int = 1
    plane_sigmas: tuple = (0.1, 0.6, 3.0)
    n_plane: int = 300
    plane_seed: int = 2
    band: tuple = (0.05, 5.0)


@dataclass(frozen=True, eq=False)
class StudentVsIdealResult:
    """Attributes: config; steps (Adam steps trained); sigmas (S,); rms, median (S,)
    |D_theta - D| on noisy data; dist_mean_ideal, dist_mean_student (S,) mean distance of D
    and D_theta to the data mean; spread (mean |x0 - mean| of the data); points (N, 2);
    plane_ideal, plane_student (P, n_plane, 2)."""

    config: StudentVsIdealConfig
    steps: int
    sigmas: np.ndarray
    rms: np.ndarray
    median: np.ndarray
    dist_mean_ideal: np.ndarray
    dist_mean_student: np.ndarray
    spread: float
    points: np.ndarray
    plane_ideal: np.ndarray
    plane_student: np.ndarray


@cached
@_one_thread
def run_student_vs_ideal(cfg: StudentVsIdealConfig = StudentVsIdealConfig()
                         ) -> StudentVsIdealResult:
    from ..distill.denoiser_student import student_error_by_sigma

    st = run_denoiser_student(cfg.student)
    data = dataset(cfg.student.data)
    D = ideal_denoiser(cfg.student.data)
    sigmas = np.geomspace(cfg.sigma_lo, cfg.sigma_hi, cfg.n_sigmas)
    stats = student_error_by_sigma(st.student, data, sigmas, n=cfg.n_eval, rng=cfg.eval_seed,
                                   denoiser=D)
    rng = np.random.default_rng(cfg.plane_seed)
    ideal, student = [], []
    for s in cfg.plane_sigmas:
        x = data.sample(cfg.n_plane, rng) + s * rng.standard_normal((cfg.n_plane, data.d))
        ideal.append(D(x, s))
        student.append(st.student(x, s))
    mean = data.weights @ data.points
    spread = float(data.weights @ np.linalg.norm(data.points - mean, axis=1))
    return StudentVsIdealResult(cfg, int(st.history.size), sigmas, stats["rms"],
                                stats["median"], stats["dist_mean_ideal"],
                                stats["dist_mean_student"], spread, data.points.copy(),
                                np.stack(ideal), np.stack(student))


def plot_student_vs_ideal(result: StudentVsIdealResult, ax=None):
    """Three panels: |D_theta - D| vs sigma, distance to the data mean vs sigma, outputs."""
    cfg, r = result.config, result
    fig, axes = _figure(ax, 3, figsize=(15, 4.8))
    a = axes[0]
    a.axvspan(*cfg.band, color="0.92", label=f"$\\sigma \\in [{cfg.band[0]:g}, "
                                             f"{cfg.band[1]:g}]$ (tested band)")
    a.loglog(r.sigmas, r.rms, "o-", color="C3", ms=4, label="RMS $|D_\\theta - D|$")
    a.loglog(r.sigmas, r.median, "s--", color="C3", ms=4, alpha=0.6,
             label="median $|D_\\theta - D|$")
    a.loglog(r.sigmas, r.dist_mean_ideal, ":", color="k",
             label="scale: mean $|D - \\bar{x}_0|$")
    a.set_ylim(min(r.median.min(), r.dist_mean_ideal.min()) / 3,
               max(r.rms.max(), r.dist_mean_ideal.max()) * 30)
    a.set_xlabel("noise level $\\sigma$")
    a.set_ylabel("distance")
    a.set_title(f"student vs ideal denoiser ({r.steps} Adam steps)", fontsize=11)
    a.legend(loc="upper left", fontsize=8, ncol=2)

    a = axes[1]
    a.semilogx(r.sigmas, r.dist_mean_ideal, "k-", lw=2, label="ideal $D(x, \\sigma)$")
    a.semilogx(r.sigmas, r.dist_mean_student, "o", color="C3", ms=5,
               label="student $D_\\theta(x, \\sigma)$")
    a.axhline(r.spread, color="0.6", lw=1, ls="--")
    a.text(r.sigmas[-1], r.spread * 1.03, "data spread $E|x_0 - \\bar{x}_0|$", color="0.4",
           fontsize=9, ha="right")
    a.set_ylim(0, r.spread * 1.15)
    a.set_xlabel("noise level $\\sigma$")
    a.set_ylabel("mean distance to the data mean $\\bar{x}_0$")
    a.set_title("large $\\sigma$: both return the mean\n(the averaging is in the optimum)",
                fontsize=11)
    a.legend(loc="center left", fontsize=9)

    a = axes[2]
    for i, (color, s) in enumerate(zip(("C0", "C1", "C2"), cfg.plane_sigmas)):
        a.scatter(*r.plane_ideal[i].T, s=30, facecolors="none", edgecolors=color,
                  label=f"$D$, $\\sigma$={s:g}")
        a.scatter(*r.plane_student[i].T, s=8, marker="x", color=color, alpha=0.8,
                  label=f"$D_\\theta$, $\\sigma$={s:g}")
    a.scatter(*r.points.T, s=60, marker="*", color="k", zorder=3, label="data")
    a.set_aspect("equal")
    a.set_xlabel("$x_1$")
    a.set_ylabel("$x_2$")
    a.set_title("outputs: near a point at small $\\sigma$,\naverages at large $\\sigma$",
                fontsize=11)
    a.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    if ax is None:
        fig.suptitle("A trained MLP denoiser reproduces the ideal denoiser $E[x_0|x]$ "
                     f"({cfg.student.data}, EDM loss)", y=1.02)
        fig.tight_layout()
    return fig
