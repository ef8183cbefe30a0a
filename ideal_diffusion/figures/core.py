"""The figures of lecture rows 1 and 6-10: why diffusion models are slow.

Every figure is computed with the exact (closed-form) ideal denoiser of a small data set,
from fixed seeds, so the same command gives the same picture. "n steps" always means n
solver steps on the EDM (Karras, rho = 7) grid from sigma_max = 80 down to sigma_min = 0.002
**without** the trailing 0 (``karras_sigmas(n + 1, append_zero=False)``), unless a panel says
otherwise.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ideal_diffusion.data import GaussianMixture, glyphs, ring, two_points
from ideal_diffusion.denoiser import IdealDenoiser
from ideal_diffusion.figures import register
from ideal_diffusion.geometry import (
    chord_deviation,
    convergence,
    denoiser_drift,
    exact_endpoints,
    nearest_point,
    posterior_entropy,
    sample_quality,
)
from ideal_diffusion.schedules import karras_sigmas
from ideal_diffusion.solvers import sample

SIGMA_MAX, SIGMA_MIN = 80.0, 0.002
COLORS = {"euler": "tab:blue", "heun": "tab:orange", "dpmpp_2m": "tab:green"}
LABELS = {"euler": "Euler", "heun": "Heun (EDM)", "dpmpp_2m": "DPM-Solver++(2M)"}


def _grid(n: int) -> np.ndarray:
    """n steps from 80 to 0.002 on the Karras grid, no trailing 0 (n + 1 levels, descending)."""
    return karras_sigmas(n + 1, SIGMA_MIN, SIGMA_MAX, append_zero=False)


def _mosaic(images: np.ndarray, size: int, cols: int) -> np.ndarray:
    """Tile (M, size*size) images into one array, with a 1-pixel gap (NaN, drawn white)."""
    M = images.shape[0]
    rows = -(-M // cols)
    out = np.full((rows * (size + 1) - 1, cols * (size + 1) - 1), np.nan)
    for i in range(M):
        r, c = divmod(i, cols)
        out[r * (size + 1):r * (size + 1) + size, c * (size + 1):c * (size + 1) + size] = \
            images[i].reshape(size, size)
    return out


def _show_images(ax, images, size, cols, flag=None):
    """Draw a mosaic of images; tiles where ``flag`` is True get a red frame."""
    cmap = plt.get_cmap("gray_r").with_extremes(bad="white")
    ax.imshow(_mosaic(np.clip(images, -1, 1), size, cols), cmap=cmap, vmin=-1, vmax=1,
              interpolation="nearest")
    if flag is not None:
        for i in np.flatnonzero(flag):
            r, c = divmod(int(i), cols)
            ax.add_patch(plt.Rectangle((c * (size + 1) - 0.5, r * (size + 1) - 0.5), size,
                                       size, fill=False, ec="red", lw=2))
    ax.set_xticks([])
    ax.set_yticks([])
    for sp in ax.spines.values():
        sp.set_visible(False)


# ----------------------------------------------------------------------------- row 1


@register("steps_comparison", "row 1: 'Diffusion models are slow': the same noise with 30/7/5/3 "
          "steps")
def steps_comparison():
    steps = (30, 7, 5, 3)
    fig, axes = plt.subplots(2, 4, figsize=(14, 7.4), gridspec_kw={"height_ratios": [1, 0.78]})
    # 2-D: 8 points on a ring, 600 noises
    data = ring(8)
    den = IdealDenoiser(data)
    x_T = SIGMA_MAX * np.random.default_rng(1).standard_normal((600, 2))
    # images: the ten digits as 16x16 glyphs, 8 noises
    gl = glyphs("0123456789", 16)
    gden = IdealDenoiser(gl)
    g_T = SIGMA_MAX * np.random.default_rng(2).standard_normal((12, 256))
    g_exact = exact_endpoints(gl, g_T, SIGMA_MAX)
    x_exact = exact_endpoints(data, x_T, SIGMA_MAX)
    for j, n in enumerate(steps):
        x = sample(den, x_T, _grid(n), "euler")
        q = sample_quality(data, x, x_exact)
        ax = axes[0, j]
        # data first, samples on top: at 30 steps the samples sit exactly on the data points
        ax.scatter(*data.points.T, s=110, marker="o", facecolor="none", edgecolor="k", lw=1.5,
                   label="data points", zorder=1)
        ax.scatter(x[:, 0], x[:, 1], s=7, alpha=0.5, color="tab:blue", lw=0, label="samples",
                   zorder=2)
        ax.set_xlim(-1.8, 1.8)
        ax.set_ylim(-1.8, 1.8)
        ax.set_aspect("equal")
        ax.set_title(f"{n} steps ({n} NFE)")
        ax.set_xlabel("$x_1$")
        if j == 0:
            ax.set_ylabel("$x_2$")
            ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
        ax.text(0.99, 0.01, f"median dist. to data\n{q.median_dist_to_data:.3f}\n"
                f"same point as\nexact ODE: {q.frac_same_basin:.0%}", ha="right",
                va="bottom", transform=ax.transAxes, fontsize=8.5,
                bbox=dict(boxstyle="round", fc="white", ec="0.6", alpha=0.9))
        g = sample(gden, g_T, _grid(n), "euler")
        gq = sample_quality(gl, g, g_exact)
        _show_images(axes[1, j], g, 16, 6, flag=~gq.same_basin)
        axes[1, j].set_title(f"median dist. to nearest glyph {gq.median_dist_to_data:.3f}\n"
                             f"other digit than the exact ODE (red): {np.sum(~gq.same_basin)}"
                             f"/{len(g)}", fontsize=10)
    g2 = sample(gden, g_T, _grid(2), "euler")
    blur2 = float(np.median(nearest_point(gl, g2)[1]))
    fig.suptitle("Diffusion models are slow: the same noise, Euler with n steps "
                 "(Karras grid, $\\sigma$ = 80 $\\to$ 0.002, ideal denoiser)\n"
                 "top: 600 samples of 8 points on a ring: fewer steps = averaged samples "
                 "between the points.\nbottom: 12 samples of the 10 digit glyphs (16x16): "
                 "the last steps snap onto some glyph, so few steps pick the wrong digit\n"
                 f"(the images only blur with 2 steps or fewer: median dist. to nearest glyph "
                 f"{blur2:.2f} at 2 steps)",
                 fontsize=12)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- row 6


@register("two_delta_averaging", "row 6: two deltas: f = (x1 + x2)/2 at equal distance, "
          "f = 0.3 x1 + 0.7 x2")
def two_delta_averaging():
    data = two_points()  # x1 = (-1, 0), x2 = (+1, 0)
    den = IdealDenoiser(data)
    x1, x2 = data.points
    L = np.linalg.norm(x2 - x1)
    # along x = x1 + u (x2 - x1), u in [-0.25, 1.25]: the log-odds log(pi2/pi1) are linear in u,
    # log(pi2/pi1) = (|x - x1|^2 - |x - x2|^2) / (2 sigma^2) = L^2 (2u - 1) / (2 sigma^2)
    u = np.linspace(-0.25, 1.25, 601)
    x = x1 + u[:, None] * (x2 - x1)
    sig_star = 1.0
    u_star = 0.5 + sig_star ** 2 * np.log(0.7 / 0.3) / L ** 2
    x_star = x1 + u_star * (x2 - x1)
    d_star = den(x_star[None], sig_star)[0]
    w_star = den.posterior(x_star[None], sig_star)[0]
    d_mid = den(((x1 + x2) / 2)[None], sig_star)[0]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 5))
    cmap = plt.get_cmap("viridis")
    sigmas = (0.1, 0.3, 0.6, 1.0, 2.0, 5.0)
    for i, s in enumerate(sigmas):
        c = cmap(i / (len(sigmas) - 1))
        lw = 2.8 if s == sig_star else 1.5
        a1.plot(x[:, 0], den(x, s)[:, 0], color=c, lw=lw, label=f"$\\sigma$ = {s:g}")
        a2.plot(x[:, 0], den.posterior(x, s)[:, 1], color=c, lw=lw, label=f"$\\sigma$ = {s:g}")
    a1.plot(x[:, 0], x[:, 0], color="0.6", ls=":", lw=1, label="identity $f = x$")
    for ax in (a1, a2):
        ax.axvline(x1[0], color="k", lw=0.8, ls="--")
        ax.axvline(x2[0], color="k", lw=0.8, ls="--")
        ax.set_xlabel("position $x$ on the line through $x^1 = -1$ and $x^2 = +1$")
    a1.plot([0.0], [d_mid[0]], "o", color="crimson", ms=9, zorder=5,
            label=f"equidistant $x$ = 0: $f$ = {d_mid[0]:g} = $(x^1 + x^2)/2$")
    a1.plot([x_star[0]], [d_star[0]], "s", color="crimson", ms=9, zorder=5,
            label=f"$x$ = {x_star[0]:.4f}: $f$ = {d_star[0]:.4f} = $0.3x^1 + 0.7x^2$")
    a1.set_ylabel("denoiser output $f(x, \\sigma) = E[x_0 | x]$ (first coordinate)")
    a1.set_title("The ideal denoiser averages the two points")
    a1.legend(fontsize=8, loc="upper left")
    a2.plot([0.0], [0.5], "o", color="crimson", ms=9, zorder=5, label="weights 0.5 / 0.5")
    a2.plot([x_star[0]], [w_star[1]], "s", color="crimson", ms=9, zorder=5,
            label=f"weights {w_star[0]:.4f} / {w_star[1]:.4f} at $\\sigma$ = 1")
    a2.axhline(0.7, color="crimson", lw=0.6, ls=":")
    a2.set_ylabel("posterior weight $\\pi_2$ of $x^2$  ($\\pi_1 = 1 - \\pi_2$)")
    a2.set_title("Posterior weights (log-odds linear in $x$: $2x/\\sigma^2$)")
    a2.legend(fontsize=8, loc="upper left")
    fig.suptitle("Two deltas: $f$ = $(x^1+x^2)/2$ at equal distance; "
                 f"$f$ = $0.3x^1 + 0.7x^2$ at $x$ = $\\sigma^2 \\ln(7/3)/2$ = {x_star[0]:.4f} "
                 "($\\sigma$ = 1)", fontsize=12)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- row 7


@register("few_step_two_deltas", "row 7: 'even in the simplest case, few steps fail': 1/2/3/5 "
          "steps on two deltas")
def few_step_two_deltas():
    data = two_points(d=1)  # -1 and +1 on a line
    den = IdealDenoiser(data)
    x_T = SIGMA_MAX * np.random.default_rng(7).standard_normal((4000, 1))
    exact = exact_endpoints(data, x_T, SIGMA_MAX)
    runs = [(f"{n} Euler step" + ("s" if n > 1 else ""), sample(den, x_T, _grid(n), "euler"))
            for n in (1, 2, 3, 5)]
    runs.append(("exact ODE (DOP853, then $\\sigma \\to 0$)", exact))
    fig, axes = plt.subplots(1, 5, figsize=(16, 4.2), sharey=True)
    bins = np.linspace(-1.425, 1.425, 58)  # width 0.05, centred on the points
    for ax, (title, x) in zip(axes, runs):
        q = sample_quality(data, x, exact)
        ax.hist(np.clip(x[:, 0], -1.4, 1.4), bins=bins, color="tab:blue", alpha=0.8)
        for p in data.points[:, 0]:
            ax.axvline(p, color="k", ls="--", lw=1)
        near = np.mean(q.dist_to_data < 0.05)
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("sample $x$ (data at $\\pm 1$)")
        ax.text(0.5, 0.97, f"median dist. to data {q.median_dist_to_data:.3f}\n"
                f"within 0.05 of a point: {near:.0%}\nsame point as exact: "
                f"{q.frac_same_basin:.0%}", transform=ax.transAxes, ha="center", va="top",
                fontsize=8.5, bbox=dict(boxstyle="round", fc="white", ec="0.6", alpha=0.9))
    axes[0].set_ylabel("count (of 4000 noises)")
    axes[0].set_yscale("log")
    fig.suptitle("Even in the simplest case few steps fail: two deltas at $\\pm1$, the same "
                 "4000 noises at $\\sigma$ = 80, Karras grid to $\\sigma$ = 0.002.\n"
                 "One step returns $D(x_T, 80)$ = the mean of the two points; the samples "
                 "land between them", fontsize=12)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- row 8


@register("image_denoiser_track", "row 8: 'images become less and less averaged' along one "
          "trajectory")
def image_denoiser_track():
    gl = glyphs("0123456789", 16)
    den = IdealDenoiser(gl)
    n = 64
    sig = _grid(n)
    x_T = SIGMA_MAX * np.random.default_rng(8).standard_normal((1, 256))
    _, states, denoised = sample(den, x_T, sig, "heun", return_trajectory=True)
    ent = np.array([posterior_entropy(den, states[i], sig[i])[0] for i in range(n + 1)])
    D_all = np.concatenate([denoised[:, 0], den(states[-1], sig[-1])], axis=0)  # (n + 1, 256)
    show = [int(np.argmin(np.abs(np.log(sig) - np.log(t))))
            for t in (80, 30, 20, 15, 10, 7, 5, 3, 1, 0.002)]
    fig = plt.figure(figsize=(14, 6.6))
    gs = fig.add_gridspec(3, len(show), height_ratios=[1, 1, 1.7], hspace=0.3)
    for k, i in enumerate(show):
        ax = fig.add_subplot(gs[0, k])
        xs = states[i, 0] / np.sqrt(1.0 + sig[i] ** 2)  # rescaled to unit variance for display
        _show_images(ax, xs[None], 16, 1)
        ax.set_title(f"$\\sigma$={sig[i]:.3g}", fontsize=10)
        if k == 0:
            ax.text(-0.15, 0.5, "state $x_\\sigma$\n(rescaled)", transform=ax.transAxes,
                    ha="right", va="center", fontsize=10)
        ax = fig.add_subplot(gs[1, k])
        _show_images(ax, D_all[i][None], 16, 1)
        if k == 0:
            ax.text(-0.15, 0.5, "$D(x_\\sigma, \\sigma)$", transform=ax.transAxes, ha="right",
                    va="center", fontsize=10)
    ax = fig.add_subplot(gs[2, :])
    ax.plot(sig, ent, "o-", ms=3, color="tab:purple", label="posterior entropy $H(\\pi)$")
    ax.plot(sig[show], ent[show], "o", ms=8, mfc="none", color="k", label="shown above")
    ax.axhline(np.log(10), color="0.5", ls=":", label="$\\ln 10$: the average of all 10 digits")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("noise level $\\sigma$ (sampling runs from 80 down to 0.002)")
    ax.set_ylabel("entropy (nats)")
    ax.legend(loc="center left", fontsize=9)
    fig.suptitle("Images become less and less averaged: $D(x_\\sigma, \\sigma)$ along one "
                 "trajectory (Heun, 64 steps, ten 16x16 digit glyphs)", fontsize=12)
    return fig


# ----------------------------------------------------------------------------- row 9


@register("curved_trajectories", "row 9: 'diffusion has curved trajectories' (and a single "
          "Gaussian / single point for contrast)")
def curved_trajectories():
    n = 96
    sig = karras_sigmas(n, SIGMA_MIN, SIGMA_MAX)  # n - 1 steps to 0.002, then one to 0
    rng = np.random.default_rng(9)
    x_T = SIGMA_MAX * rng.standard_normal((14, 2))
    cases = [
        ("8 points on a ring (delta mixture)", ring(8), sig),
        ("single Gaussian $N(0, 0.5^2 I)$", GaussianMixture(np.zeros((1, 2)), 0.25),
         sig[:-1]),  # a Gaussian's D at sigma = 0 is x itself: stop at 0.002
        ("single data point", two_points().points[1:], sig),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.9),
                             gridspec_kw={"width_ratios": [1, 1, 1, 1.25]})
    colors = plt.get_cmap("tab20")(np.arange(14) % 20)
    for ax, (title, data, s) in zip(axes, cases):
        den = IdealDenoiser(data)
        _, states, _ = sample(den, x_T, s, "heun", return_trajectory=True)
        drift = denoiser_drift(den, states, s)
        with np.errstate(invalid="ignore"):
            D = np.stack([den(states[i], s[i]) for i in range(len(s))])
        dev = chord_deviation(states)
        rel = chord_deviation(states, relative=True)
        for b in range(x_T.shape[0]):
            ax.plot(states[:, b, 0], states[:, b, 1], color=colors[b], lw=1.6)
            ax.plot(D[:, b, 0], D[:, b, 1], color=colors[b], lw=1.0, ls="--")
            ax.plot(*states[-1, b], "o", color=colors[b], ms=4)
        pts = den.data.means if isinstance(data, GaussianMixture) else den.data.points
        ax.scatter(*pts.T, marker="x", s=70, color="k", lw=2, zorder=5)
        ax.set_xlim(-2.6, 2.6)
        ax.set_ylim(-2.6, 2.6)
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$")
        ax.set_title(title, fontsize=11)
        ax.text(0.02, 0.02, f"chord deviation: median {np.median(dev):.2g}\n"
                f"(relative {np.median(rel):.1e});\nmax drift $|D - x_{{end}}|$ = "
                f"{drift.max():.2g}", transform=ax.transAxes, fontsize=8.5, va="bottom",
                bbox=dict(boxstyle="round", fc="white", ec="0.6", alpha=0.9))
        ax.plot([], [], color="0.3", lw=1.6, label="path $x(\\sigma)$")
        ax.plot([], [], color="0.3", lw=1, ls="--", label="$D(x(\\sigma), \\sigma)$")
        ax.legend(loc="upper right", fontsize=8)
        axd = axes[3]
        med = np.median(drift, axis=1)
        axd.plot(s[s > 0], med[s > 0], lw=2, label=title)
    axes[0].set_ylabel("$x_2$")
    axd.set_xscale("log")
    axd.invert_xaxis()
    axd.set_xlabel("noise level $\\sigma$ (80 $\\to$ 0.002)")
    axd.set_ylabel("median drift $|D(x(\\sigma), \\sigma) - x_{end}|$")
    axd.set_title("Denoiser drift along the path", fontsize=11)
    axd.legend(fontsize=8, loc="upper right")
    axd.text(0.98, 0.62, "single point: 0 all the way\n(straight line, constant speed)\n"
             "Gaussian: straight ray, drift > 0", transform=axd.transAxes, ha="right",
             fontsize=8.5)
    fig.suptitle("Diffusion has curved trajectories: 14 PF-ODE paths from $\\sigma$ = 80 (Heun, "
                 f"{n - 1} steps; window of $\\pm 2.6$ around the data, where the bending is)",
                 fontsize=12)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- row 10


@register("error_vs_steps", "row 10: curved paths cost discretisation error: error vs steps, "
          "with fitted orders")
def error_vs_steps():
    steps = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
    rng = np.random.default_rng(10)
    x_T = SIGMA_MAX * rng.standard_normal((64, 2))
    cases = [
        ("single Gaussian $N(0, 0.5^2 I)$, to $\\sigma$ = 0.002",
         IdealDenoiser(GaussianMixture(np.zeros((1, 2)), 0.25)), 0.002),
        ("8 points on a ring, to $\\sigma$ = 0.2", IdealDenoiser(ring(8)), 0.2),
        ("8 points on a ring, to $\\sigma$ = 0.002", IdealDenoiser(ring(8)), 0.002),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2), sharey=True)
    for ax, (title, den, end) in zip(axes, cases):
        r = convergence(den, x_T, steps, sigma_end=end, fit_min_steps=8)
        for k, name in enumerate(r.solvers):
            sw = r.switched[k]
            lab = f"{LABELS[name]}: order {r.order[k]:.2f}"
            if sw.max() > 0:
                lab += f" (switched: up to {sw.max()}/64)"
            ax.loglog(r.steps, r.median[k], "o-", color=COLORS[name], ms=4, label=lab)
            ref = r.median[k, -1] * (r.steps / r.steps[-1]) ** r.slope[k]
            sel = r.steps >= 8
            ax.loglog(r.steps[sel], ref[sel] * 0.6, ":", color=COLORS[name], lw=1)
        ax.set_title(title, fontsize=11)
        ax.set_xlabel(f"solver steps $n$ (Karras grid, $\\sigma$ = 80 $\\to$ {end:g}, no "
                      "trailing 0)")
        ax.legend(fontsize=8, loc="lower left")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("median $|x_n - x_{ODE}|$ over 64 noises")
    axes[0].text(0.97, 0.97, "Heun: 2 NFE per step\nfew-step Heun: the corrector\n"
                 "divides by a small $\\sigma$ after\none huge step, and overshoots",
                 transform=axes[0].transAxes, ha="right", va="top", fontsize=8.5,
                 bbox=dict(boxstyle="round", fc="white", ec="0.6", alpha=0.9))
    fig.suptitle("Error against the exact ODE (DOP853) vs number of steps; orders fitted on the "
                 "median for n $\\geq$ 8 (dotted).  Ending at $\\sigma$ = 0 would snap every "
                 "sample onto a data point (error 0 or a jump)", fontsize=12)
    fig.tight_layout()
    return fig
