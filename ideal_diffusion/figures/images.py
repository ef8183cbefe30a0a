"""Summary slide figures: "Ours, 4 steps" vs "Teacher, 50 steps" on the real digits, and the
summary table as a picture (error vs NFE, student and exact optimum beside the plain teacher).

The digit students are committed checkpoints (``python -m ideal_diffusion retrain`` remakes
them); the figures only sample and measure.
"""
from __future__ import annotations

from ..experiments import images, summary
from . import register


@register("images_4step_vs_teacher",
          "Summary: 'Ours, 4 steps' vs 'Teacher, 50 steps' on the real 8x8 digits, beside the "
          "exact optimum and the plain 4-step teacher (states at sigma_min)")
def images_4step_vs_teacher():
    return images.plot(images.run(images.Config()))


@register("summary_error_vs_nfe",
          "Summary: at equal NFE, each distilled student (filled) and its exact optimum (open) "
          "against the plain teacher samplers, on the 2-D clusters and the digits")
def summary_error_vs_nfe():
    return summary.plot(summary.run(summary.Config()))
