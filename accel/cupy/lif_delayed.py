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
raises ``ValueError`` with the total.  The CUDA source is the one template of
:mod:`accel.cupy._fused` filled with this form's ``CUDA`` snippets (kept beside its
Numba charge in :mod:`refsnn.kernels.lif_delayed`);
spikes and membranes are bit-identical to the reference.

>>> import cupy as cp                                         # doctest: +SKIP
>>> S, U = lif_delayed_forward(cp.full((3, 1), 0.6, cp.float32), 0.7, 1.0, 0)  # doctest: +SKIP
>>> S.ravel().tolist(), [round(v, 3) for v in U.ravel().tolist()]   # doctest: +SKIP
([0.0, 1.0, 0.0], [0.6, 1.02, 0.314])
"""

from __future__ import annotations

import numpy as np

from accel.cupy._fused import fused_source, run_backward, run_forward
from refsnn.kernels import lif_delayed as form
from refsnn.kernels._common import check_reset

CUDA = fused_source(form.CUDA)


def lif_delayed_forward(X, beta, theta, reset):
    """Fused forward on the GPU: ``(S [T,N], U [T,N])`` in X's dtype (see module docstring)."""
    def params(where, F):
        return F(beta), F(theta), np.int32(check_reset(where, reset))
    return run_forward(CUDA, X, "U", params)


def lif_delayed_backward(gS, gU, S, U, beta, theta, reset, sg_kind, sg_a, sg_b, detach_reset):
    """Fused BPTT on the GPU: ``dX [T,N]`` (see module docstring)."""
    def params(where, F):
        return F(beta), F(theta), np.int32(check_reset(where, reset))
    return run_backward(CUDA, "U", gS, gU, S, U, params, theta, sg_kind, sg_a, sg_b,
                        detach_reset)


KERNELS = {"lif_delayed_forward": lif_delayed_forward, "lif_delayed_backward": lif_delayed_backward}
