"""Checkpoint round trip and refusals."""
import json

import numpy as np
import pytest

from ideal_diffusion.nn import (
    MLP,
    ConsistencyParam,
    EDMPrecond,
    Model,
    load_checkpoint,
    save_checkpoint,
)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_bit_exact(tmp_path, dtype):
    model = Model(MLP(2, hidden=16, depth=2, activation="relu", rng=3, dtype=dtype),
                  ConsistencyParam(boundary=0.05, sigma_data=0.7))
    path = save_checkpoint(tmp_path / "student.npz", model, seed=42, steps=10)
    loaded, config = load_checkpoint(path)
    assert loaded.net.theta.dtype == np.dtype(dtype)
    assert np.array_equal(loaded.net.theta, model.net.theta)
    assert config["training_seed"] == 42 and config["extra"]["steps"] == 10
    assert config["parameterisation"] == {"kind": "ConsistencyParam", "sigma_data": 0.7,
                                          "boundary": 0.05}
    x = np.random.default_rng(0).standard_normal((5, 2))
    assert np.array_equal(loaded(x, 0.4), model(x, 0.4))


def _saved(tmp_path):
    model = Model(MLP(2, hidden=8, depth=1, rng=0), EDMPrecond())
    return save_checkpoint(tmp_path / "m.npz", model), model


def test_mismatched_arrays_refused(tmp_path):
    path, model = _saved(tmp_path)
    with np.load(path) as npz:
        arrays = dict(npz)
    bad = dict(arrays)
    bad["param/layer0.W"] = bad["param/layer0.W"][:, :4]
    np.savez(tmp_path / "shape.npz", **bad)
    with pytest.raises(ValueError, match="layer0.W"):
        load_checkpoint(tmp_path / "shape.npz")
    bad = dict(arrays)
    del bad["param/out.b"]
    np.savez(tmp_path / "missing.npz", **bad)
    with pytest.raises(ValueError, match="missing"):
        load_checkpoint(tmp_path / "missing.npz")
    cfg = json.loads(str(arrays["config"]))
    cfg["architecture"]["hidden"] = 9
    np.savez(tmp_path / "config.npz", **{**arrays, "config": np.array(json.dumps(cfg))})
    with pytest.raises(ValueError, match="do not match|has"):
        load_checkpoint(tmp_path / "config.npz")


def test_corrupt_file_refused(tmp_path):
    path, _ = _saved(tmp_path)
    data = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError):
        load_checkpoint(tmp_path / "trunc.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError):
        load_checkpoint(tmp_path / "junk.npz")


def test_pickled_content_refused(tmp_path):
    path, _ = _saved(tmp_path)
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays["evil"] = np.array([{"a": 1}], dtype=object)
    np.savez(tmp_path / "pickled.npz", **arrays)
    with pytest.raises(ValueError, match="pickle"):
        load_checkpoint(tmp_path / "pickled.npz")
    import pickle

    (tmp_path / "raw.npz").write_bytes(pickle.dumps({"config": 1}))
    with pytest.raises(ValueError, match="pickle"):
        load_checkpoint(tmp_path / "raw.npz")


def test_unserialisable_extra_refused(tmp_path):
    model = Model(MLP(2, hidden=8, depth=1, rng=0), EDMPrecond())
    with pytest.raises(ValueError, match="JSON"):
        save_checkpoint(tmp_path / "x.npz", model, data=object())
