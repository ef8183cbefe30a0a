"""Slide figures of consistency distillation (lecture rows 15, 17-22).

All numbers come from :mod:`ideal_diffusion.distill.exp_cd` (seeded, cached runners), so the
figures share trained students: ring(8), Heun teacher on the ascending 18-level distillation
grid s_1 = 0.002 < ... < s_18 = 80, MLP 128 x 3 students.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ideal_diffusion.distill import exp_cd as E
from ideal_diffusion.figures import register

C_STUDENT, C_ORACLE, C_AVG, C_CT = "tab:blue", "tab:orange", "tab:gray", "tab:green"


@register("cd_student_vs_optimum", "row 17: a CD student approaches the exact CD optimum (the "
          "teacher chained to s_1), not the average; the CT target is a mixture")
def cd_student_vs_optimum():
    r = E.student_vs_optimum(1)
    res = E.student(1)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.4))
    s = r["sigma"]
    ax.loglog(s, r["student"], "o-", c=C_STUDENT, label="trained CD student f_phi")
    ax.loglog(s, r["average"], "s--", c=C_AVG, label="diffusion optimum D(x, sigma) (average)")
    ct = np.where(r["ct"] > 1e-3, r["ct"], np.nan)
    ax.loglog(s, ct, "^:", c=C_CT, label="CT target optimum (mixture; = f* where not drawn)")
    ax.axhline(r["spacing"] / 4, c="k", lw=0.8, ls=":")
    ax.text(s[0], r["spacing"] / 4 * 1.1, "1/4 of the data spacing", fontsize=9)
    ax.set_xlabel("noise level sigma (grid value)")
    ax.set_ylabel("median |f(x, sigma) - f*(x, sigma)|")
    ax.set_title("Distance to the exact CD optimum f*, held-out x")
    ax.set_ylim(1e-3, 3)
    ax.legend(loc="lower right", fontsize=8)
    h = res.history
    k = 25
    ax2.semilogy(np.convolve(h, np.ones(k) / k, mode="valid"), c=C_STUDENT)
    ax2.set_xlabel("training step")
    ax2.set_ylabel(f"weighted CD loss (running mean of {k})")
    ax2.set_title(f"Training: {res.config['steps']} steps, {res.config['train_seconds']:.0f} s "
                  "(1 thread, shared CPU)")
    fig.tight_layout()
    return fig


@register("cd_collapse", "rows 18-19: without the boundary condition the CD outputs shrink "
          "while the loss falls and nothing ties them to the data; f(x, s_1) = x keeps the spread")
def cd_collapse():
    r = E.collapse()
    data, _, _ = E.setting()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    k = 10
    sm = lambda h: np.convolve(h, np.ones(k) / k, mode="valid")  # noqa: E731
    runs = (("plain", "tab:red", "-", f"plain output, weight decay {E.COLLAPSE['weight_decay']}"),
            ("plain0", "tab:red", ":", "plain output, no decay"),
            ("bc", C_STUDENT, "-", f"boundary param., weight decay {E.COLLAPSE['weight_decay']}"))
    ax = axes[0]
    for run, c, ls, lab in runs:
        ax.semilogy(sm(r[f"loss_{run}"]), c=c, ls=ls, label=lab)
    ax.set_xlabel("training step")
    ax.set_ylabel(f"CD loss (running mean of {k})")
    ax.set_title("The loss falls in every run")
    ax.legend(fontsize=8)
    ax = axes[1]
    for run, c, ls, lab in runs:
        ax.plot(r["trace_steps"], r[f"trace_{run}"], c=c, ls=ls, marker="o", ms=3,
                label=f"{lab}: |f - f*| = {r[f'opt_{run}']:.2f}")
    ax.axhline(r["data_spread"], c="k", ls="--", lw=0.8, label="spread of the data")
    ax.set_ylim(0, 1.25)
    ax.set_xlabel("training step")
    ax.set_ylabel("RMS spread of f(x, sigma) across x\n(median over 6 levels sigma)")
    ax.set_title(f"Output spread / data spread at the end: plain {r['ratio_plain']:.2f}, "
                 f"boundary {r['ratio_bc']:.2f}", fontsize=10)
    ax.legend(fontsize=8, loc="lower right", title="median distance to the CD optimum f*",
              title_fontsize=8)
    ax = axes[2]
    ax.scatter(*r["samples_input"].T, s=5, c="0.75", label="inputs x (noisy data)")
    ax.scatter(*r["samples_bc"].T, s=6, c=C_STUDENT, alpha=0.5, label="boundary param.")
    ax.scatter(*r["samples_plain"].T, s=6, c="tab:red", alpha=0.5, label="plain (decay)")
    ax.scatter(*data.points.T, s=60, marker="x", c="k", label="data")
    ax.set_aspect("equal")
    ax.set_xlabel("x_1")
    ax.set_ylabel("x_2")
    ax.set_title(f"Outputs f(x, sigma = {r['samples_sigma']:.2f}): plain on a line; boundary "
                 "keeps\nthe spread (400 steps with decay: not yet on the points)", fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
    fig.suptitle(f"CD without the boundary condition f(x, s_1) = x: {E.COLLAPSE['steps']} steps, "
                 f"EMA target mu = {E.CONFIG['mu']}, same seed and batches", y=1.0)
    fig.tight_layout()
    return fig


@register("cd_theorem1", "row 22: the CD optimum's error falls with the grid at the teacher "
          "solver's order (Theorem 1)")
def cd_theorem1():
    r = E.theorem1()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    N = r["N"]
    for solver, c in (("euler", "tab:blue"), ("heun", "tab:orange")):
        ax.loglog(N, r[solver], "o-", c=c, label=f"{solver.capitalize()} teacher: "
                  f"order p = {r['p_' + solver]:.2f}")
    ax.set_xlabel("grid levels N (spacing ~ 1/(N-1))")
    ax.set_ylabel("median |f*(x_T, 80) - exact ODE(x_T -> 0.002)|")
    ax.set_title("Theorem 1: CD optimum error ~ (grid spacing)^p")
    ax.legend()
    fig.tight_layout()
    return fig


@register("cd_multistep", "row 20: stochastic multistep consistency sampling: quality vs steps; "
          "re-noising departs from the ODE map")
def cd_multistep():
    r = E.multistep_curve()
    st = r["steps"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.4))
    a1.semilogy(st, r["student_data"], "o-", c=C_STUDENT, label="trained student")
    a1.semilogy(st, r["oracle_data"], "s--", c=C_ORACLE, label="exact CD optimum (oracle)")
    a1.set_xlabel("sampling steps (network evaluations)")
    a1.set_ylabel("median distance to the nearest data point")
    a1.set_title("Quality: re-noising lets the student correct itself")
    a1.legend()
    a2.plot(st, r["student_basin"], "o-", c=C_STUDENT, label="student")
    a2.plot(st, r["oracle_basin"], "s--", c=C_ORACLE, label="oracle")
    a2.axhline(1 / 8, c="k", ls=":", label="chance (1/8)")
    a2.set_ylim(0, 1.05)
    a2.set_xlabel("sampling steps (network evaluations)")
    a2.set_ylabel("fraction in the exact ODE endpoint's basin")
    a2.set_title("Agreement with the ODE map of the same x_T")
    a2.legend()
    fig.tight_layout()
    return fig


@register("mbcd_vs_K", "row 21: multi-boundary CD: each student approaches its per-segment "
          "optimum; K-jump error against the exact ODE vs K, student and exact optimum")
def mbcd_vs_K():
    r = E.mbcd_vs_K()
    K = r["K"]
    cols = ("tab:blue", "tab:purple", "tab:green")
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(16, 4.6))
    a1.semilogy(K, r["student_exact"], "o-", c=C_STUDENT, label="trained students")
    a1.semilogy(K, r["oracle_exact"], "s--", c=C_ORACLE, label="exact per-segment optimum")
    for j, k in enumerate(K):
        a1.annotate(f"{r['student_basin'][j]:.0%} in basin", (k, r["student_exact"][j]),
                    textcoords="offset points", xytext=(6, 6), fontsize=8)
    a1.set_xticks(K)
    a1.set_ylim(1e-3, 1)
    a1.set_xlabel("boundaries K (= sampling steps)")
    a1.set_ylabel("median |K-jump sample - exact ODE endpoint|")
    a1.set_title("K-jump sampling, same x_T")
    a1.legend(loc="center right", fontsize=8)
    s = r["level_sigma"]
    for j, k in enumerate(K):
        a2.loglog(s, r["level_error"][j], "o-", c=cols[j], label=f"K = {k} ({r['param'][j]})")
        for bb in r["boundaries"][j][1:]:
            a2.axvline(bb, c=cols[j], ls=":", lw=1)
    a2.set_xlabel("noise level sigma (dotted: boundaries)")
    a2.set_ylabel("median |f(x, sigma) - f*_K(x, sigma)|")
    a2.set_title("Each student vs its per-segment optimum")
    a2.legend(fontsize=8)
    w = 0.8 / len(K)
    for j, k in enumerate(K):
        e = r["jump_error"][j]
        pos = np.arange(e.size) + (j - 1) * w
        a3.bar(pos, np.maximum(e, 1e-4), w, color=cols[j],
               label=f"K = {k}: all jumps {r['student_vs_oracle'][j]:.3f}")
        for p_, v in zip(pos, e):
            a3.text(p_, max(v, 1e-4) * 1.15, f"{v:.3f}", ha="center", fontsize=7, rotation=90)
    a3.set_yscale("log")
    a3.set_ylim(1e-4, 1)
    a3.set_xticks(range(int(K.max())), [f"jump to b_{i}" for i in range(int(K.max()))])
    a3.set_ylabel("median error of the final sample (floor 1e-4)")
    a3.set_title("Only jump k by the student (the rest exact)")
    a3.legend(fontsize=8, title="vs the oracle's K-jump sample", title_fontsize=8)
    fig.suptitle(f"Multi-boundary CD, ring(8): each student {E.CONFIG['steps']} steps x batch "
                 f"{E.CONFIG['batch']}. The basin decision (sigma ~ 0.3-2) lies in the bottom "
                 "segment for K <= 2, not for K = 4", y=1.0, fontsize=11)
    fig.tight_layout()
    return fig


@register("cd_consistency_trajectories", "row 15: points along one trajectory all map to the "
          "same x0: where the student sends them")
def cd_consistency_trajectories():
    r = E.trajectory_consistency()
    data, _, _ = E.setting()
    s = r["sigma"]
    keep = np.flatnonzero(s <= 1.1)  # the levels whose states lie in the frame
    fig, ax = plt.subplots(figsize=(6.8, 6.4))
    ax.scatter(*data.points.T, s=90, marker="x", c="k", zorder=5, label="data points")
    cmap = plt.get_cmap("viridis")
    for j in range(r["states"].shape[1]):
        st = r["states"][keep, j]
        ax.plot(*st.T, c="0.6", lw=1, zorder=1)
        for i in keep:
            c = cmap(np.log(s[i] / s[0]) / np.log(s[keep[-1]] / s[0]))
            x, y = r["states"][i, j], r["student"][i, j]
            ax.annotate("", xy=y, xytext=x, arrowprops=dict(arrowstyle="->", color=c, lw=0.8,
                                                            alpha=0.8))
            ax.scatter(*x, s=14, color=c, zorder=3)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.matplotlib.colors.LogNorm(s[0], s[keep[-1]]))
    fig.colorbar(sm, ax=ax, label="sigma of the point on the trajectory", shrink=0.8)
    ax.set_aspect("equal")
    ax.set_xlim(-1.6, 2.2)
    ax.set_ylim(-2.2, 1.8)
    ax.set_xlabel("x_1")
    ax.set_ylabel("x_2")
    ax.set_title("Teacher trajectories (grey, sigma <= 1.1) and the\n"
                 "trained student's f(x_sigma, sigma) (arrows)")
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig
