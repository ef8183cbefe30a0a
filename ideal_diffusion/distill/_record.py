"""The record of a trained student (see :mod:`.records`): a plain value, imported by the result
classes that make it."""
from __future__ import annotations

from dataclasses import dataclass

from ..nn import Model


@dataclass(frozen=True, eq=False)
class StudentRecord:
    """Everything needed to resume or evaluate a trained student.

    Attributes
    ----------
    kind : str -- ``"cd"`` or ``"kd"``
    model : Model -- the online network f_phi and its parameterisation
    arrays : dict of str -> float64 array -- named arrays (EMA target, history, grid, ...)
    meta : dict -- JSON-serialisable settings (solver, train, network size, ...)
    """

    kind: str
    model: Model
    arrays: dict
    meta: dict
