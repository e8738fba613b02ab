"""Form 2 on the GPU — LIF / IF with immediate reset (Sharmin et al.), fused forward and BPTT.

Same names, signatures and results as :mod:`refsnn.kernels.lif_immediate`::

    lif_immediate_forward(X, lam, theta, reset, v_reset) -> (S uint8 [T,N], H [T,N])
    lif_immediate_backward(gS, gH, S, H, lam, theta, reset, v_reset,
                           sg_kind, sg_a, sg_b, detach_reset) -> dX [T,N]

Equations (``t = 1..T``, ``V[0] = 0``; λ = 1 is IF)::

    H[t] = λ·V[t-1] + X[t],   S[t] = [H[t] > θ]
    soft (reset=0): V[t] = H[t] − θ·S[t];   hard (reset=1): V[t] = (1 − S[t])·H[t] + S[t]·V_reset

BPTT, ``δV[t] = λ·δH[t+1]`` (``δV[T] = 0``), ``g[t] = σ'(H[t] − θ)``::

    δH[t] = gH[t] + g[t]·(gS[t] + [not detach]·δV[t]·cs) + δV[t]·ch;   dX[t] = δH[t]
    soft: ch = 1, cs = −θ;   hard: ch = 1 − S[t], cs = V_reset − H[t]

The stored membrane is ``H`` (pre-reset); ``V`` is recomputed from ``(H, S)``.
All arrays are ``cupy.ndarray`` (C-contiguous float32/float64 ``[T, N]``,
spikes uint8); one thread per neuron, see :mod:`accel.cupy._core`.

>>> import cupy as cp                                                    # doctest: +SKIP
>>> S, H = lif_immediate_forward(cp.full((3, 1), 0.6, cp.float32), 1.0, 1.0, 0, 0.0)  # doctest: +SKIP
>>> S.ravel().tolist(), [round(v, 3) for v in H.ravel().tolist()]        # doctest: +SKIP
([0, 1, 0], [0.6, 1.2, 0.8])
"""

from __future__ import annotations

import numpy as np

from accel.cupy._core import check_input, cp, declare, grad_arg, launch, spikes_arg, typed
from refsnn.kernels._common import check_reset
from refsnn.kernels.surrogate import check_kind, sg_constants

SOURCE = r"""
// Forward: one thread per neuron; v is the post-reset membrane V[t-1] kept in a register.
template <typename F>
__global__ void lif_immediate_forward(const F* X, unsigned char* S, F* H, long long T, long long N,
                                      F lam, F theta, int reset, F v_reset) {
    long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    F h = X[n];
    H[n] = h;
    S[n] = h > theta;
    for (long long t = 1; t < T; ++t) {
        long long k = t * N + n;
        F v;
        if (reset == 0) {
            v = (h > theta) ? h - theta : h;       // soft: subtract theta after a spike
        } else {
            v = (h > theta) ? v_reset : h;         // hard: jump to V_reset
        }
        h = lam * v + X[k];
        H[k] = h;
        S[k] = h > theta;
    }
}

// BPTT: one thread per neuron, t = T-1..0; d carries deltaH[t+1].
template <typename F>
__global__ void lif_immediate_backward(const F* gS, int has_gS, const F* gH, int has_gH,
                                       const unsigned char* S, const F* H, F* dX,
                                       long long T, long long N, F lam, F theta, int reset,
                                       F v_reset, int kind, F c0, F c1, const F* table,
                                       int detach) {
    long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const F one = F(1), zero = F(0);
    long long last = (kind == 5) ? last_spike_before(S, T - 1, N, n) : -1;
    F d = zero;
    for (long long i = T - 1; i >= 0; --i) {
        long long k = i * N + n;
        F h = H[k];
        F g = sg_eval<F>(kind, c0, c1, h - theta, i - last, table);
        F dv = lam * d;
        F ch, cs;
        if (reset == 0) {
            ch = one;
            cs = -theta;
        } else {
            ch = (h > theta) ? zero : one;
            cs = v_reset - h;
        }
        F inner = has_gS ? gS[k] : zero;
        if (!detach) inner = inner + dv * cs;
        F delta = g * inner + dv * ch;
        if (has_gH) delta = gH[k] + delta;
        d = delta;
        dX[k] = delta;
        if (kind == 5 && i > 0 && last == i - 1) last = last_spike_before(S, i - 1, N, n);
    }
}
"""

CUDA = declare("lif_immediate", SOURCE, ["lif_immediate_forward", "lif_immediate_backward"])


def lif_immediate_forward(X, lam, theta, reset, v_reset):
    """Fused forward on the GPU: ``(S uint8 [T,N], H [T,N])`` (see module docstring)."""
    where = "lif_immediate_forward"
    check_input(where, X)
    reset = check_reset(where, reset)
    cupy = cp()
    T, N = X.shape
    S = cupy.empty((T, N), dtype=np.uint8)
    H = cupy.empty_like(X)
    lam_, th, vr = typed(X.dtype, lam, theta, v_reset)
    fn = CUDA.function("lif_immediate_forward", X.dtype)
    launch(where, fn, N, (X, S, H, np.int64(T), np.int64(N), lam_, th, np.int32(reset), vr),
           {"X": (X, X.dtype), "S": (S, np.uint8), "H": (H, X.dtype)})
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
    dX = cupy.empty_like(H)
    fn = CUDA.function("lif_immediate_backward", H.dtype)
    args = (gS_, np.int32(has_gS), gH_, np.int32(has_gH), S_, H, dX, np.int64(T), np.int64(N),
            lam_, th, np.int32(reset), vr, np.int32(kind), c0, c1, table,
            np.int32(bool(detach_reset)))
    launch(where, fn, N, args, {"gS": (gS_, H.dtype), "gH": (gH_, H.dtype), "S": (S_, np.uint8),
                                "H": (H, H.dtype), "dX": (dX, H.dtype), "table": (table, H.dtype)})
    return dX


KERNELS = {"lif_immediate_forward": lif_immediate_forward,
           "lif_immediate_backward": lif_immediate_backward}
