"""Trained students too slow to train on every run: a spec, a committed checkpoint, a retrain.

A :class:`StudentSpec` is a frozen record of everything that makes a student: the data set,
the method (``"cd"`` for one boundary, ``"mbcd"`` for K boundaries, ``"kd"``), the grid, the
teacher's solver, the network and its :class:`~ideal_diffusion.nn.TrainConfig`. Its checkpoint
lives in ``ideal_diffusion/checkpoints/<spec.name>.npz`` and stores the spec, so
:func:`load_student` refuses a file made from another spec (a stale checkpoint never passes
for a fresh one). ``python -m ideal_diffusion retrain`` remakes every checkpoint of
:data:`CHECKPOINTED` deterministically from its seed (same seed, same bits).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..distill.cd import CDResult, train_cd
from ..distill.kd import KDResult, collect_pairs, train_kd
from ..distill.mbcd import choose_boundaries
from ..distill.optima import distill_grid
from ..distill.records import load_record, result_from_record, save_record
from ..nn import NET_DEFAULTS, TrainConfig
from ..schedules import sampling_grid
from .common import DATASETS, dataset, ideal_denoiser, noise

__all__ = ["AUTO_DIR", "CHECKPOINTED", "CHECKPOINT_DIR", "SAVE_ENV", "StaleCheckpoint",
           "StudentSpec", "key_text", "load_student", "persisted", "retrain_all", "student",
           "train_student"]

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
METHODS = ("cd", "mbcd", "kd")


@dataclass(frozen=True)
class StudentSpec:
    """Everything that makes one trained student (frozen: a cache key and a checkpoint id).

    Attributes
    ----------
    data : str -- data set name (:func:`~.common.dataset`)
    method : {"cd", "mbcd", "kd"}
    K : int -- boundaries (network evaluations at sampling); 1 for "cd" and "kd"
    N : int -- levels of the ascending distillation grid s_1 = 0.002 < ... < s_N = 80
    solver : str -- the teacher's solver ("heun" or "euler"; KD: the sampler of the pairs)
    teacher_steps : int -- KD only: steps of the teacher's sampler making the pairs
    n_pairs : int -- KD only: number of counted (x_T, teacher sample) pairs
    param : str -- CD output parameterisation
    hidden, depth : int -- MLP size
    train : TrainConfig
    """

    data: str
    method: str
    K: int = 1
    N: int = 18
    solver: str = "heun"
    teacher_steps: int = 50
    n_pairs: int = 8192
    param: str = "jump_edm"
    hidden: int = 256
    depth: int = 3
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=6000, batch=256,
                                                                   lr=2e-3, ema=0.9))

    def __post_init__(self):
        if self.data not in DATASETS:  # also keeps the checkpoint name inside checkpoints/
            raise ValueError(f"data must be one of {DATASETS}, got {self.data!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.method != "mbcd" and self.K != 1:
            raise ValueError(f"K must be 1 for method {self.method!r}, got {self.K!r}")

    @property
    def label(self) -> str:
        """The student's name in tables and figures, e.g. ``MBCD (K=4)``."""
        if self.method == "kd":
            return f"KD ({self.solver.capitalize()} {self.teacher_steps}-step teacher)"
        return "CD (1 step)" if self.method == "cd" else f"MBCD (K={self.K})"

    @property
    def name(self) -> str:
        """The checkpoint file stem, e.g. ``digits_mbcd4``."""
        return f"{self.data}_{self.method}{self.K if self.method == 'mbcd' else ''}"

    @property
    def path(self) -> Path:
        return CHECKPOINT_DIR / f"{self.name}.npz"

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        return d

    @classmethod
    def from_json(cls, d: dict) -> StudentSpec:
        d = dict(d)
        d["train"] = TrainConfig(**d["train"])
        return cls(**d)


def _kd_pair_seed(spec: StudentSpec) -> int:
    return 10_000 + spec.train.seed


def train_student(spec: StudentSpec) -> CDResult | KDResult:
    """Train the student of ``spec`` (deterministic: one BLAS thread, the spec's seed)."""
    data, den = dataset(spec.data), ideal_denoiser(spec.data)
    t0 = time.perf_counter()
    if spec.method == "kd":
        x_T = noise(data.d, spec.n_pairs, _kd_pair_seed(spec))
        pairs = collect_pairs(den, x_T, sampling_grid(spec.teacher_steps), spec.solver)
        res = train_kd(pairs, spec.train, hidden=spec.hidden, depth=spec.depth)
    else:
        grid = distill_grid(spec.N)
        b = choose_boundaries(grid, spec.K)
        res = train_cd(den, data, grid, spec.solver, b, spec.train, param=spec.param,
                       hidden=spec.hidden, depth=spec.depth)
    res.train_seconds = time.perf_counter() - t0
    return res


def save_student(spec: StudentSpec, res, path=None) -> Path:
    """Write ``res`` (trained from ``spec``) as a student record with its spec, atomically."""
    path = spec.path if path is None else Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_record(path, res.to_record(), spec=spec.to_json())


def _load(path):
    """A stored student and its identity fields: the one loader of both stores."""
    record, extra = load_record(path)
    return result_from_record(record), extra


def load_student(spec: StudentSpec, path=None):
    """Load the committed student of ``spec`` (its EMA target and loss history included).

    Raises
    ------
    FileNotFoundError
        If there is no checkpoint (``python -m ideal_diffusion retrain`` makes it).
    StaleCheckpoint (a ValueError)
        If the checkpoint was made from another spec (display switches such as
        ``TrainConfig.progress`` aside), with other network defaults, or holds no student
        record (an older format).
    """
    path = spec.path if path is None else Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run 'python -m ideal_diffusion retrain'")
    try:
        res, extra = _load(path)
    except ValueError as err:
        raise StaleCheckpoint(f"{err}; run 'python -m ideal_diffusion retrain'") from err
    stored = extra.get("spec")
    if (not isinstance(stored, dict)
            or _without_display(StudentSpec.from_json(stored)) != _without_display(spec)
            or not _default_architecture_matches(res.model)):
        raise StaleCheckpoint(f"{path} was made from another spec or network; run "
                              "'python -m ideal_diffusion retrain' to remake it")
    return res


class StaleCheckpoint(ValueError):
    """A checkpoint made from another spec or network than the one asked for."""


_LOADED: dict = {}


def student(spec: StudentSpec):
    """The student of ``spec``: its checkpoint if committed and made from this spec (display
    switches aside), else trained now (cached)."""
    if spec not in _LOADED:
        try:
            _LOADED[spec] = load_student(spec)
        except (FileNotFoundError, StaleCheckpoint):
            _LOADED[spec] = train_student(spec)
    return _LOADED[spec]


def _digits(method, K=1, **kw) -> StudentSpec:
    return StudentSpec("digits", method, K, **kw)


#: CD / multi-boundary CD students of the generalising teacher: 10,000 steps at peak lr 5e-3
#: (the closing note of issue 16 gives what 2e-3 and fewer steps reached)
GMM_CD_TRAIN = TrainConfig(steps=10_000, batch=256, lr=5e-3, ema=0.9)


def _gmm(method, K=1, **kw) -> StudentSpec:
    return StudentSpec("digits_gmm", method, K, **kw)


#: The committed students: the digits rows of the summary and the images figures, on the
#: memorising teacher (``digits``) and on the generalising one (``digits_gmm``).
CHECKPOINTED = (
    _digits("cd", param="jump_edm"),
    _digits("mbcd", 2),
    _digits("mbcd", 4),
    _digits("kd", train=TrainConfig(steps=3000, batch=256, lr=2e-3)),
    _gmm("cd", param="jump_edm", train=GMM_CD_TRAIN),
    _gmm("mbcd", 2, train=GMM_CD_TRAIN),
    _gmm("mbcd", 4, train=GMM_CD_TRAIN),
    _gmm("kd", train=TrainConfig(steps=6000, batch=256, lr=2e-3)),
)


def _retrain_one(spec: StudentSpec) -> tuple:
    res = train_student(spec)
    return spec, save_student(spec, res), res.train_seconds


def retrain_all(only=None, echo=print, jobs: int = 1) -> list[Path]:
    """Retrain and save every spec of :data:`CHECKPOINTED` (or those whose name is in ``only``),
    in ``jobs`` worker processes (each trains on one BLAS thread: same bits whatever ``jobs``)."""
    names = [s.name for s in CHECKPOINTED]
    if only:
        bad = sorted(set(only) - set(names))
        if bad:
            raise ValueError(f"unknown student name(s) {bad}; known: {names}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    todo = [s for s in CHECKPOINTED if not only or s.name in only]
    out = []
    if jobs == 1:
        done = map(_retrain_one, todo)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"))
        done = pool.map(_retrain_one, todo)
    for spec, path, seconds in done:
        _LOADED.pop(spec, None)
        out.append(path)
        echo(f"{spec.name}: trained in {seconds:.1f} s, wrote {path}")
    if jobs > 1:
        pool.shutdown()
    return out


# ----------------------------------------------------------------------------- persisted runs

#: where :func:`persisted` keeps the experiments' trained 2-D students
AUTO_DIR = CHECKPOINT_DIR / "auto"
#: set to "1" (``python -m ideal_diffusion retrain`` does) to save every student trained
SAVE_ENV = "IDEAL_DIFFUSION_SAVE_STUDENTS"


#: TrainConfig fields that only change what is displayed, never the trained bits
DISPLAY_FIELDS = ("progress",)


def _without_display(value):
    """``value`` with every TrainConfig inside (tuple items, dataclass fields) stripped of its
    display switches (set to their defaults): they are not part of a student's identity."""
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


def _default_architecture_matches(model) -> bool:
    """A stored network built with this machine's :data:`~ideal_diffusion.nn.NET_DEFAULTS` for
    what its config does not name (activation, embedding width): a changed default retrains."""
    arch = model.net.config
    return all(arch.get(k) == NET_DEFAULTS[k] for k in ("activation", "emb_dim"))


def persisted(kind: str, key, train_fn):
    """A trained CD or KD student identified by ``key``: loaded if committed, else trained.

    Parameters
    ----------
    kind : str -- a file-name prefix (``"cd"``, ``"kd"``)
    key : a frozen record (dataclass or tuple) of *everything* that makes the student; its
        ``repr`` names the checkpoint (a digest) and is stored in it and compared on load, so
        a changed knob never loads a stale student
    train_fn : callable ``() -> CDResult | KDResult`` training it (deterministic)

    The checkpoint ``ideal_diffusion/checkpoints/auto/<kind>-<digest>.npz`` holds the student
    record (:mod:`ideal_diffusion.distill.records`: the online network, the EMA target, the
    loss history and the result's fields); a loaded student gives the same bits as a freshly
    trained one. Students are saved only when ``IDEAL_DIFFUSION_SAVE_STUDENTS=1``
    (``python -m ideal_diffusion retrain`` sets it), so an experiment never writes into the
    package by itself.
    """
    text = key_text(key)
    path = AUTO_DIR / f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.npz"
    if path.exists():
        try:
            res, extra = _load(path)
        except ValueError:  # an older format: retrained below
            res, extra = None, {}
        if res is not None and extra.get("key") == text \
                and _default_architecture_matches(res.model):
            return res
    res = train_fn()
    if os.environ.get(SAVE_ENV) == "1":
        AUTO_DIR.mkdir(parents=True, exist_ok=True)
        save_record(path, res.to_record(), key=text)
    return res
