"""Shape primitives: reshape, transpose/permute, getitem, concat, stack.

Each moves elements without changing them, so each backward moves the
gradient back: reshape ↔ reshape, permute ↔ inverse permute, getitem ↔
scatter-add into zeros, concat/stack ↔ split.
"""

from __future__ import annotations

import numpy as np

from refsnn.autograd.function import Function
from refsnn.autograd.tensor import Tensor
from refsnn.backend import xp_of


class Reshape(Function):
    """``z = a.reshape(shape)``; ``da = g.reshape(a.shape)``."""

    def forward(self, a, shape):
        self.src = a.shape
        try:
            return a.reshape(shape)
        except ValueError as exc:
            raise ValueError(f"reshape: cannot reshape {a.shape} to {shape}") from exc

    def backward(self, g):
        return g.reshape(self.src), None


class Transpose(Function):
    """``z = a.transpose(axes)``; ``da = g.transpose(argsort(axes))``."""

    def forward(self, a, axes):
        self.axes = tuple(range(a.ndim))[::-1] if axes is None else tuple(axes)
        if sorted(ax % a.ndim for ax in self.axes) != list(range(a.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation for shape {a.shape}")
        return a.transpose(self.axes)

    def backward(self, g):
        return g.transpose(tuple(np.argsort([ax % g.ndim for ax in self.axes]))), None


class GetItem(Function):
    """``z = a[index]`` (basic or advanced indexing); ``da = zeros; da[index] += g``.

    Scatter-add (``xp.add.at``) makes repeated indices accumulate correctly.
    """

    def forward(self, a, index):
        self.src, self.index = a.shape, index
        return a[index]

    def backward(self, g):
        xp = xp_of(g)
        da = xp.zeros(self.src, dtype=g.dtype)
        xp.add.at(da, self.index, g)
        return da, None


class Concat(Function):
    """``z = concatenate(parts, axis)``; each part's gradient is its slice of ``g``."""

    def forward(self, *parts, axis=0):
        xp = xp_of(*parts)
        self.axis = axis
        self.sizes = [p.shape[axis] for p in parts]
        return xp.concatenate(parts, axis=axis)

    def backward(self, g):
        xp = xp_of(g)
        cuts = np.cumsum(self.sizes)[:-1].tolist()
        return tuple(xp.split(g, cuts, axis=self.axis))


class Stack(Function):
    """``z = stack(parts, axis)``; each part's gradient is ``g`` indexed along ``axis``."""

    def forward(self, *parts, axis=0):
        xp = xp_of(*parts)
        self.axis = axis
        return xp.stack(parts, axis=axis)

    def backward(self, g):
        xp = xp_of(g)
        return tuple(xp.moveaxis(g, self.axis, 0))


def reshape(a, shape):
    return Reshape.apply(a, tuple(shape))


def transpose(a, axes=None):
    return Transpose.apply(a, axes)


def permute(a, axes):
    return Transpose.apply(a, tuple(axes))


def getitem(a, index):
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return GetItem.apply(a, index)


def concat(parts, axis: int = 0):
    if not parts:
        raise ValueError("concat: need at least one tensor")
    return Concat.apply(*parts, axis=axis)


def stack(parts, axis: int = 0):
    if not parts:
        raise ValueError("stack: need at least one tensor")
    shapes = {tuple(p.shape) for p in parts}
    if len(shapes) > 1:
        raise ValueError(f"stack: all tensors need one shape; got {sorted(shapes)}")
    return Stack.apply(*parts, axis=axis)
