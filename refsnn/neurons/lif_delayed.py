"""Form 1 — LIF with delayed reset (the GAMIN study's neuron; snnTorch ``Leaky``): the whole form.

Per neuron, over ``t = 1..T`` from ``U[0] = 0``, ``S[0] = 0``::

    R[t] = Θ(U[t-1] − θ) = S[t-1]                 (the reset decided one step late)
    soft / subtract (Reset.SOFT):  U[t] = β·U[t-1] + X[t] − R[t]·θ
    hard / zero     (Reset.HARD):  U[t] = β·(1 − R[t])·U[t-1] + X[t]
    S[t] = Θ(U[t] − θ),   Θ(x) = [x > 0]          (strict)

BPTT (``δ[t] = dL/dU[t]``, ``δ[T+1] = 0``, ``g[t] = σ'(U[t] − θ)`` the surrogate)::

    δ[t] = gU[t] + g[t]·(gS[t] + [not detach]·δ[t+1]·∂U[t+1]/∂R) + δ[t+1]·∂U[t+1]/∂U[t]
    subtract: ∂U[t+1]/∂U[t] = β,            ∂U[t+1]/∂R = −θ
    zero:     ∂U[t+1]/∂U[t] = β·(1 − S[t]),  ∂U[t+1]/∂R = −β·U[t]
    dX[t] = δ[t]

Kernels (``numpy`` backend; ``accel.cupy`` mirrors them)::

    lif_delayed_forward(X, beta, theta, reset) -> (S [T,N], U [T,N])
    lif_delayed_backward(gS, gU, S, U, beta, theta, reset, sg_kind, sg_a, sg_b, detach_reset)

``X``, ``S``, ``U``, ``gS``, ``gU``, ``dX``: C-contiguous float32/float64 ``[T, N]``, one
dtype (spikes are 0/1 floats; ``gS``/``gU`` may be ``None``); ``reset`` a
:class:`~refsnn.kernels.codes.Reset` code or word.  The forward counts non-finite ``X`` in its
pass and raises ``ValueError``.  Memory: BPTT keeps ``S`` and ``U`` (8 B/element in float32).
The time loop, firing, BPTT recurrence and twins are :mod:`refsnn.kernels._fused`'s; this
file is the charge and partials above with ``p = (θ, 0, β)`` (the reset is inside the charge).

The layer: ``x`` is ``[T, B, ...]``; spikes and ``U`` have its shape and dtype.  With
``detach_reset=True`` (snnTorch's behaviour, the default) no gradient flows through ``R``.
Study values: β = 0.7, θ = 1, subtract, fast sigmoid k = 40.

>>> import numpy as np
>>> x = np.full((4, 1, 1), 0.6, np.float32)        # constant input 0.6
>>> s, u = lif_delayed(x, beta=0.7, theta=1.0, return_membrane=True)
>>> s.data.ravel().tolist(), [round(float(v), 4) for v in u.data.ravel()]
([0.0, 1.0, 0.0, 0.0], [0.6, 1.02, 0.314, 0.8198])

Cross-validation (``tests/neurons/test_lif_crossval.py``): snnTorch 1.0
``Leaky(beta, threshold, reset_mechanism, spike_grad=fast_sigmoid(slope=k))`` computes
``β·U + X − R·θ`` and ``β·((1 − R)·U) + X`` with ``R`` detached — the same spikes, membranes
and input gradients.  snnTorch has no ``detach_reset=False`` and this form is its default
``reset_delay=True`` only.
"""

from __future__ import annotations

import sys

from numba import njit

from refsnn.kernels import _fused
from refsnn.kernels._common import SOFT
from refsnn.kernels.codes import reset_code
from refsnn.neurons.base import FormNeuron, run_form
from refsnn.neurons.forms import Form, register_form
from refsnn.validation import check_interval, check_positive

STRICT = True  # S[t] = [U[t] > θ]
IMMEDIATE = False  # the reset acts one step late, inside the charge (R[t] = S[t-1])
PARAMS = ("theta", "v_reset", "beta")  # p, also the CUDA names


@njit(inline="always")
def charge(v, r, x, p, mode, one):
    """``U[t]`` from ``v = U[t-1]``, ``r = R[t]``, ``x = X[t]``, ``p = (θ, 0, β)``."""
    theta, _, beta = p
    if mode == SOFT:
        return beta * v + x - r * theta
    return beta * (one - r) * v + x


@njit(inline="always")
def partials(u, s, p, mode, one):
    """``(1, ∂U[t+1]/∂U[t], ∂U[t+1]/∂R)`` at ``U[t] = u``, ``S[t] = s``."""
    theta, _, beta = p
    if mode == SOFT:
        return one, beta, -theta
    return one, beta * (one - s), -beta * u


CUDA = {  # the same charge and partials for the template of accel.cupy._fused
    "charge": "(reset == RS_RESET_SOFT) ? beta * v + x - r * theta : beta * (one - r) * v + x",
    "partials": "leak = one; if (reset == RS_RESET_SOFT) { cu = beta; cs = -theta; } "
                "else { cu = beta * (one - s); cs = -beta * h; }",
}


@njit(parallel=True, cache=True)
def _forward_nb(X, p, v0, mode, one, zero, S, U, bad):
    _fused.fused_forward(charge, STRICT, IMMEDIATE, X, p, v0, mode, one, zero, S, U, bad)


@njit(parallel=True, cache=True)
def _backward_nb(gS, has_gS, gU, has_gU, S, U, X, p, v0, mode, kind, c0, c1, table, detach,
                 grad_k, one, zero, dX, partial):
    _fused.fused_backward(partials, _fused.unit_gain, _fused.no_dcharge, STRICT, IMMEDIATE, gS,
                          has_gS, gU, has_gU, S, U, X, p, v0, mode, kind, c0, c1, table, detach,
                          grad_k, one, zero, dX, partial)


def _check(where, beta, theta, reset):
    return (check_interval(where, "beta", beta, 0.0, 1.0), check_positive(where, "theta", theta),
            reset_code(where, reset))


def bind(where, beta, theta, reset):
    """Kernel arguments → ``(p = (θ, 0, β), reset code, v0 = 0)``."""
    return (theta, 0.0, beta), reset_code(where, reset), 0.0


def lif_delayed(x, beta=0.7, theta=1.0, reset="subtract", surrogate="fast_sigmoid",
                detach_reset=True, return_membrane=False, smooth=False):
    """Form-1 LIF over ``x [T, B, ...]``: spikes, or ``(spikes, U)`` with ``return_membrane``.

    ``beta`` ∈ [0, 1]; ``theta`` > 0; ``reset`` ``"subtract"`` | ``"zero"`` (the same as
    ``"soft"`` | ``"hard"``, see :class:`~refsnn.kernels.codes.Reset`); ``surrogate`` a name
    or a :class:`~refsnn.neurons.surrogate.Surrogate`; ``smooth`` (gradient checks only) uses
    the NumPy twin with smooth spikes.
    """
    args = _check("lif_delayed", beta, theta, reset)
    S, U = run_form("lif_delayed", FORM, x, args, surrogate, detach_reset, smooth)
    return (S, U) if return_membrane else S


class LIFDelayed(FormNeuron):
    """Form-1 LIF layer (delayed reset): ``forward(x[T,B,...])`` and ``step(x_t, state)``.

    >>> import numpy as np
    >>> lif = LIFDelayed(beta=0.7, theta=1.0)
    >>> s1, st = lif.step(np.full((1, 1), 0.6, np.float32))
    >>> s2, st = lif.step(np.full((1, 1), 0.6, np.float32), st)
    >>> s1.data.item(), s2.data.item(), round(st.v.data.item(), 4)
    (0.0, 1.0, 1.02)
    """

    form_name = "lif_delayed"

    def __init__(self, beta=0.7, theta=1.0, reset="subtract", surrogate="fast_sigmoid",
                 detach_reset=True, return_membrane=False):
        super().__init__(surrogate, detach_reset, return_membrane)
        self.beta, self.theta, self.reset_code = _check("LIFDelayed", beta, theta, reset)
        self.reset = reset

    def kernel_args(self):
        return self.beta, self.theta, self.reset_code

    def __repr__(self):
        return (f"LIFDelayed(beta={self.beta}, theta={self.theta}, reset={self.reset!r}, "
                f"surrogate={self.surrogate!r}, detach_reset={self.detach_reset})")


FORM = register_form(Form(
    "lif_delayed", sys.modules[__name__], bind, membrane="U", layer=LIFDelayed,
    examples=(dict(beta=0.8, theta=1.0, reset="subtract"), dict(beta=0.8, theta=0.9, reset="zero")),
))
