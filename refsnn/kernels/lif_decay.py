"""Form 3 — LIF(V_thr, τ) with a decay factor and hard reset (BadSNN; TET-style ResNet-19).

Equations (per neuron, ``t = 1..T``, ``U[0] = 0``, ``S[0] = 0``)::

    U[t] = τ·U[t-1]·(1 − S[t-1]) + X[t]
    S[t] = [U[t] − V_thr ≥ 0]                  (BadSNN Eq. 1 writes ≥)

``τ ∈ [0, 1]`` is a decay *factor* (not a time constant) and ``V_thr`` the
threshold; both are run-time arguments because dual-spike training and the
BadSNN attack switch them per batch.

This is exactly form 2 (:mod:`refsnn.kernels.lif_immediate`, which also fires
on ``≥``) with a hard reset to ``V_reset = 0``, ``λ = τ`` and ``θ = V_thr``:
its pre-reset ``H`` is this ``U``.  So the fused kernels are the form-2
kernels, registered under their own names so a backend may specialise them;
the forward twin below restates the equation in this form's notation, and
the tests check that it equals the kernel.

BPTT (``δ[t] = dL/dU[t]``, ``g[t] = σ'(U[t] − V_thr)``)::

    δ[t] = gU[t] + g[t]·(gS[t] − [not detach]·τ·δ[t+1]·U[t]) + τ·δ[t+1]·(1 − S[t])
    dX[t] = δ[t]

Kernels (``numpy`` backend; CuPy mirrors the signatures)::

    lif_decay_forward(X, v_thr, tau) -> (S [T,N], U [T,N])
    lif_decay_backward(gS, gU, S, U, v_thr, tau, sg_kind, sg_a, sg_b, detach_reset) -> dX

Memory: BPTT keeps ``S`` and ``U`` — 8 B per element in float32.
"""

from __future__ import annotations

import numpy as np

from refsnn.backend import register_kernel
from refsnn.kernels._common import HARD
from refsnn.kernels.lif_immediate import (
    lif_immediate_backward,
    lif_immediate_backward_twin,
    lif_immediate_forward,
)
from refsnn.kernels.surrogate import surrogate_primitive


def lif_decay_forward_twin(
    X, v_thr, tau, *, smooth=False, surrogate=(3, 1.0, 0.0), detach_reset=False
):
    """Readable forward: ``(S, U)``, or ``(S, U, R)`` when ``smooth`` (float spikes).

    In smooth mode the gate ``1 − S[t-1]`` uses ``R`` — the hard spike when
    ``detach_reset`` (piecewise constant, so finite differences see the
    detached gradient), the smooth spike otherwise.
    """
    T, N = X.shape
    kind, a, b = surrogate
    U = np.empty_like(X)
    S = np.empty_like(X)
    R_used = np.empty_like(X) if smooth else None
    u = np.zeros(N, dtype=X.dtype)
    s_prev = np.zeros(N, dtype=X.dtype)
    for t in range(T):
        u = tau * (1 - s_prev) * u + X[t]
        U[t] = u
        fire = (u - v_thr >= 0).astype(X.dtype)
        if smooth:
            S[t] = surrogate_primitive(kind, a, b, u - v_thr, v_thr)
            s_prev = fire if detach_reset else S[t]
            R_used[t] = s_prev
        else:
            S[t] = fire
            s_prev = fire
    return (S, U, R_used) if smooth else (S, U)


def lif_decay_backward_twin(gS, gU, S, U, v_thr, tau, sg_kind, sg_a, sg_b, detach_reset):
    """Readable BPTT — the form-2 twin with a hard reset to 0 (same equations)."""
    return lif_immediate_backward_twin(
        gS, gU, S, U, tau, v_thr, HARD, 0.0, sg_kind, sg_a, sg_b, detach_reset
    )


def lif_decay_forward(X, v_thr, tau):
    """Fused forward: ``(S [T,N], U [T,N])`` (the form-2 kernel, hard reset to 0)."""
    return lif_immediate_forward(X, tau, v_thr, HARD, 0.0)


def lif_decay_backward(gS, gU, S, U, v_thr, tau, sg_kind, sg_a, sg_b, detach_reset):
    """Fused BPTT: ``dX [T,N]`` (the form-2 kernel, hard reset to 0)."""
    return lif_immediate_backward(
        gS, gU, S, U, tau, v_thr, HARD, 0.0, sg_kind, sg_a, sg_b, detach_reset
    )


register_kernel("numpy", "lif_decay_forward", lif_decay_forward)
register_kernel("numpy", "lif_decay_backward", lif_decay_backward)
