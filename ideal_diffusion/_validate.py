"""The one place that checks arguments of public functions (the ground floor: imports numpy only).

Every check names the argument and the allowed range, and follows one rule:

* :class:`TypeError` for a wrong *type* (None, a string, a bool where a number is meant, a
  complex or object array, a float where an integer is meant);
* :class:`ValueError` for a wrong *value* of the right type (out of range, not finite, a wrong
  shape);
* :class:`FloatingPointError` for a non-finite *output* of a user-supplied model
  (:func:`model_output`), naming where it appeared.

Only public functions call these helpers; private code trusts its (already checked) inputs.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["integer", "is_real", "model_output", "real", "real_array", "sigma_levels",
           "states"]


def _show(v) -> str:
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


def integer(v, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """``v`` as a Python int in [lo, hi] (None: unbounded).

    Raises
    ------
    TypeError
        If ``v`` is not an integer (a bool, a float such as 2.5 or 2.0, a string, None).
    ValueError
        If it is outside [lo, hi].
    """
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer{_range_text(lo, hi)}, got "
                        f"{type(v).__name__} {_show(v)}")
    i = int(v)
    if (lo is not None and i < lo) or (hi is not None and i > hi):
        raise ValueError(f"{name} must be an integer{_range_text(lo, hi)}, got {i}")
    return i


def _range_text(lo, hi) -> str:
    if lo is None and hi is None:
        return ""
    if hi is None:
        return f" >= {lo}"
    if lo is None:
        return f" <= {hi}"
    return f" in [{lo}, {hi}]"


def is_real(v) -> bool:
    """True for a real number: a Python or numpy int or float, not a bool (None, strings and
    complex numbers are not)."""
    return (not isinstance(v, (bool, np.bool_))
            and isinstance(v, (numbers.Real, np.integer, np.floating)))


def real(v, name: str, lo: float = -math.inf, hi: float = math.inf, lo_open: bool = False,
         hi_open: bool = False, finite: bool = True) -> float:
    """``v`` as a Python float in the interval (lo or [lo, hi] or hi), finite unless told.

    Ints and numpy reals are converted; bools, strings, None and complex numbers are refused.

    Raises
    ------
    TypeError
        If ``v`` is not a real number.
    ValueError
        If it is not finite (with ``finite``) or outside the interval.
    """
    interval = (("(" if lo_open or math.isinf(lo) else "[") + f"{lo:g}, {hi:g}"
                + (")" if hi_open or math.isinf(hi) else "]"))
    if not is_real(v):
        raise TypeError(f"{name} must be a real number in {interval}, got "
                        f"{type(v).__name__} {_show(v)}")
    f = float(v)
    if math.isnan(f) or (finite and math.isinf(f)):
        raise ValueError(f"{name} must be a finite number in {interval}, got {f!r}")
    below = f <= lo if lo_open else f < lo
    above = f >= hi if hi_open else f > hi
    if below or above:
        raise ValueError(f"{name} must be in {interval}, got {f!r}")
    return f


def real_array(a, name: str, ndim: int | None = None, finite: bool = True,
               dtype=np.float64) -> np.ndarray:
    """``a`` as a real array of ``dtype`` (float32 kept if ``dtype`` is None).

    Raises
    ------
    TypeError
        If ``a`` is None, a string, or holds complex, string, object or ragged content.
    ValueError
        If it has the wrong number of dimensions or (with ``finite``) NaN or inf entries.
    """
    if a is None or isinstance(a, (str, bytes)):
        raise TypeError(f"{name} must be a real array, got {type(a).__name__} {_show(a)}")
    try:
        arr = np.asarray(a)
    except ValueError as err:  # ragged nested sequences
        raise TypeError(f"{name} must be a real (rectangular) array: {err}") from None
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a real (float or integer) array, got dtype {arr.dtype}")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif arr.dtype != np.float32:
        arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return arr


def states(x, name: str = "x", d: int | None = None, dtype=np.float64) -> np.ndarray:
    """A finite real (B, d) batch of states (float64 by default; float32 kept with dtype=None).

    Raises
    ------
    TypeError
        On non-real content (see :func:`real_array`).
    ValueError
        If it is not 2-D, has the wrong number of columns, or is not finite.
    """
    a = real_array(x, name, finite=False, dtype=dtype)
    want = "d" if d is None else str(d)
    if a.ndim != 2 or (d is not None and a.shape[1] != d):
        raise ValueError(f"{name} must have shape (B, {want}), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return a


def sigma_levels(sigma, B: int, name: str = "sigma", allow_zero: bool = False) -> np.ndarray:
    """A noise level per row: a scalar or a (B,) array, finite, > 0 (>= 0 with allow_zero).

    Returns
    -------
    s : (B,) float64 array

    Raises
    ------
    TypeError
        On non-real content.
    ValueError
        On a wrong shape, a non-finite value or one out of range.
    """
    s = real_array(sigma, name, finite=False)
    if s.ndim == 0:
        s = np.full(B, float(s))
    elif s.shape != (B,):
        raise ValueError(f"{name} must be a scalar or have shape ({B},), got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{name} must be finite, in {'[0' if allow_zero else '(0'}, inf)")
    bad = (s < 0) if allow_zero else (s <= 0)
    if np.any(bad):
        raise ValueError(f"{name} must be in {'[0' if allow_zero else '(0'}, inf), "
                         f"got min {float(s.min())!r}")
    return s


def model_output(out, shape: tuple, where: str) -> np.ndarray:
    """A model's output as a float64 array of exactly ``shape``, and finite.

    Raises
    ------
    TypeError
        If the output is not a real array.
    ValueError
        If its shape is not ``shape`` (nothing is broadcast).
    FloatingPointError
        If it has NaN or inf entries; the message says ``where``.
    """
    try:
        a = real_array(out, f"the output of {where}", finite=False)
    except TypeError as err:
        raise TypeError(str(err)) from None
    if a.shape != tuple(shape):
        raise ValueError(f"the output of {where} must have shape {tuple(shape)}, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise FloatingPointError(f"{where} returned NaN or inf "
                                 f"({int(np.sum(~np.isfinite(a)))} entries)")
    return a
