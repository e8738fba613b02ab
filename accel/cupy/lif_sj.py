"""Form 4 on the GPU — SpikingJelly ``LIFNode`` / PLIF, fused forward and BPTT with the 1/τ gradient.

Same names, signatures and results as :mod:`refsnn.kernels.lif_sj`::

    lif_sj_forward(X, inv_tau, v_threshold, v_reset, reset, decay_input) -> (S, H)
    lif_sj_backward(gS, gH, S, H, X, inv_tau, v_threshold, v_reset, reset, decay_input,
                    sg_kind, sg_a, sg_b, detach_reset, grad_inv_tau) -> (dX, d_inv_tau)

With ``k = 1/τ``, ``V_r = V_reset`` (hard) or 0 (soft), ``V[0] = V_r``::

    decay_input:  H[t] = V[t-1] + (X[t] − (V[t-1] − V_r))·k
    otherwise:    H[t] = V[t-1] − (V[t-1] − V_r)·k + X[t]
    S[t] = [H[t] − V_th ≥ 0]     (non-strict, as SpikingJelly)
    hard: V[t] = V_reset if S[t] else H[t];   soft: V[t] = H[t] − V_th·S[t]

BPTT (``δV[t] = (1 − k)·δH[t+1]``, ``g[t] = σ'(H[t] − V_th)``)::

    δH[t] = gH[t] + g[t]·(gS[t] + [not detach]·δV[t]·cs) + δV[t]·ch
    hard: ch = 1 − S[t], cs = V_reset − H[t];   soft: ch = 1, cs = −V_th
    dX[t] = k·δH[t] (decay_input) or δH[t]
    dL/dk = Σ_t Σ_n δH[t]·(X[t] − (V[t-1] − V_r))   or   Σ δH[t]·(−(V[t-1] − V_r))

The ``k`` gradient (PLIF's τ, chained to ``w`` by autograd): each thread
accumulates its neuron's terms in float64 (each term a product in the array
dtype, as the reference) into ``partial[n]``; the host-side wrapper returns
``float(partial.sum())``.  The summation order across neurons differs from
the Numba kernel's, so ``d_inv_tau`` agrees to rounding, not bit for bit;
``dX`` is bit-identical except for surrogates that call ``exp``.

>>> import cupy as cp                                                       # doctest: +SKIP
>>> S, H = lif_sj_forward(cp.full((3, 1), 1.5, cp.float32), 0.5, 1.0, 0.0, 1, True)  # doctest: +SKIP
>>> S.ravel().tolist(), [round(v, 3) for v in H.ravel().tolist()]           # doctest: +SKIP
([0.0, 1.0, 0.0], [0.75, 1.125, 0.75])
"""

from __future__ import annotations

import numpy as np

from accel.cupy._core import (
    check_input,
    cp,
    grad_arg,
    launch,
    spikes_arg,
    typed,
)
from accel.cupy._fused import fused_source, run_forward
from refsnn.kernels import lif_sj as form
from refsnn.kernels._common import HARD, check_reset, empty_out
from refsnn.kernels.surrogate import check_kind, sg_constants

BACKWARD = r"""
// BPTT: one thread per neuron, t = T-1..0; d carries deltaH[t+1].  With grad_k, the
// neuron's share of dL/dk is accumulated in double and written to partial[n].
template <typename F>
__global__ void lif_sj_backward(const F* gS, int has_gS, const F* gH, int has_gH,
                                const F* S, const F* H, const F* X, F* dX,
                                double* partial, long long T, long long N, F k, F omk, F vth,
                                F v_reset, F vr, int reset, int decay_input, int kind, F c0, F c1,
                                const F* table, int detach, int grad_k) {
    long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const F one = F(1), zero = F(0);
    const bool spike_time = kind == RS_SG_SPIKE_TIME;
    long long last = spike_time ? last_spike_before(S, T - 1, N, n) : -RS_FIRST_SPIKE_LAG;
    F d = zero;
    double acc = 0.0;
    for (long long i = T - 1; i >= 0; --i) {
        long long idx = i * N + n;
        F h = H[idx];
        F g = sg_eval<F>(kind, c0, c1, h - vth, i - last, table);
        F dv = omk * d;
        F ch, cs;
        if (reset == RS_RESET_HARD) {
            ch = (h >= vth) ? zero : one;
            cs = v_reset - h;
        } else {
            ch = one;
            cs = -vth;
        }
        F delta = bptt_delta<F>(has_gH ? gH[idx] : zero, g, has_gS ? gS[idx] : zero, dv, cs, ch,
                                detach);
        d = delta;
        dX[idx] = decay_input ? k * delta : delta;
        if (grad_k) {
            F vp;
            if (i == 0) {
                vp = vr;
            } else {
                F hp = H[idx - N];
                if (reset == RS_RESET_HARD) vp = (hp >= vth) ? v_reset : hp;
                else vp = (hp >= vth) ? hp - vth : hp;
            }
            F term = decay_input ? d * (X[idx] - (vp - vr)) : d * (-(vp - vr));
            acc += (double)term;
        }
        if (spike_time && i > 0 && last == i - 1) last = last_spike_before(S, i - 1, N, n);
    }
    if (grad_k) partial[n] = acc;
}
"""

CUDA = fused_source(form.CUDA, backward=BACKWARD)  # the forward from the shared template


def _reset_potential(v_reset, reset):
    return v_reset if reset == HARD else 0.0


def lif_sj_forward(X, inv_tau, v_threshold, v_reset, reset, decay_input):
    """Fused forward on the GPU: ``(S [T,N], H [T,N])`` in X's dtype (see module docstring)."""
    def params(where, F):
        code = check_reset(where, reset)
        return (F(inv_tau), F(v_threshold), F(v_reset), F(_reset_potential(v_reset, code)),
                np.int32(code), np.int32(bool(decay_input)))
    return run_forward(CUDA, X, "H", params)


def lif_sj_backward(gS, gH, S, H, X, inv_tau, v_threshold, v_reset, reset, decay_input,
                    sg_kind, sg_a, sg_b, detach_reset, grad_inv_tau):
    """Fused BPTT on the GPU: ``(dX [T,N], d_inv_tau float)`` (see module docstring)."""
    where = "lif_sj_backward"
    check_input(where, H, "H")
    reset = check_reset(where, reset)
    kind = check_kind(where, sg_kind)
    gS_, has_gS = grad_arg(where, "gS", gS, H)
    gH_, has_gH = grad_arg(where, "gH", gH, H)
    S_ = spikes_arg(where, S, H)
    cupy = cp()
    grad_k = bool(grad_inv_tau)
    if grad_k and decay_input:
        if X is None:
            raise ValueError(f"{where}: X is needed for the inv_tau gradient with decay_input")
        X_, _ = grad_arg(where, "X", X, H)
    else:
        X_ = cupy.zeros((1, 1), H.dtype)
    T, N = H.shape
    c0, c1, table = sg_constants(kind, sg_a, sg_b, v_threshold, T, H.dtype)
    table = cupy.asarray(table)
    k, omk, vth, v_r, vr = typed(H.dtype, inv_tau, 1 - inv_tau, v_threshold, v_reset,
                                 _reset_potential(v_reset, reset))
    dX = empty_out((T, N), H.dtype, cupy)
    partial = cupy.zeros(N if grad_k else 1, dtype=np.float64)
    fn = CUDA.function("lif_sj_backward", H.dtype)
    args = (gS_, np.int32(has_gS), gH_, np.int32(has_gH), S_, H, X_, dX, partial, np.int64(T),
            np.int64(N), k, omk, vth, v_r, vr, np.int32(reset), np.int32(bool(decay_input)),
            np.int32(kind), c0, c1, table, np.int32(bool(detach_reset)), np.int32(grad_k))
    launch(where, fn, N, args, {"gS": (gS_, H.dtype), "gH": (gH_, H.dtype), "S": (S_, H.dtype),
                                "H": (H, H.dtype), "X": (X_, H.dtype), "dX": (dX, H.dtype),
                                "partial": (partial, np.float64), "table": (table, H.dtype)})
    return dX, (float(partial.sum()) if grad_k else 0.0)


KERNELS = {"lif_sj_forward": lif_sj_forward, "lif_sj_backward": lif_sj_backward}
