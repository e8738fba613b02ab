"""HDF5 cache for preprocessed arrays: build once, load afterwards, never leave a half file.

``cached(path, key, builder)`` returns the arrays stored under ``key`` in
the HDF5 file ``path``, or calls ``builder()`` and stores its result there.
``builder`` returns one ndarray, a tuple/list of ndarrays or a dict of them;
the cache gives back the same shape of result.

Each entry is an HDF5 group with attributes:

- ``layout``: ``"array"``, ``"tuple"`` or ``"dict"``;
- ``content_sha256``: SHA-256 over every array's name, dtype, shape and bytes,
  checked on every load — a flipped byte is caught, not silently used;
- ``source_sha256`` / ``source``: a fingerprint and description of the
  inputs (``source=`` file paths are hashed by content, a string by itself).
  When a later call passes a different source the entry is stale and is
  rebuilt with a ``UserWarning``;
- ``description``: free text.

Writes are atomic: the new file is assembled in a temporary file in the same
folder (other entries copied across) and moved over ``path`` with
``os.replace``, so a crash or a failing builder leaves the old file intact.
Two processes adding different keys at the same moment may lose one entry
(last rename wins) — it is a cache, the entry is simply rebuilt next time.

Corrupt cache (file not HDF5, entry malformed, content hash mismatch): by
default :class:`CacheError` (a ``ValueError``) naming the file and the
problem — a cache file may hold other expensive entries, so it is not
deleted behind the user's back. ``on_corrupt="rebuild"`` instead warns and
rebuilds (dropping unreadable content).

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "cache.h5")
>>> cached(path, "squares", lambda: np.arange(4) ** 2).tolist()
[0, 1, 4, 9]
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from data_tools.errors import DataFormatError
from data_tools.h5safe import child, read_attr, read_dataset

__all__ = ["CacheError", "cached", "fingerprint"]


class CacheError(DataFormatError):
    """A cache file or entry is unreadable or fails its content check."""


def fingerprint(source) -> tuple[str, str]:
    """``(sha256, description)`` of ``source``: a path, a list of paths, or a string/bytes.

    Paths are hashed by their bytes (and file name), so renaming a copy does
    not matter but editing a file does.
    """
    h = hashlib.sha256()
    if isinstance(source, (str, bytes)) and not (isinstance(source, str) and Path(source).is_file()):
        data = source.encode() if isinstance(source, str) else source
        h.update(data)
        return h.hexdigest(), data.decode("utf-8", "replace")[:200]
    paths = [Path(source)] if isinstance(source, (str, os.PathLike)) else [Path(p) for p in source]
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"cache source file not found: {p}")
        h.update(p.name.encode() + b"\0")
        with open(p, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest(), "; ".join(str(p) for p in paths)[:1000]


def _as_items(result, key: str) -> tuple[str, list[tuple[str, np.ndarray]]]:
    if isinstance(result, np.ndarray):
        return "array", [("0", result)]
    if isinstance(result, (tuple, list)):
        return "tuple", [(str(i), np.asarray(a)) for i, a in enumerate(result)]
    if isinstance(result, dict):
        bad = [k for k in result if not isinstance(k, str) or not k or "/" in k or k.isdigit()]
        if bad:
            raise ValueError(f"cached({key!r}): dict keys must be non-numeric names without '/', "
                             f"got {bad}")
        return "dict", [(k, np.asarray(v)) for k, v in result.items()]
    raise TypeError(f"cached({key!r}): builder must return an ndarray, tuple/list or dict of "
                    f"ndarrays, got {type(result).__name__}")


def _content_hash(items) -> str:
    h = hashlib.sha256()
    for name, arr in items:
        arr = np.ascontiguousarray(arr)
        h.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def _pack(layout, items):
    if layout == "array":
        return items[0][1]
    if layout == "tuple":
        return tuple(a for _, a in items)
    return dict(items)


def _read_entry(group, path: Path, key: str):
    """(layout, items, attrs) of one group; CacheError when malformed or its hash fails.

    Only hard-linked, plain, fully stored datasets are read (:mod:`data_tools.h5safe`).
    """
    import h5py

    field = f"entry {key!r}"
    if not isinstance(group, h5py.Group):
        raise CacheError(field, f"is a {type(group).__name__}, not a group", path=path)
    attrs = {k: read_attr(group, k) for k in ("layout", "content_sha256", "source_sha256", "source",
                                              "description", "order") if k in group.attrs}
    layout = attrs.get("layout")
    if layout not in ("array", "tuple", "dict") or not isinstance(attrs.get("content_sha256"), str):
        raise CacheError(field, "has no valid 'layout'/'content_sha256' attributes", path=path)
    names = list(group.keys())
    if layout != "dict":
        if not all(n.isdigit() for n in names):
            raise CacheError(field, f"of layout {layout!r} has non-numeric members", path=path)
        names = sorted(names, key=int)
    order = attrs.get("order")
    if layout == "dict" and order is not None:
        order = [str(n) for n in np.asarray(order).ravel()]
        if sorted(order) != sorted(names):
            raise CacheError(field, "attribute 'order' does not list the entry's members", path=path)
        names = order
    items = [(n, read_dataset(child(group, n))) for n in names]
    if _content_hash(items) != attrs["content_sha256"]:
        raise CacheError(field, "stored arrays do not match their content_sha256 (corrupt)", path=path)
    return layout, items, attrs


def _load(path: Path, key: str):
    """None when the key is absent; (layout, items, attrs) when present; CacheError if unreadable."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if f.get(key, getlink=True) is None:
                return None
            return _read_entry(child(f, key), path, key)
    except CacheError:
        raise
    except DataFormatError as exc:
        raise CacheError(f"entry {key!r}", str(exc).split(": ", 1)[-1], path=path) from None
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise CacheError(f"entry {key!r}", f"cannot be read ({exc}); delete the file "
                         f"or pass on_corrupt='rebuild'", path=path) from None


def _copy_others(path: Path, key: str, out, on_corrupt: str) -> None:
    """Copy every entry but ``key`` of the old file into ``out``; links are copied as links, never
    followed. An unreadable old file is a CacheError, or (``on_corrupt="rebuild"``) a warning."""
    import h5py

    try:
        with h5py.File(path, "r") as old:
            for name in old:
                if name == key:
                    continue
                link = old.get(name, getlink=True)
                if isinstance(link, h5py.HardLink):
                    old.copy(name, out, name=name)
                else:
                    out[name] = link
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        problem = f"cannot be copied into the rewritten cache ({exc})"
        if on_corrupt == "raise":
            raise CacheError("other entries", f"{problem}; delete the file or pass "
                             f"on_corrupt='rebuild'", path=path) from None
        warnings.warn(f"{path}: other entries {problem}; dropping them", UserWarning, stacklevel=3)


def _store(path: Path, key: str, layout, items, attrs: dict, keep_others: bool, compression,
           on_corrupt: str = "raise"):
    """Write ``items`` under ``key`` into a temp file next to ``path`` and rename it over ``path``."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as out:
            if keep_others and path.exists():
                _copy_others(path, key, out, on_corrupt)
            group = out.create_group(key)
            for name, arr in items:
                group.create_dataset(name, data=arr, compression=compression)
            if layout == "dict":
                group.attrs["order"] = [n for n, _ in items]
            for k, v in attrs.items():
                group.attrs[k] = v
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def cached(
    path: str | os.PathLike,
    key: str,
    builder: Callable[[], object],
    source=None,
    description: str = "",
    on_corrupt: str = "raise",
    compression: str | None = None,
):
    """Return the arrays under ``key`` in HDF5 ``path``, building and storing them on a miss.

    ``source`` (paths or a string) is fingerprinted; a stored entry with a
    different fingerprint is rebuilt (with a warning). ``on_corrupt`` is
    ``"raise"`` (default, :class:`CacheError`) or ``"rebuild"`` (warn, rebuild).
    ``compression`` is passed to h5py (``"gzip"`` for small files, slower).
    """
    path = Path(path)
    if not isinstance(key, str) or not key or key.startswith("/") or "/" in key:
        raise ValueError(f"cached: key must be a non-empty name without '/', got {key!r}")
    if on_corrupt not in ("raise", "rebuild"):
        raise ValueError(f"cached: on_corrupt must be 'raise' or 'rebuild', got {on_corrupt!r}")
    source_hash, source_text = fingerprint(source) if source is not None else ("", "")

    keep_others = True
    try:
        entry = _load(path, key) if path.exists() else None
    except CacheError as exc:
        if on_corrupt == "raise":
            raise
        warnings.warn(f"{exc}; rebuilding", UserWarning, stacklevel=2)
        entry = None
        keep_others = _readable(path)
    if entry is not None:
        layout, items, attrs = entry
        if source is None or attrs.get("source_sha256", "") == source_hash:
            return _pack(layout, items)
        warnings.warn(f"{path} [{key}]: source changed ({attrs.get('source', '?')} -> "
                      f"{source_text}); rebuilding", UserWarning, stacklevel=2)

    layout, items = _as_items(builder(), key)
    attrs = {"layout": layout, "content_sha256": _content_hash(items),
             "source_sha256": source_hash, "source": source_text, "description": description}
    _store(path, key, layout, items, attrs, keep_others, compression, on_corrupt)
    return _pack(layout, items)


def _readable(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r"):
            return True
    except OSError:
        return False
