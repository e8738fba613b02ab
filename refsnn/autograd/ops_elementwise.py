"""Elementwise primitives and reductions.

Elementwise: exp, log, tanh, sigmoid, relu, clip, where — each backward is the
local derivative times the incoming gradient.  Reductions: sum, mean, max over
an axis (or all axes); max splits its gradient evenly between tied maxima.
"""

from __future__ import annotations

from refsnn.autograd.function import Function, unbroadcast
from refsnn.autograd.ops_basic import coerce
from refsnn.autograd.tensor import Tensor
from refsnn.backend import xp_of


class Exp(Function):
    """``z = eˣ``; ``dx = g·z``."""

    def forward(self, x):
        self.z = xp_of(x).exp(x)
        return self.z

    def backward(self, g):
        return (g * self.z,)


class Log(Function):
    """``z = ln x``; ``dx = g / x``."""

    def forward(self, x):
        self.x = x
        return xp_of(x).log(x)

    def backward(self, g):
        return (g / self.x,)


class Tanh(Function):
    """``z = tanh x``; ``dx = g·(1 − z²)``."""

    def forward(self, x):
        self.z = xp_of(x).tanh(x)
        return self.z

    def backward(self, g):
        return (g * (1 - self.z * self.z),)


class Sigmoid(Function):
    """``z = 1/(1 + e⁻ˣ)`` (computed stably for both signs); ``dx = g·z(1 − z)``."""

    def forward(self, x):
        xp = xp_of(x)
        e = xp.exp(-xp.abs(x))
        self.z = xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)
        return self.z

    def backward(self, g):
        return (g * self.z * (1 - self.z),)


class ReLU(Function):
    """``z = max(x, 0)``; ``dx = g·[x > 0]``."""

    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, g):
        return (g * self.mask,)


class Clip(Function):
    """``z = min(max(x, lo), hi)``; ``dx = g·[lo ≤ x ≤ hi]`` (gradient passes at the bounds)."""

    def forward(self, x, lo, hi):
        xp = xp_of(x)
        mask = xp.ones(x.shape, dtype=bool)
        if lo is not None:
            mask &= x >= lo
        if hi is not None:
            mask &= x <= hi
        self.mask = mask
        return xp.clip(x, lo, hi)

    def backward(self, g):
        return g * self.mask, None, None


class Where(Function):
    """``z = where(cond, a, b)``; ``da = g·cond``, ``db = g·¬cond`` (unbroadcast)."""

    def forward(self, cond, a, b):
        xp = xp_of(a, b)
        self.cond, self.shapes = cond, (a.shape, b.shape)
        return xp.where(cond, a, b)

    def backward(self, g):
        zero = g.dtype.type(0)
        da = unbroadcast(g * self.cond, self.shapes[0]) if self.needs_input_grad[1] else None
        db = None
        if self.needs_input_grad[2]:
            db = unbroadcast(xp_of(g).where(self.cond, zero, g), self.shapes[1])
        return None, da, db


class Sum(Function):
    """``z = Σ_axis x``; ``dx = broadcast(g)``."""

    def forward(self, x, axis, keepdims):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    def backward(self, g):
        xp = xp_of(g)
        if not self.keepdims and self.axis is not None:
            g = xp.expand_dims(g, _axes(self.axis, len(self.shape)))
        return xp.broadcast_to(g, self.shape).copy(), None, None


class Mean(Function):
    """``z = mean_axis x``; ``dx = broadcast(g) / n``."""

    def forward(self, x, axis, keepdims):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        self.n = x.size if axis is None else int(
            _prod(x.shape[a] for a in _axes(axis, x.ndim))
        )
        return x.mean(axis=axis, keepdims=keepdims)

    def backward(self, g):
        xp = xp_of(g)
        if not self.keepdims and self.axis is not None:
            g = xp.expand_dims(g, _axes(self.axis, len(self.shape)))
        return (xp.broadcast_to(g, self.shape) / g.dtype.type(self.n)).astype(g.dtype), None, None


class Max(Function):
    """``z = max_axis x``; ``dx = g·[x = z] / (number of ties)``."""

    def forward(self, x, axis, keepdims):
        self.x, self.axis, self.keepdims = x, axis, keepdims
        self.z = x.max(axis=axis, keepdims=True)
        return self.z if keepdims else x.max(axis=axis, keepdims=False)

    def backward(self, g):
        xp = xp_of(g)
        if not self.keepdims and self.axis is not None:
            g = xp.expand_dims(g, _axes(self.axis, self.x.ndim))
        mask = (self.x == self.z).astype(g.dtype)
        mask /= mask.sum(axis=self.axis, keepdims=True)
        return g * mask, None, None


def _axes(axis, ndim):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim for a in axes)


def _prod(values):
    out = 1
    for v in values:
        out *= v
    return out


def exp(x):
    return Exp.apply(x)


def log(x):
    return Log.apply(x)


def tanh(x):
    return Tanh.apply(x)


def sigmoid(x):
    return Sigmoid.apply(x)


def relu(x):
    return ReLU.apply(x)


def clip(x, lo=None, hi=None):
    return Clip.apply(x, lo, hi)


def where(cond, a, b):
    cond = cond.data if isinstance(cond, Tensor) else cond
    a, b = coerce(a, b, "where")
    return Where.apply(cond, a, b)


def sum(x, axis=None, keepdims=False):
    return Sum.apply(x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    return Mean.apply(x, axis, keepdims)


def max(x, axis=None, keepdims=False):
    return Max.apply(x, axis, keepdims)
