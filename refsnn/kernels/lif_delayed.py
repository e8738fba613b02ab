"""Form 1 — LIF with delayed reset (snnTorch ``Leaky``): fused forward and BPTT kernels.

Equations (per neuron, ``t = 1..T``, ``U[0] = 0``, ``S[0] = 0``)::

    R[t] = Θ(U[t-1] − θ) = S[t-1]                 (the reset decided one step late)
    soft / subtract (Reset.SOFT):  U[t] = β·U[t-1] + X[t] − R[t]·θ
    hard / zero     (Reset.HARD):  U[t] = β·(1 − R[t])·U[t-1] + X[t]
    S[t] = Θ(U[t] − θ)                             (Θ(x) = 1 if x > 0, strict)

BPTT (``δ[t] = dL/dU[t]``, ``δ[T+1] = 0``, ``g[t] = σ'(U[t] − θ)`` the surrogate)::

    δ[t] = gU[t] + g[t]·(gS[t] + [not detach]·δ[t+1]·∂U[t+1]/∂R) + δ[t+1]·∂U[t+1]/∂U[t]
    subtract: ∂U[t+1]/∂U[t] = β,            ∂U[t+1]/∂R = −θ
    zero:     ∂U[t+1]/∂U[t] = β·(1 − S[t]),  ∂U[t+1]/∂R = −β·U[t]
    dX[t] = δ[t]

Kernels (registered for the ``numpy`` backend; CuPy mirrors the signatures)::

    lif_delayed_forward(X, beta, theta, reset) -> (S [T,N], U [T,N])
    lif_delayed_backward(gS, gU, S, U, beta, theta, reset,
                         sg_kind, sg_a, sg_b, detach_reset) -> dX [T,N]

``X``, ``S``, ``U``, ``gS``, ``gU``, ``dX``: C-contiguous float32/float64
``[T, N]``, one dtype throughout (spikes are 0/1 floats); ``gS``/``gU`` may be
``None`` (zero, never allocated); ``reset`` a :class:`~refsnn.kernels.codes.Reset`
code (0 soft, 1 hard); scalars are Python floats.  ``U`` is the membrane
after charge and reset, the one compared with θ.  The forward counts the
non-finite entries of ``X`` in the same pass and raises ``ValueError`` with
the count when there are any.

Memory: BPTT keeps ``S`` and ``U`` (8 B per element in float32).  Traffic:
forward reads X and writes S, U (12 B/element in float32); backward reads gS,
U (and gU if given) and writes dX (12 B/element) — the Numba backward
recomputes ``S = [U > θ]`` from ``U`` instead of reading ``S`` (``S`` is read
only by the spike-time surrogate for ``Δt``).

The NumPy twins (``*_twin``) are the readable definition, vectorised over N.
``lif_delayed_forward_twin(..., smooth=True, surrogate=(kind, a, b))``
replaces the output ``Θ`` by the surrogate's smooth primitive (float spikes)
and returns ``(S, U, R)``: ``R`` is what the reset used — the hard ``Θ`` when
``detach_reset`` (so the detached reset is piecewise constant and finite
differences agree with the analytic gradient), the smooth spikes otherwise.
Pass ``R`` as ``S`` to the backward twin to gradcheck BPTT.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from refsnn.backend import register_kernel
from refsnn.kernels._common import (
    BLOCK,
    SOFT,
    bptt_delta,
    bptt_twin_step,
    check_input,
    check_reset,
    empty_out,
    forward_done,
    grad_arg,
    n_blocks,
    spikes_arg,
    steps_since_spike,
    typed,
)
from refsnn.kernels.surrogate import (
    _SPIKE_TIME,
    SPIKE_TIME,
    block_dt,
    check_kind,
    sg_constants,
    sg_row,
    surrogate_grad,
    surrogate_primitive,
)

# ----------------------------------------------------------------- NumPy twins


def lif_delayed_forward_twin(
    X, beta, theta, reset, *, smooth=False, surrogate=(0, 25.0, 0.0), detach_reset=True
):
    """Readable forward: ``(S, U)``, or ``(S, U, R)`` when ``smooth`` (float spikes)."""
    T, N = X.shape
    kind, a, b = surrogate
    U = np.empty_like(X)
    S = np.empty_like(X)
    R_used = np.empty_like(X) if smooth else None
    u = np.zeros(N, dtype=X.dtype)
    r = np.zeros(N, dtype=X.dtype)  # R[t]: the previous step's spike, drives this step's reset
    for t in range(T):
        if reset == SOFT:
            u = beta * u + X[t] - r * theta
        else:
            u = beta * (1 - r) * u + X[t]
        U[t] = u
        fire = (u - theta > 0).astype(X.dtype)
        if smooth:
            S[t] = surrogate_primitive(kind, a, b, u - theta, theta)
            r = fire if detach_reset else S[t]
            R_used[t] = r
        else:
            S[t] = fire
            r = fire
    return (S, U, R_used) if smooth else (S, U)


def lif_delayed_backward_twin(
    gS, gU, S, U, beta, theta, reset, sg_kind, sg_a, sg_b, detach_reset
):
    """Readable BPTT: ``dX`` (see module docstring); ``S`` = the spikes the reset used."""
    T, N = U.shape
    R = S.astype(U.dtype)
    dt = steps_since_spike(S) if sg_kind == SPIKE_TIME else None
    dX = np.empty_like(U)
    d = np.zeros(N, dtype=U.dtype)  # δ[t+1]
    for t in reversed(range(T)):
        g = surrogate_grad(sg_kind, sg_a, sg_b, U[t] - theta, theta, None if dt is None else dt[t])
        if reset == SOFT:
            cu, cs = beta, -theta
        else:
            cu, cs = beta * (1 - R[t]), -beta * U[t]
        d = bptt_twin_step(None if gU is None else gU[t], g, None if gS is None else gS[t],
                           d, cs, cu, detach_reset)
        dX[t] = d
    return dX


# --------------------------------------------------------------- Numba kernels


@njit(parallel=True, cache=True)
def _forward_nb(X, beta, theta, reset, one, zero, S, U, bad):
    T, N = X.shape
    for blk in prange((N + BLOCK - 1) // BLOCK):
        n0 = blk * BLOCK
        m = min(N, n0 + BLOCK) - n0
        v = np.zeros(m, dtype=X.dtype)  # U[t-1] of the block's neurons
        nonfinite = 0  # (x − x) ≠ 0 exactly when x is NaN or ±inf
        for t in range(T):
            x = X[t, n0:n0 + m]
            u_out = U[t, n0:n0 + m]
            s_out = S[t, n0:n0 + m]
            if reset == SOFT:
                for j in range(m):
                    nonfinite += (x[j] - x[j]) != zero
                    up = v[j]
                    u = beta * up + x[j]
                    if up > theta:  # R[t] = S[t-1]
                        u = u - theta
                    u_out[j] = u
                    s_out[j] = one if u > theta else zero
                    v[j] = u
            else:
                for j in range(m):
                    nonfinite += (x[j] - x[j]) != zero
                    up = v[j]
                    u = x[j] if up > theta else beta * up + x[j]
                    u_out[j] = u
                    s_out[j] = one if u > theta else zero
                    v[j] = u
        bad[blk] = nonfinite


@njit(parallel=True, cache=True)
def _backward_nb(gS, has_gS, gU, has_gU, S, U, beta, theta, reset, kind, c0, c1, table,
                 detach, one, zero, dX):
    T, N = U.shape
    # [not detach]·∂U[t+1]/∂R: −θ (subtract) or −β·U[t] (zero); a detached reset multiplies
    # by 0, and x + 0 == x, so the branch-free loops below equal the twin bit for bit
    cs_sub = zero if detach else -theta
    mbeta = zero if detach else -beta
    for blk in prange((N + BLOCK - 1) // BLOCK):
        n0 = blk * BLOCK
        m = min(N, n0 + BLOCK) - n0
        d = np.zeros(m, dtype=U.dtype)  # δ[t+1]
        g = np.empty(m, dtype=U.dtype)  # surrogate row
        zeros = np.zeros(m, dtype=U.dtype)  # stands in for an absent gS / gU
        dts = block_dt(kind, S, n0, m)  # spike-time Δt per row ([1, m] dummy otherwise)
        for i in range(T - 1, -1, -1):
            u = U[i, n0:n0 + m]
            out = dX[i, n0:n0 + m]
            sg_row(kind, c0, c1, u, theta, dts[i if kind == _SPIKE_TIME else 0], table, one, zero, g)
            gs = gS[i, n0:n0 + m] if has_gS else zeros
            gu = gU[i, n0:n0 + m] if has_gU else zeros
            if reset == SOFT:
                for j in range(m):
                    delta = bptt_delta(gu[j], g[j], gs[j], d[j], cs_sub, beta)
                    d[j] = delta
                    out[j] = delta
            else:
                for j in range(m):
                    cu = zero if u[j] > theta else beta
                    delta = bptt_delta(gu[j], g[j], gs[j], d[j], mbeta * u[j], cu)
                    d[j] = delta
                    out[j] = delta


def lif_delayed_forward(X, beta, theta, reset):
    """Fused forward: ``(S [T,N], U [T,N])`` in X's dtype (see module docstring)."""
    where = "lif_delayed_forward"
    check_input(where, X)
    reset = check_reset(where, reset)
    S, U = empty_out(X.shape, X.dtype), empty_out(X.shape, X.dtype)
    bad = np.zeros(n_blocks(X.shape[1]), dtype=np.int64)
    b, th, one, zero = typed(X.dtype, beta, theta, 1, 0)
    _forward_nb(X, b, th, reset, one, zero, S, U, bad)
    forward_done(where, bad.sum())
    return S, U


def lif_delayed_backward(gS, gU, S, U, beta, theta, reset, sg_kind, sg_a, sg_b, detach_reset):
    """Fused BPTT: ``dX [T,N]`` (see module docstring)."""
    where = "lif_delayed_backward"
    check_input(where, U)
    reset = check_reset(where, reset)
    kind = check_kind(where, sg_kind)
    gS_, has_gS = grad_arg(where, "gS", gS, U)
    gU_, has_gU = grad_arg(where, "gU", gU, U)
    S_ = spikes_arg(where, S, U)
    c0, c1, table = sg_constants(kind, sg_a, sg_b, theta, U.shape[0], U.dtype)
    one, zero, b, th = typed(U.dtype, 1, 0, beta, theta)
    dX = empty_out(U.shape, U.dtype)
    _backward_nb(gS_, has_gS, gU_, has_gU, S_, U, b, th, reset, kind, c0, c1, table,
                 bool(detach_reset), one, zero, dX)
    return dX


register_kernel("numpy", "lif_delayed_forward", lif_delayed_forward)
register_kernel("numpy", "lif_delayed_backward", lif_delayed_backward)
