"""Surrogate gradients as objects, and the spike primitive ``Θ`` that uses them.

A spike is ``S = Θ(x)`` with ``x = U − θ``.  Its derivative is zero almost
everywhere, so backpropagation uses a *surrogate* ``σ'(x)`` instead.  Each
class below names one surrogate and its parameters; the formula itself lives
once in :mod:`refsnn.kernels.surrogate` (used by the NumPy twins; the Numba and
CuPy kernels receive :meth:`Surrogate.kernel_args`).

=================  ======================  =====================================
class (name)       default                 ``dS/dU`` at ``x = U − θ``
=================  ======================  =====================================
``FastSigmoid``    ``k = 25`` (snnTorch)   ``1 / (k|x| + 1)²``
``ArcTan``         ``alpha = 2``           ``(α/2) / (1 + (π/2·α·x)²)``
``Sigmoid``        ``alpha = 4`` (SJ)      ``α·σ(αx)(1 − σ(αx))``
``Triangle``       ``gamma = 1`` (TET)     ``max(0, γ − |x|) / γ²``
``Linear``         ``a = 0.3`` (Sharmin)   ``(a/θ)·max(0, 1 − |U/θ − 1|)``
``SpikeTime``      ``α = 0.3, β = 0.01``   ``α·e^(−β·Δt)``, Δt = steps since last spike
                                           (1,000 + step before the first spike)
=================  ======================  =====================================

Every surrogate but ``SpikeTime`` has a smooth twin :meth:`Surrogate.primitive`
whose derivative is the surrogate (fast sigmoid: ``½ + x/(1 + k|x|)``); the
tests check the derivative against finite differences of it, and the neuron
layers' ``smooth=True`` mode uses it to gradcheck whole BPTT passes.
``SpikeTime`` depends on the spike history, not on ``x``, so it has none.

>>> import numpy as np
>>> s = get_surrogate("fast_sigmoid")
>>> s.grad(np.array([0.0, 0.04], np.float32)).tolist()
[1.0, 0.25]
>>> get_surrogate(FastSigmoid(k=40)).kernel_args()
(0, 40.0, 0.0)
"""

from __future__ import annotations

import math

from refsnn.autograd import Function
from refsnn.kernels import surrogate as _k


class Surrogate:
    """Base class: a named surrogate ``σ'(x)`` with parameters ``a`` (and ``b``)."""

    name = ""
    code = -1

    def __init__(self, a: float, b: float = 0.0):
        self.a, self.b = float(a), float(b)

    def kernel_args(self) -> tuple[int, float, float]:
        """``(sg_kind, sg_a, sg_b)`` — how kernels receive this surrogate."""
        return (int(self.code), self.a, self.b)

    def grad(self, x, theta: float = 1.0, dt=None):
        """``dS/dU`` at ``x = U − θ`` (array in, array out)."""
        return _k.surrogate_grad(self.code, self.a, self.b, x, theta, dt)

    def primitive(self, x, theta: float = 1.0):
        """The smooth twin ``σ(x)`` with ``σ' = grad`` (a float stand-in for ``Θ``)."""
        return _k.surrogate_primitive(self.code, self.a, self.b, x, theta)

    def __call__(self, x, theta: float = 1.0, dt=None, strict: bool = True):
        """``Θ(x)`` as a Tensor, with this surrogate in backward (see :func:`spike`)."""
        return spike(x, self, theta=theta, dt=dt, strict=strict)

    def __repr__(self):
        return f"{type(self).__name__}({self._params()})"

    def __eq__(self, other):
        return type(self) is type(other) and self.kernel_args() == other.kernel_args()

    def __hash__(self):
        return hash(self.kernel_args())

    def _params(self) -> str:  # pragma: no cover - overridden
        return f"a={self.a}"


def _positive(cls: str, name: str, value: float, allow_zero: bool = False) -> float:
    value = float(value)
    ok = value >= 0 if allow_zero else value > 0
    if not (ok and math.isfinite(value)):
        need = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{cls}: {name} must be finite and {need}, got {value}")
    return value


class FastSigmoid(Surrogate):
    """``1 / (k|x| + 1)²`` — snnTorch ``fast_sigmoid(slope=k)``; GAMIN uses k = 40."""

    name, code = "fast_sigmoid", _k.FAST_SIGMOID

    def __init__(self, k: float = 25.0):
        super().__init__(_positive("FastSigmoid", "k", k))

    def _params(self):
        return f"k={self.a}"


class ArcTan(Surrogate):
    """``(α/2) / (1 + (π/2·α·x)²)`` — snnTorch / SpikingJelly ``ATan``."""

    name, code = "arctan", _k.ARCTAN

    def __init__(self, alpha: float = 2.0):
        super().__init__(_positive("ArcTan", "alpha", alpha))

    def _params(self):
        return f"alpha={self.a}"


class Sigmoid(Surrogate):
    """``α·σ(αx)(1 − σ(αx))`` — SpikingJelly ``surrogate.Sigmoid`` (default α = 4)."""

    name, code = "sigmoid", _k.SIGMOID

    def __init__(self, alpha: float = 4.0):
        super().__init__(_positive("Sigmoid", "alpha", alpha))

    def _params(self):
        return f"alpha={self.a}"


class Triangle(Surrogate):
    """``max(0, γ − |x|) / γ²`` — TET's ``ZIF`` (γ = 1)."""

    name, code = "triangle", _k.TRIANGLE

    def __init__(self, gamma: float = 1.0):
        super().__init__(_positive("Triangle", "gamma", gamma))

    def _params(self):
        return f"gamma={self.a}"


class Linear(Surrogate):
    """``(a/θ)·max(0, 1 − |U/θ − 1|)`` = ``(a/θ)·max(0, 1 − |x|/θ)`` — Sharmin et al. (a = 0.3).

    The ramp is defined on ``U/θ``; its derivative with respect to ``U`` carries
    the chain-rule factor ``1/θ`` (it matters for threshold-balanced layers).
    """

    name, code = "linear", _k.LINEAR

    def __init__(self, a: float = 0.3):
        super().__init__(_positive("Linear", "a", a))

    def _params(self):
        return f"a={self.a}"


class SpikeTime(Surrogate):
    """``α·e^(−β·Δt)`` — spike-time dependent (Rathi & Roy STDB; Sharmin α = 0.3, β = 0.01).

    ``Δt = i − last``: steps since the neuron's last spike strictly before the
    0-based step ``i``; before the first spike ``last = −1000`` (the last spike
    counts as 1,000 steps in the past), so ``Δt = 1000 + i`` and the gradient is
    ≈ 0 until the neuron fires.  No smooth twin.
    """

    name, code = "spike_time", _k.SPIKE_TIME

    def __init__(self, alpha: float = 0.3, beta: float = 0.01):
        super().__init__(_positive("SpikeTime", "alpha", alpha),
                         _positive("SpikeTime", "beta", beta, allow_zero=True))

    def _params(self):
        return f"alpha={self.a}, beta={self.b}"


SURROGATES = {c.name: c for c in (FastSigmoid, ArcTan, Sigmoid, Triangle, Linear, SpikeTime)}


def get_surrogate(spec) -> Surrogate:
    """A :class:`Surrogate` from a name (defaults) or an instance (returned as is)."""
    if isinstance(spec, Surrogate):
        return spec
    if isinstance(spec, str) and spec.lower() in SURROGATES:
        return SURROGATES[spec.lower()]()
    raise ValueError(
        f"unknown surrogate {spec!r}; valid names: {', '.join(SURROGATES)} "
        "(or pass an instance such as FastSigmoid(k=40))"
    )


class SpikeFunction(Function):
    """``S = Θ(x)`` forward, ``dx = g·σ'(x)`` backward (one time step).

    ``Θ(x) = [x > 0]`` (``strict``) or ``[x ≥ 0]`` (SpikingJelly); ``x = U − θ``.
    Output has the input's dtype and shape.  Used by the single-step neuron
    APIs; the multi-step layers fuse it into their kernels.
    """

    def forward(self, x, *, surrogate, theta, dt, strict):
        self.x, self.surrogate, self.theta, self.dt = x, surrogate, theta, dt
        return ((x > 0) if strict else (x >= 0)).astype(x.dtype)

    def backward(self, g):
        return (g * self.surrogate.grad(self.x, self.theta, self.dt),)


def spike(x, surrogate="fast_sigmoid", theta: float = 1.0, dt=None, strict: bool = True):
    """``Θ(x)`` for a Tensor ``x = U − θ`` with surrogate backward.

    ``theta`` is needed by the ``linear`` surrogate, ``dt`` (int array, steps
    since the last spike) by ``spike_time``.

    >>> import numpy as np
    >>> from refsnn.autograd import Tensor
    >>> x = Tensor(np.array([-0.5, 0.0, 0.5]), requires_grad=True)
    >>> s = spike(x, FastSigmoid(k=1))
    >>> s.data.tolist(), (s.sum().backward(), x.grad.tolist())[1]
    ([0.0, 0.0, 1.0], [0.4444444444444444, 1.0, 0.4444444444444444])
    """
    sg = get_surrogate(surrogate)
    if sg.code == _k.SPIKE_TIME and dt is None:
        raise ValueError("spike: the spike_time surrogate needs dt (steps since the last spike)")
    return SpikeFunction.apply(x, surrogate=sg, theta=theta, dt=dt, strict=strict)
