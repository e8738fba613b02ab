"""The :class:`Attack` base: input checks, the loss, and ``∇_x J`` through autograd / BPTT.

An attack holds a *model* — any callable mapping a Tensor ``x [B, ...]`` to an
output the loss understands (by default logits ``[B, C]``): an ANN
:class:`~refsnn.nn.Module`, or an SNN wrapper that encodes ``x`` over ``T``
steps, runs the spiking layers and decodes.  Its input gradient is

    ``g = ∂J(model(x), y) / ∂x``                                   ``[B, ...]`` like ``x``

computed by one ``backward`` through the model's graph (backpropagation
through time for an SNN, with each neuron's surrogate ``dS/dU``).  A model that
supplies its own route — an object with a method
``input_gradient(x, y, loss) -> array [B, ...]`` such as the SNN-crafted
:class:`~refsnn.attacks.snn_crafted.Conv1Route` (Sharmin Eq. 5–6) — is used
through that method instead.

Conventions (those of torchattacks 3.5, so results cross-validate):

* ``J`` is cross-entropy averaged over the batch unless ``loss`` is given: any
  callable ``loss(output, y) -> scalar Tensor``.
* untargeted: ascend ``J(x, y_true)``; ``targeted=True``: ``y`` holds the
  *target* labels and the attack ascends ``−J(x, y_target)`` (descends the loss
  toward the target).
* a :class:`~refsnn.nn.Module` runs in evaluation mode during the attack
  (dropout off) and gets its mode back afterwards; its parameters are frozen
  for the attack, so no ``.grad`` of the model is touched.
* inputs are NumPy (or CuPy) arrays in the valid range ``clip = (lo, hi)``;
  the result has the input's dtype and shape.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from refsnn import autograd as ag
from refsnn.autograd import Tensor
from refsnn.backend import xp_of
from refsnn.oracle import Oracle
from refsnn.validation import check_finite


class AttackWarning(UserWarning):
    """A setting that runs but probably is not what was meant (e.g. ``α > ε``)."""


def _is_array(data) -> bool:
    """An array of some backend already (NumPy, a device array): kept as it is, never copied to the host."""
    return isinstance(data, np.ndarray) or hasattr(data, "__cuda_array_interface__")


def _host_labels(y, batch: int, where: str):
    data = y.data if isinstance(y, Tensor) else y
    arr = data if _is_array(data) else np.asarray(data)
    if arr.ndim != 1:
        raise ValueError(f"{where}: labels must be a 1-D integer array [B], got shape {tuple(arr.shape)}")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{where}: labels must be integers, got dtype {arr.dtype}")
    if arr.shape[0] != batch:
        raise ValueError(f"{where}: {arr.shape[0]} labels for a batch of {batch} images; "
                         f"give one label per image")
    return arr



@contextlib.contextmanager
def attack_mode(model):
    """Evaluation mode and frozen parameters for a Module during the attack; restored after."""
    if not (hasattr(model, "training") and callable(getattr(model, "parameters", None))):
        yield
        return
    was_training = bool(model.training)
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    if callable(getattr(model, "eval", None)):
        model.eval()
    for p in params:
        p.requires_grad = False
    try:
        yield
    finally:
        for p, f in zip(params, flags):
            p.requires_grad = f
        if was_training and callable(getattr(model, "train", None)):
            model.train(True)


class Attack:
    """Base of the gradient attacks; subclasses implement :meth:`perturb`.

    Parameters
    ----------
    model : callable ``Tensor [B, ...] -> output`` (logits ``[B, C]`` for the default loss),
        or an object with ``input_gradient(x, y, loss)``.
    loss : ``None`` (cross-entropy, batch mean) or a callable ``loss(output, y) -> scalar Tensor``.
    clip : ``(lo, hi)`` valid input range; inputs outside it are refused, outputs are clipped to it.
    targeted : ``y`` are target labels and the attack descends their loss (torchattacks' convention).
    """

    name = "Attack"

    def __init__(self, model, *, loss=None, clip=(0.0, 1.0), targeted: bool = False):
        if not callable(model) and not callable(getattr(model, "input_gradient", None)):
            raise TypeError(f"{self.name}: model must be callable (Tensor -> logits), got "
                            f"{type(model).__name__}")
        if loss is not None and not callable(loss):
            raise TypeError(f"{self.name}: loss must be None (cross-entropy) or a callable "
                            f"loss(output, y) -> scalar Tensor, got {type(loss).__name__}")
        lo, hi = (float(c) for c in clip)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"{self.name}: clip must be a finite range (lo, hi) with lo < hi, got {clip!r}")
        self.model, self.loss, self.clip, self.targeted = model, loss, (lo, hi), bool(targeted)

    # ------------------------------------------------------------------ checks
    def _check_inputs(self, x, y):
        data = x.data if isinstance(x, Tensor) else x
        if not _is_array(data):
            data = np.asarray(data)
        if data.dtype.kind != "f":
            raise TypeError(f"{self.name}: images must be floating (scaled to {self.clip}), "
                            f"got dtype {data.dtype}")
        if data.ndim < 2 or data.shape[0] == 0:
            raise ValueError(f"{self.name}: images must be a non-empty batch [B, ...], got shape "
                             f"{tuple(data.shape)}")
        check_finite(self.name, "images", data)
        lo, hi = float(data.min()), float(data.max())
        if lo < self.clip[0] or hi > self.clip[1]:
            raise ValueError(f"{self.name}: images span [{lo:g}, {hi:g}], outside the declared range "
                             f"clip={self.clip}; rescale them or pass the right clip")
        return data, _host_labels(y, data.shape[0], self.name)

    # --------------------------------------------------------------- gradient
    def _loss(self, output, y):
        if not isinstance(output, Tensor):
            if isinstance(self.model, Oracle):
                raise RuntimeError(self._no_grad_message())  # it answers arrays, never a graph
            if self.loss is None:
                raise ValueError(f"{self.name}: the model must return logits [B, C] (a Tensor) for the "
                                 f"default cross-entropy, got {type(output).__name__} of shape "
                                 f"{getattr(output, 'shape', None)}")
        if self.loss is None:
            if output.ndim != 2:
                raise ValueError(f"{self.name}: the model must return logits [B, C] for the default "
                                 f"cross-entropy, got a Tensor of shape {output.shape}")
            n_cls = output.shape[1]
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= n_cls:
                raise ValueError(f"{self.name}: labels must lie in [0, {n_cls}) for a model with {n_cls} "
                                 f"outputs, got values in [{lo}, {hi}]")
            return ag.cross_entropy(output, y)
        return self.loss(output, y)

    def input_gradient(self, x, y):
        """``∂J/∂x`` (``targeted``: ``∂(−J)/∂x``) at ``x`` as an array shaped like ``x``."""
        own = getattr(self.model, "input_gradient", None)
        if callable(own):
            g = own(x, y, self._loss)
            return -g if self.targeted else g
        xt = Tensor(x.copy(), requires_grad=True)
        with ag.enable_grad(), attack_mode(self.model):
            out = self.model(xt)
            cost = self._loss(out, y)
            if not isinstance(cost, Tensor) or cost.size != 1:
                raise ValueError(f"{self.name}: the loss must return a scalar Tensor, got "
                                 f"{type(cost).__name__} of shape {getattr(cost, 'shape', None)}")
            if not cost.requires_grad:
                raise RuntimeError(self._no_grad_message())
            cost.backward()
        if xt.grad is None:
            raise RuntimeError(self._no_grad_message())
        return -xt.grad if self.targeted else xt.grad  # ∇(−J) = −∇J exactly (negation is exact)

    def _no_grad_message(self) -> str:
        return (f"{self.name}: the model's output carries no gradient with respect to its input, so a "
                f"white-box attack cannot run (is it under no_grad, an Oracle, or a rate-coded SNN whose "
                f"encoder cuts the graph?  Use a differentiable encoder, the SNN-crafted Conv1Route, "
                f"or a transfer attack from a surrogate model)")

    # ------------------------------------------------------------------- call
    def perturb(self, x, y):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x, y):
        """``x_adv`` for images ``x [B, ...]`` (in ``clip``) and labels ``y [B]``; same dtype as ``x``."""
        data, labels = self._check_inputs(x, y)
        out = self.perturb(data, labels)
        return out.astype(data.dtype, copy=False)

    def _clip(self, a):
        xp = xp_of(a)
        return xp.clip(a, a.dtype.type(self.clip[0]), a.dtype.type(self.clip[1]))

    def __repr__(self) -> str:
        return f"{self.name}({self.extra_repr()}, clip={self.clip}, targeted={self.targeted})"

    def extra_repr(self) -> str:
        return ""


def warn_alpha(where: str, alpha: float, eps: float, steps: int) -> None:
    """Warn when the step ``α`` exceeds the budget ``ε`` (every step is then cut back by the projection)."""
    if alpha > eps:
        warnings.warn(f"{where}: alpha={alpha:g} > eps={eps:g} with steps={steps}: every step overshoots "
                      f"the eps-ball and is cut back by the projection (the paper uses alpha <= eps)",
                      AttackWarning, stacklevel=3)
