"""One BLAS thread around small-network work (:func:`blas_threads`, from the ground floor).

The implementation lives in :mod:`ideal_diffusion._threads` so that the denoiser and the
solvers, which sit below ``nn``, can hold BLAS to one thread for small matrices too.
"""
from __future__ import annotations

from .._threads import blas_threads

__all__ = ["blas_threads"]
