"""Shared pieces of the fused neuron kernels: argument checks, typed scalars, blocking, outputs.

Layout.  Every neuron kernel works on C-contiguous 2-D arrays ``[T, N]``
(time first; the layer flattens ``[T, B, ...]`` to ``[T, B·prod(...)]``) of
float32 or float64.  Forward kernels return spikes as 0/1 floats in the input
dtype — the very array the layer hands on and BPTT reads back, so no
conversion pass — and count the non-finite inputs in the same pass
(:func:`raise_if_nonfinite`).  Every output buffer comes from :func:`empty_out`.

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

Mode codes: :class:`refsnn.kernels.codes.Reset` (``SOFT`` 0, ``HARD`` 1).
Numba code compares against the module-level ints ``SOFT`` / ``HARD`` below.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from refsnn import blas, memory
from refsnn.kernels.codes import FIRST_SPIKE_LAG, Reset, reset_code
from refsnn.validation import nonfinite_error

BLOCK = 2048
SOFT = int(Reset.SOFT)
HARD = int(Reset.HARD)


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
    """``reset`` as its int code (see :func:`refsnn.kernels.codes.reset_code`)."""
    return int(reset_code(where, reset))


def n_blocks(N: int) -> int:
    """Number of ``BLOCK``-neuron blocks covering ``N`` neurons (one ``prange`` item each)."""
    return (N + BLOCK - 1) // BLOCK


def empty_out(shape, dtype, xp=np):
    """An uninitialised output buffer — the one allocation point of every kernel output.

    ``xp`` is the array module (``numpy``, or ``cupy`` for the accel kernels).  On
    NumPy the buffer comes from the workspace pool (:func:`refsnn.memory.empty`:
    reused once nothing references it, so a training step does not page-fault
    fresh memory for its big ``[T, N]`` outputs every time).
    """
    if xp is np:
        return memory.empty(shape, dtype)
    return xp.empty(shape, dtype=dtype)


def forward_done(where: str, count) -> None:
    """Close a Numba forward kernel's run: apply the BLAS thread limit once
    (:func:`refsnn.blas.engage` — after the first kernel run, which loads the BLAS
    library it must see), then raise if the kernel counted non-finite inputs."""
    blas.engage()
    raise_if_nonfinite(where, count)


def raise_if_nonfinite(where: str, count) -> None:
    """Raise the non-finite-input error when a forward kernel counted ``count > 0`` bad entries."""
    count = int(count)
    if count:
        raise nonfinite_error(where, "X", count)


def spikes_arg(where: str, S, like: np.ndarray) -> np.ndarray:
    """Spikes as a C-contiguous array in ``like``'s dtype and shape (the forward's own is reused)."""
    if not isinstance(S, np.ndarray) or S.shape != like.shape:
        raise ValueError(f"{where}: S must be an array of shape {like.shape}, "
                         f"got {getattr(S, 'shape', type(S).__name__)}")
    return np.ascontiguousarray(S, dtype=like.dtype)


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


# ------------------------------------------------------------ the shared reset
#
# Forms 2, 4 and 5 (and form 3, which is form 2) carry on, after the charge H and the spikes S
# (0/1, or a float in smooth / expectation modes):
#
#     soft (Reset.SOFT): V = H − θ·S          hard (Reset.HARD): V = (1 − S)·H + S·V_reset
#
# once per language: :func:`reset_membrane` (NumPy twins and the autograd single-step paths —
# plain arithmetic, so it works on arrays and Tensors), :func:`reset_nb` (Numba), ``rs_reset``
# (CUDA prelude).  For 0/1 spikes and finite H these equal the select form bit for bit.


def reset_membrane(h, s, theta, v_reset, reset):
    """``V`` after a step: ``h − θ·s`` (soft) or ``(1 − s)·h + s·v_reset`` (hard)."""
    if reset == SOFT:
        return h - theta * s
    return (1 - s) * h + s * v_reset


@njit(cache=True, inline="always")
def reset_nb(h, s, theta, v_reset, reset, one):
    """:func:`reset_membrane` for the Numba kernels (``one`` typed like ``h``)."""
    if reset == SOFT:
        return h - theta * s
    return (one - s) * h + s * v_reset


# --------------------------------------------------------- the shared BPTT recurrence
#
# Forms 1, 2, 4 and 5 share one backward recurrence per neuron, over t = T..1:
#
#     δ[t] = gM[t] + g[t]·(gS[t] + [not detach]·δ′·cs[t]) + δ′·cu[t]
#
# g = σ'(M[t] − θ) the surrogate, gM / gS the upstream gradients of the membrane and the
# spikes, δ′ the gradient arriving from step t+1 through the carried membrane (form 1: δ[t+1];
# forms 2, 4, 5: δV[t] = (leak)·δ[t+1]), cu = ∂(carried membrane)/∂M[t] and cs =
# ∂(carried membrane)/∂S[t], both per form.  It is written once per language: the NumPy
# twin step below, the Numba scalar :func:`bptt_delta`, and ``bptt_delta`` in the CUDA prelude.


def bptt_twin_step(gM_t, g, gS_t, dn, cs, cu, detach: bool):
    """One row of the recurrence (NumPy twins): ``gM + g·(gS + [¬detach]·δ′·cs) + δ′·cu``.

    ``gM_t`` / ``gS_t`` may be ``None`` (zero).
    """
    inner = gS_t if gS_t is not None else np.zeros_like(g)
    if not detach:
        inner = inner + dn * cs
    d = g * inner + dn * cu
    return d if gM_t is None else gM_t + d


@njit(cache=True, inline="always")
def bptt_delta(gm, g, gs, dn, cs, cu):
    """One element of the recurrence (Numba kernels); ``cs`` already holds ``[¬detach]·cs``.

    A detached reset passes ``cs = 0``: ``gs + δ′·0 == gs`` and an absent gradient is a zero
    (``0 + x == x``), so this equals the twin bit for bit.
    """
    return gm + (g * (gs + dn * cs) + dn * cu)


def steps_since_spike(S: np.ndarray) -> np.ndarray:
    """``Δt[i, n]`` for the spike-time surrogate (NumPy definition, int64 ``[T, N]``).

    With 0-based steps ``i = 0..T-1``: ``Δt[i] = i − last`` where ``last`` is
    the last step ``i' < i`` (strictly before ``i``) at which the neuron
    spiked, and ``last = −FIRST_SPIKE_LAG = −1000`` before its first spike —
    so ``Δt = 1000`` at step 0 and the surrogate ``α·e^{−βΔt}`` is ≈ 0 until
    the neuron has fired.

    >>> steps_since_spike(np.array([[0], [1], [0], [0]], np.float32)).ravel().tolist()
    [1000, 1001, 1, 2]
    """
    T, N = S.shape
    dt = np.empty((T, N), dtype=np.int64)
    last = np.full(N, -FIRST_SPIKE_LAG, dtype=np.int64)  # 0-based step of the last spike
    for i in range(T):
        dt[i] = i - last
        last = np.where(S[i] != 0, i, last)
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


PARALLEL_MIN = 1 << 16  # below one block a parallel launch costs more than the scan (worse under load)


def count_nonfinite(X: np.ndarray) -> int:
    """Number of NaN/inf entries of a float ndarray: a NumPy scan below ``PARALLEL_MIN`` entries,
    above it a parallel bit test without temporaries."""
    if not X.size:
        return 0
    flat = np.ascontiguousarray(X).reshape(-1)
    if flat.size < PARALLEL_MIN:
        return int(flat.size - np.count_nonzero(np.isfinite(flat)))
    if flat.dtype in _EXPONENT:
        uint, mask = _EXPONENT[flat.dtype]
        return int(_count_exponent_all_ones(flat.view(uint), mask))
    return int(np.count_nonzero(~np.isfinite(flat)))
