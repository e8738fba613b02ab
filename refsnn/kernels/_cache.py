"""A Numba cache key that covers every file a kernel inlines.

Numba's on-disk cache (``@njit(cache=True)``) stamps each kernel with the
modification time and size of *its own* source file.  The fused kernels
inline helpers from other files — ``sg_row`` / ``block_dt``
(:mod:`refsnn.kernels.surrogate`), ``BLOCK`` / ``SOFT`` / ``HARD``
(:mod:`refsnn.kernels._common`), the codes of :mod:`refsnn.kernels.codes` —
so editing one of those left a stale compiled kernel in ``__pycache__`` that
still passed the tests.

The neuron forms keep their two cached kernels in their one file under
``refsnn/neurons`` (:mod:`refsnn.neurons.forms`).  So every cached function
defined in ``refsnn/kernels`` or ``refsnn/neurons`` gets a locator whose source
stamp is the SHA-256 of *all* ``.py`` files of both directories (the kernels
import jitted code from nowhere else).  Any edit to any of them changes the
stamp of every kernel, and Numba recompiles instead of loading.
:func:`install` registers the locators in front of Numba's own, once; the
package ``__init__`` calls it before importing any kernel module (Numba picks
a function's locator when the decorator runs).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from numba.core import caching

PACKAGE_DIR = Path(__file__).resolve().parent
KERNEL_DIRS = (PACKAGE_DIR, PACKAGE_DIR.parent / "neurons")  # where cached kernels are defined


def package_digest() -> str:
    """SHA-256 over the names and bytes of every ``.py`` file of :data:`KERNEL_DIRS`, sorted."""
    files = sorted(p for d in KERNEL_DIRS for p in d.glob("*.py"))
    return _digest(tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files))


@functools.lru_cache(maxsize=8)
def _digest(stats: tuple) -> str:
    # keyed on (path, mtime, size) of every file, so an edit while running re-hashes
    h = hashlib.sha256()
    for path, _, _ in stats:
        h.update(f"{Path(path).parent.name}/{Path(path).name}".encode())
        h.update(b"\0")
        h.update(Path(path).read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _in_package(py_file) -> bool:
    try:
        return Path(py_file).resolve().parent in KERNEL_DIRS
    except OSError:
        return False


class _PackageStampMixin:
    """Stamp = (digest of both directories); the lookup ignores other files."""

    def get_source_stamp(self):
        return ("refsnn.kernels", package_digest())

    @classmethod
    def from_function(cls, py_func, py_file):
        if not _in_package(py_file):
            return None
        return super().from_function(py_func, py_file)


class PackageUserProvidedLocator(_PackageStampMixin, caching.UserProvidedCacheLocator):
    """``NUMBA_CACHE_DIR`` set: cache there, stamped with the package digest."""


class PackageInTreeLocator(_PackageStampMixin, caching.InTreeCacheLocator):
    """The usual ``__pycache__`` next to the kernel file, stamped with the package digest."""


class PackageUserWideLocator(_PackageStampMixin, caching.UserWideCacheLocator):
    """Read-only install: the user-wide cache directory, stamped with the package digest."""


LOCATORS = (PackageUserProvidedLocator, PackageInTreeLocator, PackageUserWideLocator)


def install() -> None:
    """Put :data:`LOCATORS` in front of Numba's locator list (idempotent)."""
    classes = caching.CacheImpl._locator_classes
    for cls in reversed(LOCATORS):
        if cls not in classes:
            classes.insert(0, cls)
