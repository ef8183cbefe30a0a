"""Figures for the students: a trained denoiser against the ideal one (lecture rows 3-5)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ideal_diffusion.figures import register

SEED = 0


@register("denoiser_student_vs_ideal",
          "rows 3-5: a trained MLP denoiser reproduces E[x0|x], averaging included")
def denoiser_student_vs_ideal():
    """Three panels: error vs sigma, distance to the data mean vs sigma, outputs in the plane."""
    from ideal_diffusion.data import ring
    from ideal_diffusion.denoiser import IdealDenoiser
    from ideal_diffusion.distill.denoiser_student import (
        student_error_by_sigma,
        train_denoiser_student,
    )
    from ideal_diffusion.nn import TrainConfig

    data = ring(8, 1.0)
    D = IdealDenoiser(data)
    # EDM loss; a quarter of each batch has log-uniform sigma on [0.002, 80] so that the student
    # also sees the large noise levels where the averaging happens (EDM's log-normal barely does).
    # (no gradient clipping: the figure's student was trained without it)
    model = train_denoiser_student(data, TrainConfig(steps=3000, seed=SEED, clip_norm=None,
                                                     progress=False), wide_frac=0.25)
    history = model.history
    sigmas = np.geomspace(0.02, 80, 25)
    stats = student_error_by_sigma(model, data, sigmas, n=2000, rng=1, denoiser=D)

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    ax = axes[0]
    ax.axvspan(0.05, 5, color="0.92", label=r"$\sigma \in [0.05, 5]$ (tested band)")
    ax.loglog(sigmas, stats["rms"], "o-", color="C3", label=r"RMS $|D_\theta - D|$")
    ax.loglog(sigmas, stats["median"], "s--", color="C3", alpha=0.6,
              label=r"median $|D_\theta - D|$")
    ax.loglog(sigmas, stats["dist_mean_ideal"], ":", color="k",
              label=r"scale: mean $|D - \bar{x}_0|$")
    ax.set_xlabel(r"noise level $\sigma$")
    ax.set_ylabel("distance")
    ax.set_title(f"student vs ideal denoiser ({history.size} Adam steps)")
    ax.legend(loc="lower left")

    ax = axes[1]
    ax.semilogx(sigmas, stats["dist_mean_ideal"], "k-", lw=2, label=r"ideal $D(x, \sigma)$")
    ax.semilogx(sigmas, stats["dist_mean_student"], "o", color="C3", ms=5,
                label=r"student $D_\theta(x, \sigma)$")
    ax.axhline(1.0, color="0.6", lw=1, ls="--")
    ax.text(sigmas[0], 1.03, "data radius", color="0.4", fontsize=9)
    ax.set_ylim(0, 1.12)
    ax.set_xlabel(r"noise level $\sigma$")
    ax.set_ylabel(r"mean distance to the data mean $\bar{x}_0$")
    ax.set_title("large $\\sigma$: both return the mean\n(the averaging is in the optimum)")
    ax.legend(loc="center left")

    ax = axes[2]
    rng = np.random.default_rng(2)
    pts = data.points
    for color, s in zip(("C0", "C1", "C2"), (0.1, 0.6, 3.0)):
        x = data.sample(300, rng) + s * rng.standard_normal((300, 2))
        ideal, student = D(x, s), model(x, s)
        ax.scatter(ideal[:, 0], ideal[:, 1], s=30, facecolors="none", edgecolors=color,
                   label=rf"$D$, $\sigma$={s}")
        ax.scatter(student[:, 0], student[:, 1], s=8, marker="x", color=color, alpha=0.8,
                   label=rf"$D_\theta$, $\sigma$={s}")
    ax.scatter(pts[:, 0], pts[:, 1], s=90, marker="*", color="k", zorder=3, label="data")
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(r"outputs: snap to a point at small $\sigma$," "\n" r"average at large $\sigma$")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.suptitle("A well-trained MLP denoiser reproduces the ideal denoiser E[x0|x] "
                 "(8-point ring, EDM loss)", y=1.02)
    fig.tight_layout()
    return fig
