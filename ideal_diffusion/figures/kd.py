"""Figures of knowledge distillation (slides "Knowledge distillation. Optimal solution" and
"Summary"): thin wrappers of :mod:`ideal_diffusion.experiments.kd`."""
from __future__ import annotations

from ideal_diffusion.experiments import kd
from ideal_diffusion.figures import register


@register("kd_vs_average",
          "2. Knowledge distillation. Optimal solution: the one-step diffusion output (an "
          "average) beside the one-step KD student (sharp)")
def kd_vs_average():
    return kd.plot(kd.run(kd.Config()))


@register("kd_inherits_error",
          "Summary: KD inherits the teacher's discretisation error (a 3-step Euler "
          "teacher vs a 50-step Heun teacher)")
def kd_inherits_error():
    return kd.plot_inherits_error(kd.run(kd.Config()))
