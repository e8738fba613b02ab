"""Form 4 — SpikingJelly's ``LIFNode`` (for cross-validation), and its fused Function.

With ``k = 1/τ``, ``V_r = v_reset`` (hard reset) or ``0`` (``v_reset=None``:
soft reset), per neuron over ``t = 1..T``::

    V[0] = V_r
    decay_input=True:  H[t] = V[t-1] + (X[t] − (V[t-1] − V_r))·k
    decay_input=False: H[t] = V[t-1] − (V[t-1] − V_r)·k + X[t]
    S[t] = Θ(H[t] − V_th),   Θ(x) = [x ≥ 0]   (non-strict, as SpikingJelly)
    hard: V[t] = (1 − S[t])·H[t] + S[t]·v_reset;   soft: V[t] = H[t] − V_th·S[t]

Defaults ``τ = 2``, ``V_th = 1``, ``v_reset = 0``, sigmoid surrogate α = 4,
``detach_reset=False`` — SpikingJelly's.  ``τ ≥ 1`` (``k ∈ (0, 1]``;
SpikingJelly itself asserts ``τ > 1``; ``τ = 1`` is the memoryless neuron
``H = X + V_r``).  The membrane ``return_membrane`` gives is ``H`` (what the
threshold and the surrogate see); SpikingJelly's ``v_seq`` is the post-reset
``V``, recoverable from ``(H, S)``.

Differences from SpikingJelly 2.0 found in cross-validation: none in spikes;
the charge is evaluated as written above (SpikingJelly's torch code computes
``V + (V_r − V + X)/τ``), so membranes can differ by float rounding
(≤ 1e-6 relative) for τ that is not a power of two.

>>> import numpy as np
>>> x = np.full((3, 1), 1.5, np.float32)       # H = 0.75, 1.125 (fires, V ← 0), 0.75
>>> lif_sj(x).data.ravel().tolist()
[0.0, 1.0, 0.0]
"""

from __future__ import annotations

from refsnn.autograd import Tensor
from refsnn.backend import xp_of
from refsnn.kernels import lif_sj as form
from refsnn.kernels.codes import Reset
from refsnn.kernels.lif_sj import lif_sj_backward_twin, lif_sj_forward_twin
from refsnn.neurons.base import (
    FusedNeuronFunction,
    SpikingNeuron,
    apply_fused,
    as_time_input,
    flat_time,
)
from refsnn.neurons.surrogate import get_surrogate
from refsnn.validation import check_positive, check_real


class LIFSJFunction(FusedNeuronFunction):
    """``(x [T, ...], k) → (S, H)`` by the fused form-4 kernel; BPTT to ``x`` and ``k = 1/τ``.

    ``k`` is a Python float (``LIFNode``) or a one-element Tensor (PLIF's
    ``sigmoid(w)``), whose gradient ``Σ δH·∂H/∂k`` the backward kernel reduces;
    that gradient reads ``x`` when ``decay_input``, so a reference to it is kept then.
    """

    kernel = "lif_sj"
    forward_twin = staticmethod(lif_sj_forward_twin)
    backward_twin = staticmethod(lif_sj_backward_twin)

    def forward(self, x, k, *, v_threshold, v_reset, reset, decay_input, surrogate,
                detach_reset, smooth=False):
        self.k_shape, self.k_dtype = getattr(k, "shape", None), getattr(k, "dtype", None)
        k = float(k.reshape(-1)[0]) if self.k_shape is not None else float(k)
        want_k = self.needs_input_grad[1:2] == (True,)
        self.X = flat_time(x) if decay_input and want_k else None
        return self.run_forward(x, (k, v_threshold, v_reset, reset, decay_input), surrogate,
                                detach_reset, smooth)

    def backward(self, gS, gH):
        want_k = len(self.needs_input_grad) > 1 and self.needs_input_grad[1]
        dX, dk = self.run_backward(gS, gH, extra=(self.X,), tail=(want_k,))
        dk_out = xp_of(dX).full(self.k_shape, dk, dtype=self.k_dtype) if want_k else None
        return dX.reshape(self.shape), dk_out


def check_sj(where, v_threshold, v_reset):
    """Validate threshold (> 0) and ``v_reset`` (a number, or None for the soft reset)."""
    v_threshold = check_positive(where, "v_threshold", v_threshold)
    if v_reset is not None:
        v_reset = check_real(where, "v_reset", v_reset)
    return v_threshold, v_reset


def sj_reset_args(v_reset):
    """``(reset code, v_reset float)``: ``None`` → ``Reset.SOFT``, a number → ``Reset.HARD``."""
    return (Reset.SOFT, 0.0) if v_reset is None else (Reset.HARD, float(v_reset))


def lif_sj(x, tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=True, surrogate="sigmoid",
           detach_reset=False, return_membrane=False, smooth=False):
    """SpikingJelly ``LIFNode`` (multi-step) over ``x [T, B, ...]``; ``v_reset=None`` = soft reset.

    Returns spikes, or ``(spikes, H)`` with ``return_membrane``; ``tau`` ≥ 1.
    """
    tau = check_real("lif_sj", "tau", tau)
    if tau < 1:
        raise ValueError(f"lif_sj: tau must be >= 1 (a time constant in steps), got {tau!r}")
    v_threshold, v_reset = check_sj("lif_sj", v_threshold, v_reset)
    reset, vr = sj_reset_args(v_reset)
    x = as_time_input("lif_sj", x)
    S, H = apply_fused(
        "lif_sj", LIFSJFunction, x, 1.0 / tau, v_threshold=v_threshold, v_reset=vr, reset=reset,
        decay_input=bool(decay_input), surrogate=get_surrogate(surrogate),
        detach_reset=bool(detach_reset), smooth=bool(smooth),
    )
    return (S, H) if return_membrane else S


class SJNeuron(SpikingNeuron):
    """Shared single-step and multi-step code of ``LIFNodeSJ`` and ``PLIF`` (``k`` from ``_k()``)."""

    strict = False  # SpikingJelly fires at H − V_th ≥ 0

    def __init__(self, v_threshold, v_reset, decay_input, surrogate, detach_reset,
                 return_membrane):
        super().__init__(surrogate, detach_reset, return_membrane)
        self.v_threshold, self.v_reset = check_sj(type(self).__name__, v_threshold, v_reset)
        self.decay_input = bool(decay_input)
        self.reset_code, self.vr = sj_reset_args(self.v_reset)

    def _k(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _rest(self, x_t):
        xp = xp_of(x_t.data)
        return Tensor(xp.full(x_t.shape, self.vr, dtype=x_t.dtype))

    def _multi(self, x):
        return LIFSJFunction.apply(
            x, self._k(), v_threshold=self.v_threshold, v_reset=self.vr, reset=self.reset_code,
            decay_input=self.decay_input, surrogate=self.surrogate,
            detach_reset=self.detach_reset,
        )

    def _charge_fire_reset(self, x_t, state):
        params = (self.v_threshold, self.v_reset, self._k(), self.vr, self.decay_input)
        return self._form_step(form, x_t, state, params, self.reset_code)


class LIFNodeSJ(SJNeuron):
    """SpikingJelly ``LIFNode`` (``step_mode='m'`` semantics) as a refsnn layer.

    >>> import numpy as np
    >>> node = LIFNodeSJ(tau=2.0)
    >>> node(np.full((3, 1), 1.5, np.float32)).data.ravel().tolist()
    [0.0, 1.0, 0.0]
    """

    def __init__(self, tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=True,
                 surrogate="sigmoid", detach_reset=False, return_membrane=False):
        super().__init__(v_threshold, v_reset, decay_input, surrogate, detach_reset,
                         return_membrane)
        tau = check_real("LIFNodeSJ", "tau", tau)
        if tau < 1:
            raise ValueError(f"LIFNodeSJ: tau must be >= 1, got {tau!r}")
        self.tau = tau

    def _k(self):
        return 1.0 / self.tau

    def __repr__(self):
        return (f"LIFNodeSJ(tau={self.tau}, v_threshold={self.v_threshold}, "
                f"v_reset={self.v_reset}, decay_input={self.decay_input}, "
                f"surrogate={self.surrogate!r}, detach_reset={self.detach_reset})")

