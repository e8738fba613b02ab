"""RFGSM and expectation over transformation (EOT) for stochastic models.

**RFGSM** (Tramèr et al. 2018, "Ensemble adversarial training"), in the
iterative form of torchattacks 3.5 that TGO's evaluations use: a random sign
step, then ``steps`` PGD steps of size ``α`` without a random start::

    x⁰   = clip_[lo,hi]( x + α · sign(N(0, 1)) )
    xᵏ⁺¹ = clip_[lo,hi]( x + clip_[−ε,ε]( xᵏ + α·sign(g(xᵏ)) − x ) )

Defaults ε = 8/255, α = 2/255, steps = 10 (torchattacks'); ``steps=1`` with
``α = ε/2`` is the paper's single step up to the projection.

**EOT** (Athalye et al. 2018): a model whose forward pass draws random
numbers (the noisy LIF of TGO, stochastic at evaluation) has a random input
gradient; an attack on one draw can look strong or weak by chance and hide
gradient masking.  :class:`EOT` wraps such a model so that every attack
uses the average over ``samples`` draws::

    g_EOT(x) = (1/n) · Σ_{i=1..n} ∇_x J(f_i(x), y)          f_i: the i-th forward draw

(``sign(g_EOT)`` equals the sign of the sum that torchattacks' EOTPGD uses.)
Any :class:`~refsnn.attacks.Attack` takes it in place of the model:
``PGD(EOT(net, samples=8), ...)`` is EOT-PGD.  For APGD, whose step-size rule
needs loss values, :meth:`EOT.loss_and_gradient` also returns the mean
per-sample loss and the mean logits of the draws.
"""

from __future__ import annotations

import math

from data_tools.batches import as_generator
from refsnn import autograd as ag
from refsnn.attacks.base import Attack, attack_mode, warn_alpha
from refsnn.autograd import Tensor
from refsnn.backend import xp_of
from refsnn.validation import check_interval


class RFGSM(Attack):
    """Random-start FGSM, iterated as torchattacks' ``RFGSM`` (see the module doc).

    ``rng`` (Generator or int seed) draws the start's ``sign(N(0, 1))``.

    >>> import numpy as np
    >>> from refsnn.nn import Linear
    >>> x = np.full((3, 4), 0.5, np.float32)
    >>> x_adv = RFGSM(Linear(4, 2, rng=0), eps=0.1, alpha=0.05, steps=3, rng=0)(x, np.array([0, 1, 0]))
    >>> bool(np.abs(x_adv - x).max() <= 0.1 + 1e-7)
    True
    """

    name = "RFGSM"

    def __init__(self, model, eps: float = 8 / 255, alpha: float = 2 / 255, steps: int = 10, rng=None,
                 **kwargs):
        super().__init__(model, **kwargs)
        self.eps = check_interval(self.name, "eps", eps, 0.0, math.inf)
        self.alpha = check_interval(self.name, "alpha", alpha, 0.0, math.inf)
        if int(steps) != steps or steps < 1:
            raise ValueError(f"{self.name}: steps must be an integer >= 1, got {steps!r}")
        self.steps = int(steps)
        self.rng = as_generator(rng, self.name)
        warn_alpha(self.name, self.alpha, self.eps, self.steps)

    def start_sign(self, shape):
        """``sign(N(0, 1))`` of ``shape`` from ``rng`` (±1; a subclass may replay another draw)."""
        return self.rng.choice([-1.0, 1.0], size=shape)

    def perturb(self, x, y):
        xp = xp_of(x)
        eps, alpha = x.dtype.type(self.eps), x.dtype.type(self.alpha)
        adv = self._clip(x + alpha * xp.asarray(self.start_sign(x.shape)).astype(x.dtype))
        for _ in range(self.steps):
            g = self.input_gradient(adv, y)
            adv = adv + alpha * xp.sign(g).astype(x.dtype, copy=False)
            adv = self._clip(x + xp.clip(adv - x, -eps, eps))
        return adv

    def extra_repr(self) -> str:
        return f"eps={self.eps:g}, alpha={self.alpha:g}, steps={self.steps}"


class EOT:
    """A stochastic ``model`` seen through ``samples`` forward draws (expectation over transformation).

    Calling it runs one draw (the plain forward).  :meth:`input_gradient` (used
    by every :class:`~refsnn.attacks.Attack`) averages ``samples`` input
    gradients; :meth:`loss_and_gradient` (used by APGD) also averages the
    per-sample losses and the logits.  The model's own randomness supplies
    the draws (a noisy neuron holds its Generator), so results are seeded by
    the model's seed.
    """

    def __init__(self, model, samples: int = 8):
        if not callable(model):
            raise TypeError(f"EOT: model must be callable, got {type(model).__name__}")
        if int(samples) != samples or samples < 1:
            raise ValueError(f"EOT: samples must be an integer >= 1, got {samples!r}")
        self.model, self.samples = model, int(samples)

    def __call__(self, x):
        return self.model(x)

    def loss_and_gradient(self, x, y, loss_per_sample):
        """``(mean loss [B], mean ∇_x Σ_b loss_b [B, ...], mean logits [B, C])`` over the draws."""
        total_loss = total_grad = total_logits = None
        for _ in range(self.samples):
            xt = Tensor(x.copy(), requires_grad=True)
            with ag.enable_grad(), attack_mode(self.model):
                out = self.model(xt)
                per = loss_per_sample(out, y)
                per.sum().backward()
            if xt.grad is None:
                raise RuntimeError("EOT: the model's output carries no gradient with respect to its input")
            total_grad = xt.grad if total_grad is None else total_grad + xt.grad
            total_loss = per.data if total_loss is None else total_loss + per.data
            total_logits = out.data if total_logits is None else total_logits + out.data
        n = self.samples
        return total_loss / n, total_grad / n, total_logits / n

    def input_gradient(self, x, y, loss):
        """``(1/n) Σ_i ∇_x loss(f_i(x), y)`` — the route :class:`~refsnn.attacks.Attack` takes."""
        total = None
        for _ in range(self.samples):
            xt = Tensor(x.copy(), requires_grad=True)
            with ag.enable_grad(), attack_mode(self.model):
                loss(self.model(xt), y).backward()
            if xt.grad is None:
                raise RuntimeError("EOT: the model's output carries no gradient with respect to its input")
            total = xt.grad if total is None else total + xt.grad
        return total / total.dtype.type(self.samples)

    def __repr__(self) -> str:
        return f"EOT({self.model!r}, samples={self.samples})"
