"""ideal-diffusion: ODE-based diffusion distillation, checked against exact optima."""
__version__ = "0.1.0"
