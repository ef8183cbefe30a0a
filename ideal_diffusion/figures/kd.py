"""Figures of knowledge distillation (lecture rows 13-14 and 22; issue 4, experiments 1-2).

Both figures read the cached runners of :mod:`ideal_diffusion.distill.exp_kd` (its
``CONFIG``: ring(8), Heun teachers, MLP 64 x 3), so the three students are trained once per
process and shared.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ideal_diffusion.figures import register


def _ring_axes(ax, data, title):
    pts = data.points
    ax.scatter(pts[:, 0], pts[:, 1], s=160, marker="*", color="k", zorder=4, label="data points")
    ax.scatter([data.mean[0]], [data.mean[1]], s=60, marker="+", color="0.3", zorder=4,
               label="data mean")
    ax.set_aspect("equal")
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.45, 1.45)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title)


@register("kd_vs_average",
          "rows 13-14: one-step diffusion output (average) beside the one-step KD student (sharp)")
def kd_vs_average():
    """Same x_T, same network and optimiser: regress onto x0 (average) vs onto the teacher."""
    from ideal_diffusion.distill import exp_kd as E
    from ideal_diffusion.geometry import nearest_point

    c = E.CONFIG
    data, den = E.setting(c["ring"])
    r = E.average_vs_teacher()
    x_T, exact = E.test_set(c["ring"], c["n_test"], c["seed"] + 1000)
    x_T, exact = x_T[:600], exact[:600]
    kd, avg_student = E.student("many")(x_T), E.student("x0")(x_T)
    avg = den(x_T, E.SIGMA_MAX)
    basin = nearest_point(data, exact)[0]
    colors = plt.get_cmap("tab10")(basin % 10)

    fig, axes = plt.subplots(1, 3, figsize=(15.5, 4.9))
    ax = axes[0]
    _ring_axes(ax, data, "diffusion-loss student: regress $x_T$ onto its own $x_0$\n"
               r"$\to$ the average $D(x_T, \sigma{=}80)$")
    ax.scatter(avg_student[:, 0], avg_student[:, 1], s=10, c=colors, alpha=0.7,
               label=r"student $f_\phi(x_T, 80)$")
    ax.scatter(avg[:, 0], avg[:, 1], s=14, facecolors="none", edgecolors="k", lw=0.6,
               label=r"ideal $D(x_T, 80)$")
    ax.text(0, -1.3, f"median $|f_\\phi - D(x_T, 80)|$ = {r['x0_to_average']:.3f}\n"
            f"median distance to data = {r['x0_to_data']:.2f}", ha="center", fontsize=9)
    ax.legend(loc="upper left", fontsize=8)

    ax = axes[1]
    _ring_axes(ax, data, "KD student: regress $x_T$ onto the teacher's sample\n"
               r"(Heun, 50 steps) $\to$ a data point")
    ax.scatter(kd[:, 0], kd[:, 1], s=10, c=colors, alpha=0.7,
               label=r"KD student $f_\phi(x_T, 80)$")
    ax.text(0, 0.3, f"median distance to data\n= {r['kd_to_data']:.3f}\n"
            f"(point spacing {r['spacing']:.3f})", ha="center", va="center", fontsize=9)
    ax.legend(loc="upper left", fontsize=8)

    ax = axes[2]
    x_all, ex_all = E.test_set(c["ring"], c["n_test"], c["seed"] + 1000)
    d_kd = nearest_point(data, E.student("many")(x_all))[1]
    d_x0 = nearest_point(data, E.student("x0")(x_all))[1]
    bins = np.linspace(0, 1.1, 45)
    ax.hist(d_x0, bins=bins, color="C3", alpha=0.7, label="diffusion-loss student")
    ax.hist(d_kd, bins=bins, color="C0", alpha=0.7, label="KD student")
    ax.axvline(r["spacing"] / 2, color="0.4", ls="--", lw=1,
               label="half the point spacing")
    ax.set_yscale("log")
    ax.set_xlabel("distance of the one-step output to the nearest data point")
    ax.set_ylabel(f"count (of {x_all.shape[0]} held-out $x_T$)")
    ax.set_title("KD optimum = the teacher's map, not the average")
    ax.legend(loc="upper center", fontsize=8)
    fig.suptitle("One step from $\\sigma_{max}$ = 80 on an 8-point ring: same inputs, same MLP "
                 f"({c['hidden']}x{c['depth']}, {c['steps']} Adam steps), different targets "
                 "(colour: basin of the exact ODE endpoint)", y=1.01)
    fig.tight_layout()
    return fig


@register("kd_inherits_error",
          "row 22: KD inherits the teacher's discretisation error (3- vs 50-step Heun teacher)")
def kd_inherits_error():
    """Where the 3-step teacher lands in the wrong basin, so does its KD student."""
    from ideal_diffusion.distill import exp_kd as E
    from ideal_diffusion.geometry import sample_quality

    c = E.CONFIG
    data, _ = E.setting(c["ring"])
    r = E.inherited_error()
    x_T, exact = E.test_set(c["ring"], c["n_test"], c["seed"] + 1000)
    outs = {"3-step Heun teacher": E.teacher_output(x_T, c["few"]),
            "its KD student (1 step)": E.student("few")(x_T),
            "KD student of the 50-step teacher": E.student("many")(x_T)}
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.8),
                             gridspec_kw=dict(width_ratios=[1, 1, 1, 1.15]))
    u = x_T / E.SIGMA_MAX
    for ax, (name, x) in zip(axes[:3], outs.items()):
        wrong = ~sample_quality(data, x, exact).same_basin
        ax.scatter(u[~wrong, 0], u[~wrong, 1], s=3, color="0.75", label="exact basin")
        ax.scatter(u[wrong, 0], u[wrong, 1], s=9, color="C3",
                   label=f"wrong basin ({wrong.mean():.1%})")
        ax.set_aspect("equal")
        lim = np.quantile(np.abs(u), 0.995)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_xlabel(r"$x_{T,1} / \sigma_{max}$")
        ax.set_ylabel(r"$x_{T,2} / \sigma_{max}$")
        ax.set_title(name)
        ax.legend(loc="upper left", fontsize=8, markerscale=2)
    ax = axes[3]
    names = ["teacher\nHeun 3", "KD student\nof Heun 3", "KD student\nof Heun 50",
             "teacher\nHeun 50"]
    keys = ["teacher_few", "student_few", "student_many", "teacher_many"]
    err = [1 - r[f"{k}_basin"] for k in keys]
    mean = [r[f"{k}_mean"] for k in keys]
    xs = np.arange(4)
    ax.bar(xs - 0.2, err, 0.4, color="C3", label="fraction in a wrong basin")
    ax.bar(xs + 0.2, mean, 0.4, color="C0", label="mean distance to exact endpoint")
    ax.set_xticks(xs, names, fontsize=9)
    ax.set_ylabel("error against the exact ODE")
    ev = [f"{r['nfe_few']} evals\nper sample", f"{r['teacher_evals_few']:,}\nevals to train",
          f"{r['teacher_evals_many']:,}\nevals to train", f"{r['nfe_many']} evals\nper sample"]
    top = max(max(err), max(mean))
    for x, e in zip(xs, ev):
        ax.text(x, top * 1.08, e, ha="center", fontsize=8, color="0.3")
    for x, e, m in zip(xs, err, mean):
        if e < 1e-9 and m < 1e-9:
            ax.text(x, top * 0.02, "0 (exact)", ha="center", fontsize=8)
    ax.set_ylim(0, top * 1.2)
    ax.set_title("teacher evaluations (top) vs error")
    ax.legend(loc="upper center", fontsize=8, bbox_to_anchor=(0.5, -0.2), ncol=2)
    fig.suptitle(
        "KD inherits the teacher's discretisation error: where the 3-step teacher lands on the "
        f"wrong point, its student follows it ({r['student_few_follows_teacher']:.0%} of those "
        f"x_T; the 50-step student: exact basin on {r['student_many_follows_exact']:.0%})",
        y=1.02)
    fig.tight_layout()
    return fig
