"""Form 2 — LIF / IF with immediate reset (Sharmin et al.; hybrid-conversion style).

Equations (per neuron, ``t = 1..T``, ``V[0] = 0``)::

    H[t] = λ·V[t-1] + X[t]                     (charge; λ = 1 is IF)
    S[t] = [H[t] − θ ≥ 0]                      (Sharmin Eq. 3: fires on *reaching* θ)
    soft (Reset.SOFT): V[t] = H[t] − θ·S[t]
    hard (Reset.HARD): V[t] = (1 − S[t])·H[t] + S[t]·V_reset

BPTT (``δH[t] = dL/dH[t]``, ``δV[t] = λ·δH[t+1]``, ``δV[T] = 0``, ``g[t] = σ'(H[t] − θ)``)::

    δH[t] = gH[t] + g[t]·(gS[t] + [not detach]·δV[t]·∂V/∂S) + δV[t]·∂V/∂H
    soft: ∂V/∂H = 1,          ∂V/∂S = −θ
    hard: ∂V/∂H = 1 − S[t],   ∂V/∂S = V_reset − H[t]
    dX[t] = δH[t]

Kernels (``numpy`` backend; CuPy mirrors the signatures)::

    lif_immediate_forward(X, lam, theta, reset, v_reset) -> (S [T,N], H [T,N])
    lif_immediate_backward(gS, gH, S, H, lam, theta, reset, v_reset,
                           sg_kind, sg_a, sg_b, detach_reset) -> dX [T,N]

The returned membrane is ``H``, the pre-reset potential that is compared with
θ and at which the surrogate is evaluated; ``gH`` is the gradient with respect
to it (``None`` = zero).  The post-reset ``V`` is a function of ``(H, S)``
(formulas above) and is never stored.  ``reset`` 0 = soft, 1 = hard.  Spikes
are 0/1 floats in X's dtype; the forward counts non-finite ``X`` entries in
its pass and raises ``ValueError`` with the count.

Memory: BPTT keeps ``S`` and ``H`` — 8 B per element in float32.  Traffic:
forward 12 B/element (X in, S and H out), backward 12 B/element (gS, H in, dX
out; ``S`` is recomputed as ``[H ≥ θ]``, read only for the spike-time
surrogate).

The time loops, firing, shared reset, BPTT recurrence and twins are
:mod:`refsnn.kernels._fused`'s; this form is its ``charge`` and ``partials``
(above) with ``p = (θ, V_reset, λ)``, firing on ``≥``, immediate reset.

Twins: ``lif_immediate_forward_twin(..., smooth=True, surrogate=(k, a, b),
detach_reset=...)`` returns ``(S float, H, R)`` with ``R`` the spikes the
reset used (hard ``Θ`` when detached, smooth otherwise); pass ``R`` as ``S``
to ``lif_immediate_backward_twin`` for gradient checks.
"""

from __future__ import annotations

import sys

from numba import njit

from refsnn.backend import register_kernel
from refsnn.kernels import _fused
from refsnn.kernels._common import SOFT

STRICT = False  # Sharmin Eq. 3: S[t] = [H[t] ≥ θ]
IMMEDIATE = True  # V[t] = reset(H[t], S[t]) right after firing


@njit(inline="always")
def charge(v, r, x, p, mode, one):
    """``H[t] = λ·V[t-1] + X[t]`` with ``p = (θ, V_reset, λ)`` (``r``, ``mode`` unused)."""
    lam = p[2]
    return lam * v + x


@njit(inline="always")
def partials(h, s, p, mode, one):
    """``(λ, ∂V/∂H, ∂V/∂S)`` at ``H[t] = h``, ``S[t] = s``.

    Soft: ``(λ, 1, −θ)``; hard: ``(λ, 1 − S, V_reset − H)``.
    """
    theta, v_reset, lam = p
    if mode == SOFT:
        return lam, one, -theta
    return lam, one - s, v_reset - h


# the same charge and partials in CUDA, for the template of accel.cupy._fused
CUDA = {
    "name": "lif_immediate", "M": "H", "strict": STRICT, "immediate": IMMEDIATE,
    "params": "F lam, F theta, int reset, F v_reset",
    "charge": "lam * v + x",
    "partials": "leak = lam; if (reset == RS_RESET_SOFT) { cu = one; cs = -theta; } "
                "else { cu = one - s; cs = v_reset - h; }",
}


@njit(parallel=True, cache=True)
def _forward_nb(X, p, v0, mode, one, zero, S, H, bad):
    _fused.fused_forward(charge, STRICT, IMMEDIATE, X, p, v0, mode, one, zero, S, H, bad)


@njit(parallel=True, cache=True)
def _backward_nb(gS, has_gS, gH, has_gH, S, H, p, mode, kind, c0, c1, table, detach, one, zero,
                 dX):
    _fused.fused_backward(partials, STRICT, gS, has_gS, gH, has_gH, S, H, p, mode, kind, c0, c1,
                          table, detach, one, zero, dX)


def lif_immediate_forward_twin(
    X, lam, theta, reset, v_reset, *, smooth=False, surrogate=(4, 0.3, 0.0), detach_reset=True
):
    """Readable forward: ``(S, H)``, or ``(S, H, R)`` when ``smooth`` (float spikes)."""
    return _fused.forward_twin(sys.modules[__name__], X, (theta, v_reset, lam), reset, smooth,
                               surrogate, detach_reset)


def lif_immediate_backward_twin(
    gS, gH, S, H, lam, theta, reset, v_reset, sg_kind, sg_a, sg_b, detach_reset
):
    """Readable BPTT: ``dX`` (see module docstring); ``S`` = the spikes the reset used."""
    return _fused.backward_twin(sys.modules[__name__], gS, gH, S, H, (theta, v_reset, lam), reset,
                                sg_kind, sg_a, sg_b, detach_reset)


def lif_immediate_forward(X, lam, theta, reset, v_reset):
    """Fused forward: ``(S [T,N], H [T,N])`` in X's dtype (see module docstring)."""
    return _fused.run_forward("lif_immediate_forward", _forward_nb, X, (theta, v_reset, lam),
                              reset)


def lif_immediate_backward(gS, gH, S, H, lam, theta, reset, v_reset, sg_kind, sg_a, sg_b,
                           detach_reset):
    """Fused BPTT: ``dX [T,N]`` (see module docstring)."""
    return _fused.run_backward("lif_immediate_backward", _backward_nb, ("gS", "gH"), gS, gH, S, H,
                               (theta, v_reset, lam), reset, sg_kind, sg_a, sg_b, detach_reset)


register_kernel("numpy", "lif_immediate_forward", lif_immediate_forward)
register_kernel("numpy", "lif_immediate_backward", lif_immediate_backward)
