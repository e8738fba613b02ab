"""Form 1 — LIF with delayed reset (the GAMIN study's neuron; snnTorch ``Leaky``).

Per neuron, over ``t = 1..T`` from ``U[0] = 0``::

    R[t] = Θ(U[t-1] − θ)                        (the previous step's spike)
    subtract: U[t] = β·U[t-1] + X[t] − R[t]·θ
    zero:     U[t] = β·(1 − R[t])·U[t-1] + X[t]
    S[t] = Θ(U[t] − θ),   Θ(x) = [x > 0]

``x`` is ``[T, B, ...]``; spikes and ``U`` have its shape and dtype.  BPTT
uses the surrogate at ``U[t] − θ``; with ``detach_reset=True`` (snnTorch's
behaviour, the default) no gradient flows through ``R``.  Study values:
β = 0.7, θ = 1, subtract, fast sigmoid k = 40.

>>> import numpy as np
>>> x = np.full((4, 1, 1), 0.6, np.float32)        # constant input 0.6
>>> s, u = lif_delayed(x, beta=0.7, theta=1.0, return_membrane=True)
>>> s.data.ravel().tolist(), [round(float(v), 4) for v in u.data.ravel()]
([0.0, 1.0, 0.0, 0.0], [0.6, 1.02, 0.314, 0.8198])

Cross-validation (``tests/neurons/test_lif_crossval.py``): snnTorch 1.0
``Leaky(beta, threshold, reset_mechanism, spike_grad=fast_sigmoid(slope=k))``
computes ``β·U + X − R·θ`` and ``β·((1 − R)·U) + X`` with ``R`` detached —
the same spikes, membranes and input gradients.  Differences: snnTorch has
no ``detach_reset=False`` (its reset never carries gradient), and this form is
its default ``reset_delay=True`` only (``reset_delay=False`` was not compared).
"""

from __future__ import annotations

from refsnn.kernels import lif_delayed as form
from refsnn.kernels.codes import reset_code
from refsnn.kernels.lif_delayed import lif_delayed_backward_twin, lif_delayed_forward_twin
from refsnn.neurons.base import FusedNeuronFunction, SpikingNeuron, apply_fused, as_time_input
from refsnn.neurons.surrogate import get_surrogate
from refsnn.validation import check_interval, check_positive


class LIFDelayedFunction(FusedNeuronFunction):
    """``x [T, ...] → (S, U)`` by the fused form-1 kernel; BPTT ``(gS, gU) → dx``."""

    kernel = "lif_delayed"
    forward_twin = staticmethod(lif_delayed_forward_twin)
    backward_twin = staticmethod(lif_delayed_backward_twin)

    def forward(self, x, *, beta, theta, reset, surrogate, detach_reset, smooth=False):
        return self.run_forward(x, (beta, theta, reset), surrogate, detach_reset, smooth)

    def backward(self, gS, gU):
        return (self.run_backward(gS, gU).reshape(self.shape),)


def _check(where, beta, theta, reset):
    return (check_interval(where, "beta", beta, 0.0, 1.0), check_positive(where, "theta", theta),
            reset_code(where, reset))


def lif_delayed(x, beta=0.7, theta=1.0, reset="subtract", surrogate="fast_sigmoid",
                detach_reset=True, return_membrane=False, smooth=False):
    """Form-1 LIF over ``x [T, B, ...]``: spikes, or ``(spikes, U)`` with ``return_membrane``.

    ``beta`` ∈ [0, 1]; ``theta`` > 0; ``reset`` ``"subtract"`` | ``"zero"`` (the same as
    ``"soft"`` | ``"hard"``, see :class:`~refsnn.kernels.codes.Reset`);
    ``surrogate`` a name or a :class:`~refsnn.neurons.surrogate.Surrogate`;
    ``smooth`` (gradient checks only) uses the NumPy twin with smooth spikes.
    """
    beta, theta, code = _check("lif_delayed", beta, theta, reset)
    sg = get_surrogate(surrogate)
    x = as_time_input("lif_delayed", x)
    S, U = apply_fused("lif_delayed", LIFDelayedFunction, x, beta=beta, theta=theta, reset=code, surrogate=sg,
                                    detach_reset=bool(detach_reset), smooth=bool(smooth))
    return (S, U) if return_membrane else S


class LIFDelayed(SpikingNeuron):
    """Form-1 LIF layer (delayed reset): ``forward(x[T,B,...])`` and ``step(x_t, state)``.

    >>> import numpy as np
    >>> lif = LIFDelayed(beta=0.7, theta=1.0)
    >>> s1, st = lif.step(np.full((1, 1), 0.6, np.float32))
    >>> s2, st = lif.step(np.full((1, 1), 0.6, np.float32), st)
    >>> s1.data.item(), s2.data.item(), round(st.v.data.item(), 4)
    (0.0, 1.0, 1.02)
    """

    def __init__(self, beta=0.7, theta=1.0, reset="subtract", surrogate="fast_sigmoid",
                 detach_reset=True, return_membrane=False):
        super().__init__(surrogate, detach_reset, return_membrane)
        self.beta, self.theta, self.reset_code = _check("LIFDelayed", beta, theta, reset)
        self.reset = reset

    def _multi(self, x):
        return LIFDelayedFunction.apply(
            x, beta=self.beta, theta=self.theta, reset=self.reset_code,
            surrogate=self.surrogate, detach_reset=self.detach_reset,
        )

    def _charge_fire_reset(self, x_t, state):
        return self._form_step(form, x_t, state, (self.theta, 0.0, self.beta), self.reset_code)

    def __repr__(self):
        return (f"LIFDelayed(beta={self.beta}, theta={self.theta}, reset={self.reset!r}, "
                f"surrogate={self.surrogate!r}, detach_reset={self.detach_reset})")
