"""Form 2 — LIF / IF with immediate reset (Sharmin et al.; conversion and surrogate SNNs).

Per neuron, over ``t = 1..T`` from ``V[0] = 0``::

    H[t] = λ·V[t-1] + X[t]                     (charge; λ = 1 is IF, no leak)
    S[t] = [H[t] − θ ≥ 0]                      (Sharmin Eq. 3: fires on *reaching* θ)
    soft (Reset.SOFT): V[t] = H[t] − θ·S[t]
    hard (Reset.HARD): V[t] = (1 − S[t])·H[t] + S[t]·V_reset

BPTT (``δH[t] = dL/dH[t]``, ``δV[t] = λ·δH[t+1]``, ``δV[T] = 0``, ``g[t] = σ'(H[t] − θ)``)::

    δH[t] = gH[t] + g[t]·(gS[t] + [not detach]·δV[t]·∂V/∂S) + δV[t]·∂V/∂H
    soft: ∂V/∂H = 1,          ∂V/∂S = −θ
    hard: ∂V/∂H = 1 − S[t],   ∂V/∂S = V_reset − H[t]
    dX[t] = δH[t]

Kernels (``numpy`` backend; ``accel.cupy`` mirrors them)::

    lif_immediate_forward(X, lam, theta, reset, v_reset) -> (S [T,N], H [T,N])
    lif_immediate_backward(gS, gH, S, H, lam, theta, reset, v_reset,
                           sg_kind, sg_a, sg_b, detach_reset) -> dX [T,N]

The membrane returned is ``H``, the pre-reset potential compared with θ and at which the
surrogate is evaluated; the post-reset ``V`` is a function of ``(H, S)`` and is never stored.
Memory: BPTT keeps ``S`` and ``H`` (8 B/element in float32).  The loops are
:mod:`refsnn.kernels._fused`'s with this charge and partials, ``p = (θ, V_reset, λ)``.

The layer: ``detach_reset=True`` (default, as the hybrid-conversion code resets with a hard
comparison) keeps the gradient out of the reset.  Study values: IF with per-layer θ from
threshold balancing for conversion; λ = 0.99 with the linear (a = 0.3) or spike-time
(α = 0.3, β = 0.01) surrogate for training.

>>> import numpy as np
>>> x = np.full((4, 1), 0.6, np.float32)
>>> if_out = lif_immediate(x, lam=1.0, theta=1.0, reset="soft")   # IF: 0.6, 1.2→0.2, 0.8, 1.4→0.4
>>> if_out.data.ravel().tolist()
[0.0, 1.0, 0.0, 1.0]
"""

from __future__ import annotations

import sys

from numba import njit

from refsnn.kernels import _fused
from refsnn.kernels._common import SOFT
from refsnn.kernels.codes import reset_code
from refsnn.neurons.base import FormNeuron, run_form
from refsnn.neurons.forms import Form, register_form
from refsnn.validation import check_interval, check_positive, check_real

STRICT = False  # Sharmin Eq. 3: S[t] = [H[t] ≥ θ]
IMMEDIATE = True  # V[t] = reset(H[t], S[t]) right after firing
PARAMS = ("theta", "v_reset", "lam")


@njit(inline="always")
def charge(v, r, x, p, mode, one):
    """``H[t] = λ·V[t-1] + X[t]`` with ``p = (θ, V_reset, λ)`` (``r``, ``mode`` unused)."""
    lam = p[2]
    return lam * v + x


@njit(inline="always")
def partials(h, s, p, mode, one):
    """``(λ, ∂V/∂H, ∂V/∂S)``: soft ``(λ, 1, −θ)``; hard ``(λ, 1 − S, V_reset − H)``."""
    theta, v_reset, lam = p
    if mode == SOFT:
        return lam, one, -theta
    return lam, one - s, v_reset - h


CUDA = {  # the same charge and partials for the template of accel.cupy._fused
    "charge": "lam * v + x",
    "partials": "leak = lam; if (reset == RS_RESET_SOFT) { cu = one; cs = -theta; } "
                "else { cu = one - s; cs = v_reset - h; }",
}


@njit(parallel=True, cache=True)
def _forward_nb(X, p, v0, mode, one, zero, S, H, bad):
    _fused.fused_forward(charge, STRICT, IMMEDIATE, X, p, v0, mode, one, zero, S, H, bad)


@njit(parallel=True, cache=True)
def _backward_nb(gS, has_gS, gH, has_gH, S, H, X, p, v0, mode, kind, c0, c1, table, detach,
                 grad_k, one, zero, dX, partial):
    _fused.fused_backward(partials, _fused.unit_gain, _fused.no_dcharge, STRICT, IMMEDIATE, gS,
                          has_gS, gH, has_gH, S, H, X, p, v0, mode, kind, c0, c1, table, detach,
                          grad_k, one, zero, dX, partial)


def _check(where, lam, theta, reset, v_reset):
    return (check_interval(where, "lam", lam, 0.0, 1.0, lo_open=True),
            check_positive(where, "theta", theta), reset_code(where, reset),
            check_real(where, "v_reset", v_reset))


def bind(where, lam, theta, reset, v_reset):
    """Kernel arguments → ``(p = (θ, V_reset, λ), reset code, v0 = 0)``."""
    return (theta, v_reset, lam), reset_code(where, reset), 0.0


def lif_immediate(x, lam=1.0, theta=1.0, reset="soft", v_reset=0.0, surrogate="linear",
                  detach_reset=True, return_membrane=False, smooth=False):
    """Form-2 LIF/IF over ``x [T, B, ...]``: spikes, or ``(spikes, H)`` with ``return_membrane``.

    ``lam`` ∈ (0, 1] (1 = IF); ``theta`` > 0; ``reset`` ``"soft"`` | ``"hard"`` (aliases
    ``"subtract"`` | ``"zero"``; ``v_reset`` is used by the hard reset only).
    """
    args = _check("lif_immediate", lam, theta, reset, v_reset)
    S, H = run_form("lif_immediate", FORM, x, args, surrogate, detach_reset, smooth)
    return (S, H) if return_membrane else S


class LIFImmediate(FormNeuron):
    """Form-2 layer: ``forward(x[T,B,...])``, ``step(x_t, state)``; ``state.v`` is post-reset ``V``.

    >>> import numpy as np
    >>> s, st = LIFImmediate(lam=0.5).step(np.array([1.5, 0.5], np.float32))
    >>> s.data.tolist(), st.v.data.tolist()
    ([1.0, 0.0], [0.5, 0.5])
    """

    form_name = "lif_immediate"

    def __init__(self, lam=1.0, theta=1.0, reset="soft", v_reset=0.0, surrogate="linear",
                 detach_reset=True, return_membrane=False):
        super().__init__(surrogate, detach_reset, return_membrane)
        self.lam, self.theta, self.reset_code, self.v_reset = _check(
            type(self).__name__, lam, theta, reset, v_reset)
        self.reset = reset

    def kernel_args(self):
        return self.lam, self.theta, self.reset_code, self.v_reset

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


FORM = register_form(Form(
    "lif_immediate", sys.modules[__name__], bind, membrane="H", layer=LIFImmediate,
    examples=(dict(lam=0.9, theta=1.0, reset="soft"), dict(lam=0.9, theta=1.1, reset="hard",
                                                           v_reset=-0.2), dict(lam=1.0)),
))
