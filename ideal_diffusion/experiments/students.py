"""The committed digit students, by name, and the retraining that remakes the store.

The digit students are ordinary experiment students: those of ``kd.summary_config(data)``,
``cd.student_vs_optimum.summary_config(data)`` and ``mbcd.summary_config(data)`` for ``data``
= ``"digits"`` (the memorising teacher) and ``"digits_gmm"`` (the generalising one). They live
in the one store (:mod:`.store`) beside the 2-D students, under the same kind of key. What
sets them apart is only their cost (minutes each on 2 cores): :data:`CHECKPOINTED` names them,
so that ``python -m ideal_diffusion retrain [--only NAME ...]`` can remake them in parallel
worker processes before the figures and the table remake the rest.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from . import kd, mbcd, store
from .cd import student_vs_optimum

__all__ = ["CHECKPOINTED", "Committed", "clear_store", "retrain_all", "student"]


@dataclass(frozen=True)
class Committed:
    """One committed student: its name, its experiment's Config and how to get it.

    Attributes
    ----------
    name : str -- e.g. ``digits_gmm_mbcd4``
    config : the experiment Config that makes it (``kd.Config`` or
        ``cd.student_vs_optimum.Config``)
    kind : {"kd", "cd"} -- the store's file prefix
    """

    name: str
    config: object
    kind: str

    def get(self):
        """The student: loaded from the store, or trained (and saved when saving is on)."""
        if self.kind == "kd":
            return kd.student(self.config, "many")
        return student_vs_optimum.student(self.config)

    @property
    def key(self) -> tuple:
        """Everything that makes it: its identity in the store."""
        return (kd.student_key(self.config, "many") if self.kind == "kd"
                else student_vs_optimum.student_key(self.config))

    @property
    def path(self) -> Path:
        """Its file in the store."""
        return store.path_for(self.kind, self.key)

    def load(self):
        """The stored student, or None when the store holds no current one (never trains)."""
        return store.load(self.kind, self.key)


def _committed() -> dict:
    out = {}
    for data in ("digits", "digits_gmm"):
        mb = mbcd.summary_config(data)
        out[f"{data}_cd"] = Committed(f"{data}_cd", mb.student_config(1), "cd")
        for K in mb.Ks:
            out[f"{data}_mbcd{K}"] = Committed(f"{data}_mbcd{K}", mb.student_config(K), "cd")
        out[f"{data}_kd"] = Committed(f"{data}_kd", kd.summary_config(data), "kd")
    return out


#: the digit students of the summary and the image figures, by name
CHECKPOINTED: dict[str, Committed] = _committed()


def student(name: str):
    """The committed student ``name``: loaded from the store, or trained.

    Parameters
    ----------
    name : str -- a key of :data:`CHECKPOINTED`, e.g. ``"digits_gmm_mbcd4"``

    Returns
    -------
    CDResult or KDResult

    Raises
    ------
    ValueError
        If ``name`` is not committed.
    """
    if name not in CHECKPOINTED:
        raise ValueError(f"name must be one of {list(CHECKPOINTED)}, got {name!r}")
    return CHECKPOINTED[name].get()


def _retrain_one(name: str) -> tuple:
    """Train ``name`` anew and save it (in a worker process, or in this one): its file is
    deleted first, so the store trains it and, with saving on, writes it back."""
    committed = CHECKPOINTED[name]
    saving = os.environ.get(store.SAVE_ENV)
    os.environ[store.SAVE_ENV] = "1"
    try:
        committed.path.unlink(missing_ok=True)
        t0 = time.perf_counter()
        committed.get()
        return name, committed.path, time.perf_counter() - t0
    finally:
        if saving is None:
            del os.environ[store.SAVE_ENV]
        else:
            os.environ[store.SAVE_ENV] = saving


def clear_store() -> int:
    """Delete every student file of the store; return how many."""
    paths = list(store.STORE_DIR.glob("*.npz"))
    for p in paths:
        p.unlink()
    return len(paths)


def retrain_all(only=None, echo=print, jobs: int = 1) -> list[Path]:
    """Retrain and save the students of :data:`CHECKPOINTED` (or those named in ``only``), in
    ``jobs`` worker processes (each trains on one BLAS thread: same bits whatever ``jobs``)."""
    names = list(CHECKPOINTED)
    if only:
        bad = sorted(set(only) - set(names))
        if bad:
            raise ValueError(f"unknown student name(s) {bad}; known: {names}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    todo = [n for n in names if not only or n in only]
    out = []
    if jobs == 1:
        done = map(_retrain_one, todo)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"))
        done = pool.map(_retrain_one, todo)
    for name, path, seconds in done:
        out.append(path)
        echo(f"{name}: trained in {seconds:.1f} s, wrote {path}")
    if jobs > 1:
        pool.shutdown()
    return out
