"""Form 3 on the GPU — LIF(V_thr, τ) with decay factor and hard reset (BadSNN).

Same names, signatures and results as :mod:`refsnn.kernels.lif_decay`::

    lif_decay_forward(X, v_thr, tau) -> (S [T,N], U [T,N])
    lif_decay_backward(gS, gU, S, U, v_thr, tau, sg_kind, sg_a, sg_b, detach_reset) -> dX [T,N]

Equations (``t = 1..T``, ``U[0] = 0``, ``S[0] = 0``)::

    U[t] = τ·U[t-1]·(1 − S[t-1]) + X[t],   S[t] = [U[t] ≥ V_thr]   (BadSNN Eq. 1)

which is form 2 with a hard reset to 0, ``λ = τ`` and ``θ = V_thr``; as in the
reference, the kernels are the form-2 CUDA kernels of
:mod:`accel.cupy.lif_immediate` (one thread per neuron, coalesced ``t·N + n``),
registered under this form's names so that ``V_thr`` and ``τ`` stay run-time
arguments (dual-spike training and the BadSNN attack switch them per batch).

>>> import cupy as cp                                               # doctest: +SKIP
>>> S, U = lif_decay_forward(cp.full((3, 1), 0.6, cp.float32), 1.0, 0.5)   # doctest: +SKIP
>>> S.ravel().tolist(), [round(v, 3) for v in U.ravel().tolist()]   # doctest: +SKIP
([0.0, 0.0, 1.0], [0.6, 0.9, 1.05])
"""

from __future__ import annotations

from accel.cupy.lif_immediate import lif_immediate_backward, lif_immediate_forward
from refsnn.kernels._common import HARD


def lif_decay_forward(X, v_thr, tau):
    """Fused forward on the GPU: ``(S [T,N], U [T,N])`` (form-2 kernel, hard reset to 0)."""
    return lif_immediate_forward(X, tau, v_thr, HARD, 0.0)


def lif_decay_backward(gS, gU, S, U, v_thr, tau, sg_kind, sg_a, sg_b, detach_reset):
    """Fused BPTT on the GPU: ``dX [T,N]`` (form-2 kernel, hard reset to 0)."""
    return lif_immediate_backward(gS, gU, S, U, tau, v_thr, HARD, 0.0, sg_kind, sg_a, sg_b,
                                  detach_reset)


KERNELS = {"lif_decay_forward": lif_decay_forward, "lif_decay_backward": lif_decay_backward}
