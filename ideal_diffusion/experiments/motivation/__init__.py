"""The lecture's section 1 ("Why are diffusion models slow?") as experiments.

Each experiment is a frozen ``XxxConfig`` (every knob; the defaults are the slide figure's
settings), a cached ``run_xxx(cfg) -> XxxResult`` and a ``plot_xxx(result, ax=None)`` that
returns a matplotlib Figure (or draws on the axes it is given). ``figures/core.py`` and
``figures/students.py`` only call ``plot_xxx(run_xxx(XxxConfig()))``.

One module per idea, every public name re-exported here (``from
ideal_diffusion.experiments.motivation import ...`` works as before):

* :mod:`.digits` -- steps comparison and the image denoiser track, on the real digits;
* :mod:`.averaging` -- two deltas: the averaged optimum and few-step sampling;
* :mod:`.curvature` -- curved trajectories and the error vs NFE (with few-step Heun);
* :mod:`.student` -- the trained denoiser student against the ideal denoiser;
* :mod:`._shared` -- solver colours and labels, drawing helpers.

Convention (:mod:`.common`): an n-step sampler takes n steps on the descending Karras grid
``schedules.sampling_grid(n)`` from sigma_max = 80 to sigma_min = 0.002 (no trailing 0) and its
sample is the state at sigma_min; Euler and DPM-Solver++(2M) spend NFE = n denoiser evaluations,
Heun NFE = 2n. Errors are against the exact PF-ODE state at sigma_min of the same noise. The
sigma -> 0 limit of the ideal denoiser (the nearest data point) is never applied to a sample:
with it every averaged state would snap onto the data and the lecture's point -- few steps give
averaged, blurry samples -- would disappear.

=========================  ====================================================================
experiment                 slide (LECTURE_MAP title)
=========================  ====================================================================
steps_comparison           1. Motivation: "Diffusion Models are slow. Why?"
two_delta_averaging        1. Ideal diffusion model: "two delta functions"
few_step_two_deltas        1. Sampling from ideal diffusion model
image_denoiser_track       1. Sampling from ideal diffusion model: "What about images?"
curved_trajectories        1. DMs speed are limited!: "Diffusion has curved trajectories"
error_vs_steps             1. Why Diffusion Models are slow? (low capacity? solver error?)
denoiser_student_vs_ideal  1. Towards ideal approximation / 1. Ideal diffusion model
=========================  ====================================================================
"""
from __future__ import annotations

from ._shared import COLORS, LABELS, NFE_RULE
from .averaging import (
    FewStepTwoDeltasConfig,
    FewStepTwoDeltasResult,
    TwoDeltaConfig,
    TwoDeltaResult,
    plot_few_step_two_deltas,
    plot_two_delta_averaging,
    run_few_step_two_deltas,
    run_two_delta_averaging,
)
from .curvature import (
    CurvedCase,
    CurvedConfig,
    CurvedResult,
    ErrorVsStepsConfig,
    ErrorVsStepsResult,
    _last_corrector_slope,  # noqa: F401  (tests measure the corrector slope with it)
    gaussian_path,
    plot_curved_trajectories,
    plot_error_vs_steps,
    run_curved_trajectories,
    run_error_vs_steps,
)
from .digits import (
    ImageTrackConfig,
    ImageTrackResult,
    StepsComparisonConfig,
    StepsComparisonResult,
    plot_image_denoiser_track,
    plot_steps_comparison,
    run_image_denoiser_track,
    run_steps_comparison,
)
from .student import (
    DenoiserStudentConfig,
    DenoiserStudentResult,
    StudentVsIdealConfig,
    StudentVsIdealResult,
    plot_student_vs_ideal,
    run_denoiser_student,
    run_student_vs_ideal,
)

__all__ = [
    "COLORS", "LABELS", "NFE_RULE",
    "StepsComparisonConfig", "StepsComparisonResult", "run_steps_comparison",
    "plot_steps_comparison",
    "TwoDeltaConfig", "TwoDeltaResult", "run_two_delta_averaging", "plot_two_delta_averaging",
    "FewStepTwoDeltasConfig", "FewStepTwoDeltasResult", "run_few_step_two_deltas",
    "plot_few_step_two_deltas",
    "ImageTrackConfig", "ImageTrackResult", "run_image_denoiser_track",
    "plot_image_denoiser_track",
    "CurvedConfig", "CurvedCase", "CurvedResult", "run_curved_trajectories",
    "plot_curved_trajectories",
    "DenoiserStudentConfig", "DenoiserStudentResult", "run_denoiser_student",
    "ErrorVsStepsConfig", "ErrorVsStepsResult", "run_error_vs_steps", "plot_error_vs_steps",
    "StudentVsIdealConfig", "StudentVsIdealResult", "run_student_vs_ideal",
    "plot_student_vs_ideal",
    "gaussian_path",
]
