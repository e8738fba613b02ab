"""Array-module selection and the kernel registry.

Every op body in refsnn is written against an array module ``xp`` taken from
its inputs (``xp_of(array)``), so the same code runs on NumPy or, through the
``accel`` package, on CuPy.  The *active* backend is chosen once from the
environment variable ``REFSNN_BACKEND`` (``numpy`` by default, or ``cupy``)
and can be switched with :func:`set_backend`.

Kernels (fused time loops) are looked up by name for the active backend::

    register_kernel("numpy", "lif_delayed_forward", fn)
    kernel("lif_delayed_forward")(X, beta, theta, reset)

An unknown or unavailable backend is an error that names what is installed;
refsnn never falls back silently.  ``import refsnn`` never imports CuPy: the
``cupy`` backend is loaded from ``accel`` only when it is asked for.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable

import numpy as np

KNOWN_BACKENDS = ("numpy", "cupy")

_KERNELS: dict[str, dict[str, Callable]] = {name: {} for name in KNOWN_BACKENDS}
_ACTIVE: str | None = None


class BackendError(RuntimeError):
    """An unknown or unavailable backend, or arrays from two backends mixed."""


def installed_backends() -> list[str]:
    """Backends that can run here: ``numpy`` always, ``cupy`` when a GPU answers."""
    found = ["numpy"]
    try:
        accel = importlib.import_module("accel")
    except ImportError:
        return found
    return found + [b for b in accel.available() if b != "numpy"]


def _load(name: str) -> None:
    if name not in KNOWN_BACKENDS:
        raise BackendError(
            f"unknown backend {name!r} (from REFSNN_BACKEND or set_backend); "
            f"known: {', '.join(KNOWN_BACKENDS)}; installed here: {', '.join(installed_backends())}"
        )
    if name == "cupy":
        accel = importlib.import_module("accel")
        try:
            accel.register("cupy")
        except Exception as exc:  # ImportError, CUDA driver errors, ...
            hint = "" if accel.CUPY_EXTRA_HINT in str(exc) else f" To use it, {accel.CUPY_EXTRA_HINT}."
            raise BackendError(
                f"backend 'cupy' is not available: {exc}. "
                f"Installed here: {', '.join(installed_backends())}.{hint}"
            ) from exc


def set_backend(name: str) -> None:
    """Make ``name`` the active backend (loading it); raises :class:`BackendError`."""
    global _ACTIVE
    _load(name)
    _ACTIVE = name


def active_backend() -> str:
    """The active backend's name, read from ``REFSNN_BACKEND`` on first use."""
    if _ACTIVE is None:
        set_backend(os.environ.get("REFSNN_BACKEND", "numpy").strip().lower() or "numpy")
    return _ACTIVE


def xp():
    """The active backend's array module (``numpy`` or ``cupy``)."""
    if active_backend() == "numpy":
        return np
    return importlib.import_module("cupy")


def backend_of(array) -> str:
    """``'cupy'`` for a CuPy array, ``'numpy'`` for anything else."""
    return "cupy" if type(array).__module__.split(".")[0] == "cupy" else "numpy"


def xp_of(*arrays):
    """The array module of ``arrays``; mixing NumPy and CuPy arrays is an error.

    >>> xp_of(np.zeros(3)) is np
    True
    """
    names = {backend_of(a) for a in arrays if a is not None and not np.isscalar(a)}
    if len(names) > 1:
        raise BackendError(
            "arrays from two backends in one op: numpy and cupy; "
            "move them with accel.to_device / accel.to_host first"
        )
    if names == {"cupy"}:
        return importlib.import_module("cupy")
    return np


def register_kernel(backend: str, name: str, fn: Callable) -> None:
    """Register kernel ``name`` for ``backend`` (``numpy`` kernels are the reference)."""
    if backend not in _KERNELS:
        raise BackendError(f"unknown backend {backend!r}; known: {', '.join(KNOWN_BACKENDS)}")
    _KERNELS[backend][name] = fn


def kernel(name: str, backend: str | None = None) -> Callable:
    """Look up kernel ``name`` for ``backend`` (default: the active one)."""
    backend = backend or active_backend()
    if name not in _KERNELS.get(backend, {}):
        if backend == "numpy":
            importlib.import_module("refsnn.kernels")  # registers the reference kernels
        elif backend == "cupy":
            _load("cupy")  # registers the CuPy kernels (clear error if unavailable)
    table = _KERNELS.get(backend)
    if table is None or name not in table:
        have = sorted(table) if table else []
        raise BackendError(f"no kernel {name!r} for backend {backend!r}; registered: {have}")
    return table[name]


def kernel_for(name: str, *arrays) -> Callable:
    """Kernel ``name`` for the backend the ``arrays`` live on."""
    return kernel(name, "cupy" if xp_of(*arrays) is not np else "numpy")


def registered_kernels(backend: str = "numpy") -> list[str]:
    """Names registered for ``backend``."""
    if backend == "numpy":
        importlib.import_module("refsnn.kernels")
    return sorted(_KERNELS.get(backend, {}))
