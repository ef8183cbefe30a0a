"""One BLAS thread around small-network work, with threadpoolctl.

A width-128 MLP on a 256-sample batch is far too small for two BLAS threads: on a 2-core
machine the threads spin and wait for each other, and 300 CD steps measured 12x slower with
two OpenBLAS threads than with one. The threads also change the summation order inside a
GEMM, so the same seed would give different bits under ``OPENBLAS_NUM_THREADS=1`` and ``=2``.
The library therefore holds BLAS to one thread itself inside training loops and small-network
calls (:func:`blas_threads`); the user sets nothing.
"""
from __future__ import annotations

from contextlib import contextmanager

from threadpoolctl import threadpool_limits

__all__ = ["blas_threads"]


@contextmanager
def blas_threads(n: int | None = 1):
    """Run the ``with`` block with at most ``n`` BLAS threads (None: leave them unchanged).

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
    if n is None:
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield
