"""Running stateless layers over time: ``[T, B, ...]`` in, ``[T, B, ...]`` out.

Spiking networks here are *time first*: a neuron layer takes ``x [T, B, ...]``
and keeps its membrane across the T axis.  The layers between neurons
(``Linear``, ``Conv2d``, pooling, ``BatchNorm2d``, ``Flatten``, ``Dropout``)
have no state over time, so they run once on all steps at once:

    ``SeqToANN(f)(x)[t] = f(x[t])``,  computed as ``f(x.reshape(T·B, ...)).reshape(T, B, ...)``.

This is SpikingJelly's ``SeqToANNContainer``: one batched call instead of T
calls, the same numbers (every wrapped layer treats batch rows independently
— BatchNorm in training mode is the exception, its batch statistics then run
over ``T·B`` rows, as in SpikingJelly).  A whole spiking network is a
:class:`~refsnn.nn.Sequential` alternating ``SeqToANN`` blocks and neuron
layers; a ``Dropout`` wrapped here draws an independent mask per step (use
one mask for all steps by putting it outside, on ``[T, B, ...]`` broadcast).

>>> import numpy as np
>>> from refsnn.nn import Linear, Sequential
>>> f = Linear(3, 2, rng=0)
>>> x = np.arange(24, dtype=np.float32).reshape(4, 2, 3)
>>> y = SeqToANN(f)(x)
>>> y.shape, bool(np.allclose(y.data[2], f(x[2]).data))
((4, 2, 2), True)
"""

from __future__ import annotations

from refsnn.autograd import Tensor
from refsnn.backend import xp_of
from refsnn.nn.module import Module, Sequential


class SeqToANN(Module):
    """Apply ``modules`` (in order) to each time step of ``x [T, B, ...]`` in one batched call.

    Children are named ``"0"``, ``"1"``, ... under ``module`` so the
    ``state_dict`` keys read ``<name>.module.0.weight`` as in SpikingJelly's
    container.  ``x`` must have rank ≥ 3 (``T``, ``B`` and at least one
    feature axis); the output keeps ``T`` and ``B`` and takes the wrapped
    layers' feature shape.
    """

    def __init__(self, *modules: Module):
        super().__init__()
        if not modules:
            raise ValueError("SeqToANN: give at least one module to wrap")
        for m in modules:
            if not isinstance(m, Module):
                raise TypeError(f"SeqToANN: expected refsnn Modules, got {type(m).__name__}")
        self.module = modules[0] if len(modules) == 1 else Sequential(*modules)

    def forward(self, x) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim < 3:
            raise ValueError(f"SeqToANN({type(self.module).__name__}): x must be [T, B, ...] with at "
                             f"least one feature axis (rank >= 3), got shape {x.shape}")
        T, B = x.shape[0], x.shape[1]
        y = self.module(x.reshape((T * B,) + tuple(x.shape[2:])))
        return y.reshape((T, B) + tuple(y.shape[1:]))

    def extra_repr(self) -> str:
        return ""


def repeat_time(x, steps: int) -> Tensor:
    """Direct (constant-current) input: ``x [B, ...]`` → ``[T, B, ...]`` with every step equal to ``x``.

    The gradient of the repeated tensor sums over T back into ``x`` (broadcast
    rule), so an attack's input gradient is exact.
    """
    if int(steps) < 1:
        raise ValueError(f"repeat_time: steps must be >= 1, got {steps}")
    x = x if isinstance(x, Tensor) else Tensor(x)
    ones = xp_of(x.data).ones((int(steps),) + (1,) * x.ndim, dtype=x.dtype)
    return x.reshape((1,) + tuple(x.shape)) * Tensor(ones)
