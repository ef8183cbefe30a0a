"""Motivation, "images become less and less averaged", as a film: samples and D(x_sigma, sigma)
from sigma = 80 to sigma_min on the 2-D clusters and the real digits (the README's GIF)."""
from __future__ import annotations

from ..experiments import animation
from . import register


@register("sampling_film",
          "Motivation: samples x_sigma and the denoiser's guess D(x_sigma, sigma) from sigma = 80 "
          "to sigma_min, on the 2-D clusters and the real digits (an animated GIF)",
          animated=True)
def sampling_film():
    return animation.plot(animation.run(animation.Config()))
