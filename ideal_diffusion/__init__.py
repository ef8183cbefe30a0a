"""ideal-diffusion: ODE-based diffusion distillation, checked against exact optima.

The data set is a finite set of points (a delta mixture), so the optimal denoiser
E[x0 | x] is closed form; every claim of the lecture "ODE-Based Diffusion Distillation"
can then be checked with exact numbers.
"""
from .data import DeltaMixture, GaussianMixture, glyphs, grid, line_points, ring, two_points
from .denoiser import IdealDenoiser
from .schedules import karras_sigmas, loguniform_sigmas, uniform_sigmas
from .solvers import nfe, sample, solve_ode

__version__ = "0.1.0"

__all__ = [
    "DeltaMixture",
    "GaussianMixture",
    "IdealDenoiser",
    "karras_sigmas",
    "loguniform_sigmas",
    "uniform_sigmas",
    "sample",
    "solve_ode",
    "nfe",
    "two_points",
    "ring",
    "grid",
    "line_points",
    "glyphs",
]
