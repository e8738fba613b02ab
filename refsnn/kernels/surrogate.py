"""Surrogate gradients ``dS/dU`` of the spike ``S = Θ(U − θ)``: the formulas, once.

A spiking neuron fires ``S = Θ(x)`` with ``x = U − θ``; ``Θ`` has derivative
zero almost everywhere, so BPTT replaces ``dS/dU`` by a smooth bump ``σ'(x)``.
Kernels receive a surrogate as the triple ``(sg_kind, sg_a, sg_b)``:

=====  ==============  ====================================  ==========================
code   name            ``dS/dU`` at ``x = U − θ``            smooth twin ``σ(x)``
=====  ==============  ====================================  ==========================
0      fast_sigmoid    ``1 / (a|x| + 1)²``  (a = k)          ``½ + x / (1 + a|x|)``
1      arctan          ``(a/2) / (1 + (π/2·a·x)²)``          ``½ + arctan(π/2·a·x)/π``
2      sigmoid         ``a·σ(ax)·(1 − σ(ax))``               ``σ(ax) = 1/(1 + e^(−ax))``
3      triangle        ``max(0, a − |x|) / a²``  (a = γ)     ``½ + (a·c − c|c|/2)/a²``
4      linear          ``(a/θ)·max(0, 1 − |x|/θ)``           ``½ + (a/θ)·(c − c|c|/(2θ))``
5      spike_time      ``a·exp(−b·Δt)``                      none
=====  ==============  ====================================  ==========================

(``c = clip(x, −a, a)`` for the triangle, ``clip(x, −θ, θ)`` for linear.)
Linear is Sharmin et al.'s ``a·max(0, 1 − |U/θ − 1|)``, defined on ``U/θ``:
its derivative with respect to ``U`` carries the chain-rule factor ``1/θ``
(written with ``x = U − θ``).  Spike-time (Rathi & Roy's STDB) depends on
``Δt``, the number of steps since the neuron's last spike — strictly before
the current step; before the first spike the last spike counts as 1,000 steps
before step 0 (see :func:`refsnn.kernels._common.steps_since_spike`), so the
gradient is ≈ 0 there.  It is not the derivative of any function of ``x``, so
it has no smooth twin and cannot be gradchecked.

Two implementations, tested equal: :func:`surrogate_grad` (array code, the
readable definition used by the NumPy twins) and :func:`sg_row` (the row-wise
Numba form the fused kernels inline, with constants from :func:`sg_constants`
in the array dtype); :func:`block_dt` is the streaming ``Δt``.  The kernels
inline both; :mod:`refsnn.kernels._cache` makes the Numba cache key cover
this file, so editing it recompiles them.

>>> import numpy as np
>>> surrogate_grad(FAST_SIGMOID, 25.0, 0.0, np.array([0.0, 0.04])).tolist()
[1.0, 0.25]
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from refsnn.backend import xp_of
from refsnn.kernels.codes import FIRST_SPIKE_LAG, SurrogateKind, surrogate_kind

FAST_SIGMOID, ARCTAN, SIGMOID, TRIANGLE, LINEAR, SPIKE_TIME = SurrogateKind
NAMES = tuple(k.name.lower() for k in SurrogateKind)
# the ints Numba compares against
_FAST_SIGMOID, _ARCTAN, _SIGMOID, _TRIANGLE, _LINEAR, _SPIKE_TIME = map(int, SurrogateKind)


def check_kind(where: str, kind) -> int:
    """``kind`` must be one of the codes 0..5 (:class:`~refsnn.kernels.codes.SurrogateKind`)."""
    return int(surrogate_kind(where, kind))


def surrogate_grad(kind: int, a: float, b: float, x, theta: float = 1.0, dt=None):
    """``dS/dU`` at ``x = U − θ`` (same shape and dtype as ``x``); see the module table.

    ``theta`` is used by ``linear`` only, ``dt`` (steps since the last spike,
    int array broadcastable to ``x``) by ``spike_time`` only.
    """
    xp = xp_of(x)
    if kind == FAST_SIGMOID:
        q = a * xp.abs(x) + 1
        return 1 / (q * q)
    if kind == ARCTAN:
        z = (math.pi / 2 * a) * x
        return (a / 2) / (1 + z * z)
    if kind == SIGMOID:
        sig = 1 / (1 + xp.exp(-(a * x)))
        return a * sig * (1 - sig)
    if kind == TRIANGLE:
        return xp.maximum(0, a - xp.abs(x)) / (a * a)
    if kind == LINEAR:
        return (a / theta) * xp.maximum(0, 1 - xp.abs(x) / theta)
    if kind == SPIKE_TIME:
        if dt is None:
            raise ValueError("surrogate_grad: spike_time needs dt (steps since the last spike)")
        return xp.broadcast_to(a * xp.exp(-b * xp.asarray(dt, dtype=np.float64)), x.shape).astype(
            x.dtype
        )
    raise ValueError(f"surrogate_grad: unknown surrogate code {kind!r}")


def surrogate_primitive(kind: int, a: float, b: float, x, theta: float = 1.0):
    """The smooth twin ``σ(x)`` whose derivative is :func:`surrogate_grad` (not spike_time)."""
    xp = xp_of(x)
    if kind == FAST_SIGMOID:
        return 0.5 + x / (1 + a * xp.abs(x))
    if kind == ARCTAN:
        return 0.5 + xp.arctan((math.pi / 2 * a) * x) / math.pi
    if kind == SIGMOID:
        return 1 / (1 + xp.exp(-(a * x)))
    if kind == TRIANGLE:
        c = xp.clip(x, -a, a)
        return 0.5 + (a * c - c * xp.abs(c) / 2) / (a * a)
    if kind == LINEAR:
        c = xp.clip(x, -theta, theta)
        return 0.5 + (a / theta) * (c - c * xp.abs(c) / (2 * theta))
    if kind == SPIKE_TIME:
        raise ValueError(
            "surrogate 'spike_time' has no smooth twin (its value depends on the spike history, "
            "not on U − θ); smooth mode / gradcheck is not available for it"
        )
    raise ValueError(f"surrogate_primitive: unknown surrogate code {kind!r}")


def sg_constants(kind: int, a: float, b: float, theta: float, T: int, dtype):
    """Constants ``(c0, c1, table)`` for :func:`sg_row`, in ``dtype``.

    fast_sigmoid ``(a, ·)``; arctan ``(a/2, π/2·a)``; sigmoid ``(a, ·)``;
    triangle ``(a, a²)``; linear ``(a/θ, θ)``; spike_time: ``table[Δt] =
    a·e^(−bΔt)`` for ``Δt = 0..T−1+1000`` (computed in float64, rounded once,
    like the twin).
    """
    t = np.dtype(dtype).type
    table = np.zeros(1, dtype=dtype)
    if kind == ARCTAN:
        c0, c1 = a / 2, math.pi / 2 * a
    elif kind == TRIANGLE:
        c0, c1 = a, a * a
    elif kind == LINEAR:
        c0, c1 = a / theta, theta
    else:
        c0, c1 = a, b
    if kind == SPIKE_TIME:
        table = (a * np.exp(-b * np.arange(T + FIRST_SPIKE_LAG, dtype=np.float64))).astype(dtype)
    return t(c0), t(c1), table


@njit(cache=True, inline="always")
def sg_row(kind, c0, c1, u, theta, dt, table, one, zero, out):
    """``out[j] = dS/dU`` at ``u[j] − θ`` for one time row (``dt[j]``: Δt, spike-time only).

    One loop per surrogate, so each is a branch-free (vectorisable) pass over the row.
    """
    m = out.shape[0]
    if kind == _FAST_SIGMOID:
        for j in range(m):
            q = c0 * abs(u[j] - theta) + one
            out[j] = one / (q * q)
    elif kind == _ARCTAN:
        for j in range(m):
            z = c1 * (u[j] - theta)
            out[j] = c0 / (one + z * z)
    elif kind == _SIGMOID:
        for j in range(m):
            sig = one / (one + np.exp(-(c0 * (u[j] - theta))))
            out[j] = c0 * sig * (one - sig)
    elif kind == _TRIANGLE:
        for j in range(m):
            out[j] = max(zero, c0 - abs(u[j] - theta)) / c1
    elif kind == _LINEAR:
        for j in range(m):
            out[j] = c0 * max(zero, one - abs(u[j] - theta) / c1)
    else:
        for j in range(m):
            out[j] = table[dt[j]]


@njit(cache=True, inline="always")
def block_dt(kind, S, n0, m):
    """Δt of neurons ``n0 .. n0+m`` for every row (int32 ``[T, m]``; ``[1, m]`` unless spike-time).

    The streaming form of :func:`refsnn.kernels._common.steps_since_spike`:
    ``Δt = steps since the last spike strictly before the row``, the last
    spike counting as ``FIRST_SPIKE_LAG`` steps before row 0 — computed by one
    forward sweep over the block's (float) spikes so the backward sweep can
    read it row by row.
    """
    T = S.shape[0] if kind == _SPIKE_TIME else 1
    dt = np.empty((T, m), dtype=np.int32)
    if kind != _SPIKE_TIME:
        return dt
    run = np.full(m, FIRST_SPIKE_LAG - 1, dtype=np.int32)
    for i in range(T):
        s = S[i, n0:n0 + m]
        for j in range(m):
            r = run[j] + 1
            dt[i, j] = r
            run[j] = 0 if s[j] != 0 else r
    return dt
