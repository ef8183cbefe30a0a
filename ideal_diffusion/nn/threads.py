"""One BLAS thread around small-network work, with threadpoolctl.

A width-128 MLP on a 256-sample batch is far too small for two BLAS threads: on a 2-core
machine the threads spin and wait for each other, and CD training ran many times slower with
two OpenBLAS threads than with one (``benchmarks/bench_threads.py``). The threads also change
the summation order inside a GEMM, so the same seed would give different bits under
``OPENBLAS_NUM_THREADS=1`` and ``=2``. The library therefore holds BLAS to one thread itself
inside training loops and small-network calls (:func:`blas_threads`); the user sets nothing.
"""
from __future__ import annotations

import sys
import threading
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

__all__ = ["blas_threads"]

_state = threading.local()
_cache: dict = {}


def _controller() -> ThreadpoolController:
    """A cached controller of the loaded BLAS libraries (rebuilt when new modules appeared)."""
    key = len(sys.modules)
    if _cache.get("key") != key:
        _cache["controller"] = ThreadpoolController()
        _cache["key"] = key
    return _cache["controller"]


@contextmanager
def blas_threads(n: int | None = 1):
    """Run the ``with`` block with at most ``n`` BLAS threads (None: leave them unchanged).

    Re-entrant and cheap when nested: inside an enclosing ``blas_threads(m)`` with ``m <= n``
    nothing is changed.

    Parameters
    ----------
    n : int or None
        Thread count, an integer >= 1.

    Raises
    ------
    ValueError
        If ``n`` is not None or an integer >= 1.
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be None or an integer >= 1, got {n!r}")
    held = getattr(_state, "limit", None)
    if n is None or (held is not None and held <= n):
        yield
        return
    with _controller().limit(limits=n, user_api="blas"):
        _state.limit = n
        try:
            yield
        finally:
            _state.limit = held
