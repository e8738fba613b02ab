"""Argument and array checks shared by every layer and both backends: one module, one order.

Every check takes ``(where, name, value, ...)`` — ``where`` names the function
or layer, ``name`` the argument — and raises an error that says both::

    >>> check_positive("LIFDelayed", "theta", -1.0)
    Traceback (most recent call last):
    ...
    ValueError: LIFDelayed: theta must be > 0, got -1.0

Non-finite arrays: :func:`check_finite` scans an array (host arrays with a
parallel bit test, device arrays with ``xp.isfinite``); the fused neuron
kernels count non-finite inputs in their own forward pass instead and
report the count with :func:`nonfinite_error`.
"""

from __future__ import annotations

import math

import numpy as np


def check_real(where: str, name: str, value) -> float:
    """``value`` must be a finite real number (not a bool); returned as a Python float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{where}: {name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{where}: {name} must be finite, got {value!r}")
    return v


def check_positive(where: str, name: str, value) -> float:
    """``value`` must be a finite number > 0."""
    v = check_real(where, name, value)
    if not v > 0:
        raise ValueError(f"{where}: {name} must be > 0, got {value!r}")
    return v


def check_interval(where: str, name: str, value, lo: float, hi: float,
                   lo_open: bool = False) -> float:
    """``value`` must lie in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
    v = check_real(where, name, value)
    if (v <= lo if lo_open else v < lo) or v > hi:
        brack = "(" if lo_open else "["
        raise ValueError(f"{where}: {name} must be in {brack}{lo}, {hi}], got {value!r}")
    return v


def check_mode(where: str, name: str, value, modes) -> int:
    """The code of ``value`` in ``modes``: a tuple of names (code = index) or a name → code dict."""
    table = modes if isinstance(modes, dict) else {m: i for i, m in enumerate(modes)}
    if isinstance(value, str) and value in table:
        return int(table[value])
    raise ValueError(f"{where}: unknown {name} {value!r}; valid: {', '.join(map(repr, table))}")


class NonFiniteError(ValueError):
    """``ValueError`` for non-finite input that also carries the ``count`` (layers re-word it)."""

    def __init__(self, message: str, count: int):
        super().__init__(message)
        self.count = int(count)


def nonfinite_error(where: str, name: str, count: int) -> NonFiniteError:
    """The error for ``count`` non-finite entries of ``name`` (raised by the caller)."""
    return NonFiniteError(f"{where}: {name} contains {count} non-finite (NaN or inf) values",
                          count)


def check_finite(where: str, name: str, array) -> None:
    """Raise ``ValueError`` naming ``where`` and ``name`` if ``array`` holds NaN or inf.

    The message gives the NaN and inf counts and their total.
    """
    from refsnn.backend import xp_of

    if isinstance(array, (float, int, np.generic)):
        array = np.asarray(array)
    xp = xp_of(array)
    if xp is np and array.dtype.kind == "f":
        from refsnn.kernels._common import count_nonfinite

        if not count_nonfinite(array):
            return
    elif bool(xp.isfinite(array).all()):
        return
    n_nan, n_inf = int(xp.isnan(array).sum()), int(xp.isinf(array).sum())
    raise ValueError(f"{where}: {name} contains {n_nan} NaN and {n_inf} inf values "
                     f"({n_nan + n_inf} non-finite)")
