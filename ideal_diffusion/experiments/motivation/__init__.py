"""The lecture's section 1 ("Why are diffusion models slow?") as experiments.

One module per experiment, each a frozen ``Config`` (every knob; the defaults are the slide
figure's settings), a cached ``run(cfg) -> Result`` and a ``plot(result, ax=None)`` that returns
a matplotlib Figure (or draws on the axes it is given). A module's slide figure (its
``FIGURES``, at its end) is ``plot(run(Config()))``. The modules are re-exported here
(``from ideal_diffusion.experiments.motivation import two_delta_averaging``, or
``motivation.two_delta_averaging.run(...)``):

* :mod:`.steps_comparison`, :mod:`.image_denoiser_track` -- on the real digits;
* :mod:`.two_delta_averaging`, :mod:`.few_step_two_deltas` -- two deltas: the averaged optimum
  and few-step sampling;
* :mod:`.curved_trajectories`, :mod:`.error_vs_steps` -- curved trajectories and the error vs
  NFE (with few-step Heun; :func:`.error_vs_steps.gaussian_path`, the exact Gaussian path);
* :mod:`.denoiser_student`, :mod:`.student_vs_ideal` -- the trained denoiser student, and it
  against the ideal denoiser;
* :mod:`._shared` -- solver colours and labels, drawing helpers.

Convention (:mod:`.common`): an n-step sampler takes n steps on the descending Karras grid
``schedules.sampling_grid(n)`` from sigma_max = 80 to sigma_min = 0.002 (no trailing 0) and its
sample is the state at sigma_min; Euler and DPM-Solver++(2M) spend NFE = n denoiser evaluations,
Heun NFE = 2n. Errors are against the exact PF-ODE state at sigma_min of the same noise. The
sigma -> 0 limit of the ideal denoiser (the nearest data point) is never applied to a sample:
with it every averaged state would snap onto the data and the lecture's point -- few steps give
averaged, blurry samples -- would disappear.

=========================  ====================================================================
module                     slide (LECTURE_MAP title)
=========================  ====================================================================
steps_comparison           1. Motivation: "Diffusion Models are slow. Why?"
two_delta_averaging        1. Ideal diffusion model: "two delta functions"
few_step_two_deltas        1. Sampling from ideal diffusion model
image_denoiser_track       1. Sampling from ideal diffusion model: "What about images?"
curved_trajectories        1. DMs speed are limited!: "Diffusion has curved trajectories"
error_vs_steps             1. Why Diffusion Models are slow? (low capacity? solver error?)
student_vs_ideal           1. Towards ideal approximation / 1. Ideal diffusion model
=========================  ====================================================================
"""
from __future__ import annotations

from . import (
    curved_trajectories,
    denoiser_student,
    error_vs_steps,
    few_step_two_deltas,
    image_denoiser_track,
    steps_comparison,
    student_vs_ideal,
    two_delta_averaging,
)
from ._shared import COLORS, LABELS, NFE_RULE

__all__ = [
    "COLORS", "LABELS", "NFE_RULE", "curved_trajectories", "denoiser_student", "error_vs_steps",
    "few_step_two_deltas", "image_denoiser_track", "steps_comparison", "student_vs_ideal",
    "two_delta_averaging",
]
