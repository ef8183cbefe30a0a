"""A slide figure, declared by the experiment module that makes it.

An experiment module with slide figures ends with a tuple ``FIGURES`` of :class:`SlideFigure`;
:mod:`.registry` lists the modules, and :func:`ideal_diffusion.figures.load_all` collects their
figures (``python -m ideal_diffusion figures`` saves each, and writes the gallery
``figures/README.md``). Nothing here imports matplotlib or the figures package.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["SlideFigure"]


@dataclass(frozen=True)
class SlideFigure:
    """One slide figure.

    Attributes
    ----------
    name : str
        File stem (``<name>.png``); unique across the registry.
    slide : str
        The lecture slide / claim the figure reproduces (shown by ``--list`` and in the gallery).
    make : callable
        ``make()`` returns a matplotlib Figure, or an animation when ``animated``; usually
        ``lambda: plot(run(Config()))`` with the slide's fixed Config.
    animated : bool
        ``make()`` returns a matplotlib animation, saved as ``<name>.gif``.
    group : str, optional
        Figures of one group are made in one worker process, so that the cached runs they
        share are computed once. Default: the module that declares ``make``.
    """

    name: str
    slide: str
    make: Callable[[], Any]
    animated: bool = False
    group: str | None = None

    @property
    def filename(self) -> str:
        """``<name>.png``, or ``<name>.gif`` for an animation."""
        return f"{self.name}.{'gif' if self.animated else 'png'}"

    @property
    def process_group(self) -> str:
        """``group``, or the module that declares ``make``."""
        return self.group or self.make.__module__
