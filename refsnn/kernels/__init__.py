"""Fused time-loop kernels: each a Numba ``@njit`` function with a NumPy twin.

Every module in this package registers its kernels with
:func:`refsnn.backend.register_kernel` under ``("numpy", name)`` at import;
importing this package imports them all.  The NumPy twin of each kernel is
the readable definition; tests require twin == kernel.

The neuron forms share one fused loop (:mod:`refsnn.kernels._fused`: time loop,
firing, reset, non-finite count, BPTT recurrence, twins; its CUDA twin is the
template of ``accel.cupy._fused``).  Each form is one file under
:mod:`refsnn.neurons` (see :mod:`refsnn.neurons.forms`) that registers its
kernels; importing this package imports :mod:`refsnn.neurons` for that.

The Numba cache of every kernel is keyed on a hash of all the files of this
package and of ``refsnn/neurons`` (:mod:`refsnn.kernels._cache`), because
kernels inline helpers from other files; the locator is installed before any
kernel is defined.
"""

import importlib
import pkgutil

from refsnn.kernels import _cache

_cache.install()

for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")

importlib.import_module("refsnn.neurons")  # the neuron forms register their kernels
