"""The experiments layer's plumbing: a cache keyed on the whole Config, the committed-student
store (a checkpoint made from another spec is refused), and the sampling film's facts."""
from dataclasses import FrozenInstanceError, replace

import numpy as np
import pytest

from ideal_diffusion.experiments import animation, students
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


def _tiny(data="clusters", **kw):
    return students.StudentSpec(data, "mbcd", 2, N=8, hidden=16, depth=1,
                                train=TrainConfig(steps=20, batch=32, lr=1e-3, ema=0.5), **kw)


def test_student_store_round_trip_and_refuses_another_spec(tmp_path):
    spec = _tiny()
    res = students.train_student(spec)
    path = students.save_student(spec, res, tmp_path / "s.npz")
    back = students.load_student(spec, path)
    x = dataset("clusters").points + 0.3
    s = np.full(len(x), 80.0)
    np.testing.assert_array_equal(back(x, s), res(x, s))  # bit for bit
    assert back.teacher_evals == res.teacher_evals
    other = replace(spec, train=replace(spec.train, seed=1))
    with pytest.raises(ValueError, match="another spec"):
        students.load_student(other, path)
    with pytest.raises(FileNotFoundError, match="retrain"):
        students.load_student(spec, tmp_path / "missing.npz")


def test_retraining_is_deterministic():
    a, b = students.train_student(_tiny()), students.train_student(_tiny())
    assert np.array_equal(a.model.net.theta, b.model.net.theta)


def test_every_committed_student_matches_its_spec():
    for spec in students.CHECKPOINTED:
        students.load_student(spec)  # raises if missing or made from another spec


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
    from ideal_diffusion.experiments import cd, kd

    monkeypatch.setattr(students, "AUTO_DIR", tmp_path)
    monkeypatch.setenv(students.SAVE_ENV, "1")
    cfg = cd.CDConfig(N=8, hidden=16, depth=1, n_eval=20, n_test=30,
                      train=TrainConfig(steps=15, batch=32, ema=0.5))
    fresh = cd.run_cd(cfg)
    assert len(list(tmp_path.glob("cd-*.npz"))) == 1
    clear_caches()
    monkeypatch.delenv(students.SAVE_ENV)
    loaded = cd.run_cd(cfg)  # from the checkpoint now
    assert loaded.student is not fresh.student
    np.testing.assert_array_equal(loaded.sample, fresh.sample)
    assert loaded.teacher_evals == fresh.teacher_evals
    np.testing.assert_array_equal(loaded.student.history, fresh.student.history)
    # a changed knob is another student: trained, not loaded (and not saved without the flag)
    other = cd.run_cd(replace(cfg, train=replace(cfg.train, seed=3)))
    assert not np.array_equal(other.sample, fresh.sample)
    assert len(list(tmp_path.glob("cd-*.npz"))) == 1
    kcfg = kd.KDConfig(n_pairs=256, hidden=8, depth=1, n_test=30, steps_many=4,
                       train=TrainConfig(steps=10, batch=32))
    monkeypatch.setenv(students.SAVE_ENV, "1")
    k1 = kd.run_kd(kcfg)
    clear_caches()
    k2 = kd.run_kd(kcfg)
    for name in k1.outputs:
        np.testing.assert_array_equal(k1.outputs[name], k2.outputs[name])
