"""Array backends, device placement and the kernel registry.

Every op body in refsnn is written against an array module ``xp`` taken from
its inputs (``xp_of(array)``), so the same code runs on NumPy or, through the
``accel`` package, on CuPy.  Arrays never change backend by themselves: the
*default* backend, read once from the environment variable ``REFSNN_BACKEND``
(``numpy`` when unset, or ``cupy``; :func:`set_backend` switches it), says
where :func:`to_backend` puts things, and placement is explicit:

* ``model.to(refsnn.backend.active_backend())`` moves parameters and buffers
  (``Module.to``); optimizer state created afterwards follows them;
* ``to_backend(batch, backend)`` is the one helper that places data —
  ``refsnn.train.fit`` / ``evaluate`` and every example use it;
* ``to_host(x)`` brings results back; ``state_dict`` and checkpoints are
  always host NumPy arrays.

Arrays of two backends in one op are a :class:`BackendError` naming both.
An unknown or unavailable backend is an error that names what is installed
and which extra to install; refsnn never falls back silently.  ``import
refsnn`` never imports CuPy: the ``cupy`` backend is loaded from ``accel``
only when it is asked for.

>>> import numpy as np
>>> xp_of(np.zeros(3)) is np, backend_of(np.zeros(3))
(True, 'numpy')
>>> to_backend(np.arange(3), "numpy").tolist()
[0, 1, 2]

Kernels (fused time loops) are looked up by name for an array's backend::

    register_kernel("numpy", "lif_delayed_forward", fn)
    kernel_for("lif_delayed_forward", X)(X, beta, theta, reset)

A further backend (the tests register a host-memory stand-in for a GPU,
``tests/fakedev.py``) is added with :func:`register_backend`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


class BackendError(RuntimeError):
    """An unknown or unavailable backend, or arrays from two backends mixed."""


@dataclass(frozen=True)
class Backend:
    """How refsnn talks to one array library.

    ``owns(array)`` says whether an array lives here; ``module()`` returns the
    array module (``numpy``, ``cupy``, ...); ``to_device(host)`` copies a NumPy
    array in and ``to_host(array)`` copies one out; ``load()`` checks that the
    backend can run and registers its kernels, raising :class:`BackendError`
    with an install hint when it cannot.
    """

    name: str
    owns: Callable[[object], bool]
    module: Callable[[], object]
    to_device: Callable[[np.ndarray], object]
    to_host: Callable[[object], np.ndarray]
    load: Callable[[], None]


def _load_numpy() -> None:
    importlib.import_module("refsnn.kernels")  # registers the reference kernels


def _load_cupy() -> None:
    accel = importlib.import_module("accel")
    try:
        accel.register("cupy")
    except Exception as exc:  # ImportError, CUDA driver errors, ...
        hint = "" if accel.CUPY_EXTRA_HINT in str(exc) else f" To use it, {accel.CUPY_EXTRA_HINT}."
        raise BackendError(f"backend 'cupy' is not available: {exc}. "
                           f"Installed here: {', '.join(installed_backends())}.{hint}") from exc


def _cupy():
    return importlib.import_module("cupy")


_BACKENDS: dict[str, Backend] = {
    "numpy": Backend("numpy", lambda a: isinstance(a, np.ndarray), lambda: np, np.asarray,
                     np.asarray, _load_numpy),
    "cupy": Backend("cupy", lambda a: type(a).__module__.split(".")[0] == "cupy", _cupy,
                    lambda a: _cupy().asarray(a), lambda a: a.get(), _load_cupy),
}
_KERNELS: dict[str, dict[str, Callable]] = {name: {} for name in _BACKENDS}
_LOADED: set[str] = set()
_ACTIVE: str | None = None


def known_backends() -> list[str]:
    """Names of every registered backend (``numpy``, ``cupy`` and any added by ``register_backend``)."""
    return list(_BACKENDS)


def register_backend(backend: Backend) -> None:
    """Add (or replace) a backend; its kernels are registered by its ``load``."""
    _BACKENDS[backend.name] = backend
    _KERNELS.setdefault(backend.name, {})
    _LOADED.discard(backend.name)


def unregister_backend(name: str) -> None:
    """Remove a backend added by :func:`register_backend` (``numpy``/``cupy`` stay)."""
    global _ACTIVE
    if name in ("numpy", "cupy"):
        raise BackendError(f"unregister_backend: {name!r} is built in")
    _BACKENDS.pop(name, None)
    _KERNELS.pop(name, None)
    _LOADED.discard(name)
    if _ACTIVE == name:
        _ACTIVE = None


def installed_backends() -> list[str]:
    """Backends that can run here: ``numpy`` always, ``cupy`` when a GPU answers, plus registered ones."""
    found = ["numpy"]
    try:
        accel = importlib.import_module("accel")
        found += [b for b in accel.available() if b != "numpy"]
    except ImportError:
        pass
    return found + [b for b in _BACKENDS if b not in ("numpy", "cupy")]


def _get(name: str, where: str) -> Backend:
    b = _BACKENDS.get(name) if isinstance(name, str) else None
    if b is None:
        raise BackendError(
            f"{where}: unknown backend {name!r}; known: {', '.join(_BACKENDS)}; "
            f"installed here: {', '.join(installed_backends())}"
        )
    if name not in _LOADED:
        try:
            b.load()
        except BackendError as exc:
            raise BackendError(f"{where}: {exc}") from exc.__cause__
        _LOADED.add(name)
    return b


def set_backend(name: str, *, _where: str = "set_backend") -> None:
    """Make ``name`` the default backend (loading it); raises :class:`BackendError`."""
    global _ACTIVE
    _get(name, _where)
    _ACTIVE = name


def active_backend() -> str:
    """The default backend's name, read from ``REFSNN_BACKEND`` on first use."""
    if _ACTIVE is None:
        name = os.environ.get("REFSNN_BACKEND", "").strip().lower() or "numpy"
        set_backend(name, _where=f"REFSNN_BACKEND={name}")
    return _ACTIVE


def xp():
    """The default backend's array module (``numpy`` or ``cupy``)."""
    return _BACKENDS[active_backend()].module()


def backend_of(array) -> str:
    """Name of the backend ``array`` lives on; anything that is no device array counts as ``numpy``."""
    if type(array) is np.ndarray:
        return "numpy"
    for b in _BACKENDS.values():
        if b.name != "numpy" and b.owns(array):
            return b.name
    return "numpy"


def xp_of(*arrays):
    """The array module of ``arrays`` (anything without a ``shape`` — None, scalars, strings — is ignored).

    Arrays of two backends are a :class:`BackendError` naming both.

    >>> xp_of(np.zeros(3), None, 2.0) is np
    True
    """
    name = None
    for a in arrays:
        if not hasattr(a, "shape") or isinstance(a, np.generic):
            continue
        b = "numpy" if type(a) is np.ndarray else backend_of(a)
        if name is None:
            name = b
        elif b != name:
            raise BackendError(
                f"arrays from two backends in one op: {name} and {b}; move them to one backend first "
                "(refsnn.backend.to_backend for data, Module.to for a model)"
            )
    if name is None or name == "numpy":
        return np
    return _BACKENDS[name].module()


def to_backend(x, backend: str | None = None):
    """``x`` (array, array-like, refsnn Tensor or None) on ``backend`` (default: :func:`active_backend`).

    Already there: returned as is.  Otherwise copied (device → device goes
    through the host).  A Tensor comes back as a new leaf Tensor with the same
    ``requires_grad``; its history and ``.grad`` stay behind, like
    ``torch.Tensor.to``.  The placement helper of ``fit`` and the examples.
    """
    if x is None:
        return None
    target = _get(backend or active_backend(), "to_backend")
    from refsnn.autograd.tensor import Tensor  # local: autograd imports this module

    if isinstance(x, Tensor):
        moved = to_backend(x.data, target.name)
        return x if moved is x.data else Tensor(moved, requires_grad=x.requires_grad)
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    source = backend_of(x)
    if source == target.name:
        return x
    host = x if source == "numpy" else _BACKENDS[source].to_host(x)
    if target.name == "numpy":
        return np.asarray(host)
    if host.dtype == object:
        raise BackendError(f"to_backend: an array of dtype object has no {target.name} representation")
    return target.to_device(np.asarray(host))


def to_host(x):
    """``x`` as host data: NumPy arrays (Tensors as host leaf Tensors); None stays None."""
    return to_backend(x, "numpy")


def register_kernel(backend: str, name: str, fn: Callable) -> None:
    """Register kernel ``name`` for ``backend`` (``numpy`` kernels are the reference)."""
    if backend not in _KERNELS:
        raise BackendError(f"unknown backend {backend!r}; known: {', '.join(_BACKENDS)}")
    _KERNELS[backend][name] = fn


def kernel(name: str, backend: str | None = None) -> Callable:
    """Look up kernel ``name`` for ``backend`` (default: the active one)."""
    backend = backend or active_backend()
    if name not in _KERNELS.get(backend, {}):
        _get(backend, "kernel")  # loads the backend, registering its kernels (clear error if unavailable)
    table = _KERNELS.get(backend, {})
    if name not in table:
        raise BackendError(f"no kernel {name!r} for backend {backend!r}; registered: {sorted(table)}")
    return table[name]


def kernel_for(name: str, *arrays) -> Callable:
    """Kernel ``name`` for the backend the ``arrays`` live on."""
    xp_of(*arrays)  # mixing check
    first = next((a for a in arrays if a is not None and hasattr(a, "shape")), None)
    return kernel(name, "numpy" if first is None else backend_of(first))


def registered_kernels(backend: str = "numpy") -> list[str]:
    """Names registered for ``backend`` (loading it first)."""
    _get(backend, "registered_kernels")
    return sorted(_KERNELS.get(backend, {}))
