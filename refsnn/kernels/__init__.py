"""Fused time-loop kernels: each a Numba ``@njit`` function with a NumPy twin.

Every module in this package registers its kernels with
:func:`refsnn.backend.register_kernel` under ``("numpy", name)`` at import;
importing this package imports them all.  The NumPy twin of each kernel is
the readable definition; tests require twin == kernel.

The Numba cache of every kernel here is keyed on a hash of all the files of
this package (:mod:`refsnn.kernels._cache`), because kernels inline helpers
from other files; the locator is installed before any kernel is defined.
"""

import importlib
import pkgutil

from refsnn.kernels import _cache

_cache.install()

for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")
