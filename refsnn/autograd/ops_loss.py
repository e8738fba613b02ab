"""Loss primitives and dropout: log_softmax, cross_entropy, mse_loss, dropout.

Each is one fused :class:`~refsnn.autograd.function.Function`, so a loss costs
one node in the graph and its backward is the closed-form gradient (for
cross-entropy the famous ``softmax − onehot``), not a chain of small ops.

Losses refuse NaN/inf inputs (a diverged model should stop loudly, not train
on garbage), labels outside ``[0, C)`` or of a non-integer dtype, and shapes
that do not match.

>>> import numpy as np
>>> from refsnn.autograd import Tensor
>>> logits = Tensor(np.zeros((2, 4), np.float32), requires_grad=True)
>>> loss = cross_entropy(logits, np.array([0, 3]))
>>> round(loss.item(), 6)  # uniform over 4 classes: ln 4
1.386294
>>> loss.backward(); logits.grad[0]
array([-0.375,  0.125,  0.125,  0.125], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from refsnn.autograd.function import Function
from refsnn.autograd.tensor import Tensor
from refsnn.backend import xp_of
from refsnn.validation import check_finite

REDUCTIONS = ("mean", "sum", "none")


class LogSoftmax(Function):
    """``z = x − max(x) − log Σ exp(x − max(x))`` along ``axis`` (any shape).

    Subtracting the max makes it exact for huge logits (no overflow in ``exp``).
    Backward, with ``p = exp(z)`` the softmax: ``dx = g − p · Σ_axis g``.

    Example: ``x = [0, ln 3]`` gives ``z = [ln ¼, ln ¾]``.
    """

    def forward(self, x, axis):
        xp = xp_of(x)
        self.axis = axis
        z = x - x.max(axis=axis, keepdims=True)
        z -= xp.log(xp.exp(z).sum(axis=axis, keepdims=True))
        self.z = z
        return z

    def backward(self, g):
        p = xp_of(g).exp(self.z)
        p *= g.sum(axis=self.axis, keepdims=True)
        return g - p, None


class CrossEntropy(Function):
    """Fused log-softmax + negative log-likelihood over classes.

    Shapes: ``logits [B, C]`` float, ``labels [B]`` integer in ``[0, C)``.
    Per sample ``ℓ_b = log Σ_c exp(x_bc) − x_{b,y_b}``; ``reduction`` gives
    ``mean_b ℓ_b`` (scalar), ``Σ_b ℓ_b`` (scalar) or ``ℓ`` itself ``[B]``.

    Backward: ``dx_bc = g_b · (softmax(x_b)_c − [c = y_b])`` where ``g_b`` is
    the incoming gradient (divided by ``B`` for ``mean``).

    Example: logits ``[[0, 0]]``, label ``[1]`` → ``ℓ = ln 2``,
    ``dx = [[½, −½]]``.
    """

    def forward(self, logits, labels, reduction):
        xp = xp_of(logits)
        self.labels, self.reduction = labels, reduction
        self.rows = xp.arange(logits.shape[0])
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = xp.exp(shifted)
        total = probs.sum(axis=1, keepdims=True)
        losses = xp.log(total[:, 0]) - shifted[self.rows, labels]
        probs /= total
        self.probs = probs
        if reduction == "mean":
            return losses.mean()
        if reduction == "sum":
            return losses.sum()
        return losses

    def backward(self, g):
        if self.reduction == "none":
            scale = g[:, None]
        elif self.reduction == "mean":
            scale = g / g.dtype.type(self.probs.shape[0])
        else:
            scale = g
        dx = self.probs * scale  # a fresh array: the saved softmax stays intact
        dx[self.rows, self.labels] -= scale[:, 0] if self.reduction == "none" else scale
        return dx, None, None


class MSELoss(Function):
    """Mean squared error ``ℓ = (pred − target)²`` reduced by ``mean``/``sum``/``none``.

    Shapes: ``pred`` and ``target`` identical (no broadcasting).  Backward:
    ``dpred = 2 · (pred − target) · g / n`` (``n`` = number of elements for
    ``mean``, else 1) and ``dtarget = −dpred``.

    Example: pred ``[1, 3]``, target ``[0, 0]`` → ``mean = 5``, ``dpred = [1, 3]``.
    """

    def forward(self, pred, target, reduction):
        self.diff, self.reduction = pred - target, reduction
        sq = self.diff * self.diff
        if reduction == "mean":
            return sq.mean()
        if reduction == "sum":
            return sq.sum()
        return sq

    def backward(self, g):
        scale = 2 * g
        if self.reduction == "mean":
            scale = scale / g.dtype.type(self.diff.size)
        d = self.diff * scale
        return (
            d if self.needs_input_grad[0] else None,
            -d if self.needs_input_grad[1] else None,
            None,
        )


class Dropout(Function):
    """Inverted dropout: ``z = x · m / (1 − p)`` with ``m ~ Bernoulli(1 − p)`` per element.

    The mask (already scaled by ``1/(1 − p)``) is drawn from the caller's
    ``numpy.random.Generator`` and reused in backward: ``dx = g · m / (1 − p)``.
    Expected value is unchanged, ``E[z] = x``, so evaluation needs no rescale.
    """

    def forward(self, x, p, rng):
        xp = xp_of(x)
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        keep = rng.random(x.shape, dtype=dtype) >= p
        mask = keep.astype(x.dtype)
        mask *= x.dtype.type(1.0 / (1.0 - p))
        self.mask = xp.asarray(mask)
        return x * self.mask

    def backward(self, g):
        return g * self.mask, None, None


# ---------------------------------------------------------------- entry points
def _reduction(name: str, reduction) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def log_softmax(x, axis: int = -1) -> Tensor:
    """``log(softmax(x))`` along ``axis``, computed stably (see :class:`LogSoftmax`)."""
    data = _data(x)
    if data.ndim == 0:
        raise ValueError("log_softmax: x must have at least one axis, got a scalar")
    if not -data.ndim <= axis < data.ndim:
        raise ValueError(f"log_softmax: axis {axis} out of range for shape {tuple(data.shape)}")
    if data.dtype.kind != "f":
        raise TypeError(f"log_softmax: x must be floating, got dtype {data.dtype}")
    return LogSoftmax.apply(x, axis)


def cross_entropy(logits, labels, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of ``logits [B, C]`` against integer ``labels [B]``.

    ``reduction``: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per-sample ``[B]``).
    Raises ``ValueError`` for NaN/inf logits, labels outside ``[0, C)``, wrong
    shapes, an empty batch with ``"mean"`` (``"sum"`` gives 0, ``"none"`` an
    empty array), and ``TypeError`` for non-integer labels.
    """
    _reduction("cross_entropy", reduction)
    x = _data(logits)
    if x.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be [B, C], got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"cross_entropy: logits must be floating, got dtype {x.dtype}")
    xp = xp_of(x)
    y = xp.asarray(_data(labels))
    if y.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: labels must be an integer array, got dtype {y.dtype}")
    if y.shape != (x.shape[0],):
        raise ValueError(
            f"cross_entropy: labels must have shape ({x.shape[0]},) to match logits "
            f"{tuple(x.shape)}, got {tuple(y.shape)}"
        )
    if x.shape[0] == 0 and reduction == "mean":
        raise ValueError("cross_entropy: empty batch (0 samples); the mean over no samples is undefined")
    check_finite("cross_entropy", "logits", x)
    if y.size:
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= x.shape[1]:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"cross_entropy: label {bad} out of range [0, {x.shape[1]}) for {x.shape[1]} classes"
            )
    return CrossEntropy.apply(logits, y, reduction)


def mse_loss(pred, target, reduction: str = "mean") -> Tensor:
    """Squared error between ``pred`` and ``target`` (same shape), mean/sum/none-reduced.

    A plain-array ``target`` is cast to ``pred``'s dtype; a Tensor target of
    another float dtype is a ``TypeError``.  NaN/inf in either, or an empty
    input with ``"mean"``, is a ``ValueError``.
    """
    _reduction("mse_loss", reduction)
    p = _data(pred)
    if p.dtype.kind != "f":
        raise TypeError(f"mse_loss: pred must be floating, got dtype {p.dtype}")
    if isinstance(target, Tensor):
        if target.dtype != p.dtype:
            raise TypeError(
                f"mse_loss: pred is {p.dtype} but target is {target.dtype}; cast one first"
            )
        t = target.data
    else:
        t = xp_of(p).asarray(target, dtype=p.dtype)
        target = t
    if tuple(t.shape) != tuple(p.shape):
        raise ValueError(
            f"mse_loss: pred shape {tuple(p.shape)} != target shape {tuple(t.shape)}"
        )
    if p.size == 0 and reduction == "mean":
        raise ValueError("mse_loss: empty input (0 elements); the mean over no elements is undefined")
    check_finite("mse_loss", "pred", p)
    check_finite("mse_loss", "target", t)
    return MSELoss.apply(pred, target, reduction)


def dropout(x, p: float, training: bool, rng) -> Tensor:
    """Inverted dropout of ``x`` with drop probability ``p`` in ``[0, 1)``.

    Identity (``x`` itself is returned) when ``training`` is false or ``p == 0``.
    ``rng`` must be a ``numpy.random.Generator``; the mask is drawn from it.

    >>> x = Tensor(np.ones(4, np.float32))
    >>> dropout(x, 0.5, True, np.random.default_rng(0)).data  # kept entries doubled
    array([2., 2., 2., 0.], dtype=float32)
    """
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)):
        raise TypeError(f"dropout: p must be a number in [0, 1), got {p!r}")
    p = float(p)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x if isinstance(x, Tensor) else Tensor(x)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"dropout: rng must be a numpy.random.Generator, got {type(rng).__name__}"
        )
    if _data(x).dtype.kind != "f":
        raise TypeError(f"dropout: x must be floating, got dtype {_data(x).dtype}")
    return Dropout.apply(x, p, rng)
