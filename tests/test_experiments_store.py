"""The experiments layer's plumbing: a cache keyed on the whole Config, the committed-student
store (a changed knob is another student, never a stale one), and the sampling film's facts."""
import hashlib
import re
from dataclasses import FrozenInstanceError, replace

import numpy as np
import pytest

from ideal_diffusion.experiments import animation, store, students
from ideal_diffusion.experiments._cache import cached, clear_caches
from ideal_diffusion.experiments.common import (
    dataset,
    ideal_denoiser,
    measure,
    reference,
)
from ideal_diffusion.nn import TrainConfig
from ideal_diffusion.schedules import sampling_grid

DEFAULT = animation.Config(steps=3)


def test_cache_is_keyed_on_every_field():
    calls = []

    @cached
    def run(cfg=DEFAULT):
        calls.append(cfg)
        return object()

    a = run()
    assert run(animation.Config(steps=3)) is a  # equal config: the same result
    b = run(animation.Config(steps=3, seed=8))  # any changed field: a new run
    assert b is not a and len(calls) == 2
    with pytest.raises(FrozenInstanceError):
        animation.Config().steps = 5  # no mutable config to go stale


def test_sampler_grid_is_the_measurement_convention():
    s = sampling_grid(4)
    assert s.shape == (5,) and s[0] == 80.0 and s[-1] == 0.002 and np.all(np.diff(s) < 0)


def test_reference_is_the_exact_state_at_sigma_min():
    ref = reference("clusters", n=50, seed=3)
    den = ideal_denoiser("clusters")
    # at sigma_min the exact state sits next to its data point, about sigma_min * sqrt(d) away
    dist = np.linalg.norm(ref.x_exact - den.data.points[ref.basin], axis=1)
    assert np.median(dist) < 0.01
    q = measure(ref.x_exact, ref)
    assert q.err_median == 0 and q.same_basin == 1.0
    # one Euler step from 80 returns D(x_T, 80), about the data mean: far from every point
    x1 = ref.x_T + (0.002 - 80.0) * (ref.x_T - den(ref.x_T, 80.0)) / 80.0
    mean = np.average(den.data.points, axis=0, weights=den.data.weights)
    assert np.max(np.abs(x1 - mean)) < 0.1
    assert measure(x1, ref).err_median > 0.5


def _tiny_cd(**kw):
    from ideal_diffusion.experiments.cd import student_vs_optimum as cd

    return cd.Config(N=8, K=2, param="jump_edm", hidden=16, depth=1, n_eval=20, n_test=30,
                     train=TrainConfig(steps=20, batch=32, lr=1e-3, ema=0.5), **kw)


def test_retraining_is_deterministic(monkeypatch, tmp_path):
    from ideal_diffusion.experiments.cd import student_vs_optimum as cd

    monkeypatch.setattr(store, "STORE_DIR", tmp_path)  # an empty store: train twice
    monkeypatch.delenv(store.SAVE_ENV, raising=False)
    a, b = cd.student(_tiny_cd()), cd.student(_tiny_cd())
    assert np.array_equal(a.model.net.theta, b.model.net.theta)


def test_every_committed_student_is_in_the_store():
    for name, committed in students.CHECKPOINTED.items():
        assert committed.path.is_file(), name
        assert committed.load() is not None, name  # made from this very config


def test_the_store_is_one_folder_of_keyed_students():
    """Every file of the store is a student record holding the key its name digests."""
    from ideal_diffusion.distill.records import load_record

    paths = sorted(store.STORE_DIR.glob("*"))
    # (the prefix is the ``kind`` its experiment passes to ``persisted``: any lowercase word)
    assert paths and all(p.suffix == ".npz" and re.fullmatch(r"[a-z][a-z0-9_]*-[0-9a-f]{16}",
                                                              p.stem)
                         for p in paths), paths
    for p in paths:
        _, extra = load_record(p)
        digest = hashlib.sha256(extra["key"].encode()).hexdigest()[:16]
        assert p.stem.endswith(digest), p


def test_film_starts_averaged_and_ends_on_the_data():
    clear_caches()
    res = animation.run(animation.Config(steps=6, n_points=40, n_digits=2))
    p = res.points
    assert p.states.shape == (7, 40, 2) and p.denoised.shape == (7, 40, 2)
    pts = dataset("clusters").points
    spread = lambda y: np.median(np.linalg.norm(y - y.mean(0), axis=1))  # noqa: E731
    assert spread(p.denoised[0]) < 0.1 * spread(pts)  # D at sigma = 80: one average
    # at sigma_min the guesses are data points (6 Heun steps may pick a wrong one, not a blend)
    d = np.min(np.linalg.norm(p.denoised[-1][:, None] - pts[None], axis=2), axis=1)
    assert np.median(d) < 1e-3


def test_persisted_students_load_bit_identical_and_never_stale(tmp_path, monkeypatch):
    from ideal_diffusion.experiments import kd
    from ideal_diffusion.experiments.cd import student_vs_optimum as cd

    monkeypatch.setattr(store, "STORE_DIR", tmp_path)
    monkeypatch.setenv(store.SAVE_ENV, "1")
    cfg = cd.Config(N=8, hidden=16, depth=1, n_eval=20, n_test=30,
                    train=TrainConfig(steps=15, batch=32, ema=0.5))
    fresh = cd.run(cfg)
    assert len(list(tmp_path.glob("cd-*.npz"))) == 1
    clear_caches()
    monkeypatch.delenv(store.SAVE_ENV)
    loaded = cd.run(cfg)  # from the checkpoint now
    assert loaded.student is not fresh.student
    np.testing.assert_array_equal(loaded.sample, fresh.sample)
    assert loaded.teacher_evals == fresh.teacher_evals
    np.testing.assert_array_equal(loaded.student.history, fresh.student.history)
    # a changed knob is another student: trained, not loaded (and not saved without the flag)
    other = cd.run(replace(cfg, train=replace(cfg.train, seed=3)))
    assert not np.array_equal(other.sample, fresh.sample)
    assert len(list(tmp_path.glob("cd-*.npz"))) == 1
    kcfg = kd.Config(n_pairs=256, hidden=8, depth=1, n_test=30, steps_many=4,
                     train=TrainConfig(steps=10, batch=32))
    monkeypatch.setenv(store.SAVE_ENV, "1")
    k1 = kd.run(kcfg)
    clear_caches()
    k2 = kd.run(kcfg)
    for name in k1.outputs:
        np.testing.assert_array_equal(k1.outputs[name], k2.outputs[name])


def test_progress_true_loads_the_committed_student(monkeypatch):
    """A display switch is not part of a student's identity: the committed student loads."""
    from ideal_diffusion.experiments import kd

    committed = students.CHECKPOINTED["digits_kd"]
    cfg = committed.config
    shown = replace(cfg, train=replace(cfg.train, progress=True))
    monkeypatch.setattr(kd, "train_kd", _no_training)
    a, b = kd.student(cfg), kd.student(shown)
    np.testing.assert_array_equal(a.model.net.theta, b.model.net.theta)
    assert store.path_for("kd", kd.student_key(shown)) == committed.path


def _no_training(*args, **kw):
    raise AssertionError("trained instead of loading the committed student")


def test_a_changed_network_trains_a_new_student(monkeypatch):
    from ideal_diffusion.experiments import kd

    cfg = students.CHECKPOINTED["digits_kd"].config
    wider = replace(cfg, hidden=cfg.hidden + 1)
    assert store.load("kd", kd.student_key(wider)) is None
    trained = []
    monkeypatch.setattr(kd, "train_kd", lambda pairs, train, **kw: trained.append(kw) or "new")
    monkeypatch.setattr(kd, "_pairs", lambda cfg, which: None)  # (no pairs needed by the spy)
    assert kd.student(wider) == "new" and trained[0]["hidden"] == cfg.hidden + 1
    assert store.key_text(("x", 8)) != store.key_text(("x", 9))


def test_a_changed_network_default_is_not_loaded(monkeypatch):
    """The stored network's activation and embedding width (not named by the configs) must be
    this machine's defaults, else the committed student is stale and trained anew."""
    committed = students.CHECKPOINTED["digits_kd"]
    assert committed.load() is not None
    monkeypatch.setitem(store.NET_DEFAULTS, "activation", "relu")
    assert committed.load() is None


def test_a_kind_is_a_lowercase_word():
    assert store.path_for("kd2", ("x",)).name.startswith("kd2-")
    for bad in ("", "KD", "../cd", "cd-1", None):
        with pytest.raises(ValueError, match="kind"):
            store.path_for(bad, ("x",))
