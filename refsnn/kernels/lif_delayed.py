"""Form 1 — LIF with delayed reset (snnTorch ``Leaky``): fused forward and BPTT kernels.

Equations (per neuron, ``t = 1..T``, ``U[0] = 0``, ``S[0] = 0``)::

    R[t] = Θ(U[t-1] − θ) = S[t-1]                 (the reset decided one step late)
    soft / subtract (Reset.SOFT):  U[t] = β·U[t-1] + X[t] − R[t]·θ
    hard / zero     (Reset.HARD):  U[t] = β·(1 − R[t])·U[t-1] + X[t]
    S[t] = Θ(U[t] − θ)                             (Θ(x) = 1 if x > 0, strict)

BPTT (``δ[t] = dL/dU[t]``, ``δ[T+1] = 0``, ``g[t] = σ'(U[t] − θ)`` the surrogate)::

    δ[t] = gU[t] + g[t]·(gS[t] + [not detach]·δ[t+1]·∂U[t+1]/∂R) + δ[t+1]·∂U[t+1]/∂U[t]
    subtract: ∂U[t+1]/∂U[t] = β,            ∂U[t+1]/∂R = −θ
    zero:     ∂U[t+1]/∂U[t] = β·(1 − S[t]),  ∂U[t+1]/∂R = −β·U[t]
    dX[t] = δ[t]

Kernels (registered for the ``numpy`` backend; CuPy mirrors the signatures)::

    lif_delayed_forward(X, beta, theta, reset) -> (S [T,N], U [T,N])
    lif_delayed_backward(gS, gU, S, U, beta, theta, reset,
                         sg_kind, sg_a, sg_b, detach_reset) -> dX [T,N]

``X``, ``S``, ``U``, ``gS``, ``gU``, ``dX``: C-contiguous float32/float64
``[T, N]``, one dtype throughout (spikes are 0/1 floats); ``gS``/``gU`` may be
``None`` (zero, never allocated); ``reset`` a :class:`~refsnn.kernels.codes.Reset`
code (0 soft, 1 hard); scalars are Python floats.  ``U`` is the membrane
after charge and reset, the one compared with θ.  The forward counts the
non-finite entries of ``X`` in the same pass and raises ``ValueError`` with
the count when there are any.

Memory: BPTT keeps ``S`` and ``U`` (8 B per element in float32).  Traffic:
forward reads X and writes S, U (12 B/element in float32); backward reads gS,
U (and gU if given) and writes dX (12 B/element) — the Numba backward
recomputes ``S = [U > θ]`` from ``U`` instead of reading ``S`` (``S`` is read
only by the spike-time surrogate for ``Δt``).

The time loops, firing, BPTT recurrence and twins are :mod:`refsnn.kernels._fused`'s;
this form is its ``charge`` and ``partials`` (above) with ``p = (θ, 0, β)`` (no
``V_reset``: the reset is delayed, inside the charge), strict firing.
The NumPy twins (``*_twin``) are the readable definition, vectorised over N.
``lif_delayed_forward_twin(..., smooth=True, surrogate=(kind, a, b))``
replaces the output ``Θ`` by the surrogate's smooth primitive (float spikes)
and returns ``(S, U, R)``: ``R`` is what the reset used — the hard ``Θ`` when
``detach_reset`` (so the detached reset is piecewise constant and finite
differences agree with the analytic gradient), the smooth spikes otherwise.
Pass ``R`` as ``S`` to the backward twin to gradcheck BPTT.
"""

from __future__ import annotations

import sys

from numba import njit

from refsnn.backend import register_kernel
from refsnn.kernels import _fused
from refsnn.kernels._common import SOFT

STRICT = True  # S[t] = [U[t] > θ]
IMMEDIATE = False  # the reset acts one step late, inside the charge (R[t] = S[t-1])


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


# the same charge and partials in CUDA, for the template of accel.cupy._fused
CUDA = {
    "name": "lif_delayed", "M": "U", "strict": STRICT, "immediate": IMMEDIATE,
    "params": "F beta, F theta, int reset",
    "charge": "(reset == RS_RESET_SOFT) ? beta * v + x - r * theta : beta * (one - r) * v + x",
    "partials": "leak = one; if (reset == RS_RESET_SOFT) { cu = beta; cs = -theta; } "
                "else { cu = beta * (one - s); cs = -beta * h; }",
}


@njit(parallel=True, cache=True)
def _forward_nb(X, p, v0, mode, one, zero, S, U, bad):
    _fused.fused_forward(charge, STRICT, IMMEDIATE, X, p, v0, mode, one, zero, S, U, bad)


@njit(parallel=True, cache=True)
def _backward_nb(gS, has_gS, gU, has_gU, S, U, p, mode, kind, c0, c1, table, detach, one, zero,
                 dX):
    _fused.fused_backward(partials, STRICT, gS, has_gS, gU, has_gU, S, U, p, mode, kind, c0, c1,
                          table, detach, one, zero, dX)


def lif_delayed_forward_twin(
    X, beta, theta, reset, *, smooth=False, surrogate=(0, 25.0, 0.0), detach_reset=True
):
    """Readable forward: ``(S, U)``, or ``(S, U, R)`` when ``smooth`` (float spikes)."""
    return _fused.forward_twin(sys.modules[__name__], X, (theta, 0.0, beta), reset, smooth,
                               surrogate, detach_reset)


def lif_delayed_backward_twin(
    gS, gU, S, U, beta, theta, reset, sg_kind, sg_a, sg_b, detach_reset
):
    """Readable BPTT: ``dX`` (see module docstring); ``S`` = the spikes the reset used."""
    return _fused.backward_twin(sys.modules[__name__], gS, gU, S, U, (theta, 0.0, beta), reset,
                                sg_kind, sg_a, sg_b, detach_reset)


def lif_delayed_forward(X, beta, theta, reset):
    """Fused forward: ``(S [T,N], U [T,N])`` in X's dtype (see module docstring)."""
    return _fused.run_forward("lif_delayed_forward", _forward_nb, X, (theta, 0.0, beta), reset)


def lif_delayed_backward(gS, gU, S, U, beta, theta, reset, sg_kind, sg_a, sg_b, detach_reset):
    """Fused BPTT: ``dX [T,N]`` (see module docstring)."""
    return _fused.run_backward("lif_delayed_backward", _backward_nb, ("gS", "gU"), gS, gU, S, U,
                               (theta, 0.0, beta), reset, sg_kind, sg_a, sg_b, detach_reset)


register_kernel("numpy", "lif_delayed_forward", lif_delayed_forward)
register_kernel("numpy", "lif_delayed_backward", lif_delayed_backward)
