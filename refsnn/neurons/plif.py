"""PLIF — SpikingJelly's ``ParametricLIFNode``: form 4 with a learnable time constant.

The decay ``k = 1/τ = sigmoid(w)`` is computed from one learnable scalar
``w`` (a 0-d parameter named ``w``, as in SpikingJelly's ``state_dict``)
initialised at ``w0 = −ln(τ0 − 1)`` so that ``sigmoid(w0) = 1/τ0``
(``τ0 > 1``).  Everything else is :mod:`refsnn.neurons.lif_sj`::

    H[t] = V[t-1] + (X[t] − (V[t-1] − V_r))·sigmoid(w)      (decay_input=True)
    H[t] = V[t-1] − (V[t-1] − V_r)·sigmoid(w) + X[t]        (decay_input=False)

``w`` is trained through BPTT: the fused backward kernel returns
``dL/dk = Σ_t Σ_n δH[t]·∂H[t]/∂k`` and autograd's ``sigmoid`` applies
``dk/dw = k(1 − k)``.

>>> import numpy as np
>>> node = PLIF(init_tau=2.0)
>>> float(node.w.data), node.tau
(-0.0, 2.0)
>>> s = node(np.full((3, 2), 1.5, np.float32))
>>> s.sum().backward()
>>> node.w.grad.shape
()
"""

from __future__ import annotations

import math

import numpy as np

from refsnn.autograd import Tensor, sigmoid
from refsnn.neurons.base import apply_fused, as_time_input
from refsnn.neurons.lif_sj import LIFSJFunction, SJNeuron, check_sj, sj_reset_args
from refsnn.neurons.surrogate import get_surrogate
from refsnn.validation import check_real


def plif_init_w(init_tau: float) -> float:
    """``w0 = −ln(τ0 − 1)``, so that ``sigmoid(w0) = 1/τ0``; needs ``τ0 > 1``."""
    tau = check_real("PLIF", "init_tau", init_tau)
    if not tau > 1:
        raise ValueError(f"PLIF: init_tau must be > 1 (w0 = -ln(init_tau - 1)), got {init_tau!r}")
    return -math.log(tau - 1.0)


def plif(x, w, v_threshold=1.0, v_reset=0.0, decay_input=True, surrogate="sigmoid",
         detach_reset=False, return_membrane=False, smooth=False):
    """PLIF over ``x [T, B, ...]`` with decay ``sigmoid(w)``; ``w`` a one-element Tensor.

    Returns spikes, or ``(spikes, H)`` with ``return_membrane``; ``w`` gets its
    gradient through BPTT.
    """
    if not isinstance(w, Tensor) or w.size != 1:
        raise TypeError(f"plif: w must be a one-element Tensor, got {type(w).__name__}")
    v_threshold, v_reset = check_sj("plif", v_threshold, v_reset)
    reset, vr = sj_reset_args(v_reset)
    x = as_time_input("plif", x)
    S, H = apply_fused(
        "plif", LIFSJFunction, x, sigmoid(w), v_threshold=v_threshold, v_reset=vr, reset=reset,
        decay_input=bool(decay_input), surrogate=get_surrogate(surrogate),
        detach_reset=bool(detach_reset), smooth=bool(smooth),
    )
    return (S, H) if return_membrane else S


class PLIF(SJNeuron):
    """``ParametricLIFNode`` layer: learnable ``w`` (0-d, ``dtype`` float32 by default).

    ``forward(x[T,B,...])`` runs the fused kernel; ``step(x_t, state)`` the
    same equations with autograd ops — both give ``w`` its BPTT gradient.
    """

    def __init__(self, init_tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=True,
                 surrogate="sigmoid", detach_reset=False, return_membrane=False,
                 dtype=np.float32):
        super().__init__(v_threshold, v_reset, decay_input, surrogate, detach_reset,
                         return_membrane)
        self.w = Tensor(np.array(plif_init_w(init_tau), dtype=dtype), requires_grad=True)

    @property
    def tau(self) -> float:
        """The current time constant ``1 / sigmoid(w)``."""
        return float(1.0 + math.exp(-float(self.w.data)))

    def _k(self):
        return sigmoid(self.w)

    def __repr__(self):
        return (f"PLIF(tau={self.tau:.4g}, v_threshold={self.v_threshold}, "
                f"v_reset={self.v_reset}, decay_input={self.decay_input}, "
                f"surrogate={self.surrogate!r}, detach_reset={self.detach_reset})")
