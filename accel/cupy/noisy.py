"""Form 5 on the GPU — noisy LIF (TGO): fires with probability σ((H − θ)/T_noise).

Same names, signatures and results as :mod:`refsnn.neurons.noisy`::

    noisy_lif_forward(X, U, lam, theta, t_noise, reset, v_reset, mode, noise=0) -> (S, H)
    noisy_lif_backward(gS, gH, S, H, lam, theta, t_noise, reset, v_reset, detach_reset,
                       noise=0) -> dX

``noise`` 0 is the logistic σ below, 1 the Gaussian ``Φ`` / ``φ`` (TGO's NLIF).

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

``S`` is in X's dtype in every mode (0/1, or ``p`` in mode 2); the forward
counts non-finite ``X`` in its pass and raises on any.  Launch: one thread
per neuron, see :mod:`accel.cupy._core`.  The CUDA source is kept with the form, in
:mod:`refsnn.neurons.noisy` (``CUDA_SOURCE``); this module marshals the arguments.
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
from refsnn.neurons.noisy import (
    CUDA_SOURCE,
    MODE_BERNOULLI,
    _check_mode,
    _check_t_noise,
    check_noise,
)

CUDA = declare("noisy", CUDA_SOURCE, ["noisy_lif_forward", "noisy_lif_backward"])


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


def noisy_lif_forward(X, U, lam, theta, t_noise, reset, v_reset, mode, noise=0):
    """Fused forward on the GPU: ``(S, H)`` in X's dtype (see module docstring)."""
    where = "noisy_lif_forward"
    noise = check_noise(where, noise)
    check_input(where, X)
    reset = check_reset(where, reset)
    mode = _check_mode(where, mode)
    tn = _check_t_noise(where, t_noise)
    U_ = _uniforms(where, U, X, mode)
    T, N = X.shape
    S, H, bad = forward_outputs(X)
    lam_, th, vr = typed(X.dtype, lam, theta, v_reset)
    fn = CUDA.function("noisy_lif_forward", X.dtype)
    args = (X, U_, S, H, bad, np.int64(T), np.int64(N), lam_, th, np.float64(tn),
            np.int32(reset), vr, np.int32(mode), np.int32(noise))
    launch(where, fn, N, args, {"X": (X, X.dtype), "U": (U_, X.dtype), "S": (S, X.dtype),
                                "H": (H, X.dtype), "bad": (bad, np.uint32)})
    check_count(where, bad)
    return S, H


def noisy_lif_backward(gS, gH, S, H, lam, theta, t_noise, reset, v_reset, detach_reset, noise=0):
    """Fused BPTT on the GPU: ``dX [T,N]`` (see module docstring)."""
    where = "noisy_lif_backward"
    noise = check_noise(where, noise)
    check_input(where, H, "H")
    reset = check_reset(where, reset)
    tn = _check_t_noise(where, t_noise)
    gS_, has_gS = grad_arg(where, "gS", gS, H)
    gH_, has_gH = grad_arg(where, "gH", gH, H)
    S_ = spikes_arg(where, S, H)
    cupy = cp()
    T, N = H.shape
    lam_, th, vr = typed(H.dtype, lam, theta, v_reset)
    dX = empty_out((T, N), H.dtype, cupy)
    fn = CUDA.function("noisy_lif_backward", H.dtype)
    args = (gS_, np.int32(has_gS), gH_, np.int32(has_gH), S_, H, dX, np.int64(T), np.int64(N),
            lam_, th, np.float64(tn), np.int32(reset), vr, np.int32(bool(detach_reset)),
            np.int32(noise))
    launch(where, fn, N, args, {"gS": (gS_, H.dtype), "gH": (gH_, H.dtype), "S": (S_, H.dtype),
                                "H": (H, H.dtype), "dX": (dX, H.dtype)})
    return dX


KERNELS = {"noisy_lif_forward": noisy_lif_forward, "noisy_lif_backward": noisy_lif_backward}
