"""Limit OpenBLAS threads around small workloads (a tiny, dependency-free threadpoolctl).

A width-128 MLP on a 256-sample batch is too small for two BLAS threads to pay off reliably:
on a 2-core machine that is also running other processes, OpenBLAS threads that wait for each
other make small matrix products 10x slower or worse. :func:`blas_threads` sets the OpenBLAS
thread count for a ``with`` block and restores it afterwards. It finds the OpenBLAS library
numpy has loaded (Linux ``/proc/self/maps``) and calls its ``*_set_num_threads`` entry point;
where that is impossible (another BLAS, another OS) it does nothing.
"""
from __future__ import annotations

import ctypes
import functools
from contextlib import contextmanager

__all__ = ["blas_threads"]

_PREFIXES = ("scipy_openblas", "openblas")
_SUFFIXES = ("64_", "")


@functools.lru_cache(maxsize=1)
def _openblas():
    """Return ``(get, set)`` ctypes functions of the loaded OpenBLAS, or None."""
    import numpy  # noqa: F401  (make sure numpy's BLAS is loaded)

    try:
        with open("/proc/self/maps") as fh:
            paths = sorted({ln.split()[-1] for ln in fh if "openblas" in ln.lower()
                            and ln.split()[-1].startswith("/")})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for pre in _PREFIXES:
            for suf in _SUFFIXES:
                get = getattr(lib, f"{pre}_get_num_threads{suf}", None)
                put = getattr(lib, f"{pre}_set_num_threads{suf}", None)
                if get is not None and put is not None:
                    get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                    return get, put
    return None


@contextmanager
def blas_threads(n: int | None = 1):
    """Run the ``with`` block with ``n`` OpenBLAS threads (None: leave unchanged).

    Parameters
    ----------
    n : int or None
        Thread count >= 1.

    Yields
    ------
    previous : int or None
        The thread count before the block (None if OpenBLAS could not be controlled).
    """
    if n is not None and (isinstance(n, bool) or int(n) != n or n < 1):
        raise ValueError(f"n must be None or an integer >= 1, got {n!r}")
    handles = None if n is None else _openblas()
    if handles is None:
        yield None
        return
    get, put = handles
    previous = get()
    put(int(n))
    try:
        yield previous
    finally:
        put(previous)
