"""Form 4 — SpikingJelly ``LIFNode`` / ``ParametricLIFNode`` (PLIF): fused kernels.

With ``k = 1/τ`` (PLIF: ``k = sigmoid(w)``), ``V_r = V_reset`` for the hard
reset and ``V_r = 0`` for the soft reset, per neuron over ``t = 1..T``::

    V[0] = V_r                                   (SpikingJelly starts v at v_reset)
    decay_input=True:  H[t] = V[t-1] + (X[t] − (V[t-1] − V_r))·k
    decay_input=False: H[t] = V[t-1] − (V[t-1] − V_r)·k + X[t]
    S[t] = Θ(H[t] − V_th)        with Θ(x) = 1 if x ≥ 0 (non-strict, as SpikingJelly)
    hard (Reset.HARD): V[t] = (1 − S[t])·H[t] + S[t]·V_reset
    soft (Reset.SOFT): V[t] = H[t] − V_th·S[t]

BPTT (``δV[t] = (1 − k)·δH[t+1]``, ``δV[T] = 0``, ``g[t] = σ'(H[t] − V_th)``)::

    δH[t] = gH[t] + g[t]·(gS[t] + [not detach]·δV[t]·∂V/∂S) + δV[t]·∂V/∂H
    hard: ∂V/∂H = 1 − S[t], ∂V/∂S = V_reset − H[t];   soft: ∂V/∂H = 1, ∂V/∂S = −V_th
    dX[t] = k·δH[t] (decay_input) or δH[t]
    dL/dk = Σ_t Σ_n δH[t]·∂H[t]/∂k,   ∂H/∂k = X[t] − (V[t-1] − V_r)  or  −(V[t-1] − V_r)

Kernels (``numpy`` backend; CuPy mirrors the signatures)::

    lif_sj_forward(X, inv_tau, v_threshold, v_reset, reset, decay_input) -> (S, H)
    lif_sj_backward(gS, gH, S, H, X, inv_tau, v_threshold, v_reset, reset, decay_input,
                    sg_kind, sg_a, sg_b, detach_reset, grad_inv_tau) -> (dX, d_inv_tau)

``inv_tau`` is ``k = 1/τ`` (a Python float); ``reset`` 0 = soft, 1 = hard
(``v_reset`` is ignored by the soft reset).  ``H`` is the pre-reset membrane
(what SpikingJelly's surrogate sees); ``V`` is recomputed from ``(H, S)``.
``X`` is read by the backward only when ``grad_inv_tau`` and ``decay_input``
(it may be ``None`` otherwise); ``d_inv_tau`` is a Python float (float64
accumulation), 0.0 when not requested.  PLIF chains it to ``w`` through
``dk/dw = k(1 − k)`` in autograd.  Spikes are 0/1 floats in X's dtype; the
forward counts non-finite ``X`` entries in its pass and raises on any.

The forward (time loop, firing, shared reset, twin) is :mod:`refsnn.kernels._fused`'s with
this form's ``charge`` and ``p = (V_th, V_reset, k, V_r, decay_input)``, from ``v = V_r``;
the backward stays its own loop here, as it scales ``dX`` by ``k`` and accumulates ``dL/dk``.

Memory: BPTT keeps ``S`` and ``H`` (8 B per element in float32) plus a
reference to the input ``X`` for PLIF.  Traffic: forward 12 B/element,
backward 12 B/element (16 with the ``k`` gradient).
"""

from __future__ import annotations

import sys

import numpy as np
from numba import njit, prange

from refsnn.backend import register_kernel
from refsnn.kernels import _fused
from refsnn.kernels._common import (
    BLOCK,
    HARD,
    bptt_delta,
    bptt_twin_step,
    check_input,
    check_reset,
    empty_out,
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
)

# ------------------------------------------------------------- the form's charge

STRICT = False  # SpikingJelly fires on H − V_th ≥ 0
IMMEDIATE = True  # V[t] = reset(H[t], S[t]) right after firing


@njit(inline="always")
def charge(v, r, x, p, mode, one):
    """``H[t]`` from ``v = V[t-1]``, ``p = (V_th, V_reset, k, V_r, decay_input)`` (``r`` unused)."""
    _, _, k, vr, decay_input = p
    if decay_input != 0:
        return v + (x - (v - vr)) * k
    return v - (v - vr) * k + x


# the same charge in CUDA, for the forward template of accel.cupy._fused
CUDA = {
    "name": "lif_sj", "M": "H", "strict": STRICT, "immediate": IMMEDIATE, "theta": "vth",
    "v0": "vr", "params": "F k, F vth, F v_reset, F vr, int reset, int decay_input",
    "charge": "decay_input ? v + (x - (v - vr)) * k : v - (v - vr) * k + x",
}


# ----------------------------------------------------------------- NumPy twins


def _reset_potential(v_reset, reset):
    return v_reset if reset == HARD else 0.0


def lif_sj_forward_twin(
    X, inv_tau, v_threshold, v_reset, reset, decay_input, *, smooth=False,
    surrogate=(2, 4.0, 0.0), detach_reset=False,
):
    """Readable forward: ``(S, H)``, or ``(S, H, R)`` when ``smooth`` (float spikes)."""
    vr = _reset_potential(v_reset, reset)
    return _fused.forward_twin(sys.modules[__name__], X,
                               (v_threshold, v_reset, inv_tau, vr, decay_input), reset, smooth,
                               surrogate, detach_reset, v0=vr)


def lif_sj_backward_twin(
    gS, gH, S, H, X, inv_tau, v_threshold, v_reset, reset, decay_input,
    sg_kind, sg_a, sg_b, detach_reset, grad_inv_tau,
):
    """Readable BPTT: ``(dX, d_inv_tau)``; ``S`` = the spikes the reset used."""
    T, N = H.shape
    k, vr = inv_tau, _reset_potential(v_reset, reset)
    R = S.astype(H.dtype)
    dt = steps_since_spike(S) if sg_kind == SPIKE_TIME else None
    dX = np.empty_like(H)
    d = np.zeros(N, dtype=H.dtype)  # δH[t+1]
    dk = 0.0
    for t in reversed(range(T)):
        g = surrogate_grad(
            sg_kind, sg_a, sg_b, H[t] - v_threshold, v_threshold, None if dt is None else dt[t]
        )
        dv = (1 - k) * d  # δV[t]
        if reset == HARD:
            ch, cs = 1 - R[t], v_reset - H[t]
        else:
            ch, cs = 1, -v_threshold
        d = bptt_twin_step(None if gH is None else gH[t], g, None if gS is None else gS[t],
                           dv, cs, ch, detach_reset)
        dX[t] = k * d if decay_input else d
        if grad_inv_tau:
            if t == 0:
                v_prev = np.full(N, vr, dtype=H.dtype)
            elif reset == HARD:
                v_prev = (1 - R[t - 1]) * H[t - 1] + R[t - 1] * v_reset
            else:
                v_prev = H[t - 1] - v_threshold * R[t - 1]
            dh_dk = X[t] - (v_prev - vr) if decay_input else -(v_prev - vr)
            dk += float(np.sum(d * dh_dk, dtype=np.float64))
    return dX, dk


# --------------------------------------------------------------- Numba kernels


@njit(parallel=True, cache=True)
def _forward_nb(X, p, v0, mode, one, zero, S, H, bad):
    _fused.fused_forward(charge, STRICT, IMMEDIATE, X, p, v0, mode, one, zero, S, H, bad)


@njit(parallel=True, cache=True)
def _backward_nb(gS, has_gS, gH, has_gH, S, H, X, k, omk, vth, v_reset, vr, reset, decay_input,
                 kind, c0, c1, table, detach, grad_k, one, zero, dX, partial):
    T, N = H.shape
    nd = zero if detach else one  # [not detach]; x + 0 == x keeps the twin's values exactly
    cs_soft = zero if detach else -vth
    kx = k if decay_input else one  # ∂H/∂X
    for blk in prange((N + BLOCK - 1) // BLOCK):
        n0 = blk * BLOCK
        m = min(N, n0 + BLOCK) - n0
        d = np.zeros(m, dtype=H.dtype)  # δH[t+1]
        g = np.empty(m, dtype=H.dtype)
        zeros = np.zeros(m, dtype=H.dtype)
        dts = block_dt(kind, S, n0, m)  # spike-time Δt per row ([1, m] dummy otherwise)
        acc = 0.0
        for i in range(T - 1, -1, -1):
            h = H[i, n0:n0 + m]
            out = dX[i, n0:n0 + m]
            sg_row(kind, c0, c1, h, vth, dts[i if kind == _SPIKE_TIME else 0], table, one, zero, g)
            gs = gS[i, n0:n0 + m] if has_gS else zeros
            gh = gH[i, n0:n0 + m] if has_gH else zeros
            if reset == HARD:
                for j in range(m):
                    ch = zero if h[j] >= vth else one
                    delta = bptt_delta(gh[j], g[j], gs[j], omk * d[j], (v_reset - h[j]) * nd, ch)
                    d[j] = delta
                    out[j] = kx * delta
            else:
                for j in range(m):
                    delta = bptt_delta(gh[j], g[j], gs[j], omk * d[j], cs_soft, one)  # δ′ = δV[t]
                    d[j] = delta
                    out[j] = kx * delta
            if grad_k:
                for j in range(m):
                    if i == 0:
                        vp = vr
                    else:
                        hp = H[i - 1, n0 + j]
                        if reset == HARD:
                            vp = v_reset if hp >= vth else hp
                        else:
                            vp = hp - vth if hp >= vth else hp
                    if decay_input:
                        acc += d[j] * (X[i, n0 + j] - (vp - vr))
                    else:
                        acc += d[j] * (-(vp - vr))
        partial[blk] = acc


def lif_sj_forward(X, inv_tau, v_threshold, v_reset, reset, decay_input):
    """Fused forward: ``(S [T,N], H [T,N])`` in X's dtype (see module docstring)."""
    vr = _reset_potential(v_reset, check_reset("lif_sj_forward", reset))
    return _fused.run_forward("lif_sj_forward", _forward_nb, X,
                              (v_threshold, v_reset, inv_tau, vr, float(bool(decay_input))),
                              reset, v0=vr)


def lif_sj_backward(gS, gH, S, H, X, inv_tau, v_threshold, v_reset, reset, decay_input,
                    sg_kind, sg_a, sg_b, detach_reset, grad_inv_tau):
    """Fused BPTT: ``(dX [T,N], d_inv_tau float)`` (see module docstring)."""
    where = "lif_sj_backward"
    check_input(where, H)
    reset = check_reset(where, reset)
    kind = check_kind(where, sg_kind)
    gS_, has_gS = grad_arg(where, "gS", gS, H)
    gH_, has_gH = grad_arg(where, "gH", gH, H)
    S_ = spikes_arg(where, S, H)
    grad_k = bool(grad_inv_tau)
    if grad_k and decay_input:
        if X is None:
            raise ValueError(f"{where}: X is needed for the inv_tau gradient with decay_input")
        X_, _ = grad_arg(where, "X", X, H)
    else:
        X_ = np.zeros((1, 1), H.dtype)
    c0, c1, table = sg_constants(kind, sg_a, sg_b, v_threshold, H.shape[0], H.dtype)
    one, zero, k, omk, vth, v_r, vr = typed(
        H.dtype, 1, 0, inv_tau, 1 - inv_tau, v_threshold, v_reset,
        _reset_potential(v_reset, reset),
    )
    dX = empty_out(H.shape, H.dtype)
    partial = np.zeros(n_blocks(H.shape[1]), dtype=np.float64)
    _backward_nb(gS_, has_gS, gH_, has_gH, S_, H, X_, k, omk, vth, v_r, vr, reset,
                 bool(decay_input), kind, c0, c1, table, bool(detach_reset), grad_k, one, zero,
                 dX, partial)
    return dX, float(partial.sum())


register_kernel("numpy", "lif_sj_forward", lif_sj_forward)
register_kernel("numpy", "lif_sj_backward", lif_sj_backward)
