"""Form 5 — noisy LIF (TGO): immediate-reset LIF that fires with probability σ((H − θ)/T_noise).

Equations (per neuron, ``t = 1..T``, ``V[0] = 0``)::

    H[t] = λ·V[t-1] + X[t]                          (charge, as form 2)
    p[t] = σ((H[t] − θ)/T_noise),  σ(z) = 1/(1 + e^{−z})
    mode 0  "threshold"   S[t] = Θ(H[t] − θ)         (evaluation; Θ strict)
    mode 1  "bernoulli"   S[t] = [u[t] < p[t]]       (training; u ~ U(0,1) given)
    mode 2  "expectation" S[t] = p[t]                (the smooth twin, for gradcheck)
    soft (Reset.SOFT): V[t] = H[t] − θ·S[t]
    hard (Reset.HARD): V[t] = (1 − S[t])·H[t] + S[t]·V_reset

Gradient "through the expectation": every mode uses ``dS/dH = dp/dH =
p(1 − p)/T_noise`` (exact in mode 2).  BPTT with ``δH[t] = dL/dH[t]``,
``δV[t] = λ·δH[t+1]``, ``δV[T] = 0``, ``g[t] = p[t](1 − p[t])/T_noise``::

    δH[t] = gH[t] + g[t]·(gS[t] + [not detach]·δV[t]·∂V/∂S) + δV[t]·∂V/∂H
    soft: ∂V/∂H = 1,          ∂V/∂S = −θ
    hard: ∂V/∂H = 1 − S[t],   ∂V/∂S = V_reset − H[t]
    dX[t] = δH[t]

Kernels (``numpy`` backend; the CuPy backend mirrors names and signatures)::

    noisy_lif_forward(X, U, lam, theta, t_noise, reset, v_reset, mode) -> (S, H)
        X [T,N] float32/64 C-contiguous; U [T,N] uniforms in [0,1) (same dtype as X)
        for mode 1, ignored (may be None) otherwise; reset 0 soft / 1 hard;
        S [T,N] in X's dtype (0/1 in modes 0 and 1, p in mode 2); H [T,N].
        Non-finite entries of X are counted in the same pass; any raise ValueError.
    noisy_lif_backward(gS, gH, S, H, lam, theta, t_noise, reset, v_reset,
                       detach_reset) -> dX [T,N]
        gS, gH [T,N] or None (= zero); S as returned by the forward.

Precision.  ``λ, θ, V_reset`` are cast to X's dtype and the charge/reset
arithmetic runs in that dtype (as in form 2); ``p`` and ``g`` are computed in
float64 from ``float64(H)`` (``σ`` evaluated as ``1/(1+e^{−z})`` for ``z ≥ 0``
and ``e^{z}/(1+e^{z})`` otherwise), and the Bernoulli test is
``float64(u) < p``.  So kernel and twin take identical spike decisions; ``g``
is stored in X's dtype before it enters the recursion.  ``p = 0`` never fires,
``p = 1`` always does (``u < 1``).

The uniforms are drawn by the caller from an explicit ``numpy.random.Generator``
(``rng.random((T, N), dtype=X.dtype)``) so that the Numba kernel, the NumPy
twin and a GPU backend given the same ``U`` produce the same spikes.

Example (twin and kernel agree)::

    >>> X = np.full((3, 2), 0.6, np.float32)
    >>> noisy_lif_forward(X, None, 1.0, 1.0, 0.1, 0, 0.0, 0)[0].ravel().tolist()
    [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
"""

from __future__ import annotations

import math

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
    typed,
)
from refsnn.validation import check_mode, check_positive

MODE_THRESHOLD, MODE_BERNOULLI, MODE_EXPECTATION = 0, 1, 2
MODES = {"threshold": MODE_THRESHOLD, "bernoulli": MODE_BERNOULLI, "expectation": MODE_EXPECTATION}
_BERNOULLI, _EXPECTATION = MODE_BERNOULLI, MODE_EXPECTATION


def _check_mode(where: str, mode) -> int:
    if isinstance(mode, (int, np.integer)) and not isinstance(mode, bool) and mode in (0, 1, 2):
        return int(mode)
    return check_mode(where, "mode", mode, MODES)


def _check_t_noise(where: str, t_noise) -> float:
    return check_positive(where, "t_noise", t_noise)


def _sigmoid64_np(z: np.ndarray) -> np.ndarray:
    """σ(z) in float64, the two-branch stable form used by the kernel."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# ----------------------------------------------------------------- NumPy twins


def noisy_lif_forward_twin(X, U, lam, theta, t_noise, reset, v_reset, mode):
    """Readable forward: ``(S, H)`` (see module docstring)."""
    T, N = X.shape
    lam, theta, v_reset, one = typed(X.dtype, lam, theta, v_reset, 1)
    th64, tn = np.float64(theta), np.float64(t_noise)
    H = np.empty_like(X)
    S = np.empty_like(X)
    v = np.zeros(N, dtype=X.dtype)
    for t in range(T):
        h = lam * v + X[t]
        H[t] = h
        if mode == MODE_THRESHOLD:
            S[t] = h > theta
        else:
            p = _sigmoid64_np((h.astype(np.float64) - th64) / tn)
            S[t] = U[t].astype(np.float64) < p if mode == MODE_BERNOULLI else p
        v = reset_membrane(h, S[t], theta, v_reset, reset)
    return S, H


def noisy_lif_backward_twin(gS, gH, S, H, lam, theta, t_noise, reset, v_reset, detach_reset):
    """Readable BPTT: ``dX`` (see module docstring)."""
    T, N = H.shape
    lam, theta, v_reset, one = typed(H.dtype, lam, theta, v_reset, 1)
    th64, tn = np.float64(theta), np.float64(t_noise)
    dX = np.empty_like(H)
    d = np.zeros(N, dtype=H.dtype)  # δH[t+1]
    for t in reversed(range(T)):
        p = _sigmoid64_np((H[t].astype(np.float64) - th64) / tn)
        g = (p * (1.0 - p) / tn).astype(H.dtype)
        dv = lam * d  # δV[t]
        if reset == SOFT:
            ch, cs = one, -theta
        else:
            ch, cs = one - S[t], v_reset - H[t]
        d = bptt_twin_step(None if gH is None else gH[t], g, None if gS is None else gS[t],
                           dv, cs, ch, detach_reset)
        dX[t] = d
    return dX


# --------------------------------------------------------------- Numba kernels


@njit(cache=True, inline="always")
def _sigmoid64(z):
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@njit(parallel=True, cache=True)
def _forward_nb(X, U, lam, theta, t_noise, reset, v_reset, mode, one, zero, S, H, bad):
    T, N = X.shape
    th64 = np.float64(theta)
    for blk in prange((N + BLOCK - 1) // BLOCK):
        n0 = blk * BLOCK
        m = min(N, n0 + BLOCK) - n0
        v = np.zeros(m, dtype=X.dtype)
        nonfinite = 0  # (x − x) ≠ 0 exactly when x is NaN or ±inf
        for t in range(T):
            for j in range(m):
                n = n0 + j
                x = X[t, n]
                nonfinite += (x - x) != zero
                h = lam * v[j] + x
                H[t, n] = h
                if mode == _BERNOULLI:
                    p = _sigmoid64((np.float64(h) - th64) / t_noise)
                    S[t, n] = one if np.float64(U[t, n]) < p else zero
                elif mode == _EXPECTATION:
                    S[t, n] = _sigmoid64((np.float64(h) - th64) / t_noise)  # p, rounded to F
                else:
                    S[t, n] = one if h > theta else zero
                v[j] = reset_nb(h, S[t, n], theta, v_reset, reset, one)
        bad[blk] = nonfinite


@njit(parallel=True, cache=True)
def _backward_nb(gS, has_gS, gH, has_gH, S, H, lam, theta, t_noise, reset, v_reset, detach,
                 one, zero, dX):
    T, N = H.shape
    th64 = np.float64(theta)
    for blk in prange((N + BLOCK - 1) // BLOCK):
        n0 = blk * BLOCK
        m = min(N, n0 + BLOCK) - n0
        d = np.zeros(m, dtype=H.dtype)  # δH[t+1]
        g = np.empty(m, dtype=H.dtype)
        for i in range(T - 1, -1, -1):
            for j in range(m):
                p = _sigmoid64((np.float64(H[i, n0 + j]) - th64) / t_noise)
                g[j] = p * (1.0 - p) / t_noise
            for j in range(m):
                n = n0 + j
                h = H[i, n]
                if reset == SOFT:
                    ch = one
                    cs = -theta
                else:
                    ch = one - S[i, n]
                    cs = v_reset - h
                delta = bptt_delta(gH[i, n] if has_gH else zero, g[j],
                                   gS[i, n] if has_gS else zero, lam * d[j],
                                   zero if detach else cs, ch)  # δ′ = δV[t] = λ·δH[t+1]
                d[j] = delta
                dX[i, n] = delta


def _uniforms(where: str, U, X, mode: int):
    if mode != MODE_BERNOULLI:
        return np.zeros((1, 1), X.dtype)
    if not isinstance(U, np.ndarray):
        raise TypeError(f"{where}: mode 1 (bernoulli) needs U, a numpy.ndarray of uniforms; "
                        f"got {type(U).__name__}")
    if U.shape != X.shape:
        raise ValueError(f"{where}: U has shape {U.shape}, expected {X.shape}")
    return np.ascontiguousarray(U, dtype=X.dtype)


def noisy_lif_forward(X, U, lam, theta, t_noise, reset, v_reset, mode):
    """Fused forward: ``(S, H)`` in X's dtype (see module docstring)."""
    where = "noisy_lif_forward"
    check_input(where, X)
    reset = check_reset(where, reset)
    mode = _check_mode(where, mode)
    tn = _check_t_noise(where, t_noise)
    U_ = _uniforms(where, U, X, mode)
    S, H = empty_out(X.shape, X.dtype), empty_out(X.shape, X.dtype)
    bad = np.zeros(n_blocks(X.shape[1]), dtype=np.int64)
    lam_, th, vr, one, zero = typed(X.dtype, lam, theta, v_reset, 1, 0)
    _forward_nb(X, U_, lam_, th, tn, reset, vr, mode, one, zero, S, H, bad)
    forward_done(where, bad.sum())
    return S, H


def noisy_lif_backward(gS, gH, S, H, lam, theta, t_noise, reset, v_reset, detach_reset):
    """Fused BPTT: ``dX [T,N]`` (see module docstring)."""
    where = "noisy_lif_backward"
    check_input(where, H)
    reset = check_reset(where, reset)
    tn = _check_t_noise(where, t_noise)
    gS_, has_gS = grad_arg(where, "gS", gS, H)
    gH_, has_gH = grad_arg(where, "gH", gH, H)
    S_ = spikes_arg(where, S, H)
    one, zero, lam_, th, vr = typed(H.dtype, 1, 0, lam, theta, v_reset)
    dX = empty_out(H.shape, H.dtype)
    _backward_nb(gS_, has_gS, gH_, has_gH, S_, H, lam_, th, tn, reset, vr, bool(detach_reset),
                 one, zero, dX)
    return dX


register_kernel("numpy", "noisy_lif_forward", noisy_lif_forward)
register_kernel("numpy", "noisy_lif_backward", noisy_lif_backward)
