"""ideal-diffusion: ODE-based diffusion distillation, checked against exact optima.

The data set is a finite set of points (a delta mixture), so the optimal denoiser
E[x0 | x] is closed form; every claim of the lecture "ODE-Based Diffusion Distillation"
can then be checked with exact numbers.
"""
from .data import (
                   DeltaMixture,
                   GaussianMixture,
                   clusters,
                   digits,
                   glyphs,
                   grid,
                   line_points,
                   ring,
                   two_points,
)
from .denoiser import IdealDenoiser, reference_denoiser
from .schedules import (
    SIGMA_MAX,
    SIGMA_MIN,
    karras_sigmas,
    loguniform_sigmas,
    sampling_grid,
    uniform_sigmas,
)
from .solvers import dpmpp_2m_step, euler_step, heun_step, nfe, sample, sample_steps, solve_ode

__version__ = "0.1.0"

__all__ = [
    "DeltaMixture",
    "GaussianMixture",
    "IdealDenoiser",
    "reference_denoiser",
    "SIGMA_MIN",
    "SIGMA_MAX",
    "karras_sigmas",
    "sampling_grid",
    "loguniform_sigmas",
    "uniform_sigmas",
    "sample",
    "sample_steps",
    "euler_step",
    "heun_step",
    "dpmpp_2m_step",
    "solve_ode",
    "nfe",
    "two_points",
    "ring",
    "grid",
    "line_points",
    "clusters",
    "digits",
    "glyphs",
]
