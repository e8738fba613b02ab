"""Form 4 — SpikingJelly's ``LIFNode`` and ``ParametricLIFNode`` (PLIF): the whole form.

With ``k = 1/τ`` (PLIF: ``k = sigmoid(w)``, learnable), ``V_r = v_reset`` (hard reset) or
``0`` (``v_reset=None``: soft reset), per neuron over ``t = 1..T``::

    V[0] = V_r                                   (SpikingJelly starts v at v_reset)
    decay_input=True:  H[t] = V[t-1] + (X[t] − (V[t-1] − V_r))·k
    decay_input=False: H[t] = V[t-1] − (V[t-1] − V_r)·k + X[t]
    S[t] = Θ(H[t] − V_th),   Θ(x) = [x ≥ 0]     (non-strict, as SpikingJelly)
    hard: V[t] = (1 − S[t])·H[t] + S[t]·v_reset;   soft: V[t] = H[t] − V_th·S[t]

BPTT (``δV[t] = (1 − k)·δH[t+1]``, ``δV[T] = 0``, ``g[t] = σ'(H[t] − V_th)``)::

    δH[t] = gH[t] + g[t]·(gS[t] + [not detach]·δV[t]·∂V/∂S) + δV[t]·∂V/∂H
    hard: ∂V/∂H = 1 − S[t], ∂V/∂S = v_reset − H[t];   soft: ∂V/∂H = 1, ∂V/∂S = −V_th
    dX[t] = k·δH[t] (decay_input) or δH[t]                            (gain)
    dL/dk = Σ_t Σ_n δH[t]·∂H[t]/∂k,  ∂H/∂k = X[t] − (V[t-1] − V_r)  or  −(V[t-1] − V_r)

Kernels (``numpy`` backend; ``accel.cupy`` mirrors them)::

    lif_sj_forward(X, inv_tau, v_threshold, v_reset, reset, decay_input) -> (S, H)
    lif_sj_backward(gS, gH, S, H, X, inv_tau, v_threshold, v_reset, reset, decay_input,
                    sg_kind, sg_a, sg_b, detach_reset, grad_inv_tau) -> (dX, d_inv_tau)

``H`` is the pre-reset membrane (what SpikingJelly's surrogate sees); ``V`` is recomputed
from ``(H, S)``.  ``X`` is read by the backward only when ``grad_inv_tau``; ``d_inv_tau`` is
a Python float (float64 accumulation), 0.0 when not requested; PLIF chains it to ``w``
through ``dk/dw = k(1 − k)`` in autograd.  All loops (incl. the ``k`` gradient) are
:mod:`refsnn.kernels._fused`'s with ``p = (V_th, v_reset, k, V_r, decay_input, 1 − k)``.
Memory: BPTT keeps ``S`` and ``H`` plus a reference to ``X`` for PLIF.

Defaults ``τ = 2``, ``V_th = 1``, ``v_reset = 0``, sigmoid surrogate α = 4,
``detach_reset=False`` — SpikingJelly's.  ``τ ≥ 1`` (SpikingJelly asserts ``τ > 1``;
``τ = 1`` is the memoryless neuron).  PLIF's ``w`` (0-d parameter, SpikingJelly's name)
starts at ``w0 = −ln(τ0 − 1)`` so that ``sigmoid(w0) = 1/τ0``.  Differences from
SpikingJelly 2.0 in cross-validation: none in spikes; the charge is evaluated as written
above (SpikingJelly computes ``V + (V_r − V + X)/τ``), so membranes can differ by float
rounding (≤ 1e-6 relative) for τ that is not a power of two.

>>> import numpy as np
>>> x = np.full((3, 1), 1.5, np.float32)       # H = 0.75, 1.125 (fires, V ← 0), 0.75
>>> lif_sj(x).data.ravel().tolist()
[0.0, 1.0, 0.0]
"""

from __future__ import annotations

import math
import sys

import numpy as np
from numba import njit

from refsnn.autograd import Tensor, sigmoid
from refsnn.kernels import _fused
from refsnn.kernels._common import SOFT
from refsnn.kernels.codes import Reset, reset_code
from refsnn.neurons.base import FormNeuron, run_form
from refsnn.neurons.forms import Form, register_form
from refsnn.validation import check_positive, check_real

STRICT = False  # SpikingJelly fires on H − V_th ≥ 0
IMMEDIATE = True  # V[t] = reset(H[t], S[t]) right after firing
PARAMS = ("vth", "v_reset", "k", "vr", "decay_input", "omk")


@njit(inline="always")
def charge(v, r, x, p, mode, one):
    """``H[t]`` from ``v = V[t-1]`` (``r`` unused)."""
    k, vr, decay_input = p[2], p[3], p[4]
    if decay_input != 0:
        return v + (x - (v - vr)) * k
    return v - (v - vr) * k + x


@njit(inline="always")
def partials(h, s, p, mode, one):
    """``(1 − k, ∂V/∂H, ∂V/∂S)`` at ``H[t] = h``, ``S[t] = s``."""
    vth, v_reset, omk = p[0], p[1], p[5]
    if mode == SOFT:
        return omk, one, -vth
    return omk, one - s, v_reset - h


@njit(inline="always")
def gain(p, one):
    """``∂H/∂X``: ``k`` with ``decay_input``, else 1."""
    return p[2] if p[4] != 0 else one


@njit(inline="always")
def dcharge(v, r, x, p, mode, one):
    """``∂H/∂k`` at ``V[t-1] = v``, ``X[t] = x``."""
    vr = p[3]
    if p[4] != 0:
        return x - (v - vr)
    return -(v - vr)


CUDA = {  # the same four equations for the template of accel.cupy._fused
    "charge": "decay_input ? v + (x - (v - vr)) * k : v - (v - vr) * k + x",
    "partials": "leak = omk; if (reset == RS_RESET_SOFT) { cu = one; cs = -vth; } "
                "else { cu = one - s; cs = v_reset - h; }",
    "gain": "decay_input ? k : one",
    "dcharge": "decay_input ? x - (v - vr) : -(v - vr)",
}


@njit(parallel=True, cache=True)
def _forward_nb(X, p, v0, mode, one, zero, S, H, bad):
    _fused.fused_forward(charge, STRICT, IMMEDIATE, X, p, v0, mode, one, zero, S, H, bad)


@njit(parallel=True, cache=True)
def _backward_nb(gS, has_gS, gH, has_gH, S, H, X, p, v0, mode, kind, c0, c1, table, detach,
                 grad_k, one, zero, dX, partial):
    _fused.fused_backward(partials, gain, dcharge, STRICT, IMMEDIATE, gS, has_gS, gH, has_gH, S, H,
                          X, p, v0, mode, kind, c0, c1, table, detach, grad_k, one, zero, dX,
                          partial)


def bind(where, inv_tau, v_threshold, v_reset, reset, decay_input):
    """Kernel arguments → ``(p, reset code, v0 = V_r)``; ``inv_tau`` may be a Tensor (single step)."""
    code = reset_code(where, reset)
    vr = v_reset if code == Reset.HARD else 0.0
    return (v_threshold, v_reset, inv_tau, vr, float(bool(decay_input)), 1 - inv_tau), code, vr


def check_sj(where, v_threshold, v_reset):
    """Validate threshold (> 0) and ``v_reset`` (a number, or None for the soft reset)."""
    v_threshold = check_positive(where, "v_threshold", v_threshold)
    if v_reset is not None:
        v_reset = check_real(where, "v_reset", v_reset)
    return v_threshold, v_reset


def sj_reset_args(v_reset):
    """``(reset code, v_reset float)``: ``None`` → ``Reset.SOFT``, a number → ``Reset.HARD``."""
    return (Reset.SOFT, 0.0) if v_reset is None else (Reset.HARD, float(v_reset))


def _check_tau(where, tau):
    tau = check_real(where, "tau", tau)
    if tau < 1:
        raise ValueError(f"{where}: tau must be >= 1 (a time constant in steps), got {tau!r}")
    return tau


def plif_init_w(init_tau: float) -> float:
    """``w0 = −ln(τ0 − 1)``, so that ``sigmoid(w0) = 1/τ0``; needs ``τ0 > 1``."""
    tau = check_real("PLIF", "init_tau", init_tau)
    if not tau > 1:
        raise ValueError(f"PLIF: init_tau must be > 1 (w0 = -ln(init_tau - 1)), got {init_tau!r}")
    return -math.log(tau - 1.0)


def _sj(where, x, k, v_threshold, v_reset, decay_input, surrogate, detach_reset, smooth):
    v_threshold, v_reset = check_sj(where, v_threshold, v_reset)
    reset, vr = sj_reset_args(v_reset)
    args = (k, v_threshold, vr, reset, bool(decay_input))
    return run_form(where, FORM, x, args, surrogate, detach_reset, smooth,
                    k=k if isinstance(k, Tensor) else None)


def lif_sj(x, tau=2.0, v_threshold=1.0, v_reset=0.0, decay_input=True, surrogate="sigmoid",
           detach_reset=False, return_membrane=False, smooth=False):
    """SpikingJelly ``LIFNode`` (multi-step) over ``x [T, B, ...]``; ``v_reset=None`` = soft reset.

    Returns spikes, or ``(spikes, H)`` with ``return_membrane``; ``tau`` ≥ 1.
    """
    k = 1.0 / _check_tau("lif_sj", tau)
    S, H = _sj("lif_sj", x, k, v_threshold, v_reset, decay_input, surrogate, detach_reset, smooth)
    return (S, H) if return_membrane else S


def plif(x, w, v_threshold=1.0, v_reset=0.0, decay_input=True, surrogate="sigmoid",
         detach_reset=False, return_membrane=False, smooth=False):
    """PLIF over ``x [T, B, ...]`` with decay ``sigmoid(w)``; ``w`` a one-element Tensor.

    Returns spikes, or ``(spikes, H)`` with ``return_membrane``; ``w`` gets its gradient
    through BPTT.
    """
    if not isinstance(w, Tensor) or w.size != 1:
        raise TypeError(f"plif: w must be a one-element Tensor, got {type(w).__name__}")
    S, H = _sj("plif", x, sigmoid(w), v_threshold, v_reset, decay_input, surrogate, detach_reset,
               smooth)
    return (S, H) if return_membrane else S


class SJNeuron(FormNeuron):
    """Shared code of ``LIFNodeSJ`` and ``PLIF`` (``k`` from ``_k()``)."""

    form_name = "lif_sj"

    def __init__(self, v_threshold, v_reset, decay_input, surrogate, detach_reset,
                 return_membrane):
        super().__init__(surrogate, detach_reset, return_membrane)
        self.v_threshold, self.v_reset = check_sj(type(self).__name__, v_threshold, v_reset)
        self.decay_input = bool(decay_input)
        self.reset_code, self.vr = sj_reset_args(self.v_reset)

    def kernel_args(self):
        return self._k(), self.v_threshold, self.vr, self.reset_code, self.decay_input

    def _k(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _repr_args(self):
        return (f"v_threshold={self.v_threshold}, v_reset={self.v_reset}, "
                f"decay_input={self.decay_input}, surrogate={self.surrogate!r}, "
                f"detach_reset={self.detach_reset})")


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
        self.tau = _check_tau("LIFNodeSJ", tau)

    def _k(self):
        return 1.0 / self.tau

    def __repr__(self):
        return f"LIFNodeSJ(tau={self.tau}, {self._repr_args()})"


class PLIF(SJNeuron):
    """``ParametricLIFNode`` layer: learnable ``w`` (0-d, ``dtype`` float32 by default).

    ``forward(x[T,B,...])`` runs the fused kernel; ``step(x_t, state)`` the same equations
    with autograd ops — both give ``w`` its BPTT gradient.

    >>> node = PLIF(init_tau=2.0)
    >>> float(node.w.data), node.tau
    (-0.0, 2.0)
    >>> s = node(np.full((3, 2), 1.5, np.float32))
    >>> s.sum().backward()
    >>> node.w.grad.shape
    ()
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
        return f"PLIF(tau={self.tau:.4g}, {self._repr_args()})"


FORM = register_form(Form(
    "lif_sj", sys.modules[__name__], bind, membrane="H", learnable="inv_tau", layer=LIFNodeSJ,
    drive=2.0, examples=(dict(tau=2.5, v_threshold=1.0, v_reset=-0.1, decay_input=True),
                         dict(tau=1.7, v_threshold=1.0, v_reset=None, decay_input=False)),
))
