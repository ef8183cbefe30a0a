"""Figures of knowledge distillation (slides "Knowledge distillation. Optimal solution" and
"Summary"): thin wrappers of :mod:`ideal_diffusion.experiments.kd`."""
from __future__ import annotations

from ideal_diffusion.figures import register


@register("kd_vs_average",
          "2. Knowledge distillation. Optimal solution: the one-step diffusion output (an "
          "average) beside the one-step KD student (sharp)")
def kd_vs_average():
    from ideal_diffusion.experiments.kd import KDConfig, plot_kd_vs_average, run_kd

    return plot_kd_vs_average(run_kd(KDConfig()))


@register("kd_inherits_error",
          "Summary: KD inherits the teacher's discretisation error (a 3-step Euler "
          "teacher vs a 50-step Heun teacher)")
def kd_inherits_error():
    from ideal_diffusion.experiments.kd import KDConfig, plot_kd_inherits_error, run_kd

    return plot_kd_inherits_error(run_kd(KDConfig()))
