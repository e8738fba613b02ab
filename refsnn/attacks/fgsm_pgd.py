"""FGSM (Sharmin Eq. 1) and PGD (Eq. 2) under the ``L∞`` budget ``ε``.

Shapes: images ``x [B, ...]`` in ``clip = (lo, hi)``, labels ``y [B]``; the
result ``x_adv`` has ``x``'s shape and dtype.  ``g = ∇_x J(x, y)`` comes from
:meth:`Attack.input_gradient` (autograd/BPTT, or a model's own route); in
targeted mode ``g = ∇_x(−J(x, y_target))``.

FGSM (Goodfellow et al.; Sharmin Eq. 1)::

    x_adv = clip_[lo,hi]( x + ε · sign(g(x)) )

PGD (Madry et al.; Sharmin Eq. 2), ``x⁰ = x`` (or ``clip(x + U(−ε, ε))`` with
``random_start``), for ``k = 0 .. steps−1``::

    a       = xᵏ + α · sign(g(xᵏ))
    δ       = clip_[−ε, ε]( a − x )                       (projection onto the ε-ball)
    xᵏ⁺¹    = clip_[lo,hi]( x + δ )                       (then onto the valid range)

This is torchattacks 3.5's order of float operations, step for step, so the
two agree to float rounding; clipping to the ball and then to the range is the
projection onto their intersection (both are boxes and ``x`` lies in both).
``sign(0) = 0``: a pixel with an exactly zero gradient does not move.
"""

from __future__ import annotations

import math

from data_tools.batches import as_generator
from refsnn.attacks.base import Attack, warn_alpha
from refsnn.backend import xp_of
from refsnn.validation import check_interval


class FGSM(Attack):
    """Fast gradient sign method, one step of size ``eps`` (Sharmin Eq. 1).

    >>> import numpy as np
    >>> from refsnn.nn import Linear
    >>> net = Linear(4, 3, rng=0)
    >>> x = np.full((2, 4), 0.5, np.float32)
    >>> x_adv = FGSM(net, eps=0.1)(x, np.array([0, 2]))
    >>> float(np.abs(x_adv - x).max()) <= 0.1 + 1e-7
    True
    """

    name = "FGSM"

    def __init__(self, model, eps: float = 8 / 255, **kwargs):
        super().__init__(model, **kwargs)
        self.eps = check_interval(self.name, "eps", eps, 0.0, math.inf)

    def perturb(self, x, y):
        g = self.input_gradient(x, y)
        xp = xp_of(x)
        return self._clip(x + x.dtype.type(self.eps) * xp.sign(g).astype(x.dtype, copy=False))

    def extra_repr(self) -> str:
        return f"eps={self.eps:g}"


class PGD(Attack):
    """Projected gradient descent: ``steps`` signed steps of size ``alpha`` in the ``eps``-ball (Eq. 2).

    Defaults are the paper's: ``ε = 8/255``, ``α = 2/255``, ``k = 7``, no random
    start.  ``random_start=True`` draws ``U(−ε, ε)`` from ``rng`` (a Generator
    or int seed, required then) and clips to the valid range before the first step.
    ``α > ε`` gives an :class:`~refsnn.attacks.base.AttackWarning`.
    """

    name = "PGD"

    def __init__(self, model, eps: float = 8 / 255, alpha: float = 2 / 255, steps: int = 7,
                 random_start: bool = False, rng=None, **kwargs):
        super().__init__(model, **kwargs)
        self.eps = check_interval(self.name, "eps", eps, 0.0, math.inf)
        self.alpha = check_interval(self.name, "alpha", alpha, 0.0, math.inf)
        if int(steps) != steps or steps < 1:
            raise ValueError(f"{self.name}: steps must be an integer >= 1, got {steps!r}")
        self.steps = int(steps)
        self.random_start = bool(random_start)
        if self.random_start and rng is None:
            raise ValueError(f"{self.name}: random_start=True needs rng (a numpy Generator or an int seed)")
        self.rng = as_generator(rng, self.name) if self.random_start else None
        warn_alpha(self.name, self.alpha, self.eps, self.steps)

    def perturb(self, x, y):
        xp = xp_of(x)
        eps, alpha = x.dtype.type(self.eps), x.dtype.type(self.alpha)
        adv = x.copy()
        if self.random_start:
            noise = xp.asarray(self.rng.uniform(-self.eps, self.eps, size=x.shape).astype(x.dtype))
            adv = self._clip(adv + noise)
        for _ in range(self.steps):
            g = self.input_gradient(adv, y)
            adv = adv + alpha * xp.sign(g).astype(x.dtype, copy=False)
            delta = xp.clip(adv - x, -eps, eps)
            adv = self._clip(x + delta)
        return adv

    def extra_repr(self) -> str:
        return (f"eps={self.eps:g}, alpha={self.alpha:g}, steps={self.steps}, "
                f"random_start={self.random_start}")
