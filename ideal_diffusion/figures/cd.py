"""Slide figures of consistency distillation (slides "Consistency Distillation. Main idea",
"What about optimal solution?", "Sampling from CD", "Multiboundary CD", "Summary"): thin
wrappers of :mod:`ideal_diffusion.experiments.cd`, :mod:`ideal_diffusion.experiments.mbcd` and
:mod:`ideal_diffusion.experiments.boundaries`."""
from __future__ import annotations

from ideal_diffusion.experiments import boundaries, mbcd
from ideal_diffusion.experiments.cd import (
    collapse,
    multistep,
    student_vs_optimum,
    theorem1,
    trajectories,
)
from ideal_diffusion.figures import register


@register("cd_student_vs_optimum",
          "3. What about optimal solution? ('again a mixture? NO!'): the CD student's "
          "distance to the exact CD optimum (the teacher chained to s_1) per noise level, "
          "beside the average's and the data's nearest-neighbour spacing (the title says "
          "at which levels the student is closer than that spacing); the CT target is a "
          "mixture")
def cd_student_vs_optimum():
    return student_vs_optimum.plot(student_vs_optimum.run(student_vs_optimum.Config()))


@register("cd_collapse",
          "3. What about optimal solution? (trivial solution, boundary condition): CD "
          "with/without the boundary condition f(x, s_1) = x and with/without weight decay: "
          "the spread of the student's outputs against the data's over training")
def cd_collapse():
    return collapse.plot(collapse.run(collapse.Config()))


@register("cd_theorem1",
          "Summary: the CD optimum's error falls with the grid at the teacher solver's "
          "order (Theorem 1)")
def cd_theorem1():
    return theorem1.plot(theorem1.run(theorem1.Config()))


@register("cd_multistep",
          "3. Sampling from CD: stochastic multistep consistency sampling: quality vs "
          "steps; re-noising departs from the ODE map")
def cd_multistep():
    return multistep.plot(multistep.run(multistep.Config()))


@register("mbcd_vs_K",
          "3. Multiboundary CD: multi-boundary CD: each student approaches its "
          "per-segment optimum; K-jump error against the exact ODE vs K, student and "
          "exact optimum")
def mbcd_vs_K():
    return mbcd.plot(mbcd.run(mbcd.Config()))


@register("mbcd_boundaries",
          "3. Multiboundary CD: where to put the boundaries: every placement scored by its "
          "K DDIM jumps against the exact optimum, and students trained at the searched and "
          "the default boundaries (the summary's MBCD budget), with paired CIs")
def mbcd_boundaries():
    return boundaries.plot(boundaries.run(boundaries.Config()))


@register("cd_consistency_trajectories",
          "3. Consistency Distillation. Main idea: points along one trajectory all map to "
          "the same x0: where the student sends them")
def cd_consistency_trajectories():
    return trajectories.plot(trajectories.run(trajectories.Config()))
