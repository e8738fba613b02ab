"""Form 1 on the GPU — LIF with delayed reset (snnTorch ``Leaky``), fused forward and BPTT.

Same names, signatures and results as :mod:`refsnn.kernels.lif_delayed`::

    lif_delayed_forward(X, beta, theta, reset) -> (S [T,N], U [T,N])
    lif_delayed_backward(gS, gU, S, U, beta, theta, reset,
                         sg_kind, sg_a, sg_b, detach_reset) -> dX [T,N]

Equations (``t = 1..T``, ``U[0] = 0``)::

    R[t] = S[t-1]
    soft / subtract (RS_RESET_SOFT):  U[t] = β·U[t-1] + X[t] − R[t]·θ
    hard / zero     (RS_RESET_HARD):  U[t] = β·(1 − R[t])·U[t-1] + X[t]
    S[t] = [U[t] > θ]

BPTT, with ``δ[T+1] = 0`` and ``g[t] = σ'(U[t] − θ)``::

    δ[t] = gU[t] + g[t]·(gS[t] + [not detach]·δ[t+1]·cs[t]) + δ[t+1]·cu[t]
    subtract: cu = β, cs = −θ;   zero: cu = β·(1 − S[t]), cs = −β·U[t];   dX[t] = δ[t]

All arrays are ``cupy.ndarray``; ``X``/``S``/``U``/``gS``/``gU`` C-contiguous
float32 or float64 ``[T, N]`` (``gS``/``gU`` may be ``None``; spikes are 0/1
floats).  The forward counts non-finite ``X`` per neuron in its pass and
raises ``ValueError`` with the total.  One thread per neuron
(see :mod:`accel.cupy._core` for the launch configuration); the operations
are those of the Numba kernel in the same order, so spikes and membranes are
bit-identical to the reference.

>>> import cupy as cp                                         # doctest: +SKIP
>>> S, U = lif_delayed_forward(cp.full((3, 1), 0.6, cp.float32), 0.7, 1.0, 0)  # doctest: +SKIP
>>> S.ravel().tolist(), [round(v, 3) for v in U.ravel().tolist()]   # doctest: +SKIP
([0.0, 1.0, 0.0], [0.6, 1.02, 0.314])
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
// Forward: one thread per neuron n, walking t = 0..T-1 over element t*N + n; u is U[t-1].
template <typename F>
__global__ void lif_delayed_forward(const F* X, F* S, F* U, unsigned int* bad, long long T,
                                    long long N, F beta, F theta, int reset) {
    long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const F one = F(1), zero = F(0);
    unsigned int nonfinite = 0;
    F u = zero;
    for (long long t = 0; t < T; ++t) {
        long long k = t * N + n;
        F x = X[k];
        nonfinite += rs_nonfinite(x);
        F up = u;
        if (reset == RS_RESET_SOFT) {
            u = beta * up + x;
            if (up > theta) u = u - theta;       // R[t] = S[t-1]: subtract theta
        } else {
            u = (up > theta) ? x : beta * up + x;   // zero the old membrane
        }
        U[k] = u;
        S[k] = (u > theta) ? one : zero;
    }
    bad[n] = nonfinite;
}

// BPTT: one thread per neuron, walking t = T-1..0; d carries delta[t+1].
template <typename F>
__global__ void lif_delayed_backward(const F* gS, int has_gS, const F* gU, int has_gU,
                                     const F* S, const F* U, F* dX,
                                     long long T, long long N, F beta, F theta, int reset,
                                     int kind, F c0, F c1, const F* table, int detach) {
    long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const F zero = F(0);
    const bool spike_time = kind == RS_SG_SPIKE_TIME;
    long long last = spike_time ? last_spike_before(S, T - 1, N, n) : -RS_FIRST_SPIKE_LAG;
    F d = zero;
    for (long long i = T - 1; i >= 0; --i) {
        long long k = i * N + n;
        F u = U[k];
        F g = sg_eval<F>(kind, c0, c1, u - theta, i - last, table);
        F cu, cs;
        if (reset == RS_RESET_SOFT) {
            cu = beta;
            cs = -theta;
        } else {
            cu = (u > theta) ? zero : beta;
            cs = -beta * u;
        }
        F delta = bptt_delta<F>(has_gU ? gU[k] : zero, g, has_gS ? gS[k] : zero, d, cs, cu,
                                detach);
        d = delta;
        dX[k] = delta;
        if (spike_time && i > 0 && last == i - 1) last = last_spike_before(S, i - 1, N, n);
    }
}
"""

CUDA = declare("lif_delayed", SOURCE, ["lif_delayed_forward", "lif_delayed_backward"])


def lif_delayed_forward(X, beta, theta, reset):
    """Fused forward on the GPU: ``(S [T,N], U [T,N])`` in X's dtype (see module docstring)."""
    where = "lif_delayed_forward"
    check_input(where, X)
    reset = check_reset(where, reset)
    T, N = X.shape
    S, U, bad = forward_outputs(X)
    b, th = typed(X.dtype, beta, theta)
    fn = CUDA.function("lif_delayed_forward", X.dtype)
    launch(where, fn, N, (X, S, U, bad, np.int64(T), np.int64(N), b, th, np.int32(reset)),
           {"X": (X, X.dtype), "S": (S, X.dtype), "U": (U, X.dtype), "bad": (bad, np.uint32)})
    check_count(where, bad)
    return S, U


def lif_delayed_backward(gS, gU, S, U, beta, theta, reset, sg_kind, sg_a, sg_b, detach_reset):
    """Fused BPTT on the GPU: ``dX [T,N]`` (see module docstring)."""
    where = "lif_delayed_backward"
    check_input(where, U, "U")
    reset = check_reset(where, reset)
    kind = check_kind(where, sg_kind)
    gS_, has_gS = grad_arg(where, "gS", gS, U)
    gU_, has_gU = grad_arg(where, "gU", gU, U)
    S_ = spikes_arg(where, S, U)
    cupy = cp()
    T, N = U.shape
    c0, c1, table = sg_constants(kind, sg_a, sg_b, theta, T, U.dtype)
    table = cupy.asarray(table)
    b, th = typed(U.dtype, beta, theta)
    dX = empty_out((T, N), U.dtype, cupy)
    fn = CUDA.function("lif_delayed_backward", U.dtype)
    args = (gS_, np.int32(has_gS), gU_, np.int32(has_gU), S_, U, dX, np.int64(T), np.int64(N),
            b, th, np.int32(reset), np.int32(kind), c0, c1, table, np.int32(bool(detach_reset)))
    launch(where, fn, N, args, {"gS": (gS_, U.dtype), "gU": (gU_, U.dtype), "S": (S_, U.dtype),
                                "U": (U, U.dtype), "dX": (dX, U.dtype), "table": (table, U.dtype)})
    return dX


KERNELS = {"lif_delayed_forward": lif_delayed_forward, "lif_delayed_backward": lif_delayed_backward}
