"""HDF5 checkpoints: one dataset per parameter under its PyTorch name, written atomically.

Layout of a checkpoint file (``h5ls -r run.h5``)::

    /                       attrs: format="refsnn-checkpoint", format_version=1,
                                   refsnn_version, created (ISO 8601, UTC),
                                   config (JSON text), seed, step (when given)
    /model/fc1.weight       dataset [out, in]   (PyTorch names; dots are legal in HDF5)
    /model/fc1.bias         dataset [out]
    /optimizer/...          nested groups: the optimizer's state tree (optional)
    /extra/...              nested groups: anything else a resume needs (optional)

The optimizer and extra trees may hold arrays, Python scalars (bool, int — even
128-bit ones such as a PCG64 state —, float, str, None), lists, tuples and dicts
with str or int keys; they come back with the same Python types.

Writing goes to a temporary file in the target's directory which is flushed,
fsync'ed and then renamed over the target with :func:`os.replace`.  A crash or
a kill at any moment leaves either the old checkpoint or the new one, never a
half-written file, and an exception removes the temporary file.

>>> import numpy as np, tempfile, os
>>> d = tempfile.mkdtemp()
>>> save_checkpoint(os.path.join(d, "a.h5"), {"fc1.weight": np.eye(2, dtype=np.float32)}, step=3)
>>> ck = load_checkpoint(os.path.join(d, "a.h5"))
>>> ck.step, ck.state["fc1.weight"].shape
(3, (2, 2))
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from refsnn import __version__
from refsnn.errors import DataFormatError
from refsnn.io.atomic import atomic_write
from refsnn.io.h5safe import MAX_DEPTH, SafeH5, memory_cap

FORMAT = "refsnn-checkpoint"
FORMAT_VERSION = 1
_NUMERIC_KINDS = "biufc"  # bool, int, uint, float, complex


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns.

    ``state`` maps PyTorch parameter names to arrays (in the order they were
    saved); ``config`` is the decoded JSON config; ``version`` is the refsnn
    version that wrote the file.  ``metadata`` carries a safetensors header's
    ``__metadata__`` when the record came from :func:`refsnn.io.load_module`.
    """

    state: dict[str, np.ndarray]
    config: Any = None
    seed: int | None = None
    step: int | None = None
    optimizer: Any = None
    extra: Any = None
    version: str | None = None
    created: str | None = None
    path: Path | None = None
    metadata: dict[str, str] | None = field(default=None, repr=False)


# --------------------------------------------------------------------------- helpers
def as_state_array(value, name: str, what: str = "state") -> np.ndarray:
    """Turn one state-dict value into a host NumPy array with a numeric dtype.

    Accepts ndarrays, NumPy scalars, Python numbers / nested lists, CuPy arrays
    (copied to the host) and refsnn Tensors (their ``.data``).  Object, string
    and other non-numeric dtypes raise a TypeError naming the entry.
    """
    if hasattr(value, "data") and hasattr(value, "requires_grad"):  # refsnn Tensor
        value = value.data
    if hasattr(value, "__cuda_array_interface__") and hasattr(value, "get"):  # CuPy
        value = value.get()
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{what} entry {name!r} cannot be converted to an array: {exc}") from exc
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"{what} entry {name!r} has dtype {arr.dtype} ({type(value).__name__}); "
            "only bool, integer, float and complex arrays can be stored"
        )
    return arr


def check_state(state, what: str = "state") -> dict[str, np.ndarray]:
    """Validate a flat ``dict[str, array]`` and return it with every value as an ndarray."""
    if not isinstance(state, Mapping):
        raise TypeError(f"{what} must be a mapping of parameter name -> array, got {type(state).__name__}")
    out = {}
    for name, value in state.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"{what} keys must be non-empty strings, got {name!r}")
        out[name] = as_state_array(value, name, what)
    return out


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON-serialisable")


def _check_int(value, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int or None, got {value!r}")
    if not -(2**63) <= int(value) < 2**63:
        raise ValueError(f"{name} must fit in 64 bits, got {value}")
    return int(value)


def _h5_name(key, where: str) -> str:
    name = str(key)
    if not name or name == "." or "/" in name:
        raise ValueError(f"{where}: key {key!r} cannot be an HDF5 name (empty, '.' or contains '/')")
    return name


def _create_dataset(group, name: str, array: np.ndarray):
    """Write one array as ``group[name]`` (a separate function so tests can make it fail)."""
    return group.create_dataset(name, data=array)


# --------------------------------------------------------------------------- trees
def _write_tree(group, name: str, value, where: str, depth: int = 0) -> None:
    """Store a nested dict/list/scalar/array tree under ``group[name]`` (at most MAX_DEPTH levels)."""
    if depth >= MAX_DEPTH:
        raise ValueError(f"{where}: nests deeper than {MAX_DEPTH} levels, which load_checkpoint refuses")
    if isinstance(value, Mapping):
        sub = group.create_group(name, track_order=True)
        keys = list(value)
        for k in keys:
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(f"{where}: dict keys must be str or int, got {k!r}")
        names = [_h5_name(k, where) for k in keys]
        if len(set(names)) != len(names):
            raise ValueError(f"{where}: keys {keys!r} collide once written as strings")
        sub.attrs["__kind__"] = "dict"
        sub.attrs["__keys__"] = json.dumps(keys)
        for k, n in zip(keys, names):
            _write_tree(sub, n, value[k], f"{where}[{k!r}]", depth + 1)
    elif isinstance(value, (list, tuple)):
        sub = group.create_group(name, track_order=True)
        sub.attrs["__kind__"] = type(value).__name__
        for i, v in enumerate(value):
            _write_tree(sub, str(i), v, f"{where}[{i}]", depth + 1)
    elif value is None:
        group.create_dataset(name, data=np.int8(0)).attrs["__py__"] = "none"
    elif isinstance(value, bool):
        group.create_dataset(name, data=np.bool_(value)).attrs["__py__"] = "bool"
    elif isinstance(value, int):
        data = np.int64(value) if -(2**63) <= value < 2**63 else str(value)
        group.create_dataset(name, data=data).attrs["__py__"] = "int"
    elif isinstance(value, float):
        group.create_dataset(name, data=np.float64(value)).attrs["__py__"] = "float"
    elif isinstance(value, str):
        group.create_dataset(name, data=value, dtype=h5py.string_dtype()).attrs["__py__"] = "str"
    else:
        ds = _create_dataset(group, name, as_state_array(value, where, "tree"))
        if isinstance(value, np.generic):
            ds.attrs["__py__"] = "npscalar"


def _parse_int(h5: SafeH5, text: str, where: str) -> int:
    """A big integer stored as decimal text (at most 400 digits; a PCG64 state needs 39)."""
    text = text.strip()
    if not (0 < len(text) <= 400) or not text.lstrip("-").isdigit():
        raise h5.fail(where, f"is not a decimal integer of at most 400 digits ({text[:40]!r})")
    return int(text)


def _read_tree(h5: SafeH5, node, where: str, depth: int = 0):
    """Inverse of :func:`_write_tree`, every object checked by ``h5`` (see :mod:`refsnn.io.h5safe`)."""
    if depth >= MAX_DEPTH:
        raise h5.fail(where, f"nests deeper than {MAX_DEPTH} levels")
    if isinstance(node, h5py.Group):
        kind = h5.attr(node, "__kind__", where)
        if kind == "dict":
            try:
                keys = json.loads(h5.attr(node, "__keys__", where, "null"))
            except (json.JSONDecodeError, RecursionError) as exc:
                raise h5.fail(f"{where} attribute '__keys__'", f"is not valid JSON ({exc})") from exc
            if not isinstance(keys, list) or not all(
                isinstance(k, str) or (isinstance(k, int) and not isinstance(k, bool)) for k in keys
            ):
                raise h5.fail(f"{where} attribute '__keys__'", "must be a JSON list of str or int keys")
            written = sorted(map(str, keys))
            if written != sorted(h5.names(node)) or len(set(written)) != len(keys):
                raise h5.fail(where, "members do not match its '__keys__' attribute")
            return {k: _read_tree(h5, h5.child(node, str(k), f"{where}[{k!r}]"), f"{where}[{k!r}]", depth + 1)
                    for k in keys}
        if kind in ("list", "tuple"):
            names = h5.names(node)
            if sorted(names) != sorted(str(i) for i in range(len(names))):
                raise h5.fail(where, f"{kind} members must be named 0..{len(names) - 1}")
            items = [_read_tree(h5, h5.child(node, str(i), f"{where}[{i}]"), f"{where}[{i}]", depth + 1)
                     for i in range(len(names))]
            return items if kind == "list" else tuple(items)
        raise h5.fail(where, f"is a group without a valid '__kind__' attribute ({kind!r})")
    py = h5.attr(node, "__py__", where)
    value = h5.read_dataset(node, where, strings=py in ("str", "int"))
    if py == "str":
        if not isinstance(value, str):
            raise h5.fail(where, "is marked str but does not hold a string")
        return value
    if py == "int" and isinstance(value, str):
        value = np.asarray(_parse_int(h5, value, where), dtype=object)
    if py is not None and py != "npscalar" and value.shape != ():
        raise h5.fail(where, f"is marked {py!r} but has shape {value.shape}")
    if py == "none":
        return None
    if py == "bool":
        return bool(value)
    if py == "int":
        return int(value[()])
    if py == "float":
        return float(value)
    if py == "npscalar":
        return value[()]
    if py is not None:
        raise h5.fail(f"{where} attribute '__py__'", f"has an unknown value {py!r}")
    return value


# --------------------------------------------------------------------------- API
def save_checkpoint(path, state, *, config=None, seed=None, step=None, optimizer=None, extra=None) -> None:
    """Write ``state`` (name -> array) and training metadata to the HDF5 file ``path`` atomically.

    Parameters
    ----------
    path : str or Path
        Target file (conventionally ``*.h5``); its directory must exist.
    state : dict[str, array]
        Model parameters and buffers under PyTorch names (``"fc1.weight"`` is
        ``[out, in]``).  Names must not contain ``'/'``.
    config : JSON-serialisable, optional
        Model / run configuration (NumPy scalars and arrays are converted).
    seed, step : int, optional
        Stored as root attributes; ``step`` orders checkpoints for
        :func:`latest_checkpoint`.
    optimizer, extra : nested dict / list / array / scalar tree, optional
        Optimizer state and anything else needed to resume (RNG state, ...).
    """
    state = check_state(state)
    for name in state:
        _h5_name(name, "state")
    seed = _check_int(seed, "seed")
    step = _check_int(step, "step")
    try:
        config_json = json.dumps(config, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"config is not JSON-serialisable: {exc}") from exc
    with atomic_write(path) as tmp:
        with h5py.File(tmp, "w", track_order=True) as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["refsnn_version"] = __version__
            f.attrs["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            f.attrs["config"] = config_json
            if seed is not None:
                f.attrs["seed"] = np.int64(seed)
            if step is not None:
                f.attrs["step"] = np.int64(step)
            model = f.create_group("model", track_order=True)
            for name, arr in state.items():
                _create_dataset(model, name, arr)
            if optimizer is not None:
                _write_tree(f, "optimizer", optimizer, "optimizer")
            if extra is not None:
                _write_tree(f, "extra", extra, "extra")


def _open_checked(path) -> tuple[h5py.File, SafeH5]:
    """Open ``path`` read-only and check its header; every failure names the file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"checkpoint path is a directory, not a file: {path}")
    if not h5py.is_hdf5(path):
        raise DataFormatError("signature", "is missing: not an HDF5 file; cannot load it as a checkpoint",
                              path=path)
    try:
        f = h5py.File(path, "r")
    except (OSError, RuntimeError, ValueError) as exc:
        raise DataFormatError("HDF5 structure", f"is corrupt ({exc})", path=path) from exc
    try:
        h5 = SafeH5(f, path)
        fmt = h5.attr(f, "format", "root")
        if fmt != FORMAT:
            raise DataFormatError("root attribute 'format'", f"is {fmt!r}, expected {FORMAT!r}: "
                                  "the HDF5 file is not a refsnn checkpoint", path=path)
        version = h5.int_attr(f, "format_version", "root")
        if version is None or version > FORMAT_VERSION or version < 1:
            raise DataFormatError("format_version", f"{version} is not supported (this refsnn reads "
                                  f"versions 1..{FORMAT_VERSION})", path=path)
    except BaseException as exc:
        f.close()
        if isinstance(exc, DataFormatError):
            raise
        if isinstance(exc, (OSError, TypeError, KeyError, ValueError, RuntimeError)):
            raise DataFormatError("header", f"is corrupt ({type(exc).__name__}: {exc})", path=path) from exc
        raise
    return f, h5


def _load(path: Path, f: h5py.File, h5: SafeH5) -> Checkpoint:
    if not h5.has(f, "model"):
        raise h5.fail("group 'model'", "is missing: a refsnn checkpoint stores its parameters there")
    model = h5.child(f, "model", "group 'model'")
    if not isinstance(model, h5py.Group):
        raise h5.fail("'model'", "is a dataset, expected a group")
    state = {}
    for name in h5.names(model):
        where = f"model entry {name!r}"
        ds = h5.child(model, name, where)
        if not isinstance(ds, h5py.Dataset):
            raise h5.fail(where, "is a group, expected a dataset")
        state[name] = h5.read_dataset(ds, where)
    text = h5.attr(f, "config", "root")
    if text is not None and not isinstance(text, str):
        raise h5.fail("config attribute", f"must be JSON text, got {type(text).__name__}")
    try:
        config = json.loads(text or "null")
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise h5.fail("config attribute", f"is not valid JSON ({exc})") from exc
    trees = {}
    for name in ("optimizer", "extra"):
        trees[name] = _read_tree(h5, h5.child(f, name, name), name) if h5.has(f, name) else None
    strings = {}
    for name in ("refsnn_version", "created"):
        value = h5.attr(f, name, "root")
        if value is not None and not isinstance(value, str):
            raise h5.fail(f"root attribute {name!r}", f"must be text, got {value!r}")
        strings[name] = value
    return Checkpoint(state=state, config=config, seed=h5.int_attr(f, "seed", "root"),
                      step=h5.int_attr(f, "step", "root"), optimizer=trees["optimizer"],
                      extra=trees["extra"], version=strings["refsnn_version"],
                      created=strings["created"], path=path)


def load_checkpoint(path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`, treating the file as hostile.

    Raises FileNotFoundError for a missing file and
    :class:`~refsnn.errors.DataFormatError` (a ValueError naming the file and
    the object) for a file that is not HDF5, not a refsnn checkpoint, corrupt,
    or uses anything :mod:`refsnn.io.h5safe` refuses (external storage or
    links, virtual or chunked datasets, data the file does not hold).
    """
    path = Path(path)
    size = path.stat().st_size if path.is_file() else 0
    try:
        with memory_cap(size):
            f, h5 = _open_checked(path)
            with f:
                return _load(path, f, h5)
    except (DataFormatError, FileNotFoundError, IsADirectoryError):
        raise
    except MemoryError as exc:
        raise DataFormatError("contents", "ask for more memory than the file can back", path=path) from exc
    except (OSError, KeyError, RuntimeError, TypeError, ValueError, RecursionError, AttributeError,
            IndexError, OverflowError) as exc:
        raise DataFormatError("contents", f"are corrupt ({type(exc).__name__}: {exc})", path=path) from exc


def checkpoint_step(path) -> int | None:
    """The ``step`` attribute of a checkpoint without loading its arrays."""
    f, h5 = _open_checked(path)
    with f:
        return h5.int_attr(f, "step", "root")


def latest_checkpoint(directory, pattern: str = "*.h5") -> Path | None:
    """The checkpoint in ``directory`` with the largest ``step`` (for resuming), or None.

    Files matching ``pattern`` that are not readable refsnn checkpoints are
    skipped.  Ties (and checkpoints without a step, ranked lowest) are broken by
    modification time, then by name.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"checkpoint directory not found: {directory}")
    best, best_key = None, None
    for candidate in directory.glob(pattern):
        if not candidate.is_file():
            continue
        try:
            step = checkpoint_step(candidate)
        except (ValueError, OSError):
            continue
        key = (-1 if step is None else step, candidate.stat().st_mtime, candidate.name)
        if best_key is None or key > best_key:
            best, best_key = candidate, key
    return best
