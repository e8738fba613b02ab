"""TGO's threshold-guarding membrane constraint (Eq. 12–13) and its cosine λ ramp.

TGO (Wang, Zhang et al., ICLR 2026; what the public sources state is in
``../shared/papers/003-tgo-details.md``) penalises membrane potentials that sit
within a margin ``δ`` of the threshold, where the surrogate gradient peaks and
a small input change flips a spike.  Per spiking layer ``l`` with pre-reset
membranes ``H [T, B, ...]`` (the potential compared with ``θ``):

    C(H_l) = mean_{t, b, i} max(0, δ − |H[t, b, i] − θ|)^p          (Eq. 12; p = 1)
    L      = Loss + λ · Σ_l C(H_l)                                    (Eq. 13)

The paper calls C an "average quadratic penalty" while its formula is the
linear hinge: ``power=1`` is the formula as printed, ``power=2`` the squared
hinge the wording suggests; report both.  Eq. 12 normalises by ``T·N``; the
mean here also runs over the batch, so C does not grow with the batch size.

``λ`` rises from ``λ_min`` to ``λ_max`` on a cosine over the training epochs
(the source gives "cosine annealing from small to large", λ_max = 0.4 for
WRN-16 and 0.6 for VGG-11; the exact formula is cut off in the source):

    λ(e) = λ_max − (λ_max − λ_min) · (1 + cos(π · min(e, E) / E)) / 2

``δ`` is not stated anywhere; the default ``δ = 0.2·θ`` is our choice (sweep it).

>>> import numpy as np
>>> H = np.array([[[0.95, 1.5, 0.7, 1.0]]])            # T = 1, B = 1, four neurons, θ = 1, δ = 0.2
>>> float(membrane_constraint([H], theta=1.0, delta=0.2).data)   # (0.15 + 0 + 0 + 0.2) / 4
0.0875
"""

from __future__ import annotations

import math

from refsnn.autograd import Function, Tensor
from refsnn.backend import xp_of
from refsnn.validation import check_interval, check_positive, check_real

__all__ = ["ThresholdHinge", "threshold_hinge", "membrane_constraint", "CosineRamp"]


class ThresholdHinge(Function):
    """``z = m^p``, ``m = max(0, δ − |h − θ|)`` element-wise; ``dh = −g·p·m^{p−1}·sign(h − θ)·[m > 0]``.

    Shapes: ``h`` any; ``z`` like ``h``.  At ``h = θ`` exactly, ``sign = 0``: the
    subgradient 0 is taken (the hinge's peak).
    """

    def forward(self, h, *, theta, delta, power):
        xp = xp_of(h)
        self.d = h - h.dtype.type(theta)
        self.inside = xp.maximum(h.dtype.type(delta) - xp.abs(self.d), 0).astype(h.dtype, copy=False)
        self.power = power
        return self.inside if power == 1 else self.inside ** power

    def backward(self, g):
        xp = xp_of(g)
        slope = (self.inside > 0) if self.power == 1 else self.power * self.inside ** (self.power - 1)
        return (-g * slope * xp.sign(self.d),)


def threshold_hinge(h, theta: float = 1.0, delta: float = 0.2, power: int = 1) -> Tensor:
    """:class:`ThresholdHinge` of ``h`` (a Tensor or array) with checked arguments."""
    theta = check_real("threshold_hinge", "theta", theta)
    delta = check_interval("threshold_hinge", "delta", delta, 0.0, math.inf)
    if power not in (1, 2):
        raise ValueError(f"threshold_hinge: power must be 1 (Eq. 12 as printed) or 2 (squared hinge), "
                         f"got {power!r}")
    h = h if isinstance(h, Tensor) else Tensor(h)
    if h.dtype.kind != "f":
        raise TypeError(f"threshold_hinge: membranes must be floating point, got {h.dtype}")
    return ThresholdHinge.apply(h, theta=theta, delta=delta, power=power)


def membrane_constraint(membranes, theta=1.0, delta: float = 0.2, power: int = 1) -> Tensor:
    """``Σ_l C(H_l)`` over a list of per-layer membranes ``H_l [T, B, ...]`` (Eq. 12 summed as in Eq. 13).

    ``theta`` is one threshold or one per layer.
    """
    membranes = list(membranes)
    if not membranes:
        raise ValueError("membrane_constraint: no membranes given (collect each spiking layer's H)")
    thetas = list(theta) if isinstance(theta, (list, tuple)) else [theta] * len(membranes)
    if len(thetas) != len(membranes):
        raise ValueError(f"membrane_constraint: {len(thetas)} thresholds for {len(membranes)} layers")
    total = None
    for h, th in zip(membranes, thetas):
        c = threshold_hinge(h, th, delta, power).mean()
        total = c if total is None else total + c
    return total


class CosineRamp:
    """``λ(e)``: a cosine rise from ``lam_min`` at epoch 0 to ``lam_max`` at ``epochs`` (held after).

    >>> ramp = CosineRamp(lam_max=0.6, epochs=4)
    >>> [round(ramp(e), 4) for e in range(6)]
    [0.0, 0.0879, 0.3, 0.5121, 0.6, 0.6]
    """

    def __init__(self, lam_max: float, epochs: int, lam_min: float = 0.0):
        self.lam_max = check_interval("CosineRamp", "lam_max", lam_max, 0.0, math.inf)
        self.lam_min = check_interval("CosineRamp", "lam_min", lam_min, 0.0, self.lam_max)
        self.epochs = int(check_positive("CosineRamp", "epochs", epochs))

    def __call__(self, epoch: int) -> float:
        if epoch < 0:
            raise ValueError(f"CosineRamp: epoch must be >= 0, got {epoch}")
        e = min(epoch, self.epochs)
        return self.lam_max - (self.lam_max - self.lam_min) * (1 + math.cos(math.pi * e / self.epochs)) / 2
