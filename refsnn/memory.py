"""Workspace: big per-step arrays reused from a pool instead of fresh pages every step.

A training step allocates the same big temporaries every time (for the GAMIN
SNN, several ``[T·B, 3000]`` float32 arrays of 38 MB).  glibc serves blocks
that large with ``mmap`` and gives them back with ``munmap`` on free, so each
step the kernel page-faults and zeroes all of them again — tens of
milliseconds per step.  ``memory.empty`` keeps such arrays in a pool keyed by
``(shape, dtype)`` and hands one back out only when nothing else references
it, as torch's caching allocator does for torch tensors::

    out = memory.empty((M, N), np.float32)      # like np.empty: contents undefined

Rules:

* Reuse only when free: an array is handed out again only if the pool's own
  reference is the only one left (CPython reference count; a view keeps its
  base alive, so a live view counts).  Code that keeps a raw pointer without
  a reference (``arr.ctypes.data``) must keep the array too.
* Same results: contents are undefined, as with ``np.empty``; a caller writes
  every element before reading it, so results are bit for bit those of
  ``np.empty``.
* Only host NumPy arrays of at least ``MIN_BYTES`` (1 MiB) are pooled — smaller
  ones come from malloc's free lists anyway.  At most ``PER_KEY`` arrays per
  key, and at most ``limit_bytes()`` in all (``REFSNN_WORKSPACE_MB``, default
  4096; ``0`` turns the pool off).  A request the pool cannot take is a plain
  ``np.empty``.
* The pool holds its arrays until :func:`clear` (memory stays resident, as
  with torch).  :func:`stats` reports hits, misses and bytes held.

>>> import numpy as np
>>> a = empty((512, 1024), np.float32); ptr = a.ctypes.data
>>> del a                                   # free again
>>> empty((512, 1024), np.float32).ctypes.data == ptr
True
"""

from __future__ import annotations

import os
import sys
import threading

import numpy as np

MIN_BYTES = 1 << 20
PER_KEY = 8
ENV = "REFSNN_WORKSPACE_MB"
_lock = threading.Lock()
_pool: dict[tuple, list] = {}
_stats = {"hits": 0, "misses": 0, "unpooled": 0}


def _refs(bucket: list, i: int) -> int:
    """Reference count of ``bucket[i]`` as seen from here (calibrated below)."""
    return sys.getrefcount(bucket[i])


# what _refs reports for an array only the bucket holds (interpreter-dependent, so measured)
_FREE = _refs([np.empty(0)], 0)


def limit_bytes() -> int:
    """Most bytes the pool may hold (``REFSNN_WORKSPACE_MB`` MiB, default 4096; 0 = off)."""
    raw = os.environ.get(ENV, "").strip()
    if raw == "":
        return 4096 << 20
    if not raw.isdigit():
        raise ValueError(f"{ENV}={raw!r}: expected a whole number of MiB (0 turns the pool off)")
    return int(raw) << 20


def _held() -> int:
    return sum(a.nbytes for bucket in _pool.values() for a in bucket)


def _evict(need: int, cap: int) -> bool:
    """Drop free arrays (largest buckets first) until ``need`` more bytes fit under ``cap``."""
    held = _held()
    for key in sorted(_pool, key=lambda k: -_pool[k][0].nbytes if _pool[k] else 0):
        bucket = _pool[key]
        i = len(bucket) - 1
        while i >= 0 and held + need > cap:
            if _refs(bucket, i) == _FREE:
                held -= bucket.pop(i).nbytes
            i -= 1
        if not bucket:
            del _pool[key]
    return held + need <= cap


def empty(shape, dtype=np.float32) -> np.ndarray:
    """An uninitialised C-contiguous NumPy array, from the pool when one is free (see module doc)."""
    shape = (int(shape),) if np.isscalar(shape) else tuple(int(n) for n in shape)
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype)
    key = (shape, dtype.str)
    with _lock:
        bucket = _pool.get(key, [])
        for i in range(len(bucket)):
            if _refs(bucket, i) == _FREE:
                _stats["hits"] += 1
                return bucket[i]
        cap = limit_bytes()
        if len(bucket) >= PER_KEY or not _evict(nbytes, cap):
            _stats["unpooled"] += 1
            return np.empty(shape, dtype)
        _stats["misses"] += 1
        out = np.empty(shape, dtype)
        _pool.setdefault(key, bucket).append(out)
        return out


def empty_like(a) -> np.ndarray:
    """:func:`empty` with ``a``'s shape and dtype."""
    return empty(a.shape, a.dtype)


def clear() -> None:
    """Forget every pooled array (arrays still in use stay valid; they are just not reused)."""
    with _lock:
        _pool.clear()
        _stats.update(hits=0, misses=0, unpooled=0)


def stats() -> dict:
    """``{"hits", "misses", "unpooled", "arrays", "bytes"}`` since import (or the last clear)."""
    with _lock:
        return dict(_stats, arrays=sum(len(b) for b in _pool.values()), bytes=_held())
