"""Checkpoints: a ``.npz`` of named parameter arrays plus a JSON config string.

Layout of the file (a zip archive, as written by ``numpy.savez``)::

    config.npy          0-d unicode array: JSON {"format", "architecture", "parameterisation",
                        "training_seed", "extra"}
    param/<name>.npy    one array per named parameter (e.g. ``param/layer0.W``), network dtype

Writing is atomic: the archive goes to a temporary file in the destination directory, is
flushed and fsync'ed, and only then renamed over the destination (``os.replace``), so an
interrupted save leaves the previous checkpoint intact and no temporary file behind.

Loading trusts nothing in the file. Before any parameter array is read or any network is
allocated, it checks that the archive holds only the expected members, that the total
decompressed size is bounded (:data:`MAX_BYTES`), that the config is a well-typed JSON
object of the known format, and that the array shapes and dtypes the config implies are those
the ``.npy`` headers declare (so a 1 KB file cannot ask for a 74.5 GiB network). Arrays are
read with ``allow_pickle=False`` and must be finite. Every refusal is a ``ValueError`` saying
what is wrong.
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .layers import ACTIVATIONS
from .mlp import MLP
from .param import PARAMETERISATIONS, Model, param_from_config

__all__ = ["save_checkpoint", "load_checkpoint", "FORMAT", "MAX_BYTES"]

FORMAT = "ideal_diffusion.nn.checkpoint/1"
#: Upper bound on the decompressed size of a checkpoint (all members together), in bytes.
MAX_BYTES = 1 << 30
#: Upper bound on the size of the config member, in bytes.
MAX_CONFIG_BYTES = 1 << 20
#: Upper bound on the nesting depth of the config JSON (objects and arrays).
MAX_CONFIG_DEPTH = 32
#: Upper bound on the digits of an integer in the config JSON.
MAX_INT_DIGITS = 20
_ARCH_KEYS = {"kind", "in_dim", "hidden", "depth", "out_dim", "emb_dim", "activation", "dtype"}
_DTYPES = {"float64": np.dtype(np.float64), "float32": np.dtype(np.float32)}


def _write_npz(fileobj, arrays: dict) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` archive into ``fileobj`` (the one writer)."""
    np.savez(fileobj, **arrays)


def save_checkpoint(path, model, arrays=None, **config_extra) -> Path:
    """Save ``model`` (a :class:`~.param.Model`) to ``path`` (``.npz``), atomically.

    Parameters
    ----------
    path : str or Path
        Destination; ``.npz`` is appended if missing. Its directory must exist.
    model : Model
        With finite parameters.
    arrays : dict of str -> float64 array, optional
        Further named arrays kept beside the parameters (e.g. an EMA target ``theta`` and a
        loss ``history``): finite, names of letters, digits and underscores. Their shapes
        are recorded in the config and checked on load like the parameters'.
    **config_extra
        JSON-serialisable extra fields (e.g. ``seed=0, steps=3000, lr=2e-3``). A ``seed``
        entry is also recorded as the top-level ``training_seed``.

    Returns
    -------
    path : Path of the written file

    Raises
    ------
    ValueError
        If ``model`` is not a Model, has non-finite parameters, or ``config_extra`` is not
        JSON-serialisable. The destination is then untouched.
    """
    if not isinstance(model, Model):
        raise ValueError(f"model must be an ideal_diffusion.nn.Model, got {type(model).__name__}")
    if not np.all(np.isfinite(model.net.theta)):
        raise ValueError("model parameters must be finite (they have NaN or infinite entries)")
    arrays = _check_arrays(arrays)
    config = {
        "format": FORMAT,
        "architecture": model.net.config,
        "parameterisation": model.param.config,
        "training_seed": config_extra.get("seed"),
        "extra": config_extra,
    }
    if arrays:
        config["arrays"] = {k: list(v.shape) for k, v in arrays.items()}
    try:
        text = json.dumps(config, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"config_extra must be JSON-serialisable (finite numbers): {err}") from err
    members = {"config": np.array(text)}
    members.update({f"param/{name}": np.ascontiguousarray(arr)
                    for name, arr in model.net.params.items()})
    members.update({f"array/{name}": arr for name, arr in arrays.items()})
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_npz(fh, members)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make the checkpoint private
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable (POSIX; best effort elsewhere)
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
    return path


_ARRAY_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")


def _check_arrays(arrays) -> dict:
    """The named extra arrays of :func:`save_checkpoint`, as contiguous finite float64."""
    if arrays is None:
        return {}
    if not isinstance(arrays, dict):
        raise ValueError(f"arrays must be a dict of name -> array, got {type(arrays).__name__}")
    out = {}
    for name, arr in arrays.items():
        if not isinstance(name, str) or not _ARRAY_NAME.fullmatch(name):
            raise ValueError(f"array names must be 1-64 letters, digits or underscores, got "
                             f"{name!r}")
        a = np.ascontiguousarray(np.asarray(arr, dtype=np.float64))
        if not np.all(np.isfinite(a)):
            raise ValueError(f"array {name!r} must be finite")
        out[name] = a
    return out


def _expected_arrays(path, spec) -> dict:
    """Members and (shape, dtype) of the extra arrays a config announces."""
    if spec is None:
        return {}
    if not isinstance(spec, dict) or len(spec) > 64:
        raise ValueError(f"{path}: config 'arrays' must be an object of at most 64 entries")
    out = {}
    for name, shape in spec.items():
        if not _ARRAY_NAME.fullmatch(name) or not isinstance(shape, list) or len(shape) > 4 \
                or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2 ** 31
                           for n in shape):
            raise ValueError(f"{path}: config 'arrays' entry {name!r}: {shape!r} is not a "
                             "name and a shape")
        out[f"array/{name}.npy"] = (tuple(shape), np.dtype(np.float64))
    return out


def _expected_shapes(arch: dict) -> dict:
    """``{member: (shape, dtype)}`` implied by a validated architecture, without allocating."""
    dims = ([arch["in_dim"] + arch["emb_dim"]] + [arch["hidden"]] * arch["depth"]
            + [arch["out_dim"]])
    dtype = _DTYPES[arch["dtype"]]
    out = {}
    for i in range(len(dims) - 1):
        tag = f"layer{i}" if i < arch["depth"] else "out"
        out[f"param/{tag}.W.npy"] = ((dims[i], dims[i + 1]), dtype)
        out[f"param/{tag}.b.npy"] = ((dims[i + 1],), dtype)
    return out


def _check_arch(path, arch) -> dict:
    """The architecture config as a dict of checked values (ValueError naming the problem)."""
    if not isinstance(arch, dict):
        raise ValueError(f"{path}: config 'architecture' must be an object, "
                         f"got {type(arch).__name__}")
    unknown, missing = sorted(set(arch) - _ARCH_KEYS), sorted(_ARCH_KEYS - set(arch))
    if unknown or missing:
        raise ValueError(f"{path}: config 'architecture' has unknown keys {unknown} "
                         f"and lacks {missing}")
    if arch["kind"] != "MLP":
        raise ValueError(f"{path}: architecture kind must be 'MLP', got {arch['kind']!r}")
    for key in ("in_dim", "hidden", "depth", "out_dim", "emb_dim"):
        v = arch[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{path}: config architecture.{key} must be an integer >= 1, "
                             f"got {v!r}")
    if arch["emb_dim"] % 2:
        raise ValueError(f"{path}: config architecture.emb_dim must be even, "
                         f"got {arch['emb_dim']}")
    if arch["activation"] not in ACTIVATIONS:
        raise ValueError(f"{path}: config architecture.activation must be one of "
                         f"{sorted(ACTIVATIONS)}, got {arch['activation']!r}")
    if arch["dtype"] not in _DTYPES:
        raise ValueError(f"{path}: config architecture.dtype must be one of {sorted(_DTYPES)}, "
                         f"got {arch['dtype']!r}")
    return arch


def _check_param_config(path, cfg) -> dict:
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: config 'parameterisation' must be an object, "
                         f"got {type(cfg).__name__}")
    if cfg.get("kind") not in PARAMETERISATIONS:
        raise ValueError(f"{path}: unknown parameterisation {cfg.get('kind')!r}; "
                         f"allowed: {sorted(PARAMETERISATIONS)}")
    for key, v in cfg.items():
        if key == "kind":
            continue
        if key not in ("sigma_data", "boundary"):
            raise ValueError(f"{path}: config parameterisation has unknown key {key!r}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{path}: config parameterisation.{key} must be a finite number, "
                             f"got {v!r}")
    return cfg


def _read_header(zf, info, path):
    """``(shape, dtype, fortran_order, header_bytes)`` of one ``.npy`` member, data unread."""
    try:
        with zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unsupported .npy version {version}")
            return shape, dtype, fortran, fh.tell()
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, SyntaxError) as err:
        raise ValueError(f"{path}: member {info.filename!r} is not a valid .npy array: "
                         f"{err}") from err


def _read_array(zf, info, path):
    try:
        with zf.open(info) as fh:
            return np.lib.format.read_array(fh, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: member {info.filename!r} is corrupt: "
                         f"{type(err).__name__}: {err}") from err


def load_checkpoint(path, arrays: bool = False):
    """Load a checkpoint written by :func:`save_checkpoint`, checking everything first.

    Returns ``(model, config)``, or ``(model, config, named_arrays)`` with ``arrays=True``
    (the dict of the extra arrays saved with it; empty for a file that has none).

    Returns
    -------
    model : Model
        Bit-identical parameters, same architecture and parameterisation.
    config : dict
        The stored config (``architecture``, ``parameterisation``, ``training_seed``, ``extra``).

    Raises
    ------
    TypeError
        If ``path`` is not a str or path-like.
    ValueError
        On anything but a regular file holding a checkpoint of the known format (a directory,
        device or FIFO is refused before it is opened, so nothing blocks or reads without
        end): not a zip archive (e.g. a bare
        ``.npy`` or a pickle), a corrupt or truncated archive, pickled (object) content,
        missing or unexpected members, a decompressed size above :data:`MAX_BYTES`, a config
        that is not a JSON object of the known format (nested at most
        :data:`MAX_CONFIG_DEPTH` deep, integers of at most :data:`MAX_INT_DIGITS` digits),
        encrypted or unknown-compression members, or has keys or values of the wrong type,
        arrays whose shape or dtype differ from those the config implies, or non-finite
        parameters. The message names the problem.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    try:
        st = os.stat(path)  # follows symlinks: the target must be a regular file
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read checkpoint ({type(err).__name__}: {err})") from err
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{path}: not a regular file (a directory, device, FIFO or socket); "
                         "a checkpoint is a regular .npz file")
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, opening cannot block
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise ValueError(f"{path}: cannot read checkpoint ({type(err).__name__}: {err})") from err
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise ValueError(f"{path}: not a regular file")
        try:
            model, config, named = _load_file(fh, path)
            return (model, config, named) if arrays else (model, config)
        except ValueError:
            raise
        except Exception as err:  # noqa: BLE001 -- every failure of a corrupt file, as documented
            raise ValueError(f"{path}: corrupt checkpoint ({type(err).__name__}: {err})") from err


def _load_file(fh, path):
    magic = fh.read(6)
    fh.seek(0)
    if magic[:1] == b"\x80":
        raise ValueError(f"{path}: a pickle, not an .npz checkpoint; refusing pickled content "
                         "(allow_pickle=False)")
    if magic == b"\x93NUMPY":
        raise ValueError(f"{path}: not an .npz checkpoint (a single .npy array)")
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise ValueError(f"{path}: corrupt or not an .npz checkpoint "
                         f"({type(err).__name__}: {err})") from err
    with zf:
        return _load(zf, path)


def _json_depth_ok(text: str, limit: int) -> bool:
    """True if the JSON ``text`` nests objects and arrays at most ``limit`` deep."""
    depth, in_str, esc = 0, False, False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits (at most {MAX_INT_DIGITS} allowed)")
    return int(text)


def _parse_constant(text: str):
    raise ValueError(f"{text} is not allowed (numbers must be finite)")


def _parse_config(raw: str, path) -> dict:
    """The config JSON, bounded: at most MAX_CONFIG_DEPTH deep, integers of few digits."""
    if not _json_depth_ok(raw, MAX_CONFIG_DEPTH):
        raise ValueError(f"{path}: config nests deeper than {MAX_CONFIG_DEPTH} levels")
    try:
        return json.loads(raw, parse_int=_parse_int, parse_constant=_parse_constant)
    except (ValueError, RecursionError) as err:
        raise ValueError(f"{path}: config is not valid JSON: {err}") from err


def _load(zf, path):
    infos = {}
    for info in zf.infolist():
        if info.flag_bits & 0x1:
            raise ValueError(f"{path}: member {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(f"{path}: member {info.filename!r} uses compression method "
                             f"{info.compress_type}; only stored or deflated members are read")
        if info.filename in infos:
            raise ValueError(f"{path}: duplicate member {info.filename!r}")
        infos[info.filename] = info
    total = sum(i.file_size for i in infos.values())
    if total > MAX_BYTES:
        raise ValueError(f"{path}: decompressed size {total} bytes exceeds the bound "
                         f"MAX_BYTES = {MAX_BYTES}")
    if "config.npy" not in infos:
        raise ValueError(f"{path}: no 'config' entry, not a checkpoint")
    headers = {name: _read_header(zf, info, path) for name, info in infos.items()}
    for name, (_, dtype, _, _) in headers.items():
        if dtype.hasobject:
            raise ValueError(f"{path}: member {name!r} holds Python objects; refusing pickled "
                             "content (allow_pickle=False)")

    # ---- the config (small, read first)
    c_info = infos["config.npy"]
    shape, dtype, _, _ = headers["config.npy"]
    if dtype.kind != "U" or shape != () or c_info.file_size > MAX_CONFIG_BYTES:
        raise ValueError(f"{path}: 'config' must be a JSON string (0-d unicode array of at most "
                         f"{MAX_CONFIG_BYTES} bytes), got {dtype} {shape}")
    config = _parse_config(str(_read_array(zf, c_info, path)), path)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else config
        raise ValueError(f"{path}: unknown checkpoint format {found!r}; expected {FORMAT!r}")
    arch = _check_arch(path, config.get("architecture"))
    pcfg = _check_param_config(path, config.get("parameterisation"))
    if not isinstance(config.get("extra", {}), dict):
        raise ValueError(f"{path}: config 'extra' must be an object")

    # ---- the arrays the config implies, against the stored headers (nothing allocated yet)
    extra_arrays = _expected_arrays(path, config.get("arrays"))
    expected = {**_expected_shapes(arch), **extra_arrays}
    stored = set(infos) - {"config.npy"}
    missing, unexpected = sorted(set(expected) - stored), sorted(stored - set(expected))
    if missing or unexpected:
        strip = lambda names: [n[:-4] for n in names]  # noqa: E731
        raise ValueError(f"{path}: arrays do not match the config: "
                         f"missing {strip(missing)}, unexpected {strip(unexpected)}")
    for name, (want_shape, want_dtype) in expected.items():
        shape, dtype, fortran, header_len = headers[name]
        key = name[:-4]
        if tuple(shape) != want_shape or dtype != want_dtype:
            raise ValueError(f"{path}: array {key!r} has {dtype} {tuple(shape)}, "
                             f"config says {want_dtype} {want_shape}")
        nbytes = math.prod(want_shape) * want_dtype.itemsize
        if infos[name].file_size != header_len + nbytes:
            raise ValueError(f"{path}: array {key!r} holds {infos[name].file_size - header_len} "
                             f"data bytes, its header says {nbytes}")

    # ---- now build and fill
    try:
        param = param_from_config(pcfg)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: config does not describe a parameterisation: {err}") from err
    net = MLP(rng=0, **{k: v for k, v in arch.items() if k != "kind"})
    for pname, dest in net.params.items():
        arr = _read_array(zf, infos[f"param/{pname}.npy"], path)
        if arr.shape != dest.shape or arr.dtype != dest.dtype:  # header and data agree
            raise ValueError(f"{path}: array {'param/' + pname!r} has {arr.dtype} {arr.shape}, "
                             f"config says {dest.dtype} {dest.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{path}: array {'param/' + pname!r} has NaN or infinite entries")
        dest[...] = arr
    arrays = {}
    for member in extra_arrays:
        arr = _read_array(zf, infos[member], path)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{path}: array {member[:-4]!r} has NaN or infinite entries")
        arrays[member[len("array/"):-4]] = arr
    return Model(net, param), config, arrays
