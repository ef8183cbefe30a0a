"""One BLAS thread around small matrix work, with threadpoolctl (the ground floor).

A width-128 MLP on a 256-sample batch is far too small for two BLAS threads: on a 2-core
machine the threads spin and wait for each other, and CD training ran many times slower with
two OpenBLAS threads than with one (``benchmarks/bench_threads.py``). The threads also change
the summation order inside a GEMM, so the same seed would give different bits under
``OPENBLAS_NUM_THREADS=1`` and ``=2``. The library therefore holds BLAS to one thread itself
inside training loops and small-network calls (:func:`blas_threads`); the user sets nothing.

The same holds for the ideal denoiser and the solvers on small data (a 64-d Gaussian mixture,
a few thousand points): with two busy processes beside it, a denoiser call at the default
thread count ran several times slower than at one thread
(``benchmarks/bench_busy.py``). :func:`small_blas` pins BLAS to one thread for work below
:data:`SMALL_MAX` multiply-adds per call, and leaves the threads alone for image-size GEMMs
(where threads help on a quiet machine) and below :data:`SMALL_MIN` (where OpenBLAS uses one
thread anyway and the switch would cost more than the call).
"""
from __future__ import annotations

import sys
import threading
from contextlib import contextmanager, nullcontext

from threadpoolctl import ThreadpoolController

__all__ = ["SMALL_MAX", "SMALL_MIN", "blas_threads", "small_blas"]

#: OpenBLAS runs a GEMM of fewer multiply-adds than this on one thread by itself
SMALL_MIN = 1 << 18
#: below this many multiply-adds per call, one BLAS thread: every size measured on the 2-core
#: machine under load ran faster on one thread (threads pay off only on a quiet machine and
#: for image-size products, e.g. 256 queries x 2000 points x 784 pixels = 4e8)
SMALL_MAX = 1 << 26

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


def small_blas(work: float, lower: bool = True):
    """A context holding BLAS to one thread when ``work`` (multiply-adds) is small.

    One thread for SMALL_MIN <= work < SMALL_MAX (from 0 with ``lower=False``: a whole solve
    entered once, where the switch costs nothing against the solve); no change otherwise.
    """
    if work < SMALL_MAX and (not lower or work >= SMALL_MIN):
        return blas_threads(1)
    return nullcontext()
