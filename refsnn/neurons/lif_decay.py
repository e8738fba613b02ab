"""Form 3 — LIF(V_thr, τ): decay factor and hard reset (BadSNN; TET-style spiking ResNet-19).

Per neuron, over ``t = 1..T`` from ``U[0] = 0``, ``S[0] = 0``::

    U[t] = τ·U[t-1]·(1 − S[t-1]) + X[t]
    S[t] = [U[t] − V_thr ≥ 0]                  (BadSNN Eq. 1)

``τ ∈ [0, 1]`` is a decay *factor*; nominal ``V_thr = 1``, ``τ = 0.5``.  Both are run-time
arguments of every forward pass (``forward(x, v_thr=..., tau=...)``) because BadSNN's
dual-spike training and attack switch them per batch.  Gradients flow through the reset gate
by default (``detach_reset=False``, as TET); the default surrogate is TET's triangle (γ = 1).

This is form 2 (:mod:`refsnn.neurons.lif_immediate`, which also fires on ``≥``) with a hard
reset to ``V_reset = 0``, ``λ = τ`` and ``θ = V_thr`` — its pre-reset ``H`` is this ``U``
and its post-reset ``V = (1 − S)·U`` is what the single step carries in ``state.v`` — so
this file has no equations of its own, only ``bind`` onto form 2's (tested equal to form 1
with the zero reset as well).  BPTT (``δ[t] = dL/dU[t]``, ``g[t] = σ'(U[t] − V_thr)``)::

    δ[t] = gU[t] + g[t]·(gS[t] − [not detach]·τ·δ[t+1]·U[t]) + τ·δ[t+1]·(1 − S[t])

Kernels (``numpy`` backend; ``accel.cupy`` mirrors them)::

    lif_decay_forward(X, v_thr, tau) -> (S [T,N], U [T,N])
    lif_decay_backward(gS, gU, S, U, v_thr, tau, sg_kind, sg_a, sg_b, detach_reset) -> dX

>>> import numpy as np
>>> x = np.full((4, 1), 0.8, np.float32)
>>> lif_decay(x, v_thr=1.0, tau=0.5).data.ravel().tolist()    # U = 0.8, 1.2, 0.8, 1.2
[0.0, 1.0, 0.0, 1.0]
>>> lif_decay(x, v_thr=0.7, tau=0.5).data.ravel().tolist()    # a lower threshold fires at once
[1.0, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

from refsnn.kernels.codes import Reset
from refsnn.neurons import lif_immediate
from refsnn.neurons.base import FormNeuron, run_form
from refsnn.neurons.forms import Form, register_form
from refsnn.validation import check_interval, check_positive


def _check(where, v_thr, tau):
    return check_positive(where, "v_thr", v_thr), check_interval(where, "tau", tau, 0.0, 1.0)


def bind(where, v_thr, tau):
    """Kernel arguments → form 2's ``(p = (V_thr, 0, τ), Reset.HARD, v0 = 0)``."""
    return (v_thr, 0.0, tau), Reset.HARD, 0.0


def lif_decay(x, v_thr=1.0, tau=0.5, surrogate="triangle", detach_reset=False,
              return_membrane=False, smooth=False):
    """Form-3 LIF over ``x [T, B, ...]``: spikes, or ``(spikes, U)`` with ``return_membrane``.

    ``v_thr`` > 0; ``tau`` ∈ [0, 1] (a decay factor).
    """
    args = _check("lif_decay", v_thr, tau)
    S, U = run_form("lif_decay", FORM, x, args, surrogate, detach_reset, smooth)
    return (S, U) if return_membrane else S


class LIFDecay(FormNeuron):
    """Form-3 layer.  ``forward(x, v_thr=None, tau=None)`` / ``step(x_t, state, v_thr=, tau=)``.

    ``v_thr`` and ``tau`` given to a call override the layer's values for that call only
    (``None`` = the layer's own).

    >>> import numpy as np
    >>> lif = LIFDecay(v_thr=1.0, tau=0.5)
    >>> x = np.full((2, 1), 0.8, np.float32)
    >>> lif(x).data.ravel().tolist(), lif(x, v_thr=0.5).data.ravel().tolist()
    ([0.0, 1.0], [1.0, 1.0])
    """

    form_name = "lif_decay"

    def __init__(self, v_thr=1.0, tau=0.5, surrogate="triangle", detach_reset=False,
                 return_membrane=False):
        super().__init__(surrogate, detach_reset, return_membrane)
        self.v_thr, self.tau = _check("LIFDecay", v_thr, tau)

    def kernel_args(self, v_thr=None, tau=None):
        return _check("LIFDecay", self.v_thr if v_thr is None else v_thr,
                      self.tau if tau is None else tau)

    def __repr__(self):
        return (f"LIFDecay(v_thr={self.v_thr}, tau={self.tau}, surrogate={self.surrogate!r}, "
                f"detach_reset={self.detach_reset})")


FORM = register_form(Form(
    "lif_decay", lif_immediate, bind, membrane="U", layer=LIFDecay,
    examples=(dict(v_thr=0.9, tau=0.6), dict(v_thr=1.0, tau=0.0)),
))
