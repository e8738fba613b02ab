"""CIFAR-10 / CIFAR-100: binary batches and python pickle batches (through a restricted unpickler).

Binary version, one record per image, no header::

    CIFAR-10   <1 x label><3072 x pixel>                 (3073 bytes)
    CIFAR-100  <1 x coarse label><1 x fine label><3072 x pixel>   (3074 bytes)

The 3072 pixel bytes are the red, green then blue 32x32 planes, row-major,
so a record reshapes directly to ``[3, 32, 32]`` (CHW).

Python version: each batch is a pickled dict (written by Python 2, hence
``bytes`` keys when read with ``encoding="bytes"``) with ``b"data"`` a uint8
``[N, 3072]`` array and ``b"labels"`` (CIFAR-10) or ``b"fine_labels"`` /
``b"coarse_labels"`` (CIFAR-100). Pickles can run arbitrary code on load, so
they go through :class:`RestrictedUnpickler`, which resolves only the few
NumPy reconstructors a plain array needs; any other global (``os.system``,
``builtins.eval``, ...) raises :class:`UnsafePickleError` *before* anything
is called.

File names: CIFAR-10 ``data_batch_1..5`` / ``test_batch`` (``.bin`` for the
binary version); CIFAR-100 ``train`` / ``test`` (``train.bin`` / ``test.bin``).
Loaders accept the batch directory itself or its parent holding
``cifar-10-batches-py``, ``cifar-10-batches-bin``, ``cifar-100-python`` or
``cifar-100-binary``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from data_tools.errors import DataFormatError
from data_tools.safepickle import RestrictedUnpickler, UnsafePickleError, safe_load_pickle

__all__ = [
    "UnsafePickleError",
    "RestrictedUnpickler",
    "safe_load_pickle",
    "read_cifar_binary",
    "read_cifar_pickle",
    "load_cifar10",
    "load_cifar100",
]

CIFAR_SHAPE = (3, 32, 32)
PIXELS = 3 * 32 * 32


def _labels(values, n: int, classes: int, what: str, name: str) -> np.ndarray:
    try:
        labels = np.asarray(values)
    except (ValueError, TypeError, OverflowError) as exc:  # ragged or odd lists
        raise DataFormatError(what, f"are not a flat list of integers ({exc})", path=name) from None
    if labels.size == 0 and labels.dtype.kind == "f":  # np.asarray([]) is float64
        labels = labels.astype(np.int64)
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise DataFormatError(what, f"must be {n} integers, found shape {labels.shape} "
                              f"dtype {labels.dtype}", path=name)
    if n and (labels.min() < 0 or labels.max() >= classes):
        raise DataFormatError(what, f"must lie in [0, {classes - 1}], found "
                              f"[{labels.min()}, {labels.max()}]", path=name)
    return labels.astype(np.int64)


def read_cifar_binary(path: str | os.PathLike, cifar100: bool = False, label: str = "fine"):
    """One binary batch -> ``(images uint8 [N, 3, 32, 32], labels int64 [N])``.

    For CIFAR-100 ``label`` picks ``"fine"`` (100 classes) or ``"coarse"`` (20).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR batch not found: {path}")
    if label not in ("fine", "coarse"):
        raise ValueError(f"label must be 'fine' or 'coarse', got {label!r}")
    raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    head = 2 if cifar100 else 1
    record = head + PIXELS
    if raw.size == 0 or raw.size % record:
        raise DataFormatError(
            "size", f"{raw.size} bytes is not a positive multiple of the {record}-byte "
            f"{'CIFAR-100' if cifar100 else 'CIFAR-10'} record", path=path)
    rows = raw.reshape(-1, record)
    images = rows[:, head:].reshape((-1,) + CIFAR_SHAPE).copy()
    if cifar100:
        column, classes = (1, 100) if label == "fine" else (0, 20)
        labels = _labels(rows[:, column], len(rows), classes, f"{label} labels", str(path))
    else:
        labels = _labels(rows[:, 0], len(rows), 10, "labels", str(path))
    return images, labels


def read_cifar_pickle(path: str | os.PathLike, label: str = "labels"):
    """One python batch -> ``(images uint8 [N, 3, 32, 32], labels int64 [N])``.

    ``label`` is the dict key: ``"labels"`` (CIFAR-10), ``"fine_labels"`` or
    ``"coarse_labels"`` (CIFAR-100); keys may be ``bytes`` or ``str``.
    """
    classes = {"labels": 10, "fine_labels": 100, "coarse_labels": 20}
    if label not in classes:
        raise ValueError(f"label must be one of {sorted(classes)}, got {label!r}")
    name = str(path)
    batch = safe_load_pickle(path)
    if not isinstance(batch, dict):
        raise DataFormatError("batch", f"must be a pickled dict, found {type(batch).__name__}",
                              path=name)
    entries = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()
               if isinstance(k, (bytes, str))}
    for key in ("data", label):
        if key not in entries:
            found = sorted(repr(k)[:40] for k in list(entries)[:20])
            raise DataFormatError(repr(key), f"is missing (found keys {found})", path=name)
    data = entries["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != PIXELS:
        shape = getattr(data, "shape", None)
        dtype = getattr(data, "dtype", type(data).__name__)
        raise DataFormatError("'data'", f"must be uint8 [N, {PIXELS}], found {shape} {dtype}",
                              path=name)
    labels = _labels(entries[label], len(data), classes[label], repr(label), name)
    return data.reshape((-1,) + CIFAR_SHAPE), labels  # data was built fresh from the file's bytes


def _resolve(directory: Path, subdirs: tuple[str, ...], names: list[str]) -> Path:
    for base in (directory,) + tuple(directory / s for s in subdirs):
        if all((base / n).is_file() for n in names):
            return base
    raise FileNotFoundError(
        f"{directory}: none of it or its subfolders {', '.join(subdirs)} holds all of "
        f"{', '.join(names)}"
    )


def _load(directory, split, fmt, layouts, read_bin, read_pickle, normalize):
    if split not in ("train", "test"):
        raise ValueError(f"split must be one of ['test', 'train'], got {split!r}")
    if fmt not in ("auto", "binary", "python"):
        raise ValueError(f"format must be 'auto', 'binary' or 'python', got {fmt!r}")
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"CIFAR directory not found: {directory}")
    errors = []
    for kind in ("binary", "python") if fmt == "auto" else (fmt,):
        subdirs, names = layouts[kind][split]
        try:
            base = _resolve(directory, subdirs, names)
        except FileNotFoundError as exc:
            errors.append(str(exc))
            continue
        reader = read_bin if kind == "binary" else read_pickle
        parts = [reader(base / n) for n in names]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        if normalize:
            images = images.astype(np.float32) / np.float32(255.0)
        return images, labels
    raise FileNotFoundError("; ".join(errors))


_CIFAR10 = {
    "binary": {
        "train": (("cifar-10-batches-bin",), [f"data_batch_{i}.bin" for i in range(1, 6)]),
        "test": (("cifar-10-batches-bin",), ["test_batch.bin"]),
    },
    "python": {
        "train": (("cifar-10-batches-py",), [f"data_batch_{i}" for i in range(1, 6)]),
        "test": (("cifar-10-batches-py",), ["test_batch"]),
    },
}
_CIFAR100 = {
    "binary": {"train": (("cifar-100-binary",), ["train.bin"]),
               "test": (("cifar-100-binary",), ["test.bin"])},
    "python": {"train": (("cifar-100-python",), ["train"]),
               "test": (("cifar-100-python",), ["test"])},
}


def load_cifar10(directory, split: str = "train", normalize: bool = True, format: str = "auto"):
    """CIFAR-10 split -> ``(images [N, 3, 32, 32] float32 in [0, 1] (uint8 if not normalize), labels)``.

    ``format="auto"`` takes the binary batches when present, else the python ones.
    """
    return _load(directory, split, format, _CIFAR10, read_cifar_binary,
                 lambda p: read_cifar_pickle(p, "labels"), normalize)


def load_cifar100(directory, split: str = "train", label: str = "fine", normalize: bool = True,
                  format: str = "auto"):
    """CIFAR-100 split with ``label`` ``"fine"`` (100 classes) or ``"coarse"`` (20 superclasses)."""
    if label not in ("fine", "coarse"):
        raise ValueError(f"label must be 'fine' or 'coarse', got {label!r}")
    return _load(directory, split, format, _CIFAR100,
                 lambda p: read_cifar_binary(p, cifar100=True, label=label),
                 lambda p: read_cifar_pickle(p, f"{label}_labels"), normalize)
