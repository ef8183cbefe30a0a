"""The one store of trained students: loaded when committed, trained (and maybe saved) otherwise.

Every trained student of every experiment -- the 2-D students of the figures and the digit
students of the summary alike -- goes through :func:`persisted`. A student is identified by a
frozen record of *everything* that makes it (its experiment's data set, grid, method, network
and :class:`~ideal_diffusion.nn.TrainConfig`); the ``repr`` of that record, with display
switches such as ``TrainConfig.progress`` stripped (:func:`key_text`), names the file
``ideal_diffusion/checkpoints/<kind>-<digest>.npz`` and is stored in it and compared on load.
A file holds the student record of :mod:`ideal_diffusion.distill.records` (the online network,
the EMA target, the loss history and the result's fields), so a loaded student gives the same
bits as a freshly trained one. A changed knob, or a changed network default the record does not
name, is another student: it is trained, never loaded stale.

Students are saved only when ``IDEAL_DIFFUSION_SAVE_STUDENTS=1`` (``python -m ideal_diffusion
retrain`` sets it), so an experiment never writes into the package by itself.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from pathlib import Path

from ..distill.records import load_record, result_from_record, save_record
from ..nn import DISPLAY_FIELDS, NET_DEFAULTS, TrainConfig

__all__ = ["SAVE_ENV", "STORE_DIR", "key_text", "load", "path_for", "persisted"]

#: the one folder of committed students
STORE_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
#: set to "1" (``python -m ideal_diffusion retrain`` does) to save every student trained
SAVE_ENV = "IDEAL_DIFFUSION_SAVE_STUDENTS"


def _without_display(value):
    """``value`` with every TrainConfig inside (tuple items, dataclass fields) stripped of its
    display switches (set to None): they are not part of a student's identity."""
    if isinstance(value, TrainConfig):
        return dataclasses.replace(value, **{f: None for f in DISPLAY_FIELDS})
    if isinstance(value, tuple):
        return tuple(_without_display(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _without_display(getattr(value, f.name))
                   for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    return value


def key_text(key) -> str:
    """The identity of a student: ``repr`` of everything that makes it, display switches out."""
    return repr(_without_display(key))


def path_for(kind: str, key) -> Path:
    """The store's file for the student ``key`` of ``kind`` (it may not exist).

    Raises
    ------
    ValueError
        If ``kind`` is not a lowercase word (letters, digits, ``_``; a letter first).
    """
    if not isinstance(kind, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", kind):
        raise ValueError(f"kind must be a lowercase word such as 'cd' or 'kd', got {kind!r}")
    digest = hashlib.sha256(key_text(key).encode()).hexdigest()[:16]
    return STORE_DIR / f"{kind}-{digest}.npz"


def _default_architecture_matches(model) -> bool:
    """A stored network built with this machine's :data:`~ideal_diffusion.nn.NET_DEFAULTS` for
    what its config does not name (activation, embedding width): a changed default retrains."""
    arch = model.net.config
    return all(arch.get(k) == NET_DEFAULTS[k] for k in ("activation", "emb_dim"))


def load(kind: str, key):
    """The stored student ``key`` of ``kind``; never trains.

    Parameters
    ----------
    kind : str -- the file-name prefix (a lowercase word)
    key : a frozen record of everything that makes the student (see :func:`persisted`)

    Returns
    -------
    CDResult or KDResult, or None when the store holds no current one (missing, an older
    format, another key under the same digest, or other network defaults).

    Raises
    ------
    ValueError
        If ``kind`` is not a lowercase word.
    """
    path = path_for(kind, key)
    if not path.exists():
        return None
    try:
        record, extra = load_record(path)
    except ValueError:  # an older format
        return None
    res = result_from_record(record)
    if extra.get("key") != key_text(key) or not _default_architecture_matches(res.model):
        return None
    return res


def persisted(kind: str, key, train_fn):
    """A trained student identified by ``key``: loaded if the store holds it, else trained.

    Parameters
    ----------
    kind : str -- a file-name prefix, a lowercase word (``"cd"``, ``"kd"``; a new method may
        name its own)
    key : a frozen record (dataclass or tuple) of *everything* that makes the student
    train_fn : callable ``() -> CDResult | KDResult`` training it (deterministic)

    Returns
    -------
    the student (:class:`~ideal_diffusion.distill.cd.CDResult` or
    :class:`~ideal_diffusion.distill.kd.KDResult`); saved to :func:`path_for` when trained
    with ``IDEAL_DIFFUSION_SAVE_STUDENTS=1``.
    """
    res = load(kind, key)
    if res is not None:
        return res
    res = train_fn()
    if os.environ.get(SAVE_ENV) == "1":
        STORE_DIR.mkdir(parents=True, exist_ok=True)
        save_record(path_for(kind, key), res.to_record(), key=key_text(key))
    return res
