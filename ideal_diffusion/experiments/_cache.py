"""In-memory caching of experiment runs, keyed on the whole (frozen, hashable) Config, each
run under one BLAS thread.

``@cached`` wraps ``run(cfg) -> Result``: the same Config (equal in every field) returns the
same Result object within a process, so figures, the report, tests and notebooks share one
trained student per configuration. A changed field is a different key: there is no mutable
module-level state that a cache key could miss.
"""
from __future__ import annotations

import functools

from ..nn import blas_threads

__all__ = ["cached", "clear_caches"]

_RUNS = []


def cached(run):
    """Decorator: cache ``run(cfg)`` on ``cfg`` (a frozen dataclass), in memory."""
    memo = functools.lru_cache(maxsize=None)(run)

    defaults = run.__defaults__ or ()

    @functools.wraps(run)
    def wrapper(cfg=None):
        if cfg is None:
            if not defaults:
                raise TypeError(f"{run.__module__}.{run.__name__} needs a Config")
            cfg = defaults[0]
        hash(cfg)  # a TypeError here names an unhashable field: Configs hold tuples, not lists
        with blas_threads(1):  # tiny workloads: one BLAS thread is faster and bit-reproducible
            return memo(cfg)

    wrapper.cache_clear = memo.cache_clear
    _RUNS.append(memo)
    return wrapper


def clear_caches() -> None:
    """Forget every cached run (tests use it to check that a run is deterministic)."""
    for memo in _RUNS:
        memo.cache_clear()
