"""Every experiment module, in gallery order: the one list behind the figures and the table.

* ``python -m ideal_diffusion figures`` makes the ``FIGURES`` of each module (a tuple of
  :class:`~._figure.SlideFigure`), in this order and then in each tuple's order (also the
  order of ``--list`` and of the generated gallery ``figures/README.md``);
* the summary table's 2-D rows come from the modules here that define ``summary_config`` and
  ``summary_rows`` (:func:`.summary.row_modules`).

A new method is one more line here (its module declares the rest).
"""
from __future__ import annotations

from . import (
    animation,
    boundaries,
    dpm_overshoot,
    flow,
    images,
    kd,
    kd_data,
    mbcd,
    progressive,
    summary,
    teachers,
)
from .cd import collapse, multistep, student_vs_optimum, theorem1, trajectories
from .motivation import (
    curved_trajectories,
    denoiser_student,
    error_vs_steps,
    few_step_two_deltas,
    image_denoiser_track,
    steps_comparison,
    student_vs_ideal,
    two_delta_averaging,
)

__all__ = ["MODULES"]

MODULES = (
    # 1. motivation
    steps_comparison,
    two_delta_averaging,
    few_step_two_deltas,
    image_denoiser_track,
    curved_trajectories,
    error_vs_steps,
    dpm_overshoot,
    denoiser_student,
    student_vs_ideal,
    # 2. knowledge distillation
    kd,
    kd_data,
    # 3. consistency distillation, multi-boundary CD
    student_vs_optimum,
    collapse,
    theorem1,
    multistep,
    mbcd,
    boundaries,
    trajectories,
    # images and the summary
    teachers,
    images,
    summary,
    # flow-based approaches, progressive distillation
    flow,
    progressive,
    # the film
    animation,
)
