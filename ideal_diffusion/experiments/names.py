"""One student per name: the labels of trained students, and the one line that reports them.

A student's name (``"KD (Heun 50-step teacher)"``, ``"CD (1 step)"``, ``"MBCD (K=2)"``) means
one trained network per data set everywhere: the summary table, the figures and the notebooks
all show the student of the experiment's ``summary_config(data)`` (on the 2-D sets its default
Config; on the digits a wider network trained longer). A student trained any other way carries
its difference in its label, e.g. ``"CD (1 step), 150 steps"`` or
``"KD (Heun 50-step teacher), MLP 32x2, 400 steps"`` (:func:`label`).

:func:`student_line` is the one format in which notebooks report a student's numbers, and
:func:`parse_student_lines` reads it back from executed notebooks, so a test can check that a
name has the same numbers in the summary, the figures and the notebooks.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from ..nn import DISPLAY_FIELDS, TrainConfig

__all__ = ["StudentLine", "budget", "label", "parse_student_lines", "report", "student_line"]



def _value(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _train_note(train: TrainConfig, ref: TrainConfig) -> list:
    parts = []
    for f in dataclasses.fields(TrainConfig):
        a, b = getattr(train, f.name), getattr(ref, f.name)
        if f.name in DISPLAY_FIELDS or a == b:
            continue
        parts.append(f"{a} steps" if f.name == "steps" else f"{f.name} {_value(a)}")
    return parts


def budget(cfg, ref, ignore=()) -> str:
    """How the student of ``cfg`` is made differently from that of ``ref`` (same dataclass),
    in words; "" when every field that makes the student agrees.

    The network size reads ``MLP <hidden>x<depth>``, training steps ``<n> steps``, other
    :class:`~ideal_diffusion.nn.TrainConfig` fields ``<name> <value>``, any other field
    ``<name>=<value>``. Fields named in ``ignore`` (data set, measurement) are skipped.

    Raises
    ------
    TypeError
        If ``cfg`` and ``ref`` are not instances of the same dataclass.
    """
    if not dataclasses.is_dataclass(cfg) or type(cfg) is not type(ref):
        raise TypeError(f"cfg and ref must be instances of one dataclass, got "
                        f"{type(cfg).__name__} and {type(ref).__name__}")
    parts = []
    names = [f.name for f in dataclasses.fields(cfg) if f.name not in ignore]
    if "hidden" in names and "depth" in names and (
            (cfg.hidden, cfg.depth) != (ref.hidden, ref.depth)):
        parts.append(f"MLP {cfg.hidden}x{cfg.depth}")
    for name in names:
        if name in ("hidden", "depth"):
            continue
        a, b = getattr(cfg, name), getattr(ref, name)
        if isinstance(a, TrainConfig) and isinstance(b, TrainConfig):
            parts += _train_note(a, b)
        elif a != b:
            parts.append(f"{a:,} pairs" if name == "n_pairs" else f"{name}={_value(a)}")
    return ", ".join(parts)


def label(name: str, cfg, ref, ignore=()) -> str:
    """``name``, followed by ``", " + budget(cfg, ref, ignore)`` when the student of ``cfg``
    is not the one of ``ref`` (the default, summary student)."""
    note = budget(cfg, ref, ignore)
    return f"{name}, {note}" if note else name


@dataclass(frozen=True)
class StudentLine:
    """One student's numbers as reported: data set, label, NFE, held-out noises, median error
    against the exact ODE state at sigma_min, fraction in the exact state's basin."""

    data: str
    label: str
    nfe: int
    n_noises: int
    err_median: float
    same_basin: float


_PREFIX = "student |"
_LINE = re.compile(r"student \| (?P<data>[\w-]+) \| (?P<label>[^|]+?) \| NFE (?P<nfe>\d+) \| "
                   r"(?P<n>\d+) noises \| median error (?P<err>[-+.\deE]+) \| same basin "
                   r"(?P<basin>[-+.\deE]+)")


def student_line(data: str, label: str, nfe: int, n_noises: int, err_median: float,
                 same_basin: float) -> str:
    """The one line in which a notebook reports a trained student, e.g.
    ``student | clusters | CD (1 step) | NFE 1 | 400 noises | median error 0.1190 |
    same basin 0.5200`` (numbers to four significant digits; :func:`parse_student_lines` reads
    it back)."""
    if "|" in label or "|" in data:
        raise ValueError(f"data and label must not contain '|', got {data!r}, {label!r}")
    return (f"{_PREFIX} {data} | {label} | NFE {int(nfe)} | {int(n_noises)} noises | "
            f"median error {err_median:.4g} | same basin {same_basin:.4g}")


def parse_student_lines(text: str) -> list:
    """Every :func:`student_line` in ``text``, as :class:`StudentLine` records, in order."""
    return [StudentLine(m["data"], m["label"], int(m["nfe"]), int(m["n"]), float(m["err"]),
                        float(m["basin"])) for m in _LINE.finditer(text)]


def report(data: str, label: str, nfe: int, measurement) -> str:
    """:func:`student_line` of a :class:`~.common.Measurement` (its ``errors`` give the number
    of noises)."""
    m = measurement
    return student_line(data, label, nfe, len(m.errors), m.err_median, m.same_basin)
