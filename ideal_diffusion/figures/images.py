"""Image figures: the memorising and the generalising teacher of the digits side by side;
"Ours, 4 steps" vs "Teacher, 50 steps" on each; and the summary table as a picture (error vs
NFE, student and exact optimum beside the plain teacher).

The digit students are committed checkpoints (``python -m ideal_diffusion retrain`` remakes
them); the figures only sample and measure.
"""
from __future__ import annotations

from ..experiments import images, summary, teachers
from . import register


@register("teachers_memorise_vs_generalise",
          "1. Sampling from ideal diffusion model, 'What about images? Images become less and "
          "less averaged': a memorising (delta) and a generalising (Gaussian-mixture) teacher "
          "of the digits, the same noises: posterior collapse and few-step samples")
def teachers_memorise_vs_generalise():
    return teachers.plot(teachers.run(teachers.Config()))


@register("images_4step_vs_teacher",
          "Summary: 'Ours, 4 steps' vs 'Teacher, 50 steps' on the generalising digit teacher "
          "(a Gaussian mixture fitted to the digits), beside the exact optimum and the plain "
          "4-step teachers (states at sigma_min, full pixel range)")
def images_4step_vs_teacher():
    return images.plot(images.run(images.Config(data="digits_gmm")))


@register("images_4step_vs_teacher_memorising",
          "Summary, on the memorising digit teacher (the 1,797 digits as a delta mixture): "
          "plain 4-step samplers already land sharp, on a training image that is often not the "
          "exact ODE's, so the student's error is a wrong image, not a blur")
def images_4step_vs_teacher_memorising():
    return images.plot(images.run(images.Config(data="digits")))


@register("summary_error_vs_nfe",
          "Summary: at equal NFE, each distilled student (filled) and its exact optimum (open) "
          "against the plain teacher samplers, on the 2-D clusters and the digits")
def summary_error_vs_nfe():
    return summary.plot(summary.run(summary.Config()))
