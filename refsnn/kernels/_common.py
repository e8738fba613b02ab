"""Shared pieces of the fused neuron kernels: argument checks, typed scalars, blocking.

Layout.  Every neuron kernel works on C-contiguous 2-D arrays ``[T, N]``
(time first; the layer flattens ``[T, B, ...]`` to ``[T, B·prod(...)]``) of
float32 or float64, and returns spikes as ``uint8 [T, N]`` and floats in the
input dtype.

Parallel shape.  A Numba kernel splits the N neurons into blocks of
``BLOCK`` contiguous neurons and runs the blocks in ``prange``; inside a block
the time loop is outermost and the neuron loop innermost, so each time step
reads and writes one contiguous run of ``BLOCK`` elements per array (streaming,
vectorisable) while the per-neuron state lives in a block-sized scratch row
that stays in L1.  Only the outputs are ``[T, N]``; nothing else is.

Typed scalars.  NumPy (NEP 50) casts a Python float to the array's dtype
before it meets a float32 array; Numba instead promotes ``float32·float64`` to
float64.  To make kernel and twin compute the very same float32 operations,
the Python wrappers cast every scalar to the array dtype (:func:`typed`)
before calling the compiled function.

Mode codes (all kernels): ``reset`` 0 = subtract / soft, 1 = zero / hard.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

BLOCK = 2048
RESET_SUBTRACT = 0  # form 1 "subtract", forms 2/4 "soft"
RESET_ZERO = 1  # form 1 "zero", forms 2/4 "hard"
RESET_SOFT = RESET_SUBTRACT
RESET_HARD = RESET_ZERO


def check_input(where: str, X) -> None:
    """``X`` must be a C-contiguous 2-D float32/float64 ndarray ``[T, N]`` with T ≥ 1."""
    if not isinstance(X, np.ndarray):
        raise TypeError(f"{where}: X must be a numpy.ndarray, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"{where}: X must be 2-D [T, N], got shape {X.shape}")
    if X.dtype not in (np.float32, np.float64):
        raise TypeError(f"{where}: X must be float32 or float64, got {X.dtype}")
    if X.shape[0] < 1:
        raise ValueError(f"{where}: X has T = 0 time steps")
    if not X.flags.c_contiguous:
        raise ValueError(f"{where}: X must be C-contiguous (use numpy.ascontiguousarray)")


def check_reset(where: str, reset) -> int:
    """``reset`` must be 0 (subtract/soft) or 1 (zero/hard); bools are accepted."""
    if isinstance(reset, (bool, np.bool_)) or reset in (0, 1):
        return int(reset)
    raise ValueError(f"{where}: reset code must be 0 (subtract/soft) or 1 (zero/hard), got {reset!r}")


def grad_arg(where: str, name: str, g, like: np.ndarray):
    """An upstream gradient as ``(array, present)``; ``None`` becomes a 1×1 dummy (not read)."""
    if g is None:
        return np.zeros((1, 1), like.dtype), False
    if not isinstance(g, np.ndarray):
        raise TypeError(f"{where}: {name} must be a numpy.ndarray or None, got {type(g).__name__}")
    if g.shape != like.shape:
        raise ValueError(f"{where}: {name} has shape {g.shape}, expected {like.shape}")
    return np.ascontiguousarray(g, dtype=like.dtype), True


def typed(dtype, *values):
    """Cast Python scalars to ``dtype`` so Numba computes in the array's precision."""
    t = np.dtype(dtype).type
    return tuple(t(v) for v in values)


def as_uint8(S: np.ndarray) -> np.ndarray:
    """Spikes as C-contiguous uint8 (the twin may get bool/float spikes)."""
    return np.ascontiguousarray(S, dtype=np.uint8)


@njit(parallel=True, cache=True)
def _u8_to_float(S, out):
    flat_s = S.reshape(-1)
    flat_o = out.reshape(-1)
    n = flat_s.size
    nblk = (n + 65535) // 65536
    for b in prange(nblk):
        for i in range(b * 65536, min(n, (b + 1) * 65536)):
            flat_o[i] = flat_s[i]


def spikes_to_float(S: np.ndarray, dtype) -> np.ndarray:
    """``S.astype(dtype)`` for a C-contiguous uint8 array, in parallel (same values)."""
    out = np.empty(S.shape, dtype=dtype)
    if S.size:
        _u8_to_float(np.ascontiguousarray(S), out)
    return out


def steps_since_spike(S: np.ndarray) -> np.ndarray:
    """``Δt[t, n]`` for the spike-time surrogate (NumPy definition, int64 ``[T, N]``).

    With 1-based steps ``t = 1..T``: ``Δt[t] = t − t_last`` where ``t_last`` is
    the last step ``t' < t`` (strictly before ``t``) at which the neuron spiked,
    and ``t_last = 0`` if it has not spiked yet — as if every neuron had spiked
    at ``t = 0``.  So ``Δt ≥ 1`` always; ``Δt[1] = 1``.

    >>> steps_since_spike(np.array([[0], [1], [0], [0]], np.uint8)).ravel().tolist()
    [1, 2, 1, 2]
    """
    T, N = S.shape
    dt = np.empty((T, N), dtype=np.int64)
    last = np.zeros(N, dtype=np.int64)  # 1-based step of the last spike, 0 = none
    for i in range(T):
        dt[i] = (i + 1) - last
        last = np.where(S[i] != 0, i + 1, last)
    return dt


@njit(parallel=True, cache=True)
def _count_exponent_all_ones(bits, mask):
    """Count entries whose IEEE-754 exponent field is all ones (NaN or ±inf), on the raw bits.

    An integer test vectorises where a float compare with a branch does not.
    """
    n = bits.size
    nblk = (n + 65535) // 65536
    bad = np.zeros(nblk, dtype=np.int64)
    for b in prange(nblk):
        c = 0
        for i in range(b * 65536, min(n, (b + 1) * 65536)):
            c += (bits[i] & mask) == mask
        bad[b] = c
    return bad.sum()


_EXPONENT = {np.dtype(np.float32): (np.uint32, np.uint32(0x7F800000)),
             np.dtype(np.float64): (np.uint64, np.uint64(0x7FF0000000000000))}


def count_nonfinite(X: np.ndarray) -> int:
    """Number of NaN/inf entries of a float ndarray, in parallel without temporaries."""
    if not X.size:
        return 0
    flat = np.ascontiguousarray(X).reshape(-1)
    if flat.dtype in _EXPONENT:
        uint, mask = _EXPONENT[flat.dtype]
        return int(_count_exponent_all_ones(flat.view(uint), mask))
    return int(np.count_nonzero(~np.isfinite(flat)))
