"""One way to save and load a trained student: a record of everything needed to resume or
evaluate it, written as one checkpoint.

``result.to_record()`` (on :class:`~.cd.CDResult` and :class:`~.kd.KDResult`) gives a
:class:`StudentRecord`: the online network, the named arrays (CD: the EMA target phi^-, the
loss history, the ascending grid and boundaries; KD: the loss history) and the JSON settings
(solver, teacher evaluations, parameterisation, :class:`~ideal_diffusion.nn.TrainConfig`,
network size). :func:`save_record` writes it with :func:`~ideal_diffusion.nn.save_checkpoint`
beside identity fields of the caller's choosing; :func:`load_record` reads it back and
:func:`result_from_record` rebuilds the result, bit for bit (no wall-clock time is stored).
"""
from __future__ import annotations

from pathlib import Path

from ..nn import load_checkpoint, save_checkpoint
from ._record import StudentRecord
from .cd import CDResult
from .kd import KDResult

__all__ = ["RESULT_KINDS", "StudentRecord", "load_record", "result_from_record", "save_record"]

#: record kind -> result class (each has ``to_record`` and ``from_record``)
RESULT_KINDS = {"cd": CDResult, "kd": KDResult}


def save_record(path, record: StudentRecord, **identity) -> Path:
    """Write ``record`` to ``path`` (atomically), with JSON ``identity`` fields (e.g. the spec
    or key that made the student) that :func:`load_record` returns unchanged."""
    if not isinstance(record, StudentRecord):
        raise TypeError(f"record must be a StudentRecord, got {type(record).__name__}")
    return save_checkpoint(path, record.model, arrays=record.arrays, kind=record.kind,
                           meta=record.meta, seed=int(record.meta["train"]["seed"]),
                           **identity)


def load_record(path) -> tuple[StudentRecord, dict]:
    """Read a record written by :func:`save_record`: ``(record, extra)``, ``extra`` holding the
    identity fields.

    Raises
    ------
    ValueError
        If the file is not a checkpoint (see :func:`~ideal_diffusion.nn.load_checkpoint`) or
        holds no student record (e.g. a bare network).
    """
    model, config, arrays = load_checkpoint(path, arrays=True)
    extra = config.get("extra", {})
    kind, meta = extra.get("kind"), extra.get("meta")
    if kind not in RESULT_KINDS or not isinstance(meta, dict):
        raise ValueError(f"{path}: not a student record (kind {kind!r}); made by an older "
                         "version or by save_checkpoint alone")
    return StudentRecord(kind=kind, model=model, arrays=arrays, meta=meta), extra


def result_from_record(record: StudentRecord):
    """The CDResult or KDResult that ``record`` was made from."""
    return RESULT_KINDS[record.kind].from_record(record)
