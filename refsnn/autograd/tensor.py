"""``Tensor``: an array plus the record of how it was computed.

A Tensor wraps a NumPy (or CuPy) array ``data``.  When ``requires_grad`` is
set, every :class:`~refsnn.autograd.function.Function` applied to it records
itself as the creator of its output, and ``out.backward()`` walks that graph
in reverse topological order — iteratively, so a BPTT graph thousands of steps
deep needs no recursion — calling each Function's ``backward`` once.

Gradients accumulate into ``leaf.grad`` (a plain array that belongs to that
leaf alone); calling ``backward`` twice adds the second gradient to the
first, as in PyTorch.
Only leaves (Tensors created by the user) keep ``.grad``.

>>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
array([2., 4., 6.], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from refsnn.backend import xp_of

DEFAULT_FLOAT = np.float32


def _to_array(data, dtype=None):
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.generic):
        data = np.asarray(data)  # a NumPy scalar (a full reduction) keeps its dtype
    if hasattr(data, "__cuda_array_interface__") or isinstance(data, np.ndarray):
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    arr = np.asarray(data)
    if dtype is not None:
        return arr.astype(dtype)
    if arr.dtype.kind == "f" or arr.dtype == object:
        return arr.astype(DEFAULT_FLOAT)
    return arr


class Tensor:
    """An array with optional gradient tracking.

    Parameters
    ----------
    data : array-like
        Python floats and lists become float32; NumPy/CuPy arrays keep their dtype.
    requires_grad : bool
        Record operations on this tensor so ``backward`` can reach it.
    dtype : optional
        Cast ``data`` to this dtype.
    """

    __array_priority__ = 1000  # make ndarray (op) Tensor dispatch to Tensor

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data = _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating tensors can require gradients; got dtype {self.data.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._ctx = None
        self._out_index = 0

    # ------------------------------------------------------------------ basics
    shape = property(lambda self: tuple(self.data.shape))
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: int(self.data.size))
    is_leaf = property(lambda self: self._ctx is None)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.data!r}{grad})"

    def numpy(self):
        """The data as a host NumPy array (copied from the GPU if needed)."""
        return self.data.get() if hasattr(self.data, "get") else self.data

    def item(self) -> float:
        return self.data.item()

    def detach(self) -> Tensor:
        """Same data, no history, no gradient."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    def astype(self, dtype) -> Tensor:
        from refsnn.autograd import ops_basic

        return ops_basic.Cast.apply(self, dtype=np.dtype(dtype))

    # ---------------------------------------------------------------- backward
    def backward(self, grad=None) -> None:
        """Accumulate d(self)/d(leaf) · ``grad`` into every leaf's ``.grad``.

        ``grad`` defaults to 1 and may be omitted only for a one-element tensor.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad")
        xp = xp_of(self.data)
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a one-element tensor; shape is {self.shape}"
                )
            grad = xp.ones_like(self.data)
        else:
            grad = _to_array(grad, self.data.dtype)
            if grad.shape != self.data.shape:
                raise ValueError(f"backward(): grad shape {grad.shape} != tensor shape {self.shape}")
        if self._ctx is None:
            self.grad = grad.copy() if self.grad is None else self.grad + grad
            return
        claimed = {id(_root_buffer(grad))}  # the caller's array is never handed to a leaf
        order = _topological_functions(self._ctx)
        pending = {id(self._ctx): [None] * self._ctx.n_outputs}
        pending[id(self._ctx)][self._out_index] = grad
        for fn in order:
            grad_outputs = pending.pop(id(fn), None)
            if grad_outputs is None or all(g is None for g in grad_outputs):
                continue
            grads = fn.backward(*grad_outputs)
            if not isinstance(grads, tuple):
                grads = (grads,)
            if len(grads) != len(fn.parents):
                raise RuntimeError(
                    f"{type(fn).__name__}.backward returned {len(grads)} gradients "
                    f"for {len(fn.parents)} positional inputs"
                )
            for parent, g, need in zip(fn.parents, grads, fn.needs_input_grad):
                if not need or g is None:
                    continue
                if g.shape != parent.data.shape:
                    raise RuntimeError(
                        f"{type(fn).__name__}.backward returned a gradient of shape {g.shape} "
                        f"for an input of shape {parent.shape}"
                    )
                if parent._ctx is None:
                    parent.grad = _claim(g, claimed) if parent.grad is None else parent.grad + g
                else:
                    slots = pending.setdefault(id(parent._ctx), [None] * parent._ctx.n_outputs)
                    i = parent._out_index
                    slots[i] = g if slots[i] is None else slots[i] + g

    # --------------------------------------------------------------- operators
    def __add__(self, other):
        return _ops().add(self, other)

    def __radd__(self, other):
        return _ops().add(other, self)

    def __sub__(self, other):
        return _ops().sub(self, other)

    def __rsub__(self, other):
        return _ops().sub(other, self)

    def __mul__(self, other):
        return _ops().mul(self, other)

    def __rmul__(self, other):
        return _ops().mul(other, self)

    def __truediv__(self, other):
        return _ops().div(self, other)

    def __rtruediv__(self, other):
        return _ops().div(other, self)

    def __neg__(self):
        return _ops().neg(self)

    def __pow__(self, exponent):
        return _ops().pow(self, exponent)

    def __matmul__(self, other):
        return _ops().matmul(self, other)

    def __rmatmul__(self, other):
        return _ops().matmul(other, self)

    def __getitem__(self, index):
        return _ops().getitem(self, index)

    # comparisons give constant (non-differentiable) boolean tensors
    def _cmp(self, other, op):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(op(self.data, other))

    def __gt__(self, other):
        return self._cmp(other, lambda a, b: a > b)

    def __ge__(self, other):
        return self._cmp(other, lambda a, b: a >= b)

    def __lt__(self, other):
        return self._cmp(other, lambda a, b: a < b)

    def __le__(self, other):
        return self._cmp(other, lambda a, b: a <= b)

    __hash__ = object.__hash__

    # ----------------------------------------------------------------- methods
    def sum(self, axis=None, keepdims=False):
        return _ops().sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops().mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops().max(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _ops().reshape(self, tuple(shape))

    def flatten(self, start_dim: int = 0):
        return _ops().reshape(self, self.shape[:start_dim] + (-1,))

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return _ops().transpose(self, tuple(axes) if axes else None)

    permute = transpose

    @property
    def T(self):
        return _ops().transpose(self, None)

    def exp(self):
        return _ops().exp(self)

    def log(self):
        return _ops().log(self)

    def tanh(self):
        return _ops().tanh(self)

    def sigmoid(self):
        return _ops().sigmoid(self)

    def relu(self):
        return _ops().relu(self)

    def clip(self, lo=None, hi=None):
        return _ops().clip(self, lo, hi)


def _root_buffer(array):
    while getattr(array, "base", None) is not None:
        array = array.base
    return array


def _claim(g, claimed: set):
    """``g`` itself for a leaf's new ``.grad``, or a copy if its buffer is already someone's.

    Backward functions return fresh arrays or views of their incoming gradient and
    never write into one, so a buffer can become a leaf's ``.grad`` without a copy
    the first time; a second leaf (or the caller's own gradient) gets a copy, so an
    in-place update of one ``.grad`` can never change another.
    """
    root = id(_root_buffer(g))
    if root in claimed:
        return g.copy()
    claimed.add(root)
    return g


def _ops():
    from refsnn import autograd

    return autograd


def _topological_functions(root) -> list:
    """Functions reachable from ``root``, each before every Function it depends on.

    Iterative depth-first post-order, reversed; no recursion.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            order.append(fn)
            continue
        if id(fn) in visited:
            continue
        visited.add(id(fn))
        stack.append((fn, True))
        for parent in fn.parents:
            ctx = getattr(parent, "_ctx", None)
            if ctx is not None and id(ctx) not in visited:
                stack.append((ctx, False))
    order.reverse()
    return order
