"""Unpickle data files without running their code or trusting their sizes.

A pickle is a program: each global it names is called with arguments the
file chooses. :class:`RestrictedUnpickler` resolves only the names a pickled
NumPy array needs, and not to NumPy itself but to inert stand-ins:

- ``numpy.ndarray`` is a token that can only be passed to ``_reconstruct``
  (calling it, as in ``ndarray(shape, dtype, buffer, strides=(0, 0))`` — a
  300-byte file that views one byte as gigabytes — is refused);
- ``_reconstruct`` and ``numpy.dtype`` return stubs that just record the state
  the pickle then gives them;
- ``scalar``, ``_frombuffer``, ``_codecs.encode`` (latin-1 only) and ``bytes()``
  (no arguments: protocol 2's ``b""``) are checked and evaluated on the spot.

After the load every array stub is built with ``np.frombuffer`` from the raw
bytes stored in the pickle, after checking that its shape times its dtype's
item size is exactly that many bytes; dtypes must be plain numbers or bools;
object arrays are refused. So every array is backed by the file's own bytes and
NumPy never sees a hand-made ``__setstate__`` tuple. Any other global raises
:class:`UnsafePickleError` before anything is called; any other problem
(truncated, bad opcode, over-long integer, nesting deeper than
``MAX_DEPTH``) raises :class:`~data_tools.errors.DataFormatError` naming the file.

>>> import pickle, numpy as np
>>> safe_load_pickle(pickle.dumps({"x": np.arange(3, dtype=np.int16)}))["x"].tolist()
[0, 1, 2]
"""

from __future__ import annotations

import io
import math
import os
import pickle
from pathlib import Path

import numpy as np

from data_tools.errors import DataFormatError

__all__ = ["UnsafePickleError", "RestrictedUnpickler", "safe_load_pickle", "MAX_DEPTH"]

MAX_DEPTH = 64  # containers nested deeper than this are refused
_PLAIN_KINDS = "biufc"  # bool, signed, unsigned, float, complex


class UnsafePickleError(pickle.UnpicklingError, DataFormatError):
    """A pickle asked for a global outside the allow-list, or misused an allowed one."""


class _NdarrayToken:
    """What ``numpy.ndarray`` resolves to: usable only as ``_reconstruct``'s first argument."""

    def __call__(self, *args, **kwargs):
        raise UnsafePickleError("calls numpy.ndarray directly (only _reconstruct may name it)")


_NDARRAY = _NdarrayToken()


class _DtypeStub:
    """``numpy.dtype(spec, align, copy)``; BUILD stores the state, :meth:`dtype` checks it."""

    def __init__(self, spec, align=False, copy=False):
        self.spec, self.state = spec, None

    def __setstate__(self, state):
        self.state = state

    def dtype(self) -> np.dtype:
        spec = self.spec.decode("latin1") if isinstance(self.spec, bytes) else self.spec
        if not isinstance(spec, str) or len(spec) > 8:
            raise UnsafePickleError(f"dtype spec {spec!r:.60} is not a plain type code")
        try:
            dtype = np.dtype(spec)
        except TypeError:
            raise UnsafePickleError(f"dtype spec {spec!r} is not a plain type code") from None
        if dtype.kind not in _PLAIN_KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise UnsafePickleError(f"dtype {spec!r} is not a plain number or bool type")
        order = self.state[1] if isinstance(self.state, tuple) and len(self.state) > 1 else "|"
        order = order.decode("latin1") if isinstance(order, bytes) else order
        if order not in ("<", ">", "|", "="):
            raise UnsafePickleError(f"dtype {spec!r} has byte order {order!r:.20}")
        return dtype if order in ("|", "=") else dtype.newbyteorder(order)


def _as_dtype(obj) -> np.dtype:
    if isinstance(obj, _DtypeStub):
        return obj.dtype()
    return _DtypeStub(obj).dtype()  # a type code given as a string


def _from_bytes(raw, dtype: np.dtype, shape, order: str = "C") -> np.ndarray:
    """``raw`` viewed as ``dtype[shape]`` (copied), after checking the byte count is exact."""
    if not isinstance(raw, (bytes, bytearray)):
        raise UnsafePickleError(f"array data is {type(raw).__name__}, not bytes (object arrays are "
                                f"refused)")
    if not isinstance(shape, tuple) or not all(type(d) is int and d >= 0 for d in shape) \
            or len(shape) > 32:
        raise UnsafePickleError(f"array shape {shape!r:.80} is not a tuple of sizes")
    need = math.prod(shape) * dtype.itemsize
    if need != len(raw):
        raise UnsafePickleError(f"array shape {shape} x {dtype.itemsize} byte(s) needs {need} bytes, "
                                f"the pickle holds {len(raw)}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape, order=order).copy()


class _ArrayStub:
    """``_reconstruct(ndarray, shape, dtype)``; the array is built from BUILD's state afterwards."""

    def __init__(self, cls, shape, dtype):
        if cls is not _NDARRAY:
            raise UnsafePickleError(f"_reconstruct of {cls!r:.60}: only numpy.ndarray is allowed")
        self.state = None

    def __setstate__(self, state):
        self.state = state

    def build(self) -> np.ndarray:
        state = self.state
        if isinstance(state, tuple) and len(state) == 5:
            state = state[1:]
        if not isinstance(state, tuple) or len(state) != 4:
            raise UnsafePickleError("ndarray state is not (shape, dtype, is_fortran, data)")
        shape, dtype, fortran, raw = state
        return _from_bytes(raw, _as_dtype(dtype), shape, "F" if fortran else "C")


def _scalar(dtype, raw=None):
    dtype = _as_dtype(dtype)
    return _from_bytes(raw, dtype, ())[()]


def _frombuffer(raw, dtype, shape, order="C"):
    if order not in ("C", "F"):
        raise UnsafePickleError(f"_frombuffer order {order!r:.20}")
    return _from_bytes(raw, _as_dtype(dtype), shape, order)


def _encode(text, encoding="latin1"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(f"_codecs.encode with {encoding!r:.40}: only latin1 text is allowed")
    return text.encode("latin1")


def _empty_bytes(*args):
    if args:  # bytes(10**10) would allocate; protocol 2 only ever writes bytes() for b""
        raise UnsafePickleError("bytes(...) with arguments: only bytes() (an empty string) is allowed")
    return b""


# (module, name) as written in the pickle -> stand-in; NumPy 1 and 2 spellings
_ALLOWED = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DtypeStub,
    ("_codecs", "encode"): _encode,  # how Python 3 protocol 2 writes bytes
    ("__builtin__", "bytes"): _empty_bytes,  # ... and an empty bytes object
    ("builtins", "bytes"): _empty_bytes,
}
for _pkg in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_pkg}.multiarray", "_reconstruct")] = _ArrayStub
    _ALLOWED[(f"{_pkg}.multiarray", "scalar")] = _scalar
    _ALLOWED[(f"{_pkg}.numeric", "_frombuffer")] = _frombuffer
del _pkg


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose ``find_class`` admits only the inert stand-ins of ``_ALLOWED``.

    Use :func:`safe_load_pickle`, which also turns the stubs into arrays; every
    other ``module.attr`` raises :class:`UnsafePickleError`.
    """

    def find_class(self, module: str, name: str):
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise UnsafePickleError(
                f"refusing to load global {module}.{name}: only plain data and numpy arrays "
                f"are allowed in a data pickle"
            )
        return allowed

    def persistent_load(self, pid):
        raise UnsafePickleError(f"refusing persistent id {pid!r:.60} in a data pickle")


def _finish(obj, depth: int = 0, memo: dict | None = None):
    """Replace every stub in ``obj`` (dicts, lists, tuples) by its checked array."""
    memo = {} if memo is None else memo
    if depth > MAX_DEPTH:
        raise DataFormatError("nesting", f"is deeper than {MAX_DEPTH} levels")
    if id(obj) in memo:
        return memo[id(obj)]
    if isinstance(obj, _NdarrayToken):
        raise UnsafePickleError("names numpy.ndarray outside _reconstruct")
    if isinstance(obj, (_ArrayStub, _DtypeStub)):
        memo[id(obj)] = out = obj.build() if isinstance(obj, _ArrayStub) else obj.dtype()
        return out
    if isinstance(obj, list):
        memo[id(obj)] = out = []
        out.extend(_finish(v, depth + 1, memo) for v in obj)
        return out
    if isinstance(obj, dict):
        memo[id(obj)] = out = {}
        for k, v in obj.items():
            out[k] = _finish(v, depth + 1, memo)  # keys are hashable, hence no stubs needing build
        return out
    if isinstance(obj, tuple):
        out = tuple(_finish(v, depth + 1, memo) for v in obj)
        memo[id(obj)] = out
        return out
    if isinstance(obj, (set, frozenset)) and any(isinstance(v, (_ArrayStub, _DtypeStub)) for v in obj):
        raise UnsafePickleError("a set holds an array or dtype")
    return obj


def safe_load_pickle(source: str | os.PathLike | bytes, encoding: str = "bytes"):
    """Unpickle ``source`` (a path or the pickle bytes) with :class:`RestrictedUnpickler`.

    ``encoding="bytes"`` keeps Python 2 ``str`` objects (CIFAR's dict keys)
    as ``bytes``. Raises :class:`UnsafePickleError` for disallowed globals
    and :class:`DataFormatError` naming the file for a pickle that is otherwise broken.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw, name = bytes(source), "<bytes>"
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"pickle file not found: {path}")
        raw, name = path.read_bytes(), str(path)
    try:
        return _finish(RestrictedUnpickler(io.BytesIO(raw), encoding=encoding).load())
    except UnsafePickleError as exc:
        err = UnsafePickleError(f"{name}: {exc}")
        err.path, err.field = name, "global"
        raise err from None
    except DataFormatError as exc:
        problem = str(exc).removeprefix(f"<bytes>: {exc.field} ")
        raise DataFormatError(exc.field, problem, path=name) from None
    except Exception as exc:
        raise DataFormatError("pickle", f"is not a valid data pickle ({type(exc).__name__}: "
                              f"{str(exc)[:200]})", path=name) from None
