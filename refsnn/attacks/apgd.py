"""APGD under ``L∞`` (Croce & Hein 2020, "Reliable evaluation of adversarial robustness …").

A step-size-free PGD: momentum, and a step ``η`` per image halved at
checkpoints when progress stalls.  With ``N = steps``:

* start: ``x⁰ = clip(x + ε·t / max|t|)``, ``t ~ U(−1, 1)`` per image (on the
  ε-ball's surface in ``L∞``); ``η = 2ε``;
* step ``i``: ``z = P(xⁱ + η·sign(gⁱ))``, ``xⁱ⁺¹ = P(xⁱ + a·(z − xⁱ) + (1 − a)·(xⁱ − xⁱ⁻¹))``,
  ``a = 1`` at ``i = 0`` and ``0.75`` after (``P`` = projection onto the ε-ball,
  then the valid range); the loss and gradient at ``xⁱ⁺¹`` follow;
* checkpoints after the first ``⌊0.22 N⌋`` steps, then every ``k`` steps with
  ``k`` shrinking by ``⌊0.03 N⌋`` down to ``⌊0.06 N⌋`` (each at least 1): an
  image halves its ``η`` and restarts from its best point (and that point's
  gradient) when (1) its loss rose in at most ``ρ·k`` of the last ``k`` steps
  (``ρ = 0.75``) or (2) its ``η`` was not halved at the previous checkpoint
  and its best loss has not improved since.

Losses: per-sample cross-entropy (``"ce"``) or the difference-of-logits ratio
(``"dlr"``, ``−(z_y − max_{c≠y} z_c) / (z_π1 − z_π3 + 1e-12)``, π the sorted
order).  ``restarts`` runs again, each from a new random start, on the images
still classified correctly.  The result follows AutoAttack's convention: an
image fooled at any step of any restart is returned at the last point of its
first fooling restart that fools it; an image never fooled is returned **unchanged** (its robust
accuracy is what APGD measures).  This is torchattacks 3.5's ``APGD`` step for
step, including its checkpoint test comparing the first step's loss with a
zero "previous" loss.  A stochastic model goes through
:class:`~refsnn.attacks.eot.EOT` (mean gradient, mean loss, mean logits).
"""

from __future__ import annotations

import math

import numpy as np

from data_tools.batches import as_generator
from refsnn import autograd as ag
from refsnn.attacks.base import Attack, attack_mode
from refsnn.autograd import Tensor
from refsnn.backend import to_host, xp_of
from refsnn.validation import check_interval, check_mode

LOSSES = ("ce", "dlr")


def dlr_loss(logits, y) -> Tensor:
    """Per-sample DLR ``[B]`` (Croce & Hein Eq. 6, untargeted); needs at least 3 classes."""
    z = logits if isinstance(logits, Tensor) else Tensor(logits)
    if z.shape[1] < 3:
        raise ValueError(f"APGD: the DLR loss needs >= 3 classes, got logits of shape {z.shape}")
    xp = xp_of(z.data)
    order = xp.argsort(z.data, axis=1)
    rows = xp.arange(z.shape[0])
    top, third = order[:, -1], order[:, -3]
    runner = xp.where(top == y, order[:, -2], top)  # the best class other than y
    zy = z[rows, y]
    return -(zy - z[rows, runner]) / (z[rows, top] - z[rows, third] + 1e-12)


class APGD(Attack):
    """APGD-CE / APGD-DLR under ``L∞`` (see the module doc); untargeted.

    ``rng`` (Generator or int seed) draws the random starts.
    """

    name = "APGD"

    def __init__(self, model, eps: float = 8 / 255, steps: int = 10, restarts: int = 1, loss: str = "ce",
                 rho: float = 0.75, rng=None, clip=(0.0, 1.0)):
        super().__init__(model, clip=clip)
        self.eps = check_interval(self.name, "eps", eps, 0.0, math.inf)
        for name, value in (("steps", steps), ("restarts", restarts)):
            if int(value) != value or value < 1:
                raise ValueError(f"{self.name}: {name} must be an integer >= 1, got {value!r}")
        self.steps, self.restarts = int(steps), int(restarts)
        self.loss_name = LOSSES[check_mode(self.name, "loss", loss, LOSSES)]
        self.rho = check_interval(self.name, "rho", rho, 0.0, 1.0)
        self.rng = as_generator(rng, self.name)

    # ------------------------------------------------------------ pieces
    def start_direction(self, shape):
        """``t ~ U(−1, 1)`` of ``shape`` (a subclass may replay another framework's draw)."""
        return self.rng.uniform(-1.0, 1.0, size=shape)

    def _per_sample(self, out, y):
        return ag.cross_entropy(out, y, reduction="none") if self.loss_name == "ce" else dlr_loss(out, y)

    def _loss_grad(self, x, y):
        """``(loss [B], ∇_x Σ loss, logits)`` at ``x`` (host arrays for the bookkeeping)."""
        own = getattr(self.model, "loss_and_gradient", None)
        if callable(own):
            loss, grad, logits = own(x, y, self._per_sample)
            return to_host(loss), grad, to_host(logits)
        xt = Tensor(x.copy(), requires_grad=True)
        with ag.enable_grad(), attack_mode(self.model):
            out = self.model(xt)
            if not isinstance(out, Tensor) or out.ndim != 2:
                raise ValueError(f"{self.name}: the model must return logits [B, C], got "
                                 f"{type(out).__name__} of shape {getattr(out, 'shape', None)}")
            per = self._per_sample(out, y)
            if not per.requires_grad:
                raise RuntimeError(self._no_grad_message())
            per.sum().backward()
        return to_host(per.data), xt.grad, to_host(out.data)

    def _project(self, a, x):
        xp = xp_of(a)
        eps = a.dtype.type(self.eps)
        return self._clip(xp.minimum(xp.maximum(a, x - eps), x + eps))

    # ------------------------------------------------------------ one run
    def _single_run(self, x, y):
        """``(fooled [B] bool, last fooling point [B, ...])`` of one random start."""
        xp, b = xp_of(x), x.shape[0]
        n = self.steps
        k, k_min, k_decr = max(int(0.22 * n), 1), max(int(0.06 * n), 1), max(int(0.03 * n), 1)
        t = xp.asarray(self.start_direction(x.shape)).astype(x.dtype)
        tmax = xp.abs(t.reshape(b, -1)).max(axis=1).reshape((b,) + (1,) * (x.ndim - 1))
        adv = self._clip(x + x.dtype.type(self.eps) * t / tmax)
        best_adv = adv.copy()
        loss, grad, logits = self._loss_grad(adv, y)
        fooled = logits.argmax(axis=1) != to_host(y)
        best, grad_best, loss_best = adv.copy(), grad.copy(), loss.copy()
        step = np.full(b, 2.0 * self.eps)
        history = np.zeros((n + 1, b))  # row 0: the zero "previous" loss of the reference code
        last_best, reduced_last = loss_best.copy(), np.ones(b, bool)
        prev, since_check = adv.copy(), 0
        for i in range(n):
            a = x.dtype.type(0.75 if i > 0 else 1.0)
            eta = xp.asarray(step.astype(x.dtype)).reshape((b,) + (1,) * (x.ndim - 1))
            z = self._project(adv + eta * xp.sign(grad).astype(x.dtype), x)
            new = self._project(adv + (z - adv) * a + (adv - prev) * (1 - a), x)
            prev, adv = adv, new
            loss, grad, logits = self._loss_grad(adv, y)
            wrong = logits.argmax(axis=1) != to_host(y)
            best_adv[xp.asarray(wrong)] = adv[xp.asarray(wrong)]
            fooled |= wrong
            history[i + 1] = loss
            better = loss > loss_best
            best[xp.asarray(better)] = adv[xp.asarray(better)]
            grad_best[xp.asarray(better)] = grad[xp.asarray(better)]
            loss_best = np.where(better, loss, loss_best)
            since_check += 1
            if since_check == k:
                rises = (history[i + 2 - k:i + 2] > history[i + 1 - k:i + 1]).sum(axis=0)
                halve = (rises <= k * self.rho) | (~reduced_last & (last_best >= loss_best))
                reduced_last, last_best = halve.copy(), loss_best.copy()
                if halve.any():
                    step[halve] /= 2.0
                    idx = xp.asarray(halve)
                    adv[idx], grad[idx] = best[idx], grad_best[idx]
                since_check, k = 0, max(k - k_decr, k_min)
        return fooled, best_adv

    def perturb(self, x, y):
        xp = xp_of(x)
        _, _, logits = self._loss_grad(x, y)
        robust = logits.argmax(axis=1) == to_host(y)
        out = x.copy()
        for _ in range(self.restarts):
            todo = np.flatnonzero(robust)
            if todo.size == 0:
                break
            sel = xp.asarray(todo)
            fooled, found = self._single_run(x[sel], y[sel])
            hit = todo[fooled]
            out[xp.asarray(hit)] = found[xp.asarray(fooled)]
            robust[hit] = False
        return out

    def extra_repr(self) -> str:
        return (f"eps={self.eps:g}, steps={self.steps}, restarts={self.restarts}, loss={self.loss_name!r}, "
                f"rho={self.rho:g}")
