"""The ``Function`` base class: one differentiable primitive, forward and backward together.

A primitive subclasses :class:`Function` and defines

* ``forward(self, *arrays, **options) -> array`` (or a tuple of arrays) — plain
  array code written against ``xp = xp_of(...)``; it may stash what backward
  needs on ``self``;
* ``backward(self, *grad_outputs) -> tuple`` — one gradient (or ``None``) per
  positional input of ``forward``.  With several outputs, a ``grad_output`` is
  ``None`` when that output got no gradient.

``Function.apply(*inputs, **options)`` unwraps Tensors, runs ``forward``, and
— when gradients are enabled and some input requires them — records itself
as the creator of the output so ``Tensor.backward`` can call ``backward``.

Example (a primitive, complete)::

    class Square(Function):
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, g):
            return (2 * self.x * g,)
"""

from __future__ import annotations

from refsnn.autograd import grad_mode
from refsnn.backend import xp_of


class Function:
    """Base class of every differentiable primitive (see module docstring)."""

    parents: tuple = ()
    needs_input_grad: tuple = ()

    def forward(self, *arrays, **options):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, *grad_outputs):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **options):
        from refsnn.autograd.tensor import Tensor

        fn = cls()
        arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
        xp_of(*arrays)  # inputs on two backends: a BackendError naming both, before any op runs
        fn.needs_input_grad = tuple(isinstance(x, Tensor) and x.requires_grad for x in inputs)
        track = grad_mode.is_enabled() and any(fn.needs_input_grad)
        out = fn.forward(*arrays, **options)
        if isinstance(out, tuple):
            outs = tuple(Tensor(o, requires_grad=track) for o in out)
            if track:
                fn.parents = tuple(inputs)
                fn.n_outputs = len(outs)
                for i, o in enumerate(outs):
                    o._ctx = fn
                    o._out_index = i
            return outs
        result = Tensor(out, requires_grad=track)
        if track:
            fn.parents = tuple(inputs)
            fn.n_outputs = 1
            result._ctx = fn
        return result


def unbroadcast(grad, shape: tuple):
    """Sum ``grad`` down to ``shape`` — the adjoint of NumPy broadcasting.

    Leading axes that broadcasting added are summed away; axes where ``shape``
    has size 1 are summed with ``keepdims``.
    """
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)
