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


@register("cd_collapse", "rows 18-19: without the boundary condition CD collapses towards a "
          "constant while the loss falls; f(x, s_1) = x keeps the spread")
def cd_collapse():
    r = E.collapse()
    data, _, _ = E.setting()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    k = 25
    sm = lambda h: np.convolve(h, np.ones(k) / k, mode="valid")  # noqa: E731
    ax = axes[0]
    ax.semilogy(sm(r["loss_plain"]), c="tab:red", label="plain output (no boundary condition)")
    ax.semilogy(sm(r["loss_bc"]), c=C_STUDENT, label="boundary parameterisation")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"CD loss (running mean of {k})")
    ax.set_title("The loss falls in both runs")
    ax.legend()
    ax = axes[1]
    ax.semilogx(r["sigma"], r["spread_plain"], "o-", c="tab:red", label="plain")
    ax.semilogx(r["sigma"], r["spread_bc"], "o-", c=C_STUDENT, label="boundary param.")
    ax.axhline(r["data_spread"], c="k", ls=":", label="spread of the data")
    ax.set_ylim(0, 1.3 * max(r["data_spread"], r["spread_bc"].max()))
    ax.set_xlabel("noise level sigma")
    ax.set_ylabel("RMS spread of f(x, sigma) across x")
    ax.set_title(f"Output spread / data spread: plain {r['ratio_plain']:.2f}, "
                 f"boundary {r['ratio_bc']:.2f}")
    ax.legend()
    ax = axes[2]
    x_T = E._noise()[0][:300]
    res_p = E.student(1, "plain", E.COLLAPSE["steps"], weight_decay=E.COLLAPSE["weight_decay"])
    res_b = E.student(1, "consistency", E.COLLAPSE["steps"],
                      weight_decay=E.COLLAPSE["weight_decay"])
    yp, yb = res_p(x_T, np.full(300, 80.0)), res_b(x_T, np.full(300, 80.0))
    ax.scatter(*yb.T, s=6, c=C_STUDENT, alpha=0.5, label="boundary param.")
    ax.scatter(*yp.T, s=6, c="tab:red", alpha=0.5, label="plain")
    ax.scatter(*data.points.T, s=60, marker="x", c="k", label="data")
    ax.set_aspect("equal")
    ax.set_xlabel("x_1")
    ax.set_ylabel("x_2")
    ax.set_title("One-step samples f(x_T, sigma=80)")
    ax.legend(loc="upper right", fontsize=8)
    fig.suptitle(f"CD without the boundary condition: {E.COLLAPSE['steps']} steps, AdamW weight "
                 f"decay {E.COLLAPSE['weight_decay']} in both runs", y=1.02)
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


@register("mbcd_vs_K", "row 21: multi-boundary CD, K-jump sampling: error against the exact ODE "
          "vs K, student and exact per-segment optimum")
def mbcd_vs_K():
    r = E.mbcd_vs_K()
    K = r["K"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.4))
    a1.semilogy(K, r["student_exact"], "o-", c=C_STUDENT, label="trained student, K jumps")
    a1.semilogy(K, r["oracle_exact"], "s--", c=C_ORACLE, label="exact optimum, K jumps")
    a1.set_xticks(K)
    a1.set_xlabel("boundaries K (= sampling steps)")
    a1.set_ylabel("median |sample - exact ODE endpoint|")
    a1.set_title("Error against the exact ODE of the same x_T")
    a1.legend()
    a2.plot(K, r["student_basin"], "o-", c=C_STUDENT, label="student")
    a2.plot(K, r["oracle_basin"], "s--", c=C_ORACLE, label="oracle")
    a2.set_xticks(K)
    a2.set_ylim(0, 1.05)
    a2.set_xlabel("boundaries K")
    a2.set_ylabel("fraction in the exact ODE endpoint's basin")
    a2.set_title(f"Each student: {E.CONFIG['steps']} steps x batch {E.CONFIG['batch']}")
    a2.legend(loc="lower left")
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
