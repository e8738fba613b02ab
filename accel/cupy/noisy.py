"""Form 5 on the GPU — noisy LIF (TGO): fires with probability σ((H − θ)/T_noise).

Same names, signatures and results as :mod:`refsnn.kernels.noisy`::

    noisy_lif_forward(X, U, lam, theta, t_noise, reset, v_reset, mode) -> (S, H)
    noisy_lif_backward(gS, gH, S, H, lam, theta, t_noise, reset, v_reset, detach_reset) -> dX

Equations (``V[0] = 0``)::

    H[t] = λ·V[t-1] + X[t],   p[t] = σ((H[t] − θ)/T_noise)
    mode 0 threshold:   S[t] = [H[t] > θ]
    mode 1 bernoulli:   S[t] = [u[t] < p[t]]        (u from the host Generator)
    mode 2 expectation: S[t] = p[t]                 (float spikes)
    soft: V[t] = H[t] − θ·S[t];   hard: V[t] = (1 − S[t])·H[t] + S[t]·V_reset
    BPTT: g[t] = p(1 − p)/T_noise,  δV[t] = λ·δH[t+1]
          δH[t] = gH[t] + g[t]·(gS[t] + [not detach]·δV[t]·cs) + δV[t]·ch;   dX = δH

GPU == CPU bit for bit.  The uniforms ``U`` are drawn on the host from the
caller's ``numpy.random.Generator`` (``rng.random((T, N), dtype=X.dtype)``)
and passed in — a NumPy ``U`` is copied to the device here — so no GPU RNG
is involved.  As in the reference, ``p`` and ``g`` are computed in float64
from ``double(H)`` with the two-branch sigmoid, the Bernoulli test is
``double(u) < p``, and the charge/reset arithmetic runs in X's dtype without
FMA contraction.  CUDA's double ``exp`` and the host's may differ by one ulp,
so a spike can only differ where ``|u − p|`` is below ~1e-16.

``S`` is uint8 in modes 0/1 and X's dtype in mode 2; the kernels take both a
``uint8*`` and an ``F*`` spike buffer and use the one the mode (forward) or
``S``'s dtype (backward) selects.  Launch: one thread per neuron, see
:mod:`accel.cupy._core`.
"""

from __future__ import annotations

import numpy as np

from accel.cupy._core import check_input, cp, declare, grad_arg, launch, typed
from refsnn.kernels._common import check_reset
from refsnn.kernels.noisy import MODE_BERNOULLI, MODE_EXPECTATION, _check_mode, _check_t_noise

SOURCE = r"""
// sigma(z) in double, the two-branch stable form of the reference.
__device__ __forceinline__ double sigmoid64(double z) {
    if (z >= 0.0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

// Forward: one thread per neuron.  mode 0/1 write S8 (uint8), mode 2 writes Sf (F).
template <typename F>
__global__ void noisy_lif_forward(const F* X, const F* U, unsigned char* S8, F* Sf, F* H,
                                  long long T, long long N, F lam, F theta, double t_noise,
                                  int reset, F v_reset, int mode) {
    long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const F one = F(1);
    const double th64 = (double)theta;
    F v = F(0);
    for (long long t = 0; t < T; ++t) {
        long long i = t * N + n;
        F h = lam * v + X[i];
        H[i] = h;
        F s;
        if (mode == 0) {
            s = (h > theta) ? one : F(0);
            S8[i] = (unsigned char)(h > theta);
        } else {
            double p = sigmoid64(((double)h - th64) / t_noise);
            if (mode == 1) {
                bool fire = (double)U[i] < p;
                S8[i] = (unsigned char)fire;
                s = fire ? one : F(0);
            } else {
                s = (F)p;
                Sf[i] = s;
            }
        }
        if (reset == 0) {
            v = h - theta * s;
        } else {
            v = (one - s) * h + s * v_reset;
        }
    }
}

// BPTT: one thread per neuron, t = T-1..0.  s_float selects Sf (F spikes) over S8 (uint8).
template <typename F>
__global__ void noisy_lif_backward(const F* gS, int has_gS, const F* gH, int has_gH,
                                   const unsigned char* S8, const F* Sf, int s_float, const F* H,
                                   F* dX, long long T, long long N, F lam, F theta, double t_noise,
                                   int reset, F v_reset, int detach) {
    long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const F one = F(1), zero = F(0);
    const double th64 = (double)theta;
    F d = zero;
    for (long long i = T - 1; i >= 0; --i) {
        long long k = i * N + n;
        F h = H[k];
        double p = sigmoid64(((double)h - th64) / t_noise);
        F g = (F)(p * (1.0 - p) / t_noise);
        F dv = lam * d;
        F ch, cs;
        if (reset == 0) {
            ch = one;
            cs = -theta;
        } else {
            F s = s_float ? Sf[k] : (F)S8[k];
            ch = one - s;
            cs = v_reset - h;
        }
        F inner = has_gS ? gS[k] : zero;
        if (!detach) inner = inner + dv * cs;
        F delta = g * inner + dv * ch;
        if (has_gH) delta = gH[k] + delta;
        d = delta;
        dX[k] = delta;
    }
}
"""

CUDA = declare("noisy", SOURCE, ["noisy_lif_forward", "noisy_lif_backward"])


def _uniforms(where: str, U, X, mode: int):
    cupy = cp()
    if mode != MODE_BERNOULLI:
        return cupy.zeros((1, 1), X.dtype)
    if isinstance(U, np.ndarray):  # drawn on the host from the caller's Generator: copy it over
        U = cupy.asarray(U)
    if not isinstance(U, cupy.ndarray):
        raise TypeError(f"{where}: mode 1 (bernoulli) needs U, an array of uniforms; "
                        f"got {type(U).__name__}")
    if U.shape != X.shape:
        raise ValueError(f"{where}: U has shape {U.shape}, expected {X.shape}")
    return cupy.ascontiguousarray(U, dtype=X.dtype)


def noisy_lif_forward(X, U, lam, theta, t_noise, reset, v_reset, mode):
    """Fused forward on the GPU: ``(S, H)`` (see module docstring)."""
    where = "noisy_lif_forward"
    check_input(where, X)
    reset = check_reset(where, reset)
    mode = _check_mode(where, mode)
    tn = _check_t_noise(where, t_noise)
    U_ = _uniforms(where, U, X, mode)
    cupy = cp()
    T, N = X.shape
    H = cupy.empty_like(X)
    if mode == MODE_EXPECTATION:
        S = cupy.empty_like(X)
        S8, Sf = cupy.zeros(1, dtype=np.uint8), S
    else:
        S = cupy.empty((T, N), dtype=np.uint8)
        S8, Sf = S, cupy.zeros(1, dtype=X.dtype)
    lam_, th, vr = typed(X.dtype, lam, theta, v_reset)
    fn = CUDA.function("noisy_lif_forward", X.dtype)
    args = (X, U_, S8, Sf, H, np.int64(T), np.int64(N), lam_, th, np.float64(tn), np.int32(reset),
            vr, np.int32(mode))
    launch(where, fn, N, args, {"X": (X, X.dtype), "U": (U_, X.dtype), "S8": (S8, np.uint8),
                                "Sf": (Sf, X.dtype), "H": (H, X.dtype)})
    return S, H


def noisy_lif_backward(gS, gH, S, H, lam, theta, t_noise, reset, v_reset, detach_reset):
    """Fused BPTT on the GPU: ``dX [T,N]`` (see module docstring)."""
    where = "noisy_lif_backward"
    check_input(where, H, "H")
    reset = check_reset(where, reset)
    tn = _check_t_noise(where, t_noise)
    gS_, has_gS = grad_arg(where, "gS", gS, H)
    gH_, has_gH = grad_arg(where, "gH", gH, H)
    cupy = cp()
    if not isinstance(S, cupy.ndarray) or S.shape != H.shape:
        raise ValueError(f"{where}: S must be a cupy.ndarray of shape {H.shape}, "
                         f"got {getattr(S, 'shape', type(S).__name__)}")
    s_float = S.dtype != np.uint8
    if s_float:
        Sf, S8 = cupy.ascontiguousarray(S, dtype=H.dtype), cupy.zeros(1, dtype=np.uint8)
    else:
        S8, Sf = cupy.ascontiguousarray(S), cupy.zeros(1, dtype=H.dtype)
    T, N = H.shape
    lam_, th, vr = typed(H.dtype, lam, theta, v_reset)
    dX = cupy.empty_like(H)
    fn = CUDA.function("noisy_lif_backward", H.dtype)
    args = (gS_, np.int32(has_gS), gH_, np.int32(has_gH), S8, Sf, np.int32(s_float), H, dX,
            np.int64(T), np.int64(N), lam_, th, np.float64(tn), np.int32(reset), vr,
            np.int32(bool(detach_reset)))
    launch(where, fn, N, args, {"gS": (gS_, H.dtype), "gH": (gH_, H.dtype), "S8": (S8, np.uint8),
                                "Sf": (Sf, H.dtype), "H": (H, H.dtype), "dX": (dX, H.dtype)})
    return dX


KERNELS = {"noisy_lif_forward": noisy_lif_forward, "noisy_lif_backward": noisy_lif_backward}
