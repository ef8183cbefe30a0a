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


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    import ideal_diffusion.nn.checkpoint as ck

    path, model = _saved(tmp_path)
    before = path.read_bytes()
    other = Model(MLP(2, hidden=8, depth=1, rng=1), EDMPrecond())

    def half_then_fail(fh, arrays):
        fh.write(b"PK\x03\x04" + b"\0" * 100)  # the start of an archive, then a crash
        raise KeyboardInterrupt("simulated interruption mid-write")

    monkeypatch.setattr(ck, "_write_npz", half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, other)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # no temporary file left
    loaded, _ = load_checkpoint(path)
    assert np.array_equal(loaded.net.theta, model.net.theta)


def _arrays(path):
    with np.load(path) as npz:
        return dict(npz)


def test_config_cannot_ask_for_a_huge_network(tmp_path):
    # A ~1 KB file whose config claims hidden = 10^5 (74.5 GiB of float64 weights) is refused
    # from the .npy headers, before any network is allocated.
    path, _ = _saved(tmp_path)
    arrays = _arrays(path)
    cfg = json.loads(str(arrays["config"]))
    cfg["architecture"]["hidden"] = 100_000
    cfg["architecture"]["depth"] = 2
    small = {"config": np.array(json.dumps(cfg))}
    small.update({k: v for k, v in arrays.items() if k != "config"})
    np.savez(tmp_path / "huge.npz", **small)
    assert (tmp_path / "huge.npz").stat().st_size < 4096
    with pytest.raises(ValueError, match="do not match|config says"):
        load_checkpoint(tmp_path / "huge.npz")


def test_decompressed_size_is_bounded(tmp_path, monkeypatch):
    import ideal_diffusion.nn.checkpoint as ck

    path, _ = _saved(tmp_path)
    monkeypatch.setattr(ck, "MAX_BYTES", 1000)
    with pytest.raises(ValueError, match="decompressed size .* exceeds the bound"):
        load_checkpoint(path)


def test_every_corruption_is_a_value_error_naming_it(tmp_path):
    path, _ = _saved(tmp_path)
    arrays = _arrays(path)
    cfg = json.loads(str(arrays["config"]))

    def write(name, **changes):
        np.savez(tmp_path / name, **{**arrays, **changes})
        return tmp_path / name

    cases = [
        (write("extra.npz", surprise=np.zeros(3)), "unexpected \\['surprise'\\]"),
        (write("nan.npz", **{"param/out.b": np.full_like(arrays["param/out.b"], np.nan)}),
         "NaN or infinite"),
        (write("cfgtype.npz", config=np.array([1.0, 2.0])), "'config' must be a JSON string"),
        (write("cfglist.npz", config=np.array(json.dumps([1, 2]))), "unknown checkpoint format"),
        (write("hiddenstr.npz", config=np.array(json.dumps(
            {**cfg, "architecture": {**cfg["architecture"], "hidden": "8"}}))),
         "architecture.hidden must be an integer"),
        (write("dtype.npz", config=np.array(json.dumps(
            {**cfg, "architecture": {**cfg["architecture"], "dtype": "int8"}}))),
         "architecture.dtype"),
        (write("param.npz", config=np.array(json.dumps(
            {**cfg, "parameterisation": {"kind": "EDMPrecond", "sigma_data": "x"}}))),
         "parameterisation.sigma_data must be a finite number"),
        (write("f32.npz", **{"param/out.b": arrays["param/out.b"].astype(np.float32)}),
         "config says float64"),
    ]
    np.save(tmp_path / "single.npy", np.zeros(3))
    cases.append((tmp_path / "single.npy", "single .npy array"))
    data = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) - 40])
    cases.append((tmp_path / "trunc.npz", "corrupt"))
    flipped = bytearray(data)
    i = data.index(b"param/layer0.W") + 200  # inside that member's data: CRC mismatch
    flipped[i] ^= 0xFF
    (tmp_path / "flip.npz").write_bytes(bytes(flipped))
    cases.append((tmp_path / "flip.npz", "corrupt"))
    for p, msg in cases:
        with pytest.raises(ValueError, match=msg):
            load_checkpoint(p)


def test_save_refuses_non_finite_parameters(tmp_path):
    model = Model(MLP(2, hidden=8, depth=1, rng=0), EDMPrecond())
    model.net.theta[3] = np.inf
    with pytest.raises(ValueError, match="finite"):
        save_checkpoint(tmp_path / "x.npz", model)
    assert not any(tmp_path.iterdir())
