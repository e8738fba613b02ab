"""Form 3 — LIF(V_thr, τ): decay factor and hard reset (BadSNN; TET-style spiking ResNet-19).

Per neuron, over ``t = 1..T`` from ``U[0] = 0``, ``S[0] = 0``::

    U[t] = τ·U[t-1]·(1 − S[t-1]) + X[t]
    S[t] = [U[t] − V_thr ≥ 0]                  (BadSNN Eq. 1)

``τ ∈ [0, 1]`` is a decay *factor*; nominal ``V_thr = 1``, ``τ = 0.5``.  Both
are run-time arguments of every forward pass (``forward(x, v_thr=..., tau=...)``)
because BadSNN's dual-spike training and attack switch them per batch.
Gradients flow through the reset gate by default (``detach_reset=False``, as
TET); the default surrogate is TET's triangle (γ = 1).

Equivalences (tested): this is form 1 with the zero reset (``β = τ``,
``θ = V_thr``) and form 2 with a hard reset to 0 (``λ = τ``; its ``H`` is
this ``U``) — which is how the kernels compute it.

>>> import numpy as np
>>> x = np.full((4, 1), 0.8, np.float32)
>>> lif_decay(x, v_thr=1.0, tau=0.5).data.ravel().tolist()    # U = 0.8, 1.2, 0.8, 1.2
[0.0, 1.0, 0.0, 1.0]
>>> lif_decay(x, v_thr=0.7, tau=0.5).data.ravel().tolist()    # a lower threshold fires at once
[1.0, 1.0, 1.0, 1.0]
"""

from __future__ import annotations

from refsnn.kernels.lif_decay import lif_decay_backward_twin, lif_decay_forward_twin
from refsnn.neurons.base import FusedNeuronFunction, SpikingNeuron, apply_fused, as_time_input
from refsnn.neurons.surrogate import get_surrogate
from refsnn.validation import check_interval, check_positive


class LIFDecayFunction(FusedNeuronFunction):
    """``x [T, ...] → (S, U)`` by the fused form-3 kernel; BPTT ``(gS, gU) → dx``."""

    kernel = "lif_decay"
    forward_twin = staticmethod(lif_decay_forward_twin)
    backward_twin = staticmethod(lif_decay_backward_twin)

    def forward(self, x, *, v_thr, tau, surrogate, detach_reset, smooth=False):
        return self.run_forward(x, (v_thr, tau), surrogate, detach_reset, smooth)

    def backward(self, gS, gU):
        return (self.run_backward(gS, gU).reshape(self.shape),)


def _check(where, v_thr, tau):
    return check_positive(where, "v_thr", v_thr), check_interval(where, "tau", tau, 0.0, 1.0)


def lif_decay(x, v_thr=1.0, tau=0.5, surrogate="triangle", detach_reset=False,
              return_membrane=False, smooth=False):
    """Form-3 LIF over ``x [T, B, ...]``: spikes, or ``(spikes, U)`` with ``return_membrane``.

    ``v_thr`` > 0; ``tau`` ∈ [0, 1] (a decay factor).
    """
    v_thr, tau = _check("lif_decay", v_thr, tau)
    sg = get_surrogate(surrogate)
    x = as_time_input("lif_decay", x)
    S, U = apply_fused("lif_decay", LIFDecayFunction, x, v_thr=v_thr, tau=tau, surrogate=sg,
                                  detach_reset=bool(detach_reset), smooth=bool(smooth))
    return (S, U) if return_membrane else S


class LIFDecay(SpikingNeuron):
    """Form-3 layer.  ``forward(x, v_thr=None, tau=None)`` / ``step(x_t, state, v_thr=, tau=)``.

    ``v_thr`` and ``tau`` given to a call override the layer's values for that
    call only (``None`` = the layer's own).

    >>> import numpy as np
    >>> lif = LIFDecay(v_thr=1.0, tau=0.5)
    >>> x = np.full((2, 1), 0.8, np.float32)
    >>> lif(x).data.ravel().tolist(), lif(x, v_thr=0.5).data.ravel().tolist()
    ([0.0, 1.0], [1.0, 1.0])
    """

    strict = False  # fires on U − V_thr ≥ 0

    def __init__(self, v_thr=1.0, tau=0.5, surrogate="triangle", detach_reset=False,
                 return_membrane=False):
        super().__init__(surrogate, detach_reset, return_membrane)
        self.v_thr, self.tau = _check("LIFDecay", v_thr, tau)

    def _resolve(self, v_thr, tau):
        return _check("LIFDecay", self.v_thr if v_thr is None else v_thr,
                      self.tau if tau is None else tau)

    def _multi(self, x, v_thr=None, tau=None):
        v_thr, tau = self._resolve(v_thr, tau)
        return LIFDecayFunction.apply(x, v_thr=v_thr, tau=tau, surrogate=self.surrogate,
                                      detach_reset=self.detach_reset)

    def _charge_fire_reset(self, x_t, state, v_thr=None, tau=None):
        v_thr, tau = self._resolve(v_thr, tau)
        gate = 1 - self._reset_spikes(state.s)
        u = tau * gate * state.v + x_t
        s = self._fire(u - v_thr, v_thr, state)
        return s, u, u

    def __repr__(self):
        return (f"LIFDecay(v_thr={self.v_thr}, tau={self.tau}, surrogate={self.surrogate!r}, "
                f"detach_reset={self.detach_reset})")
