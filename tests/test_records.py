"""One way to save a student: a record (network, EMA target, loss history, grid, settings) in
one checkpoint, read back bit for bit; anything else is refused with a ValueError."""
import json
import zipfile
from dataclasses import replace

import numpy as np
import pytest

from ideal_diffusion.distill import (
    choose_boundaries,
    collect_pairs,
    distill_grid,
    train_cd,
    train_kd,
)
from ideal_diffusion.distill.records import load_record, result_from_record, save_record
from ideal_diffusion.experiments import students
from ideal_diffusion.experiments.common import dataset, ideal_denoiser, noise
from ideal_diffusion.nn import MLP, EDMPrecond, Model, TrainConfig, save_checkpoint
from ideal_diffusion.schedules import sampling_grid

TINY = TrainConfig(steps=20, batch=32, lr=1e-3, ema=0.5)


def _cd():
    grid = distill_grid(8)
    return train_cd(ideal_denoiser("clusters"), dataset("clusters"), grid, "heun",
                    choose_boundaries(grid, 2), TINY, param="jump_edm", hidden=16, depth=1)


def test_cd_record_round_trip_keeps_target_and_history(tmp_path):
    res = _cd()
    path = save_record(tmp_path / "cd.npz", res.to_record(), note="x")
    record, extra = load_record(path)
    back = result_from_record(record)
    assert extra["note"] == "x" and record.kind == "cd"
    for name in ("target_theta", "history", "grid", "boundaries"):
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
    # the EMA target is its own array, not a copy of the online weights (ema = 0.5)
    assert not np.array_equal(back.target_theta, back.model.net.theta)
    assert back.history.shape == (TINY.steps,)
    assert (back.solver, back.param, back.train, back.teacher_evals) == (
        res.solver, res.param, res.train, res.teacher_evals)
    x = dataset("clusters").points + 0.3
    s = np.full(len(x), 5.0)
    np.testing.assert_array_equal(back(x, s), res(x, s))


def test_kd_record_round_trip(tmp_path):
    pairs = collect_pairs(ideal_denoiser("clusters"), noise(2, 64, 0), sampling_grid(4), "heun")
    res = train_kd(pairs, replace(TINY, ema=0.0), hidden=8, depth=1)
    back = result_from_record(load_record(save_record(tmp_path / "k.npz", res.to_record()))[0])
    np.testing.assert_array_equal(back.history, res.history)
    assert (back.nfe_per_sample, back.n_pairs, back.solver, back.kind) == (
        res.nfe_per_sample, res.n_pairs, res.solver, res.kind)
    x_T = 80.0 * np.random.default_rng(0).standard_normal((5, 2))
    np.testing.assert_array_equal(back(x_T), res(x_T))


def test_a_bare_network_is_not_a_record(tmp_path):
    model = Model(MLP(2, hidden=4, depth=1, rng=0), EDMPrecond())
    path = save_checkpoint(tmp_path / "bare.npz", model, seed=0)
    with pytest.raises(ValueError, match="not a student record"):
        load_record(path)


def test_named_arrays_are_checked(tmp_path):
    model = Model(MLP(2, hidden=4, depth=1, rng=0), EDMPrecond())
    with pytest.raises(ValueError, match="names"):
        save_checkpoint(tmp_path / "a.npz", model, arrays={"bad name": np.zeros(2)})
    with pytest.raises(ValueError, match="finite"):
        save_checkpoint(tmp_path / "b.npz", model, arrays={"h": np.array([1.0, np.nan])})
    path = save_checkpoint(tmp_path / "c.npz", model, arrays={"h": np.arange(3.0)})
    # a config that announces another shape than the stored array is refused before reading
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    cfg = json.loads(np.load(path)["config"].item())
    cfg["arrays"]["h"] = [4]
    bad = tmp_path / "d.npz"
    arrays = {k[:-4]: np.load(path)[k[:-4]] for k in members if k != "config.npy"}
    np.savez(bad, config=np.array(json.dumps(cfg)), **arrays)
    from ideal_diffusion.nn import load_checkpoint

    with pytest.raises(ValueError, match="array"):
        load_checkpoint(bad)


def test_committed_cd_students_keep_their_ema_target():
    committed = students.CHECKPOINTED["digits_gmm_mbcd2"]
    res = committed.load()
    assert res is not None  # committed, and made from this config
    assert res.history.shape == (committed.config.train.steps,)
    assert not np.array_equal(res.target_theta, res.model.net.theta)


def test_a_grid_one_ulp_off_loads_as_this_machines_grid(tmp_path):
    """numpy versions may round a Karras level one ulp differently: such a stored grid (and its
    boundaries) is read as distill_grid(N), so the samplers' exact grid checks accept it."""
    from ideal_diffusion.distill.optima import distill_grid

    res = _cd()
    record = res.to_record()
    nudged = dict(record.arrays, grid=np.nextafter(res.grid, np.inf) * (res.grid > res.grid[0])
                  + res.grid[0] * (res.grid == res.grid[0]),
                  boundaries=np.nextafter(res.boundaries, np.inf))
    path = save_record(tmp_path / "n.npz", replace(record, arrays=nudged))
    back = result_from_record(load_record(path)[0])
    np.testing.assert_array_equal(back.grid, distill_grid(res.grid.size))
    np.testing.assert_array_equal(back.boundaries, res.boundaries)
