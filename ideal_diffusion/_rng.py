"""The one place that turns a seed into a random generator (every layer draws through it)."""
from __future__ import annotations

import numpy as np

__all__ = ["as_rng"]


def as_rng(rng) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` from a Generator or an integer seed.

    Raises
    ------
    TypeError
        If ``rng`` is neither (a legacy ``RandomState`` or ``None`` is refused so that
        every draw is reproducible by construction).
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}"
    )
