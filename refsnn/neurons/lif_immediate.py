"""Form 2 — LIF / IF with immediate reset (Sharmin et al.; conversion and surrogate SNNs).

Per neuron, over ``t = 1..T`` from ``V[0] = 0``::

    H[t] = λ·V[t-1] + X[t]                      (λ = 1: IF, no leak)
    S[t] = [H[t] − θ ≥ 0]                      (Sharmin Eq. 3: fires on reaching θ)
    soft: V[t] = H[t] − θ·S[t]
    hard: V[t] = (1 − S[t])·H[t] + S[t]·V_reset

``x`` is ``[T, B, ...]``; spikes come back in its shape and dtype, and with
``return_membrane`` so does ``H`` — the pre-reset membrane that is compared
with θ (the post-reset ``V`` follows from ``H`` and ``S`` by the formulas
above).  BPTT evaluates the surrogate at ``H[t] − θ``; ``detach_reset=True``
(default, as the hybrid-conversion code resets with a hard comparison) keeps
the gradient out of the reset.  Study values: IF with per-layer θ from
threshold balancing for conversion; λ = 0.99 with the linear (a = 0.3) or
spike-time (α = 0.3, β = 0.01) surrogate for training.

>>> import numpy as np
>>> x = np.full((4, 1), 0.6, np.float32)
>>> if_out = lif_immediate(x, lam=1.0, theta=1.0, reset="soft")   # IF: 0.6, 1.2→0.2, 0.8, 1.4→0.4
>>> if_out.data.ravel().tolist()
[0.0, 1.0, 0.0, 1.0]
"""

from __future__ import annotations

from refsnn.kernels import lif_immediate as form
from refsnn.kernels.codes import reset_code
from refsnn.kernels.lif_immediate import lif_immediate_backward_twin, lif_immediate_forward_twin
from refsnn.neurons.base import FusedNeuronFunction, SpikingNeuron, apply_fused, as_time_input
from refsnn.neurons.surrogate import get_surrogate
from refsnn.validation import check_interval, check_positive, check_real


class LIFImmediateFunction(FusedNeuronFunction):
    """``x [T, ...] → (S, H)`` by the fused form-2 kernel; BPTT ``(gS, gH) → dx``."""

    kernel = "lif_immediate"
    forward_twin = staticmethod(lif_immediate_forward_twin)
    backward_twin = staticmethod(lif_immediate_backward_twin)

    def forward(self, x, *, lam, theta, reset, v_reset, surrogate, detach_reset, smooth=False):
        return self.run_forward(x, (lam, theta, reset, v_reset), surrogate, detach_reset, smooth)

    def backward(self, gS, gH):
        return (self.run_backward(gS, gH).reshape(self.shape),)


def _check(where, lam, theta, reset, v_reset):
    return (check_interval(where, "lam", lam, 0.0, 1.0, lo_open=True),
            check_positive(where, "theta", theta), reset_code(where, reset),
            check_real(where, "v_reset", v_reset))


def lif_immediate(x, lam=1.0, theta=1.0, reset="soft", v_reset=0.0, surrogate="linear",
                  detach_reset=True, return_membrane=False, smooth=False):
    """Form-2 LIF/IF over ``x [T, B, ...]``: spikes, or ``(spikes, H)`` with ``return_membrane``.

    ``lam`` ∈ (0, 1] (1 = IF); ``theta`` > 0; ``reset`` ``"soft"`` | ``"hard"`` (aliases
    ``"subtract"`` | ``"zero"``)
    (``v_reset`` is used by the hard reset only).
    """
    lam, theta, code, v_reset = _check("lif_immediate", lam, theta, reset, v_reset)
    sg = get_surrogate(surrogate)
    x = as_time_input("lif_immediate", x)
    S, H = apply_fused(
        "lif_immediate", LIFImmediateFunction, x, lam=lam, theta=theta, reset=code,
        v_reset=v_reset, surrogate=sg, detach_reset=bool(detach_reset), smooth=bool(smooth),
    )
    return (S, H) if return_membrane else S


class LIFImmediate(SpikingNeuron):
    """Form-2 layer: ``forward(x[T,B,...])``, ``step(x_t, state)``; ``state.v`` is post-reset ``V``.

    >>> import numpy as np
    >>> s, st = LIFImmediate(lam=0.5).step(np.array([1.5, 0.5], np.float32))
    >>> s.data.tolist(), st.v.data.tolist()
    ([1.0, 0.0], [0.5, 0.5])
    """

    strict = False  # fires on H − θ ≥ 0

    def __init__(self, lam=1.0, theta=1.0, reset="soft", v_reset=0.0, surrogate="linear",
                 detach_reset=True, return_membrane=False):
        super().__init__(surrogate, detach_reset, return_membrane)
        self.lam, self.theta, self.reset_code, self.v_reset = _check(
            type(self).__name__, lam, theta, reset, v_reset)
        self.reset = reset

    def _multi(self, x):
        return LIFImmediateFunction.apply(
            x, lam=self.lam, theta=self.theta, reset=self.reset_code, v_reset=self.v_reset,
            surrogate=self.surrogate, detach_reset=self.detach_reset,
        )

    def _charge_fire_reset(self, x_t, state):
        return self._form_step(form, x_t, state, (self.theta, self.v_reset, self.lam),
                               self.reset_code)

    def __repr__(self):
        return (f"{type(self).__name__}(lam={self.lam}, theta={self.theta}, reset={self.reset!r}, "
                f"v_reset={self.v_reset}, surrogate={self.surrogate!r}, "
                f"detach_reset={self.detach_reset})")


class IF(LIFImmediate):
    """Integrate-and-fire: form 2 with ``λ = 1`` (no leak).

    >>> import numpy as np
    >>> IF(theta=2.0)(np.ones((3, 1), np.float32)).data.ravel().tolist()  # H = 1, 2 (fires: 2 ≥ 2, V ← 0), 1
    [0.0, 1.0, 0.0]
    """

    def __init__(self, theta=1.0, reset="soft", v_reset=0.0, surrogate="linear",
                 detach_reset=True, return_membrane=False):
        super().__init__(1.0, theta, reset, v_reset, surrogate, detach_reset, return_membrane)

