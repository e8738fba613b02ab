"""Form 3 — LIF(V_thr, τ) with a decay factor and hard reset (BadSNN; TET-style ResNet-19).

Equations (per neuron, ``t = 1..T``, ``U[0] = 0``, ``S[0] = 0``)::

    U[t] = τ·U[t-1]·(1 − S[t-1]) + X[t]
    S[t] = Θ(U[t] − V_thr)                     (Θ(x) = 1 if x > 0, strict)

``τ ∈ [0, 1]`` is a decay *factor* (not a time constant) and ``V_thr`` the
threshold; both are run-time arguments because dual-spike training and the
BadSNN attack switch them per batch.

This is exactly form 1 with the zero reset, ``β = τ`` and ``θ = V_thr``
(``R[t] = S[t-1]``), and also form 2 with a hard reset to 0 and ``λ = τ``
(its ``H`` is this ``U``).  So the fused kernels are the form-1 kernels
(:mod:`refsnn.kernels.lif_delayed`), registered under their own names so a
backend may specialise them; the forward twin below restates the equation in
this form's notation, and the tests check that it equals the kernel.

BPTT (``δ[t] = dL/dU[t]``, ``g[t] = σ'(U[t] − V_thr)``)::

    δ[t] = gU[t] + g[t]·(gS[t] − [not detach]·δ[t+1]·τ·U[t]) + δ[t+1]·τ·(1 − S[t])
    dX[t] = δ[t]

Kernels (``numpy`` backend; CuPy mirrors the signatures)::

    lif_decay_forward(X, v_thr, tau) -> (S uint8 [T,N], U [T,N])
    lif_decay_backward(gS, gU, S, U, v_thr, tau, sg_kind, sg_a, sg_b, detach_reset) -> dX

Memory: BPTT keeps ``S`` (1 B) and ``U`` (4 B in float32) — 5 B per element.
"""

from __future__ import annotations

import numpy as np

from refsnn.backend import register_kernel
from refsnn.kernels._common import RESET_ZERO
from refsnn.kernels.lif_delayed import (
    lif_delayed_backward,
    lif_delayed_backward_twin,
    lif_delayed_forward,
)
from refsnn.kernels.surrogate import surrogate_primitive


def lif_decay_forward_twin(
    X, v_thr, tau, *, smooth=False, surrogate=(3, 1.0, 0.0), detach_reset=False
):
    """Readable forward: ``(S uint8, U)``, or ``(S float, U, R)`` when ``smooth``.

    In smooth mode the gate ``1 − S[t-1]`` uses ``R`` — the hard spike when
    ``detach_reset`` (piecewise constant, so finite differences see the
    detached gradient), the smooth spike otherwise.
    """
    T, N = X.shape
    kind, a, b = surrogate
    U = np.empty_like(X)
    S = np.empty((T, N), dtype=X.dtype if smooth else np.uint8)
    R_used = np.empty_like(X) if smooth else None
    u = np.zeros(N, dtype=X.dtype)
    s_prev = np.zeros(N, dtype=X.dtype)
    for t in range(T):
        u = tau * (1 - s_prev) * u + X[t]
        U[t] = u
        fire = (u - v_thr > 0).astype(X.dtype)
        if smooth:
            S[t] = surrogate_primitive(kind, a, b, u - v_thr, v_thr)
            s_prev = fire if detach_reset else S[t]
            R_used[t] = s_prev
        else:
            S[t] = fire
            s_prev = fire
    return (S, U, R_used) if smooth else (S, U)


def lif_decay_backward_twin(gS, gU, S, U, v_thr, tau, sg_kind, sg_a, sg_b, detach_reset):
    """Readable BPTT — the form-1 twin with the zero reset (same equations)."""
    return lif_delayed_backward_twin(
        gS, gU, S, U, tau, v_thr, RESET_ZERO, sg_kind, sg_a, sg_b, detach_reset
    )


def lif_decay_forward(X, v_thr, tau):
    """Fused forward: ``(S uint8 [T,N], U [T,N])`` (the form-1 kernel, zero reset)."""
    return lif_delayed_forward(X, tau, v_thr, RESET_ZERO)


def lif_decay_backward(gS, gU, S, U, v_thr, tau, sg_kind, sg_a, sg_b, detach_reset):
    """Fused BPTT: ``dX [T,N]`` (the form-1 kernel, zero reset)."""
    return lif_delayed_backward(
        gS, gU, S, U, tau, v_thr, RESET_ZERO, sg_kind, sg_a, sg_b, detach_reset
    )


register_kernel("numpy", "lif_decay_forward", lif_decay_forward)
register_kernel("numpy", "lif_decay_backward", lif_decay_backward)
