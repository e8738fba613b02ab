"""``fakedev``: a stand-in GPU backend for testing device placement on machines without one.

The tests register it with ``refsnn.backend.register_backend`` (fixture
``fakedev`` in ``tests/conftest.py``); the package never sees it otherwise.
It keeps CuPy's one rule that matters for placement: **a device array never
meets a plain host ``numpy.ndarray`` in one op**.

* :class:`FakeDev` is a thin ``ndarray`` subclass (the "device array").  Every
  ufunc (``+``, ``@``, ``.sum()``, ``np.exp``, ...) and every NumPy function
  (``np.concatenate``, ``np.where``, ...) given a FakeDev checks its
  arguments: a plain host ndarray among them is a ``BackendError``.  Results
  are FakeDev again; reductions give 0-d FakeDev arrays, as CuPy does.
* :data:`module` is the array module (CuPy's place): ``xp.asarray`` /
  ``xp.array`` copy host data in (the explicit host → device move); every
  other function refuses host arrays, like ``cupy.exp(numpy_array)``.
* ``.get()`` copies back to the host, as on CuPy.
* Kernels: every reference kernel is registered for ``fakedev`` wrapped so
  that it refuses host arrays and returns FakeDev arrays.

What it cannot catch: ``np.asarray(fake)`` silently strips the subclass
(NumPy never asks an ndarray subclass), where CuPy would raise; code should
use ``refsnn.backend.to_host`` / ``.get()`` for that anyway.
"""

from __future__ import annotations

import types

import numpy as np

from refsnn import backend

NAME = "fakedev"


def _refuse_host(values, where: str) -> None:
    for v in values:
        if type(v) is np.ndarray:
            raise backend.BackendError(
                f"arrays from two backends in one op: {NAME} and numpy ({where}); "
                "move them to one backend first (refsnn.backend.to_backend for data, Module.to for a model)"
            )
        if isinstance(v, (list, tuple)):
            _refuse_host(v, where)


def _host_view(v):
    if isinstance(v, FakeDev):
        return v.view(np.ndarray)
    if isinstance(v, (list, tuple)):
        return type(v)(_host_view(x) for x in v)
    return v


def _device(v):
    if type(v) is np.ndarray:
        return v.view(FakeDev)
    if isinstance(v, np.generic):
        return np.asarray(v).view(FakeDev)  # CuPy reductions give 0-d device arrays
    if isinstance(v, tuple):
        return tuple(_device(x) for x in v)
    if isinstance(v, list):
        return [_device(x) for x in v]
    return v


class FakeDev(np.ndarray):
    """A "device" array: host memory, but refuses to meet plain host arrays."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out", ())
        _refuse_host(inputs + tuple(out), f"np.{ufunc.__name__}.{method}")
        if out:
            kwargs["out"] = tuple(_host_view(o) for o in out)
        result = getattr(ufunc, method)(*_host_view(inputs), **kwargs)
        if out:
            return out[0] if len(out) == 1 else out
        return _device(result)

    def __array_function__(self, func, types_, args, kwargs):
        _refuse_host(list(args) + list(kwargs.values()), f"np.{func.__name__}")
        return _device(func(*_host_view(args), **{k: _host_view(v) for k, v in kwargs.items()}))

    def __getitem__(self, index):  # host index arrays are allowed, as on CuPy
        return _device(super().__getitem__(_host_view(index)))

    def get(self) -> np.ndarray:
        """A host copy (``cupy.ndarray.get``)."""
        return np.array(self.view(np.ndarray), copy=True)


class _Checked:
    """A NumPy callable (function or ufunc) that refuses host arrays and returns FakeDev arrays."""

    def __init__(self, fn, path: str):
        self._fn, self._path = fn, path

    def __call__(self, *args, **kwargs):
        _refuse_host(list(args) + list(kwargs.values()), self._path)
        return _device(self._fn(*_host_view(args), **{k: _host_view(v) for k, v in kwargs.items()}))

    def __getattr__(self, name):  # ufunc methods: xp.add.at, xp.maximum.reduce, ...
        return _Checked(getattr(self._fn, name), f"{self._path}.{name}")


def _transfer(fn):
    def to_device(obj, *args, **kwargs):
        if isinstance(obj, FakeDev):
            return _device(fn(obj.view(np.ndarray), *args, **kwargs))
        return _device(fn(obj, *args, **kwargs))  # host -> device copy, allowed
    return to_device


class _Namespace(types.ModuleType):
    """``numpy`` (or a submodule) seen through the device rules."""

    def __init__(self, mod, path: str):
        super().__init__(path)
        self._mod, self._path = mod, path

    def __getattr__(self, name):
        attr = getattr(self._mod, name)
        if isinstance(attr, types.ModuleType):
            return _Namespace(attr, f"{self._path}.{name}")
        if isinstance(attr, type) or not callable(attr):
            return attr  # dtypes, constants, classes
        return _Checked(attr, f"{self._path}.{name}")


module = _Namespace(np, NAME)
module.ndarray = FakeDev
module.asarray = _transfer(np.asarray)
module.array = _transfer(np.array)


def _kernel(fn, name: str):
    def run(*args):
        _refuse_host(args, f"kernel {name}")
        return _device(fn(*_host_view(args)))
    return run


def _load() -> None:
    for name in backend.registered_kernels("numpy"):
        backend.register_kernel(NAME, name, _kernel(backend.kernel(name, "numpy"), name))


def to_device(host: np.ndarray) -> FakeDev:
    return np.array(host, copy=True).view(FakeDev)


BACKEND = backend.Backend(NAME, owns=lambda a: isinstance(a, FakeDev), module=lambda: module,
                          to_device=to_device, to_host=FakeDev.get, load=_load)
