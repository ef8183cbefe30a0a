"""Field checks for the experiments' frozen Configs, called from their ``__post_init__``.

A bad field fails when the Config is built, before anything is trained or sampled: a
TypeError for a wrong type (a bool where a number is meant, a list or dict where a tuple is
meant, a number where a name is meant), a ValueError for a wrong value (a size below 1, a
level outside the grid, a name not in the allowed set, a non-finite number). Every message
names the Config, the field and the allowed range, e.g. ``experiments.kd.Config.n_pairs must
be an integer >= 1, got 0``.

Each check reads ``getattr(cfg, field)`` and returns None; a tuple's entries are named
``field[i]``. Numbers may be Python or numpy scalars; they are checked, not converted (the
Config stays exactly as given, so equal Configs stay equal cache keys).
"""
from __future__ import annotations

import math
from numbers import Integral, Real

from ..solvers import SOLVERS
from .common import DATASETS

__all__ = ["IMAGE_SETS", "PLANE_SETS", "choice", "choices", "dataset", "flag", "instance",
           "integer", "integers", "real", "reals", "require", "solver"]

#: the data sets of :func:`.common.dataset` drawn as points in the plane / as images
PLANE_SETS = ("clusters", "ring")
IMAGE_SETS = ("digits", "digits_gmm", "glyphs")


def _where(cfg, field: str) -> str:
    mod = type(cfg).__module__.removeprefix("ideal_diffusion.")
    return f"{mod}.{type(cfg).__name__}.{field}"


def _range(lo, hi, lo_open=False, hi_open=False) -> str:
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f" {'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f" {'<' if hi_open else '<='} {hi:g}"
    return ""


def _is_int(v) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def _int(label, v, lo, hi):
    what = f"an integer{_range(lo, hi)}"
    if not _is_int(v):
        raise TypeError(f"{label} must be {what}, got {v!r} ({type(v).__name__})")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{label} must be {what}, got {v!r}")


def _real(label, v, lo, hi, lo_open, hi_open):
    what = f"a finite real number{_range(lo, hi, lo_open, hi_open)}"
    if not _is_real(v):
        raise TypeError(f"{label} must be {what}, got {v!r} ({type(v).__name__})")
    bad = not math.isfinite(v)
    if lo is not None:
        bad = bad or (v <= lo if lo_open else v < lo)
    if hi is not None:
        bad = bad or (v >= hi if hi_open else v > hi)
    if bad:
        raise ValueError(f"{label} must be {what}, got {v!r}")


def _choice(label, v, allowed):
    what = f"one of {tuple(allowed)}"
    if not isinstance(v, str):
        raise TypeError(f"{label} must be {what}, got {v!r} ({type(v).__name__})")
    if v not in allowed:
        raise ValueError(f"{label} must be {what}, got {v!r}")


def _tuple(cfg, field, what, min_len, max_len) -> tuple:
    v = getattr(cfg, field)
    label = _where(cfg, field)
    if max_len is not None and max_len == min_len:
        size = f"of length {min_len}"
    else:
        size = f"of length >= {min_len}" + ("" if max_len is None else f" and <= {max_len}")
    if not isinstance(v, tuple):
        raise TypeError(f"{label} must be a tuple {size} of {what}, got {v!r} "
                        f"({type(v).__name__})")
    if len(v) < min_len or (max_len is not None and len(v) > max_len):
        raise ValueError(f"{label} must be a tuple {size} of {what}, got {v!r}")
    return v


def integer(cfg, field: str, lo: int | None = None, hi: int | None = None) -> None:
    """``cfg.field`` is an integer (not a bool) in [lo, hi] (either end may be None)."""
    _int(_where(cfg, field), getattr(cfg, field), lo, hi)


def real(cfg, field: str, lo: float | None = None, hi: float | None = None, *,
         lo_open: bool = False, hi_open: bool = False) -> None:
    """``cfg.field`` is a finite real number (not a bool) between lo and hi (open ends as
    flagged; either end may be None)."""
    _real(_where(cfg, field), getattr(cfg, field), lo, hi, lo_open, hi_open)


def choice(cfg, field: str, allowed) -> None:
    """``cfg.field`` is one of the strings ``allowed``."""
    _choice(_where(cfg, field), getattr(cfg, field), allowed)


def dataset(cfg, field: str) -> None:
    """``cfg.field`` names a data set of :func:`.common.dataset` (:data:`.common.DATASETS`)."""
    choice(cfg, field, DATASETS)


def solver(cfg, field: str) -> None:
    """``cfg.field`` names a sampler of :mod:`ideal_diffusion.solvers` (``SOLVERS``)."""
    choice(cfg, field, SOLVERS)


def flag(cfg, field: str) -> None:
    """``cfg.field`` is True or False."""
    v = getattr(cfg, field)
    if not isinstance(v, bool):
        raise TypeError(f"{_where(cfg, field)} must be True or False, got {v!r}")


def instance(cfg, field: str, cls: type) -> None:
    """``cfg.field`` is an instance of ``cls`` (e.g. a nested Config or a TrainConfig)."""
    v = getattr(cfg, field)
    if not isinstance(v, cls):
        raise TypeError(f"{_where(cfg, field)} must be a {cls.__name__}, got {v!r} "
                        f"({type(v).__name__})")


def integers(cfg, field: str, lo: int | None = None, hi: int | None = None, *,
             min_len: int = 1, max_len: int | None = None) -> None:
    """``cfg.field`` is a tuple (min_len .. max_len entries) of integers in [lo, hi]."""
    v = _tuple(cfg, field, f"integers{_range(lo, hi)}", min_len, max_len)
    for i, x in enumerate(v):
        _int(_where(cfg, f"{field}[{i}]"), x, lo, hi)


def reals(cfg, field: str, lo: float | None = None, hi: float | None = None, *,
          lo_open: bool = False, hi_open: bool = False, min_len: int = 1,
          max_len: int | None = None) -> None:
    """``cfg.field`` is a tuple (min_len .. max_len entries) of finite reals between lo, hi."""
    v = _tuple(cfg, field, f"finite reals{_range(lo, hi, lo_open, hi_open)}", min_len, max_len)
    for i, x in enumerate(v):
        _real(_where(cfg, f"{field}[{i}]"), x, lo, hi, lo_open, hi_open)


def choices(cfg, field: str, allowed, *, min_len: int = 1) -> None:
    """``cfg.field`` is a tuple (at least ``min_len`` entries) of strings from ``allowed``."""
    v = _tuple(cfg, field, f"names from {tuple(allowed)}", min_len, None)
    for i, x in enumerate(v):
        _choice(_where(cfg, f"{field}[{i}]"), x, allowed)


def require(cfg, ok: bool, field: str, what: str) -> None:
    """A condition across fields: ValueError ``<Config>.field must be <what>, got <value>``
    unless ``ok``. Call it after the fields involved passed their own checks."""
    if not ok:
        raise ValueError(f"{_where(cfg, field)} must be {what}, got {getattr(cfg, field)!r}")
