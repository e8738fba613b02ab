"""Arithmetic primitives: add, sub, mul, div, neg, pow, matmul, cast.

Binary ops broadcast like NumPy; their backward sums the gradient back to each
input's shape (:func:`~refsnn.autograd.function.unbroadcast`).  Python scalars
take the other operand's dtype; two floating operands of different dtypes are
an error (no silent float64 promotion).
"""

from __future__ import annotations

import numpy as np

from refsnn.autograd.function import Function, unbroadcast
from refsnn.autograd.tensor import Tensor
from refsnn.backend import xp_of


def coerce(a, b, op: str):
    """Return ``(a, b)`` with scalars/arrays cast to the tensor operand's dtype.

    Raises ``TypeError`` when both are floating with different dtypes.
    """
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    da = a.data if ta else a
    db = b.data if tb else b
    if ta and tb:
        if da.dtype != db.dtype and da.dtype.kind == "f" and db.dtype.kind == "f":
            raise TypeError(f"{op}: mismatched dtypes {da.dtype} and {db.dtype}; cast one first")
        return a, b
    ref = da if ta else db
    other = db if ta else da
    if hasattr(other, "dtype") and hasattr(other, "shape") and not isinstance(other, np.generic):
        if other.dtype.kind == "f" and ref.dtype.kind == "f" and other.dtype != ref.dtype:
            raise TypeError(f"{op}: mismatched dtypes {ref.dtype} and {other.dtype}; cast one first")
    else:
        other = xp_of(ref).asarray(other, dtype=ref.dtype if ref.dtype.kind == "f" else None)
    return (a, other) if ta else (other, b)


class Add(Function):
    """``z = a + b`` (broadcasting); ``da = unbroadcast(g)``, ``db = unbroadcast(g)``."""

    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a + b

    def backward(self, g):
        return unbroadcast(g, self.shapes[0]), unbroadcast(g, self.shapes[1])


class Sub(Function):
    """``z = a − b``; ``da = g``, ``db = −g`` (each unbroadcast)."""

    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        return a - b

    def backward(self, g):
        return unbroadcast(g, self.shapes[0]), unbroadcast(-g, self.shapes[1])


class Mul(Function):
    """``z = a · b``; ``da = g·b``, ``db = g·a``."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        da = unbroadcast(g * self.b, self.a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(g * self.a, self.b.shape) if self.needs_input_grad[1] else None
        return da, db


class Div(Function):
    """``z = a / b``; ``da = g / b``, ``db = −g·a / b²``."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        da = unbroadcast(g / self.b, self.a.shape) if self.needs_input_grad[0] else None
        db = None
        if self.needs_input_grad[1]:
            db = unbroadcast(-g * self.a / (self.b * self.b), self.b.shape)
        return da, db


class Neg(Function):
    """``z = −a``; ``da = −g``."""

    def forward(self, a):
        return -a

    def backward(self, g):
        return (-g,)


class Pow(Function):
    """``z = a ** p`` for a constant scalar ``p``; ``da = g · p · a^(p−1)``."""

    def forward(self, a, p):
        self.a, self.p = a, p
        return a**p

    def backward(self, g):
        return g * (self.p * self.a ** (self.p - 1)), None


class MatMul(Function):
    """``Z = A @ B`` for 2-D ``A [m,k]``, ``B [k,n]`` (or batched ``[..., m, k]``).

    ``dA = G @ Bᵀ``, ``dB = Aᵀ @ G`` (summed over broadcast batch axes).
    """

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: operands must be at least 1-D; got {a.shape} @ {b.shape}")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(f"matmul: shapes {a.shape} @ {b.shape} do not align")
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if b.ndim == 1:  # restore the dropped n axis first: 1-D @ 1-D gives a 0-d g
            g2 = g2[..., None]
        if a.ndim == 1:
            g2 = g2[..., None, :]
        da = db = None
        if self.needs_input_grad[0]:
            da = unbroadcast(g2 @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            db = unbroadcast(a2.swapaxes(-1, -2) @ g2, b2.shape).reshape(b.shape)
        return da, db


class Cast(Function):
    """``z = a.astype(dtype)``; the gradient is cast back to ``a``'s dtype."""

    def forward(self, a, dtype):
        self.src = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return (g.astype(self.src),)  # dtype is an option, not an input: one gradient


def add(a, b):
    return Add.apply(*coerce(a, b, "add"))


def sub(a, b):
    return Sub.apply(*coerce(a, b, "sub"))


def mul(a, b):
    return Mul.apply(*coerce(a, b, "mul"))


def div(a, b):
    return Div.apply(*coerce(a, b, "div"))


def neg(a):
    return Neg.apply(a)


def pow(a, p):
    if isinstance(p, Tensor) or not np.isscalar(p):
        raise TypeError(f"pow: exponent must be a Python/NumPy scalar, got {type(p).__name__}")
    if isinstance(p, np.generic):
        p = p.item()  # a NumPy float64 scalar would promote float32 tensors to float64
    return Pow.apply(a, p)


def matmul(a, b):
    return MatMul.apply(*coerce(a, b, "matmul"))
