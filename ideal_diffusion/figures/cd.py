"""Slide figures of consistency distillation (slides "Consistency Distillation. Main idea",
"What about optimal solution?", "Sampling from CD", "Multiboundary CD", "Summary"): thin
wrappers of :mod:`ideal_diffusion.experiments.cd` and :mod:`ideal_diffusion.experiments.mbcd`."""
from __future__ import annotations

from ideal_diffusion.experiments import cd as E
from ideal_diffusion.experiments import mbcd as M
from ideal_diffusion.figures import register


@register("cd_student_vs_optimum",
          "3. What about optimal solution? ('again a mixture? NO!'): the CD student's "
          "distance to the exact CD optimum (the teacher chained to s_1) per noise level, "
          "beside the average's and the data's nearest-neighbour spacing (the title says "
          "at which levels the student is closer than that spacing); the CT target is a "
          "mixture")
def cd_student_vs_optimum():
    return E.plot_cd_student_vs_optimum(E.run_cd(E.CDConfig()))


@register("cd_collapse",
          "3. What about optimal solution? (trivial solution, boundary condition): "
          "without the boundary condition the CD outputs shrink while the loss falls and "
          "nothing ties them to the data; f(x, s_1) = x keeps the spread")
def cd_collapse():
    return E.plot_collapse(E.run_collapse(E.CollapseConfig()))


@register("cd_theorem1",
          "Summary: the CD optimum's error falls with the grid at the teacher solver's "
          "order (Theorem 1)")
def cd_theorem1():
    return E.plot_theorem1(E.run_theorem1(E.Theorem1Config()))


@register("cd_multistep",
          "3. Sampling from CD: stochastic multistep consistency sampling: quality vs "
          "steps; re-noising departs from the ODE map")
def cd_multistep():
    return E.plot_multistep(E.run_multistep(E.MultistepConfig()))


@register("mbcd_vs_K",
          "3. Multiboundary CD: multi-boundary CD: each student approaches its "
          "per-segment optimum; K-jump error against the exact ODE vs K, student and "
          "exact optimum")
def mbcd_vs_K():
    return M.plot_mbcd_vs_K(M.run_mbcd(M.MBCDConfig()))


@register("cd_consistency_trajectories",
          "3. Consistency Distillation. Main idea: points along one trajectory all map to "
          "the same x0: where the student sends them")
def cd_consistency_trajectories():
    return E.plot_trajectories(E.run_trajectories(E.TrajectoryConfig()))
