"""Accelerator backends for refsnn: what can run here, and explicit host <-> device moves.

refsnn's reference kernels are NumPy/Numba (``refsnn/kernels``).  The ``cupy``
backend in :mod:`accel.cupy` registers CUDA kernels under the same names and
signatures; ``refsnn.backend`` loads it when ``REFSNN_BACKEND=cupy`` (or
``refsnn.backend.set_backend("cupy")``) is asked for.

Models and data move with ``Module.to(backend)`` and
``refsnn.backend.to_backend`` / ``to_host``, which work for every backend;
:func:`to_device` / :func:`to_host` here are the CuPy-only movers underneath.

Importing ``accel`` (or ``refsnn``) never imports CuPy: only :func:`available`
(inside a ``try``), :func:`to_device` / :func:`to_host` and
``accel.cupy.register()`` do, and only when called.

>>> import accel
>>> "numpy" in accel.available()
True
>>> import numpy as np
>>> accel.to_host(np.arange(3)).tolist()      # a host array passes through
[0, 1, 2]

On a machine with a CUDA GPU and ``pip install -e .[cupy]``::

    x_gpu = accel.to_device(np.ones((25, 128), np.float32))   # cupy.ndarray
    x_cpu = accel.to_host(x_gpu)                                # numpy.ndarray
"""

from __future__ import annotations

import importlib

import numpy as np

__all__ = ["available", "register", "to_device", "to_host", "CUPY_EXTRA_HINT"]

CUPY_EXTRA_HINT = (
    "install the CuPy extra with `pip install -e .[cupy]` (cupy-cuda13x) on a machine with a CUDA GPU"
)


def _cupy_works() -> bool:
    """True when ``import cupy`` succeeds and at least one CUDA device answers."""
    try:
        cp = importlib.import_module("cupy")
        return int(cp.cuda.runtime.getDeviceCount()) > 0
    except Exception:  # ImportError, CUDARuntimeError (no driver / no device), anything else
        return False


def available() -> list[str]:
    """Backends that can run here: ``["numpy"]``, plus ``"cupy"`` when CuPy imports and a GPU answers.

    Never raises: any failure while probing CuPy (not installed, no driver,
    no device, a broken install) just leaves ``"cupy"`` out.
    """
    found = ["numpy"]
    try:
        if _cupy_works():
            found.append("cupy")
    except BaseException as exc:  # pragma: no cover - e.g. a CUDA init crash surfacing oddly
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
    return found


def register(backend: str = "cupy") -> None:
    """Register ``backend``'s kernels with ``refsnn.backend`` (``numpy`` needs nothing).

    Raises ``ValueError`` for an unknown backend name and ``ImportError``
    naming the extra to install when CuPy is missing.
    """
    if backend == "numpy":
        importlib.import_module("refsnn.kernels")
        return
    if backend != "cupy":
        raise ValueError(f"accel.register: unknown backend {backend!r}; known: numpy, cupy")
    importlib.import_module("accel.cupy").register()


def _require_cupy(where: str):
    try:
        return importlib.import_module("cupy")
    except ImportError as exc:
        raise ImportError(f"{where}: CuPy is not installed; {CUPY_EXTRA_HINT}") from exc


def _unwrap(x):
    """``(array, rewrap)``: the array inside a refsnn Tensor, and how to put a moved one back."""
    from refsnn.autograd import Tensor  # local: accel is imported by refsnn only on request

    if isinstance(x, Tensor):
        def rewrap(arr, _t=x):
            return Tensor(arr, requires_grad=_t.requires_grad)
        return x.data, rewrap
    return x, None


def to_device(x):
    """Copy ``x`` (ndarray, array-like or refsnn ``Tensor``) to the current CUDA device.

    A CuPy array is returned as is.  A Tensor comes back as a new leaf Tensor
    on the device with the same ``requires_grad`` (its history and ``.grad``
    stay behind, like ``torch.Tensor.to``).  Without CuPy: ``ImportError``
    naming ``pip install -e .[cupy]``.
    """
    cp = _require_cupy("accel.to_device")
    arr, rewrap = _unwrap(x)
    if isinstance(arr, cp.ndarray):
        moved = arr
    else:
        host = np.asarray(arr)
        if host.dtype == object:
            raise TypeError("accel.to_device: x has dtype object, which has no device representation")
        moved = cp.asarray(host)
    return rewrap(moved) if rewrap else moved


def to_host(x):
    """Copy ``x`` (CuPy array or refsnn ``Tensor``) back to a NumPy array on the host.

    NumPy arrays and array-likes pass through as NumPy arrays without
    importing CuPy; a Tensor comes back as a new host leaf Tensor.
    """
    arr, rewrap = _unwrap(x)
    if isinstance(arr, np.ndarray):
        moved = arr
    elif type(arr).__module__.split(".")[0] == "cupy":
        moved = arr.get()
    elif hasattr(arr, "__cuda_array_interface__"):
        cp = _require_cupy("accel.to_host")
        moved = cp.asnumpy(cp.asarray(arr))
    else:
        moved = np.asarray(arr)
    return rewrap(moved) if rewrap else moved
