"""Figure of few-step DPM-Solver++(2M) with the exact denoiser (lecture section 1, "Why
Diffusion Models are slow? (low capacity? solver error?)"): a thin wrapper of
:mod:`ideal_diffusion.experiments.dpm_overshoot`."""
from __future__ import annotations

from ideal_diffusion.experiments import dpm_overshoot as E
from ideal_diffusion.figures import register


@register("dpm_overshoot",
          "1. Why Diffusion Models are slow? (solver error?): few-step DPM-Solver++(2M) with "
          "the exact D extrapolates a late jump of D and overshoots; a first-order last step")
def dpm_overshoot():
    return E.plot(E.run(E.Config()))
