"""Form 2 — LIF / IF with immediate reset (Sharmin et al.; hybrid-conversion style).

Equations (per neuron, ``t = 1..T``, ``V[0] = 0``)::

    H[t] = λ·V[t-1] + X[t]                     (charge; λ = 1 is IF)
    S[t] = [H[t] − θ ≥ 0]                      (Sharmin Eq. 3: fires on *reaching* θ)
    soft (Reset.SOFT): V[t] = H[t] − θ·S[t]
    hard (Reset.HARD): V[t] = (1 − S[t])·H[t] + S[t]·V_reset

BPTT (``δH[t] = dL/dH[t]``, ``δV[t] = λ·δH[t+1]``, ``δV[T] = 0``, ``g[t] = σ'(H[t] − θ)``)::

    δH[t] = gH[t] + g[t]·(gS[t] + [not detach]·δV[t]·∂V/∂S) + δV[t]·∂V/∂H
    soft: ∂V/∂H = 1,          ∂V/∂S = −θ
    hard: ∂V/∂H = 1 − S[t],   ∂V/∂S = V_reset − H[t]
    dX[t] = δH[t]

Kernels (``numpy`` backend; CuPy mirrors the signatures)::

    lif_immediate_forward(X, lam, theta, reset, v_reset) -> (S [T,N], H [T,N])
    lif_immediate_backward(gS, gH, S, H, lam, theta, reset, v_reset,
                           sg_kind, sg_a, sg_b, detach_reset) -> dX [T,N]

The returned membrane is ``H``, the pre-reset potential that is compared with
θ and at which the surrogate is evaluated; ``gH`` is the gradient with respect
to it (``None`` = zero).  The post-reset ``V`` is a function of ``(H, S)``
(formulas above) and is never stored.  ``reset`` 0 = soft, 1 = hard.  Spikes
are 0/1 floats in X's dtype; the forward counts non-finite ``X`` entries in
its pass and raises ``ValueError`` with the count.

Memory: BPTT keeps ``S`` and ``H`` — 8 B per element in float32.  Traffic:
forward 12 B/element (X in, S and H out), backward 12 B/element (gS, H in, dX
out; ``S`` is recomputed as ``[H ≥ θ]``, read only for the spike-time
surrogate).

Twins: ``lif_immediate_forward_twin(..., smooth=True, surrogate=(k, a, b),
detach_reset=...)`` returns ``(S float, H, R)`` with ``R`` the spikes the
reset used (hard ``Θ`` when detached, smooth otherwise); pass ``R`` as ``S``
to ``lif_immediate_backward_twin`` for gradient checks.
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
    reset_membrane,
    reset_nb,
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


def lif_immediate_forward_twin(
    X, lam, theta, reset, v_reset, *, smooth=False, surrogate=(4, 0.3, 0.0), detach_reset=True
):
    """Readable forward: ``(S, H)``, or ``(S, H, R)`` when ``smooth`` (float spikes)."""
    T, N = X.shape
    kind, a, b = surrogate
    H = np.empty_like(X)
    S = np.empty_like(X)
    R_used = np.empty_like(X) if smooth else None
    v = np.zeros(N, dtype=X.dtype)
    for t in range(T):
        h = lam * v + X[t]
        H[t] = h
        fire = (h - theta >= 0).astype(X.dtype)
        if smooth:
            S[t] = surrogate_primitive(kind, a, b, h - theta, theta)
            r = fire if detach_reset else S[t]
            R_used[t] = r
        else:
            S[t] = fire
            r = fire
        v = reset_membrane(h, r, theta, v_reset, reset)
    return (S, H, R_used) if smooth else (S, H)


def lif_immediate_backward_twin(
    gS, gH, S, H, lam, theta, reset, v_reset, sg_kind, sg_a, sg_b, detach_reset
):
    """Readable BPTT: ``dX`` (see module docstring); ``S`` = the spikes the reset used."""
    T, N = H.shape
    R = S.astype(H.dtype)
    dt = steps_since_spike(S) if sg_kind == SPIKE_TIME else None
    dX = np.empty_like(H)
    d = np.zeros(N, dtype=H.dtype)  # δH[t+1]
    for t in reversed(range(T)):
        g = surrogate_grad(sg_kind, sg_a, sg_b, H[t] - theta, theta, None if dt is None else dt[t])
        dv = lam * d  # δV[t]
        if reset == SOFT:
            ch, cs = 1, -theta
        else:
            ch, cs = 1 - R[t], v_reset - H[t]
        d = bptt_twin_step(None if gH is None else gH[t], g, None if gS is None else gS[t],
                           dv, cs, ch, detach_reset)
        dX[t] = d
    return dX


# --------------------------------------------------------------- Numba kernels


@njit(parallel=True, cache=True)
def _forward_nb(X, lam, theta, reset, v_reset, one, zero, S, H, bad):
    T, N = X.shape
    for blk in prange((N + BLOCK - 1) // BLOCK):
        n0 = blk * BLOCK
        m = min(N, n0 + BLOCK) - n0
        v = np.zeros(m, dtype=X.dtype)  # V[t-1] (post-reset) of the block's neurons
        nonfinite = 0  # (x − x) ≠ 0 exactly when x is NaN or ±inf
        for t in range(T):
            x = X[t, n0:n0 + m]
            h_out = H[t, n0:n0 + m]
            s_out = S[t, n0:n0 + m]
            for j in range(m):
                nonfinite += (x[j] - x[j]) != zero
                h = lam * v[j] + x[j]
                s = one if h >= theta else zero  # Sharmin Eq. 3: fires on reaching θ
                h_out[j] = h
                s_out[j] = s
                v[j] = reset_nb(h, s, theta, v_reset, reset, one)
        bad[blk] = nonfinite


@njit(parallel=True, cache=True)
def _backward_nb(gS, has_gS, gH, has_gH, S, H, lam, theta, reset, v_reset, kind, c0, c1,
                 table, detach, one, zero, dX):
    T, N = H.shape
    nd = zero if detach else one  # [not detach]; x + 0 == x keeps the twin's values exactly
    cs_soft = zero if detach else -theta
    for blk in prange((N + BLOCK - 1) // BLOCK):
        n0 = blk * BLOCK
        m = min(N, n0 + BLOCK) - n0
        d = np.zeros(m, dtype=H.dtype)  # δH[t+1]
        g = np.empty(m, dtype=H.dtype)
        zeros = np.zeros(m, dtype=H.dtype)
        dts = block_dt(kind, S, n0, m)  # spike-time Δt per row ([1, m] dummy otherwise)
        for i in range(T - 1, -1, -1):
            h = H[i, n0:n0 + m]
            out = dX[i, n0:n0 + m]
            sg_row(kind, c0, c1, h, theta, dts[i if kind == _SPIKE_TIME else 0], table, one, zero, g)
            gs = gS[i, n0:n0 + m] if has_gS else zeros
            gh = gH[i, n0:n0 + m] if has_gH else zeros
            if reset == SOFT:
                for j in range(m):
                    delta = bptt_delta(gh[j], g[j], gs[j], lam * d[j], cs_soft, one)  # δ′ = δV[t]
                    d[j] = delta
                    out[j] = delta
            else:
                for j in range(m):
                    ch = zero if h[j] >= theta else one
                    delta = bptt_delta(gh[j], g[j], gs[j], lam * d[j], (v_reset - h[j]) * nd, ch)
                    d[j] = delta
                    out[j] = delta


def lif_immediate_forward(X, lam, theta, reset, v_reset):
    """Fused forward: ``(S [T,N], H [T,N])`` in X's dtype (see module docstring)."""
    where = "lif_immediate_forward"
    check_input(where, X)
    reset = check_reset(where, reset)
    S, H = empty_out(X.shape, X.dtype), empty_out(X.shape, X.dtype)
    bad = np.zeros(n_blocks(X.shape[1]), dtype=np.int64)
    lam_, th, vr, one, zero = typed(X.dtype, lam, theta, v_reset, 1, 0)
    _forward_nb(X, lam_, th, reset, vr, one, zero, S, H, bad)
    forward_done(where, bad.sum())
    return S, H


def lif_immediate_backward(gS, gH, S, H, lam, theta, reset, v_reset, sg_kind, sg_a, sg_b,
                           detach_reset):
    """Fused BPTT: ``dX [T,N]`` (see module docstring)."""
    where = "lif_immediate_backward"
    check_input(where, H)
    reset = check_reset(where, reset)
    kind = check_kind(where, sg_kind)
    gS_, has_gS = grad_arg(where, "gS", gS, H)
    gH_, has_gH = grad_arg(where, "gH", gH, H)
    S_ = spikes_arg(where, S, H)
    c0, c1, table = sg_constants(kind, sg_a, sg_b, theta, H.shape[0], H.dtype)
    one, zero, lam_, th, vr = typed(H.dtype, 1, 0, lam, theta, v_reset)
    dX = empty_out(H.shape, H.dtype)
    _backward_nb(gS_, has_gS, gH_, has_gH, S_, H, lam_, th, reset, vr, kind, c0, c1,
                 table, bool(detach_reset), one, zero, dX)
    return dX


register_kernel("numpy", "lif_immediate_forward", lif_immediate_forward)
register_kernel("numpy", "lif_immediate_backward", lif_immediate_backward)
