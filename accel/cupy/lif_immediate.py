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
forward counts non-finite ``X`` in its pass and raises on any.  The CUDA source is
the template of :mod:`accel.cupy._fused` filled with this form's ``CUDA`` snippets
(kept beside its Numba charge in :mod:`refsnn.kernels.lif_immediate`).

>>> import cupy as cp                                                    # doctest: +SKIP
>>> S, H = lif_immediate_forward(cp.full((3, 1), 0.6, cp.float32), 1.0, 1.0, 0, 0.0)  # doctest: +SKIP
>>> S.ravel().tolist(), [round(v, 3) for v in H.ravel().tolist()]        # doctest: +SKIP
([0.0, 1.0, 0.0], [0.6, 1.2, 0.8])
"""

from __future__ import annotations

import numpy as np

from accel.cupy._fused import fused_source, run_backward, run_forward
from refsnn.kernels import lif_immediate as form
from refsnn.kernels._common import check_reset

CUDA = fused_source(form.CUDA)


def lif_immediate_forward(X, lam, theta, reset, v_reset):
    """Fused forward on the GPU: ``(S [T,N], H [T,N])`` in X's dtype (see module docstring)."""
    def params(where, F):
        return F(lam), F(theta), np.int32(check_reset(where, reset)), F(v_reset)
    return run_forward(CUDA, X, "H", params)


def lif_immediate_backward(gS, gH, S, H, lam, theta, reset, v_reset, sg_kind, sg_a, sg_b,
                           detach_reset):
    """Fused BPTT on the GPU: ``dX [T,N]`` (see module docstring)."""
    def params(where, F):
        return F(lam), F(theta), np.int32(check_reset(where, reset)), F(v_reset)
    return run_backward(CUDA, "H", gS, gH, S, H, params, theta, sg_kind, sg_a, sg_b,
                        detach_reset)


KERNELS = {"lif_immediate_forward": lif_immediate_forward, "lif_immediate_backward": lif_immediate_backward}
