"""Weight initialisation, PyTorch's formulas, every draw from an explicit Generator.

Each ``*_`` function fills a Tensor (or ndarray) **in place** and returns it.
The random ones take ``rng`` — a ``numpy.random.Generator`` or an int seed —
as their second argument; there is no global random state.  Values are drawn
in float64 and cast to the tensor's dtype.

Fans of a weight of shape ``[out, in, *kernel]`` (``Linear``: ``[out, in]``;
``Conv2d``: ``[out, in, kh, kw]``), with ``r = prod(kernel)`` (1 for Linear)::

    fan_in = in · r        fan_out = out · r

=================  ============================================  ==============================
function           distribution                                  scale
=================  ============================================  ==============================
kaiming_uniform_   U(−b, b)                                      b = gain · √(3 / fan)
kaiming_normal_    N(0, s²)                                      s = gain / √fan
xavier_uniform_    U(−b, b)                                      b = gain · √(6 / (fan_in + fan_out))
xavier_normal_     N(0, s²)                                      s = gain · √(2 / (fan_in + fan_out))
uniform_           U(a, b)
normal_            N(mean, std²)
=================  ============================================  ==============================

``fan`` is ``fan_in`` (``mode="fan_in"``) or ``fan_out``; ``gain`` comes from
:func:`calculate_gain` (ReLU √2, tanh 5/3, leaky ReLU with slope ``a``
√(2 / (1 + a²)), linear / sigmoid 1).

PyTorch's default for ``Linear`` and ``Conv2d`` (:func:`reset_linear_`) is
``kaiming_uniform_(w, a=√5)``: gain √(2/6) = 1/√3, so ``b = 1/√fan_in``, and the
bias ``U(−1/√fan_in, 1/√fan_in)`` — weight drawn first, then bias.

>>> import numpy as np
>>> w = np.empty((3, 4), np.float32)
>>> _ = kaiming_uniform_(w, 0, a=5 ** 0.5)
>>> bool(np.abs(w).max() <= 0.5)      # 1/sqrt(fan_in) = 1/2
True
"""

from __future__ import annotations

import math

import numpy as np

from data_tools.batches import as_generator  # the one rng -> Generator rule (re-exported here)
from refsnn.autograd import Tensor
from refsnn.backend import xp_of


def _array(tensor, where: str):
    data = tensor.data if isinstance(tensor, Tensor) else tensor
    if not hasattr(data, "dtype") or data.dtype.kind != "f":
        raise TypeError(f"{where}: expected a floating Tensor or ndarray, got {type(tensor).__name__}")
    return data


def _fill(tensor, values: np.ndarray, where: str):
    data = _array(tensor, where)
    data[...] = xp_of(data).asarray(values.astype(data.dtype))
    return tensor


def fan_in_and_fan_out(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight ``[out, in, *kernel]`` (at least 2-D)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise ValueError(f"fan_in_and_fan_out: need a weight of at least 2 dims, got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain: linear/conv/sigmoid 1, tanh 5/3, relu √2, leaky_relu √(2/(1+a²)), selu 3/4."""
    if nonlinearity in ("linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope * slope))
    if nonlinearity == "selu":
        return 0.75
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fan(shape, mode: str, where: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{where}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"{where}: zero {mode} for shape {tuple(shape)}")
    return fan


def uniform_(tensor, rng, a: float = 0.0, b: float = 1.0):
    """Fill with ``U(a, b)``."""
    if not a <= b:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    gen = as_generator(rng, "uniform_")
    return _fill(tensor, gen.uniform(a, b, size=_array(tensor, "uniform_").shape), "uniform_")


def normal_(tensor, rng, mean: float = 0.0, std: float = 1.0):
    """Fill with ``N(mean, std²)``."""
    if not std >= 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    gen = as_generator(rng, "normal_")
    return _fill(tensor, gen.normal(mean, std, size=_array(tensor, "normal_").shape), "normal_")


def zeros_(tensor):
    """Fill with 0."""
    _array(tensor, "zeros_")[...] = 0
    return tensor


def ones_(tensor):
    """Fill with 1."""
    _array(tensor, "ones_")[...] = 1
    return tensor


def kaiming_uniform_(tensor, rng, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """He uniform: ``U(−b, b)``, ``b = gain · √(3 / fan)``, ``gain = calculate_gain(nonlinearity, a)``."""
    shape = _array(tensor, "kaiming_uniform_").shape
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(shape, mode, "kaiming_uniform_"))
    return uniform_(tensor, as_generator(rng, "kaiming_uniform_"), -bound, bound)


def kaiming_normal_(tensor, rng, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """He normal: ``N(0, s²)``, ``s = gain / √fan``."""
    shape = _array(tensor, "kaiming_normal_").shape
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(shape, mode, "kaiming_normal_"))
    return normal_(tensor, as_generator(rng, "kaiming_normal_"), 0.0, std)


def xavier_uniform_(tensor, rng, gain: float = 1.0):
    """Glorot uniform: ``U(−b, b)``, ``b = gain · √(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = fan_in_and_fan_out(_array(tensor, "xavier_uniform_").shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, as_generator(rng, "xavier_uniform_"), -bound, bound)


def xavier_normal_(tensor, rng, gain: float = 1.0):
    """Glorot normal: ``N(0, s²)``, ``s = gain · √(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = fan_in_and_fan_out(_array(tensor, "xavier_normal_").shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, as_generator(rng, "xavier_normal_"), 0.0, std)


def reset_linear_(weight, bias, rng):
    """PyTorch's default Linear/Conv initialisation, in place.

    ``weight ~ U(−1/√fan_in, 1/√fan_in)`` (``kaiming_uniform_`` with ``a = √5``),
    then ``bias ~ U(−1/√fan_in, 1/√fan_in)`` (skipped when ``bias`` is None).
    """
    gen = as_generator(rng, "reset_linear_")
    kaiming_uniform_(weight, gen, a=math.sqrt(5.0))
    if bias is not None:
        fan_in, _ = fan_in_and_fan_out(_array(weight, "reset_linear_").shape)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, gen, -bound, bound)
    return weight, bias
