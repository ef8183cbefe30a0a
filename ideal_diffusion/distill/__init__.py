"""Distillation students built on :mod:`ideal_diffusion.nn`, measured against exact optima."""
