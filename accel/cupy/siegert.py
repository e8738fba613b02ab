"""The Siegert rate neuron on the GPU (SDBN; O'Connor's formulation), forward only.

Same name, signature and definition as :mod:`refsnn.kernels.siegert`::

    siegert_forward(X, W, b, tau_m, tau_s, t_ref, v_th, v_reset, v_rest) -> Y [B, n_out]

For rates ``X ≥ 0`` ``[B, n_in]``, weights ``W`` ``[n_in, n_out]`` (RBM
layout) and an optional drive ``b`` ``[n_out]``::

    μ = V_rest + τ_m·(X @ W + b),   σ = sqrt(τ_m·(X @ W²)/2)        (float64, two cuBLAS GEMMs)
    k = sqrt(τ_s/τ_m),  γ = |ζ(1/2)|,  a = V_reset + kγσ,  c = V_th + kγσ
    I = (c − a)/6 · (f(a) + 4 f((a + c)/2) + f(c)),   f(u) = erfcx((μ − u)/(σ√2))
    Y = t_ref / (t_ref + (τ_m/σ)·sqrt(π/2)·I)                        (= rate·t_ref)

The moments are the reference's own :func:`refsnn.kernels.siegert.siegert_moments`
(written against ``xp``, so it runs on CuPy unchanged).  The per-element
rate is the CUDA kernel below, one thread per output element, in float64
with CUDA's ``erfcx`` (libdevice; the reference uses its own continued
fraction — both are accurate to ~1e-14 relative, so results agree to
rounding, far inside the 1e-5 float32 tolerance).

Edge cases as in the reference: ``σ ≤ 1e-150`` (no input) is the
deterministic limit — 0 when ``μ ≤ V_th`` (never NaN), else
``t_ref/(t_ref + τ_m·ln((μ − V_reset)/(μ − V_th)))``; ``erfcx`` of a very
negative argument overflows to ``+inf`` and the rate is exactly 0.

>>> import cupy as cp                                                 # doctest: +SKIP
>>> Y = siegert_forward(cp.array([[0.5, 0.0]]), cp.array([[0.003], [0.01]]), None,
...                     5.0, 0.001, 0.002, 0.005, 0.0, 0.0)           # doctest: +SKIP
>>> 0.0 < float(Y[0, 0]) < 1.0                                        # doctest: +SKIP
True
"""

from __future__ import annotations

import math

import numpy as np

from accel.cupy._core import cp, declare, launch
from refsnn.kernels.siegert import GAMMA, SIGMA_TINY, SQRT_PI_2, check_params, siegert_moments

SOURCE = r"""
// One thread per output element i: rate * t_ref from (mu[i], sigma[i]), 3-point Simpson.
template <typename F>
__global__ void siegert_rate(const double* mu, const double* sigma, F* out, long long n_items,
                             double tau_m, double kgamma, double t_ref, double v_th,
                             double v_reset, double sigma_tiny, double sqrt_pi_2) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_items) return;
    double m = mu[i], s = sigma[i];
    double y;
    if (s <= sigma_tiny) {                       // deterministic limit sigma -> 0
        y = (m <= v_th) ? 0.0 : t_ref / (t_ref + tau_m * log((m - v_reset) / (m - v_th)));
    } else {
        double shift = kgamma * s;
        double a = v_reset + shift;
        double c = v_th + shift;
        double s2 = s * sqrt(2.0);
        double f = rs_erfcx((m - a) / s2) + 4.0 * rs_erfcx((m - 0.5 * (a + c)) / s2)
                 + rs_erfcx((m - c) / s2);
        double integral = (c - a) / 6.0 * f;
        y = t_ref / (t_ref + (tau_m / s) * sqrt_pi_2 * integral);
    }
    out[i] = (F)y;
}
"""

CUDA = declare("siegert", SOURCE, ["siegert_rate"])


def _check_inputs(where: str, X, W, b):
    cupy = cp()
    for name, arr in (("X", X), ("W", W)):
        if not isinstance(arr, cupy.ndarray):
            raise TypeError(f"{where}: {name} must be a cupy.ndarray, got {type(arr).__name__} "
                            "(move host arrays with accel.to_device)")
        if arr.ndim != 2 or arr.dtype not in (np.float32, np.float64):
            raise ValueError(f"{where}: {name} must be a 2-D float32/float64 array, "
                             f"got shape {arr.shape} dtype {arr.dtype}")
    if X.shape[1] != W.shape[0]:
        raise ValueError(f"{where}: X is [B, {X.shape[1]}] but W is {W.shape}; "
                         "W must be [n_in, n_out] (RBM layout)")
    if b is not None and (not isinstance(b, cupy.ndarray) or b.shape != (W.shape[1],)):
        raise ValueError(f"{where}: b must be None or a cupy.ndarray of shape ({W.shape[1]},), "
                         f"got {getattr(b, 'shape', type(b).__name__)}")
    if X.size and not bool((cupy.isfinite(X) & (X >= 0)).all()):
        raise ValueError(f"{where}: X must hold finite rates >= 0 "
                         f"(min {float(cupy.nanmin(X))}, NaN/inf present: "
                         f"{not bool(cupy.isfinite(X).all())})")


def siegert_forward(X, W, b, tau_m, tau_s, t_ref, v_th, v_reset, v_rest):
    """Siegert layer on the GPU: ``Y = rate·t_ref`` ``[B, n_out]`` in X's dtype (module docstring)."""
    where = "siegert_forward"
    _check_inputs(where, X, W, b)
    tau_m, tau_s, t_ref, v_th, v_reset, v_rest = check_params(
        where, tau_m, tau_s, t_ref, v_th, v_reset, v_rest)
    cupy = cp()
    mu, sigma = siegert_moments(X, W, b, tau_m, v_rest)
    mu, sigma = cupy.ascontiguousarray(mu), cupy.ascontiguousarray(sigma)
    out = cupy.empty(mu.shape, dtype=X.dtype)
    kgamma = math.sqrt(tau_s / tau_m) * GAMMA
    fn = CUDA.function("siegert_rate", X.dtype)
    args = (mu, sigma, out, np.int64(out.size), np.float64(tau_m), np.float64(kgamma),
            np.float64(t_ref), np.float64(v_th), np.float64(v_reset), np.float64(SIGMA_TINY),
            np.float64(SQRT_PI_2))
    launch(where, fn, out.size, args, {"mu": (mu, np.float64), "sigma": (sigma, np.float64),
                                       "out": (out, X.dtype)})
    return out


KERNELS = {"siegert_forward": siegert_forward}
