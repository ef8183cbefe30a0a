"""Figures for the students: a trained denoiser against the ideal one.

Thin wrapper around :mod:`ideal_diffusion.experiments.motivation` (the student is the one
:func:`~ideal_diffusion.experiments.motivation.denoiser_student.run` trains, shared with the
Heun panel of ``error_vs_steps``).
"""
from __future__ import annotations

from ideal_diffusion.experiments import motivation as m
from ideal_diffusion.figures import register


@register("denoiser_student_vs_ideal", "1. Towards ideal approximation / 1. Ideal diffusion "
          "model: a trained MLP denoiser reproduces E[x0|x], averaging included")
def denoiser_student_vs_ideal():
    return m.student_vs_ideal.plot(m.student_vs_ideal.run(m.student_vs_ideal.Config()))
