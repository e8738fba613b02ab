"""Autograd-lite: ``Tensor``, ``Function``, ``no_grad`` and the differentiable primitives.

Every primitive is one :class:`Function` subclass with ``forward`` and
``backward`` side by side; the lower-case functions here are their entry
points (``add``, ``matmul``, ``conv2d``, ...).
"""

from refsnn.autograd.function import Function, check_finite, unbroadcast
from refsnn.autograd.grad_mode import enable_grad, is_enabled, no_grad
from refsnn.autograd.tensor import Tensor
from refsnn.autograd.ops_basic import add, div, matmul, mul, neg, pow, sub  # noqa: E402
from refsnn.autograd.ops_elementwise import (  # noqa: E402
    clip,
    exp,
    log,
    max,
    mean,
    relu,
    sigmoid,
    sum,
    tanh,
    where,
)
from refsnn.autograd.ops_shape import concat, getitem, permute, reshape, stack, transpose  # noqa: E402

__all__ = [
    "Function", "Tensor", "no_grad", "enable_grad", "is_enabled", "unbroadcast", "check_finite",
    "add", "sub", "mul", "div", "neg", "pow", "matmul",
    "exp", "log", "tanh", "sigmoid", "relu", "clip", "where", "sum", "mean", "max",
    "reshape", "transpose", "permute", "getitem", "concat", "stack",
]
