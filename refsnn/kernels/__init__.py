"""Fused time-loop kernels: each a Numba ``@njit`` function with a NumPy twin.

Every module in this package registers its kernels with
:func:`refsnn.backend.register_kernel` under ``("numpy", name)`` at import;
importing this package imports them all.  The NumPy twin of each kernel is
the readable definition; tests require twin == kernel.

The neuron forms share one fused loop (:mod:`refsnn.kernels._fused`: time loop,
firing, reset, non-finite count, BPTT recurrence, twins; its CUDA twin is the
template of ``accel.cupy._fused``).  A form module is its docstring, its
``charge`` / ``partials`` (plain-arithmetic ``@njit(inline="always")`` functions,
also run as Python by the twins and the layers' single step), ``STRICT`` /
``IMMEDIATE``, the same two equations as CUDA snippets (``CUDA``), and two
three-line cached kernels binding them to the loop.

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
