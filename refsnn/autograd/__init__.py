"""Autograd-lite: ``Tensor``, ``Function``, ``no_grad`` and the differentiable primitives.

Every primitive is one :class:`Function` subclass with ``forward`` and
``backward`` side by side; the lower-case functions here are their entry
points (``add``, ``matmul``, ``conv2d``, ...).
"""

from refsnn.autograd.function import Function, unbroadcast
from refsnn.autograd.grad_mode import enable_grad, is_enabled, no_grad
from refsnn.autograd.ops_basic import add, div, matmul, mul, neg, pow, sub
from refsnn.autograd.ops_conv import (
    avg_pool2d,
    conv2d,
    max_pool2d,
    upsample_nearest,
)
from refsnn.autograd.ops_elementwise import (
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
from refsnn.autograd.ops_loss import cross_entropy, dropout, log_softmax, mse_loss
from refsnn.autograd.ops_norm import batch_norm
from refsnn.autograd.ops_shape import concat, getitem, permute, reshape, stack, transpose
from refsnn.autograd.tensor import Tensor
from refsnn.validation import check_finite  # one validation module (argument order where, name, array)

__all__ = [
    "Function", "Tensor", "no_grad", "enable_grad", "is_enabled", "unbroadcast", "check_finite",
    "add", "sub", "mul", "div", "neg", "pow", "matmul",
    "exp", "log", "tanh", "sigmoid", "relu", "clip", "where", "sum", "mean", "max",
    "reshape", "transpose", "permute", "getitem", "concat", "stack",
    "log_softmax", "cross_entropy", "mse_loss", "dropout",
    "conv2d", "avg_pool2d", "max_pool2d", "upsample_nearest",
    "batch_norm",
]
