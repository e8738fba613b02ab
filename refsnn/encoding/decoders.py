"""Output decoders: reduce a time-first trace ``[T, B, ...]`` to a readout ``[B, ...]``.

=====================  ===================================  ==========================
name                   readout                              gradient
=====================  ===================================  ==========================
``spike_count``        ``Σ_t S[t]``                         flows (into S, e.g. through
                                                            a surrogate)
``mean_membrane``      ``(1/T)·Σ_t U[t]``                   flows
``summed_membrane``    ``Σ_t U[t]``                         flows
``first_spike_time``   ``min{t : S[t] ≠ 0}`` (0-based);     none (an index); int64
                       ``T`` where the neuron never fires
=====================  ===================================  ==========================

All take a :class:`~refsnn.autograd.Tensor` (or an array, wrapped) whose
axis 0 is time, and return Tensors; the first three are ordinary autograd
reductions (``Tensor.sum`` / ``Tensor.mean`` over axis 0), so gradients reach
whatever produced the trace.  Classification takes ``argmax`` of a count or
membrane readout, or ``argmin`` of first-spike times.

>>> import numpy as np
>>> S = np.array([[0, 1], [1, 1], [0, 0]], np.float32)      # T = 3, two neurons
>>> spike_count(S).data.tolist(), first_spike_time(S).data.tolist()
([1.0, 2.0], [1, 0])
"""

from __future__ import annotations

import numpy as np

from refsnn.autograd import Tensor
from refsnn.backend import xp_of

METHODS = ("spike_count", "count", "mean_membrane", "summed_membrane", "sum_membrane",
           "first_spike_time", "first_spike")


def _trace(x, where: str) -> Tensor:
    t = x if isinstance(x, Tensor) else Tensor(x if hasattr(x, "dtype") else np.asarray(x))
    if t.ndim < 1 or t.shape[0] < 1:
        raise ValueError(f"{where}: expected a trace [T, ...] with T >= 1, got shape {t.shape}")
    if t.dtype.kind == "f":
        xp = xp_of(t.data)
        if bool(xp.isnan(t.data).any()):
            raise ValueError(f"{where}: the trace contains NaN")
    elif t.dtype.kind not in "biu":
        raise TypeError(f"{where}: expected a numeric trace, got dtype {t.dtype}")
    return t


def spike_count(S) -> Tensor:
    """``Σ_t S[t]`` → ``[B, ...]`` (differentiable)."""
    S = _trace(S, "spike_count")
    if S.dtype.kind != "f":
        S = Tensor(S.data.astype(np.float32))
    return S.sum(axis=0)


def mean_membrane(U) -> Tensor:
    """``(1/T)·Σ_t U[t]`` → ``[B, ...]`` (differentiable)."""
    return _trace(U, "mean_membrane").mean(axis=0)


def summed_membrane(U) -> Tensor:
    """``Σ_t U[t]`` → ``[B, ...]`` (differentiable)."""
    return _trace(U, "summed_membrane").sum(axis=0)


def first_spike_time(S) -> Tensor:
    """0-based step of the first nonzero ``S[t]``, ``T`` if none → int64 ``[B, ...]`` (no grad)."""
    S = _trace(S, "first_spike_time")
    xp = xp_of(S.data)
    fired = S.data != 0
    T = fired.shape[0]
    first = xp.argmax(fired, axis=0).astype(xp.int64)
    return Tensor(xp.where(fired.any(axis=0), first, T))


def decode(x, method: str = "spike_count") -> Tensor:
    """Dispatch by name (see the module table; ``count``, ``sum_membrane``, ``first_spike`` alias)."""
    if method in ("spike_count", "count"):
        return spike_count(x)
    if method == "mean_membrane":
        return mean_membrane(x)
    if method in ("summed_membrane", "sum_membrane"):
        return summed_membrane(x)
    if method in ("first_spike_time", "first_spike"):
        return first_spike_time(x)
    raise ValueError(f"decode: unknown method {method!r}; known: {', '.join(METHODS)}")
