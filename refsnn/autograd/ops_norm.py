"""Batch normalisation (PyTorch ``F.batch_norm`` semantics) as one primitive.

Per channel ``c``, over the ``n`` values of that channel in the batch (all of
``N`` for ``[N, C]``; all of ``N·H·W`` for ``[N, C, H, W]``):

    training:  μ = mean(x),  σ² = mean((x − μ)²)            (biased)
               running_mean ← (1 − m)·running_mean + m·μ
               running_var  ← (1 − m)·running_var  + m·σ²·n/(n − 1)   (unbiased)
    eval:      μ = running_mean,  σ² = running_var
    both:      x̂ = (x − μ)/√(σ² + ε),   y = γ·x̂ + β

Example: ``x = [[1], [3]]`` in training mode gives ``μ = 2``, ``σ² = 1``,
``y ≈ [[−1], [1]]``; with ``m = 0.1`` the running variance moves from 1 to
``0.9·1 + 0.1·2 = 1.1`` (the unbiased variance of ``{1, 3}`` is 2).

>>> import numpy as np
>>> from refsnn.autograd import Tensor
>>> rm, rv = np.zeros(1, np.float32), np.ones(1, np.float32)
>>> y = batch_norm(Tensor(np.array([[1.0], [3.0]], np.float32)), None, None, rm, rv, True)
>>> np.round(y.data[:, 0], 4), rm, np.round(rv, 4)
(array([-1.,  1.], dtype=float32), array([0.2], dtype=float32), array([1.1], dtype=float32))
"""

from __future__ import annotations

from refsnn.autograd.function import Function
from refsnn.autograd.tensor import Tensor
from refsnn.backend import xp_of


class BatchNorm(Function):
    """``y = γ·(x − μ)/√(σ² + ε) + β`` per channel (axis 1); see the module docstring.

    Shapes: ``x [N, C]`` or ``[N, C, H, W]``; ``weight`` (γ) and ``bias`` (β) ``[C]``
    or ``None`` (then 1 and 0).  Running statistics are plain ``[C]`` arrays,
    updated in place in training mode.

    Backward, with ``ĝ = g·γ`` and ``r = 1/√(σ² + ε)``, sums over the ``n``
    values of a channel:

    * training (μ, σ² depend on x): ``dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))``;
    * eval (constants): ``dx = r·ĝ``;
    * ``dγ = Σ g·x̂``, ``dβ = Σ g``.
    """

    def forward(self, x, weight, bias, running_mean, running_var, training, momentum, eps):
        xp = xp_of(x)
        c = x.shape[1]
        self.axes = (0,) if x.ndim == 2 else (0, 2, 3)
        bshape = (1, c) + (1,) * (x.ndim - 2)
        n = x.size // c
        if training:
            mean = x.mean(axis=self.axes, keepdims=True)
            xhat = x - mean
            var = (xhat * xhat).mean(axis=self.axes, keepdims=True)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean.reshape(c).astype(running_mean.dtype)
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * n / (n - 1)) * var.reshape(c).astype(running_var.dtype)
        else:
            mean = xp.asarray(running_mean, dtype=x.dtype).reshape(bshape)
            var = xp.asarray(running_var, dtype=x.dtype).reshape(bshape)
            xhat = x - mean
        rstd = 1 / xp.sqrt(var + x.dtype.type(eps))
        xhat *= rstd
        self.xhat, self.rstd, self.weight, self.training = xhat, rstd, weight, training
        self.bshape = bshape
        if weight is None and bias is None:
            return xhat.copy()  # xhat is saved for backward; the output must not alias it
        y = xhat * weight.reshape(bshape) if weight is not None else xhat.copy()
        if bias is not None:
            y += bias.reshape(bshape)
        return y

    def backward(self, g):
        axes, xhat = self.axes, self.xhat
        dx = dw = db = None
        if self.needs_input_grad[0]:
            gh = g * self.weight.reshape(self.bshape) if self.weight is not None else g.copy()
            if self.training:
                gh -= gh.mean(axis=axes, keepdims=True)
                gh -= xhat * (g * xhat).mean(axis=axes, keepdims=True) * (
                    self.weight.reshape(self.bshape) if self.weight is not None else 1
                )
            gh *= self.rstd
            dx = gh
        if self.needs_input_grad[1]:
            dw = (g * xhat).sum(axis=axes)
        if self.needs_input_grad[2]:
            db = g.sum(axis=axes)
        return dx, dw, db, None, None, None, None, None


def _param(name: str, value, c: int, dtype):
    if value is None:
        return None
    data = value.data if isinstance(value, Tensor) else value
    if tuple(data.shape) != (c,):
        raise ValueError(f"batch_norm: {name} must have shape ({c},), got {tuple(data.shape)}")
    if data.dtype != dtype:
        raise TypeError(f"batch_norm: {name} is {data.dtype} but x is {dtype}; cast one first")
    return value


def _stat(name: str, value, c: int):
    if value is None:
        return None
    data = value.data if isinstance(value, Tensor) else value
    if not hasattr(data, "shape") or tuple(data.shape) != (c,):
        raise ValueError(
            f"batch_norm: {name} must be an array of shape ({c},), "
            f"got {getattr(data, 'shape', type(data).__name__)}"
        )
    if data.dtype.kind != "f":
        raise TypeError(f"batch_norm: {name} must be floating, got dtype {data.dtype}")
    return data


def batch_norm(x, weight, bias, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Batch-normalise ``x [N, C]`` or ``[N, C, H, W]`` over all axes but the channel axis 1.

    ``weight``/``bias``: Tensors ``[C]`` or ``None``.  ``running_mean``/``running_var``:
    plain ``[C]`` arrays, updated in place when ``training`` (either may be
    ``None`` there); required when not training.  ``momentum`` in ``[0, 1]``,
    ``eps > 0``.
    """
    xd = x.data if isinstance(x, Tensor) else x
    if xd.ndim not in (2, 4):
        raise ValueError(f"batch_norm: x must be [N, C] or [N, C, H, W], got shape {tuple(xd.shape)}")
    if xd.dtype.kind != "f":
        raise TypeError(f"batch_norm: x must be floating, got dtype {xd.dtype}")
    c = xd.shape[1]
    weight = _param("weight", weight, c, xd.dtype)
    bias = _param("bias", bias, c, xd.dtype)
    running_mean = _stat("running_mean", running_mean, c)
    running_var = _stat("running_var", running_var, c)
    if not 0.0 <= float(momentum) <= 1.0:
        raise ValueError(f"batch_norm: momentum must be in [0, 1], got {momentum}")
    if not float(eps) > 0.0:
        raise ValueError(f"batch_norm: eps must be > 0, got {eps}")
    if training:
        if xd.size // max(c, 1) < 2:
            raise ValueError(
                f"batch_norm: training needs more than 1 value per channel, got x {tuple(xd.shape)}"
            )
    elif running_mean is None or running_var is None:
        raise ValueError("batch_norm: evaluation (training=False) needs running_mean and running_var")
    return BatchNorm.apply(
        x, weight, bias, running_mean, running_var, bool(training), float(momentum), float(eps)
    )
