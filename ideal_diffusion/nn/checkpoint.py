"""Checkpoints: a ``.npz`` of named parameter arrays plus a JSON config string.

Layout of the file::

    config          0-d unicode array: JSON {"format", "architecture", "parameterisation",
                    "training_seed", "extra"}
    param/<name>    one array per named parameter (e.g. ``param/layer0.W``), network dtype

Loading uses ``numpy.load(..., allow_pickle=False)``: a file holding pickled objects is
refused, as is a file whose arrays do not match its config (names, shapes, dtypes), a corrupt
file, or an unknown format. Every refusal is a ``ValueError`` saying what is wrong.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from .mlp import MLP
from .param import Model, param_from_config

__all__ = ["save_checkpoint", "load_checkpoint", "FORMAT"]

FORMAT = "ideal_diffusion.nn.checkpoint/1"


def save_checkpoint(path, model, **config_extra) -> Path:
    """Save ``model`` (a :class:`~.param.Model`) to ``path`` (``.npz``).

    Parameters
    ----------
    path : str or Path
        Destination; ``.npz`` is appended by numpy if missing.
    model : Model
    **config_extra
        JSON-serialisable extra fields (e.g. ``seed=0, steps=3000, lr=2e-3``). A ``seed``
        entry is also recorded as the top-level ``training_seed``.

    Returns
    -------
    path : Path of the written file
    """
    if not isinstance(model, Model):
        raise ValueError(f"model must be an ideal_diffusion.nn.Model, got {type(model).__name__}")
    config = {
        "format": FORMAT,
        "architecture": model.net.config,
        "parameterisation": model.param.config,
        "training_seed": config_extra.get("seed"),
        "extra": config_extra,
    }
    try:
        text = json.dumps(config, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"config_extra must be JSON-serialisable (finite numbers): {err}") from err
    arrays = {f"param/{name}": np.ascontiguousarray(arr) for name, arr in model.net.params.items()}
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    np.savez(path, config=np.array(text), **arrays)
    return path


def load_checkpoint(path):
    """Load a checkpoint written by :func:`save_checkpoint`.

    Returns
    -------
    model : Model
        Bit-identical parameters, same architecture and parameterisation.
    config : dict
        The stored config (``architecture``, ``parameterisation``, ``training_seed``, ``extra``).

    Raises
    ------
    ValueError
        Corrupt or non-npz file, pickled content, missing/extra/mis-shaped arrays, unknown format.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise ValueError(f"{path}: not an .npz checkpoint (a single array)")
            names = set(npz.files)
            if "config" not in names:
                raise ValueError(f"{path}: no 'config' entry, not a checkpoint")
            arrays = {name: npz[name] for name in names}
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise ValueError(
                f"{path}: refusing pickled content (allow_pickle=False): {err}") from err
        raise
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise ValueError(
            f"{path}: corrupt or unreadable checkpoint ({type(err).__name__}: {err})") from err

    raw = arrays.pop("config")
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise ValueError(f"{path}: 'config' must be a JSON string, got {raw.dtype} {raw.shape}")
    try:
        config = json.loads(str(raw))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: config is not valid JSON: {err}") from err
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else config
        raise ValueError(f"{path}: unknown checkpoint format {found!r}; expected {FORMAT!r}")
    arch = dict(config.get("architecture") or {})
    if arch.pop("kind", None) != "MLP":
        raise ValueError(
            f"{path}: architecture kind must be 'MLP', got {config.get('architecture')}")
    try:
        net = MLP(rng=0, **arch)
        param = param_from_config(config.get("parameterisation") or {})
    except TypeError as err:
        raise ValueError(f"{path}: config does not describe a model: {err}") from err

    expected = {f"param/{name}": arr for name, arr in net.params.items()}
    missing, unexpected = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{path}: arrays do not match the config: "
                         f"missing {missing}, unexpected {unexpected}")
    for key, dest in expected.items():
        arr = arrays[key]
        if arr.shape != dest.shape or arr.dtype != dest.dtype:
            raise ValueError(f"{path}: array {key!r} has {arr.dtype} {arr.shape}, "
                             f"config says {dest.dtype} {dest.shape}")
        dest[...] = arr
    return Model(net, param), config
