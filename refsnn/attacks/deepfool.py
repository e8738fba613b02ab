"""DeepFool (Moosavi-Dezfooli et al. 2016), multi-class, ``L2``, through autograd / BPTT.

BadSNN's trigger optimisation blends ``x + δ_DF(x)`` into its target
perturbation (Eq. 4), so DeepFool runs on any spiking model that returns
logits.  Per image, while it is still classified as its label ``y`` and
fewer than ``steps`` steps have run (torchattacks 3.5's ``DeepFool`` step for
step; it moves from the current point each step, no accumulated ``r``)::

    f = model(x) [C],  w_c = ∇_x f_c  [C, ...]                 (C backward passes)
    f'_c = f_c − f_y,  w'_c = w_c − w_y                          for every c ≠ y
    l = argmin_{c≠y} |f'_c| / ‖w'_c‖₂
    x ← clip_[lo,hi]( x + (1 + overshoot) · |f'_l| · w'_l / ‖w'_l‖₂² )

Defaults ``steps = 50``, ``overshoot = 0.02`` (BadSNN and torchattacks).  The
images still at their label are processed together as a batch — the model
must treat batch rows independently (evaluation mode, no batch statistics) —
and each class's gradient comes from its own forward and backward pass of the
batch (``C`` passes per step), so no graph is reused.  :meth:`DeepFool.perturb`
returns the images; :attr:`DeepFool.last_targets` holds the class each
image was pushed toward (its prediction once fooled).
"""

from __future__ import annotations

import math

import numpy as np

from refsnn import autograd as ag
from refsnn.attacks.base import Attack, attack_mode
from refsnn.autograd import Tensor
from refsnn.backend import to_host, xp_of
from refsnn.validation import check_interval


class DeepFool(Attack):
    """Untargeted multi-class DeepFool (see the module doc).

    >>> import numpy as np
    >>> from refsnn.nn import Linear
    >>> net = Linear(2, 3, rng=0)
    >>> x = np.full((4, 2), 0.5, np.float32)
    >>> y = net(x).data.argmax(1)
    >>> x_adv = DeepFool(net, steps=50, clip=(-10, 10))(x, y)
    >>> bool((net(x_adv).data.argmax(1) != y).all())
    True
    """

    name = "DeepFool"

    def __init__(self, model, steps: int = 50, overshoot: float = 0.02, clip=(0.0, 1.0)):
        super().__init__(model, clip=clip)
        if int(steps) != steps or steps < 1:
            raise ValueError(f"{self.name}: steps must be an integer >= 1, got {steps!r}")
        self.steps = int(steps)
        self.overshoot = check_interval(self.name, "overshoot", overshoot, 0.0, math.inf)
        self.last_targets = None

    def jacobian(self, x):
        """``(logits [B, C], J [C, B, ...])`` at ``x``: one forward + backward per class."""
        rows = []
        logits = None
        c = None
        k = 0
        while c is None or k < c:
            xt = Tensor(x.copy(), requires_grad=True)
            with ag.enable_grad(), attack_mode(self.model):
                out = self.model(xt)
                if not isinstance(out, Tensor) or out.ndim != 2:
                    raise ValueError(f"{self.name}: the model must return logits [B, C], got "
                                     f"{type(out).__name__} of shape {getattr(out, 'shape', None)}")
                if not out.requires_grad:
                    raise RuntimeError(self._no_grad_message())
                c = out.shape[1]
                out[:, k].sum().backward()
            logits = out.data if logits is None else logits
            rows.append(xt.grad)
            k += 1
        return logits, xp_of(x).stack(rows)

    def _step(self, x, y):
        """One DeepFool step for images ``x`` at labels ``y``: ``(new x, still correct [B], target [B])``."""
        xp = xp_of(x)
        logits, jac = self.jacobian(x)
        pred = to_host(logits.argmax(axis=1))
        y_host = to_host(y)
        correct = pred == y_host
        b = x.shape[0]
        rows = xp.arange(b)
        f_prime = logits - logits[rows, y][:, None]                    # [B, C]
        w_prime = jac - jac[y, rows][None]                              # [C, B, ...]
        norms = xp.sqrt((w_prime.reshape(w_prime.shape[0], b, -1) ** 2).sum(axis=2)).T   # [B, C]
        with np.errstate(divide="ignore", invalid="ignore"):
            value = xp.abs(f_prime) / norms
        value[rows, y] = xp.inf
        target = value.argmin(axis=1)
        w_l = w_prime[target, rows]                                     # [B, ...]
        col = (b,) + (1,) * (x.ndim - 1)
        norm2 = (norms[rows, target] ** 2).reshape(col)
        with np.errstate(divide="ignore", invalid="ignore"):           # a flat model (w' = 0) stays put
            delta = xp.where(norm2 > 0, xp.abs(f_prime[rows, target]).reshape(col) * w_l / norm2, 0)
        moved = self._clip(x + x.dtype.type(1 + self.overshoot) * delta.astype(x.dtype))
        keep = xp.asarray(correct).reshape((b,) + (1,) * (x.ndim - 1))
        return xp.where(keep, moved, x), correct, np.where(correct, to_host(target), pred)

    def perturb(self, x, y):
        xp = xp_of(x)
        adv = x.copy()
        active = np.arange(x.shape[0])
        targets = to_host(y).copy()
        for _ in range(self.steps):
            if active.size == 0:
                break
            sel = xp.asarray(active)
            moved, correct, target = self._step(adv[sel], y[sel])
            adv[sel] = moved
            targets[active] = target
            active = active[correct]
        self.last_targets = targets
        return adv

    def extra_repr(self) -> str:
        return f"steps={self.steps}, overshoot={self.overshoot:g}"
