"""Form 2 on the GPU — LIF / IF with immediate reset (Sharmin et al.), fused forward and BPTT.

Same names, signatures and results as :mod:`refsnn.kernels.lif_immediate`::

    lif_immediate_forward(X, lam, theta, reset, v_reset) -> (S [T,N], H [T,N])
    lif_immediate_backward(gS, gH, S, H, lam, theta, reset, v_reset,
                           sg_kind, sg_a, sg_b, detach_reset) -> dX [T,N]

Equations (``t = 1..T``, ``V[0] = 0``; λ = 1 is IF)::

    H[t] = λ·V[t-1] + X[t],   S[t] = [H[t] ≥ θ]   (Sharmin Eq. 3)
    soft (reset=0): V[t] = H[t] − θ·S[t];   hard (reset=1): V[t] = (1 − S[t])·H[t] + S[t]·V_reset

BPTT, ``δV[t] = λ·δH[t+1]`` (``δV[T] = 0``), ``g[t] = σ'(H[t] − θ)``::

    δH[t] = gH[t] + g[t]·(gS[t] + [not detach]·δV[t]·cs) + δV[t]·ch;   dX[t] = δH[t]
    soft: ch = 1, cs = −θ;   hard: ch = 1 − S[t], cs = V_reset − H[t]

The stored membrane is ``H`` (pre-reset); ``V`` is recomputed from ``(H, S)``.
All arrays are ``cupy.ndarray`` (C-contiguous float32/float64 ``[T, N]``,
spikes 0/1 floats); one thread per neuron, see :mod:`accel.cupy._core`.  The
forward counts non-finite ``X`` in its pass and raises on any.

>>> import cupy as cp                                                    # doctest: +SKIP
>>> S, H = lif_immediate_forward(cp.full((3, 1), 0.6, cp.float32), 1.0, 1.0, 0, 0.0)  # doctest: +SKIP
>>> S.ravel().tolist(), [round(v, 3) for v in H.ravel().tolist()]        # doctest: +SKIP
([0.0, 1.0, 0.0], [0.6, 1.2, 0.8])
"""

from __future__ import annotations

import numpy as np

from accel.cupy._core import (
    check_count,
    check_input,
    cp,
    declare,
    forward_outputs,
    grad_arg,
    launch,
    spikes_arg,
    typed,
)
from refsnn.kernels._common import check_reset, empty_out
from refsnn.kernels.surrogate import check_kind, sg_constants

SOURCE = r"""
// Forward: one thread per neuron; v is the post-reset membrane V[t-1] kept in a register.
template <typename F>
__global__ void lif_immediate_forward(const F* X, F* S, F* H, unsigned int* bad, long long T,
                                      long long N, F lam, F theta, int reset, F v_reset) {
    long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const F one = F(1), zero = F(0);
    unsigned int nonfinite = 0;
    F v = zero;
    for (long long t = 0; t < T; ++t) {
        long long k = t * N + n;
        F x = X[k];
        nonfinite += rs_nonfinite(x);
        F h = lam * v + x;
        F s = (h >= theta) ? one : zero;           // Sharmin Eq. 3: fires on reaching theta
        H[k] = h;
        S[k] = s;
        v = rs_reset<F>(h, s, theta, v_reset, reset);
    }
    bad[n] = nonfinite;
}

// BPTT: one thread per neuron, t = T-1..0; d carries deltaH[t+1].
template <typename F>
__global__ void lif_immediate_backward(const F* gS, int has_gS, const F* gH, int has_gH,
                                       const F* S, const F* H, F* dX,
                                       long long T, long long N, F lam, F theta, int reset,
                                       F v_reset, int kind, F c0, F c1, const F* table,
                                       int detach) {
    long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const F one = F(1), zero = F(0);
    const bool spike_time = kind == RS_SG_SPIKE_TIME;
    long long last = spike_time ? last_spike_before(S, T - 1, N, n) : -RS_FIRST_SPIKE_LAG;
    F d = zero;
    for (long long i = T - 1; i >= 0; --i) {
        long long k = i * N + n;
        F h = H[k];
        F g = sg_eval<F>(kind, c0, c1, h - theta, i - last, table);
        F dv = lam * d;
        F ch, cs;
        if (reset == RS_RESET_SOFT) {
            ch = one;
            cs = -theta;
        } else {
            ch = (h >= theta) ? zero : one;
            cs = v_reset - h;
        }
        F delta = bptt_delta<F>(has_gH ? gH[k] : zero, g, has_gS ? gS[k] : zero, dv, cs, ch,
                                detach);
        d = delta;
        dX[k] = delta;
        if (spike_time && i > 0 && last == i - 1) last = last_spike_before(S, i - 1, N, n);
    }
}
"""

CUDA = declare("lif_immediate", SOURCE, ["lif_immediate_forward", "lif_immediate_backward"])


def lif_immediate_forward(X, lam, theta, reset, v_reset):
    """Fused forward on the GPU: ``(S [T,N], H [T,N])`` in X's dtype (see module docstring)."""
    where = "lif_immediate_forward"
    check_input(where, X)
    reset = check_reset(where, reset)
    T, N = X.shape
    S, H, bad = forward_outputs(X)
    lam_, th, vr = typed(X.dtype, lam, theta, v_reset)
    fn = CUDA.function("lif_immediate_forward", X.dtype)
    launch(where, fn, N, (X, S, H, bad, np.int64(T), np.int64(N), lam_, th, np.int32(reset), vr),
           {"X": (X, X.dtype), "S": (S, X.dtype), "H": (H, X.dtype), "bad": (bad, np.uint32)})
    check_count(where, bad)
    return S, H


def lif_immediate_backward(gS, gH, S, H, lam, theta, reset, v_reset, sg_kind, sg_a, sg_b,
                           detach_reset):
    """Fused BPTT on the GPU: ``dX [T,N]`` (see module docstring)."""
    where = "lif_immediate_backward"
    check_input(where, H, "H")
    reset = check_reset(where, reset)
    kind = check_kind(where, sg_kind)
    gS_, has_gS = grad_arg(where, "gS", gS, H)
    gH_, has_gH = grad_arg(where, "gH", gH, H)
    S_ = spikes_arg(where, S, H)
    cupy = cp()
    T, N = H.shape
    c0, c1, table = sg_constants(kind, sg_a, sg_b, theta, T, H.dtype)
    table = cupy.asarray(table)
    lam_, th, vr = typed(H.dtype, lam, theta, v_reset)
    dX = empty_out((T, N), H.dtype, cupy)
    fn = CUDA.function("lif_immediate_backward", H.dtype)
    args = (gS_, np.int32(has_gS), gH_, np.int32(has_gH), S_, H, dX, np.int64(T), np.int64(N),
            lam_, th, np.int32(reset), vr, np.int32(kind), c0, c1, table,
            np.int32(bool(detach_reset)))
    launch(where, fn, N, args, {"gS": (gS_, H.dtype), "gH": (gH_, H.dtype), "S": (S_, H.dtype),
                                "H": (H, H.dtype), "dX": (dX, H.dtype), "table": (table, H.dtype)})
    return dX


KERNELS = {"lif_immediate_forward": lif_immediate_forward,
           "lif_immediate_backward": lif_immediate_backward}
