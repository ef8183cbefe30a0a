"""The figures of the lecture's section 1: why diffusion models are slow.

Thin wrappers: each figure is ``plot_xxx(run_xxx(XxxConfig()))`` of
:mod:`ideal_diffusion.experiments.motivation`, where the settings, the measurements and the
drawing live. Every figure uses the exact (closed-form) ideal denoiser and fixed seeds.
Convention: an n-step sampler takes n steps on the Karras grid from sigma_max = 80 to
sigma_min = 0.002 (no trailing 0) and its sample is the state at sigma_min; NFE is n for Euler
and DPM-Solver++(2M), 2n for Heun.
"""
from __future__ import annotations

from ideal_diffusion.experiments import motivation as m
from ideal_diffusion.figures import register


@register("steps_comparison", "1. Motivation: \"Diffusion Models are slow. Why?\": the same "
          "noises with 3/5/7/30 steps on 1,797 real 8x8 digits, and the distance to the "
          "nearest training image vs NFE")
def steps_comparison():
    return m.steps_comparison.plot(m.steps_comparison.run(m.steps_comparison.Config()))


@register("two_delta_averaging", "1. Ideal diffusion model: \"two delta functions\": "
          "f = (x1 + x2)/2 at equal distance, f = 0.3 x1 + 0.7 x2")
def two_delta_averaging():
    return m.two_delta_averaging.plot(m.two_delta_averaging.run(m.two_delta_averaging.Config()))


@register("few_step_two_deltas", "1. Sampling from ideal diffusion model: 1/2/3/5 Euler steps "
          "on two deltas, states at sigma_min against the exact ODE")
def few_step_two_deltas():
    return m.few_step_two_deltas.plot(m.few_step_two_deltas.run(m.few_step_two_deltas.Config()))


@register("image_denoiser_track", "1. Sampling from ideal diffusion model: \"What about "
          "images?\": D(x_sigma, sigma) along one trajectory on the digits, with the posterior "
          "entropy")
def image_denoiser_track():
    return m.image_denoiser_track.plot(m.image_denoiser_track.run(m.image_denoiser_track.Config()))


@register("curved_trajectories", "1. DMs speed are limited!: \"Diffusion has curved "
          "trajectories\" (a single Gaussian and a single point for contrast)")
def curved_trajectories():
    return m.curved_trajectories.plot(m.curved_trajectories.run(m.curved_trajectories.Config()))


@register("error_vs_steps", "1. Why Diffusion Models are slow? (low capacity? solver error?): "
          "error vs NFE for a point, a Gaussian and a mixture; few-step Heun with the exact D "
          "and with a trained student")
def error_vs_steps():
    return m.error_vs_steps.plot(m.error_vs_steps.run(m.error_vs_steps.Config()))
