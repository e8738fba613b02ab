"""Layers with PyTorch names, layouts and defaults.

=============  ==========================================  ====================================
layer          input -> output                             parameters (PyTorch names / layouts)
=============  ==========================================  ====================================
Linear         ``[..., in] -> [..., out]``                 ``weight [out, in]``, ``bias [out]``
Conv2d         ``[N, C_in, H, W] -> [N, C_out, H', W']``   ``weight [out, in, kh, kw]``, ``bias``
AvgPool2d      ``[N, C, H, W] -> [N, C, H', W']``          —
MaxPool2d      ``[N, C, H, W] -> [N, C, H', W']``          —
Upsample       ``[N, C, H, W] -> [N, C, sH, sW]``          —
Flatten        ``[N, a, b, ...] -> [N, a·b·...]``          —
Dropout        same shape                                  —
ReLU, Sigmoid, same shape                                  —
Tanh, Identity
=============  ==========================================  ====================================

``H' = ⌊(H + 2·padding − kernel) / stride⌋ + 1``.  Layers with weights take
``rng`` (Generator or int seed) for PyTorch's default initialisation and
``dtype`` (float32 by default).  Every forward accepts a Tensor or an array
(arrays are cast to the layer's dtype) and checks rank and feature size,
naming the layer and the shapes when they are wrong.

>>> import numpy as np
>>> fc = Linear(4, 2, rng=0)
>>> fc(np.ones((3, 4), np.float32)).shape
(3, 2)
"""

from __future__ import annotations

import numpy as np

from refsnn import autograd as ag
from refsnn import memory
from refsnn.autograd import Function, Tensor
from refsnn.nn import init
from refsnn.nn.module import Module, Parameter


def as_input(x, where: str, dtype=None) -> Tensor:
    """``x`` as a Tensor: arrays (and integer/bool Tensors, e.g. spikes) are cast to ``dtype``.

    A floating Tensor of a different dtype than ``dtype`` is a TypeError (cast
    it, or call ``module.to_dtype``), never a silent copy.
    """
    if isinstance(x, Tensor):
        if dtype is None or x.dtype == dtype:
            return x
        if x.dtype.kind != "f":
            return Tensor(x.data.astype(dtype))
        raise TypeError(f"{where}: input dtype {x.dtype} but parameters are {np.dtype(dtype)}; "
                        f"cast the input (x.astype) or the module (module.to_dtype)")
    data = x if hasattr(x, "__cuda_array_interface__") else np.asarray(x)
    if dtype is not None and data.dtype != dtype:
        data = data.astype(dtype)
    elif data.dtype.kind != "f":
        data = data.astype(np.float32)
    return Tensor(data)


def _pair(value, name: str, where: str, minimum: int) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < minimum for v in pair):
        raise ValueError(f"{where}: {name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_rank(x: Tensor, ranks, where: str, layout: str) -> None:
    if x.ndim not in ranks:
        raise ValueError(f"{where}: expected a {' or '.join(f'{r}-D' for r in ranks)} input {layout}, "
                         f"got shape {x.shape}")


class LinearFunction(Function):
    """``y = x Wᵀ + b`` — one primitive so the gradients come out in the parameters' layout.

    Shapes: ``x [..., in]``, ``W [out, in]``, ``b [out]`` (or None) -> ``y [..., out]``.
    With ``X`` the input flattened to ``[N, in]`` and ``G`` the output gradient ``[N, out]``::

        dX = G W        dW = Gᵀ X        db = Σₙ G[n]
    """

    def forward(self, x, w, b):
        self.in_shape = x.shape
        self.x2 = x.reshape(-1, x.shape[-1])
        self.w = w
        y = self.x2 @ w.T
        if b is not None:
            y += b
        return y.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, g):
        g2 = g.reshape(-1, g.shape[-1])
        dx = _matmul(g2, self.w).reshape(self.in_shape) if self.needs_input_grad[0] else None
        dw = g2.T @ self.x2 if self.needs_input_grad[1] else None
        db = g2.sum(axis=0) if self.needs_input_grad[2] else None
        return dx, dw, db


def _matmul(a, b):
    """``a @ b``; on NumPy into a reused workspace buffer (refsnn.memory: no fresh pages per step)."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == b.ndim == 2:
        return np.matmul(a, b, out=memory.empty((a.shape[0], b.shape[1]), np.result_type(a, b)))
    return a @ b


def linear(x, weight, bias=None) -> Tensor:
    """``x @ weight.T + bias`` (see :class:`LinearFunction`)."""
    return LinearFunction.apply(x, weight, bias)


class Linear(Module):
    """Fully connected layer ``y = x Wᵀ + b``; ``W [out, in]``, ``b [out]``.

    Initialisation (PyTorch default): ``W, b ~ U(−1/√in, 1/√in)``, weight drawn first.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng=None, dtype=np.float32):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear: in_features ({in_features}) and out_features ({out_features}) "
                             f"must be >= 1")
        self.in_features, self.out_features = int(in_features), int(out_features)
        gen = init.as_generator(rng, "Linear")
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype))
        self.bias = Parameter(np.empty(self.out_features, dtype)) if bias else None
        init.reset_linear_(self.weight, self.bias, gen)

    def forward(self, x) -> Tensor:
        x = as_input(x, "Linear", self.weight.dtype)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear({self.in_features}, {self.out_features}): expected input [..., "
                             f"{self.in_features}], got shape {x.shape}")
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Conv2d(Module):
    """2-D convolution (cross-correlation, as PyTorch): ``weight [out, in, kh, kw]``, ``bias [out]``.

    ``y[n, o] = b[o] + Σ_c Σ_ij W[o, c, i, j] · x_pad[n, c, s·h + i, s·w + j]``.
    Initialisation (PyTorch default): ``U(−1/√fan_in, 1/√fan_in)``, ``fan_in = in·kh·kw``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True, rng=None, dtype=np.float32):
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"Conv2d: in_channels ({in_channels}) and out_channels ({out_channels}) "
                             f"must be >= 1")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = _pair(stride, "stride", "Conv2d", 1)
        self.padding = _pair(padding, "padding", "Conv2d", 0)
        gen = init.as_generator(rng, "Conv2d")
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels) + self.kernel_size, dtype))
        self.bias = Parameter(np.empty(self.out_channels, dtype)) if bias else None
        init.reset_linear_(self.weight, self.bias, gen)

    def forward(self, x) -> Tensor:
        x = as_input(x, "Conv2d", self.weight.dtype)
        _check_rank(x, (4,), "Conv2d", "[N, C, H, W]")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d({self.in_channels}, {self.out_channels}): expected {self.in_channels} "
                             f"input channels, got input shape {x.shape}")
        kh, kw = self.kernel_size
        ph, pw = self.padding
        if x.shape[2] + 2 * ph < kh or x.shape[3] + 2 * pw < kw:
            raise ValueError(f"Conv2d: kernel {self.kernel_size} larger than padded input {x.shape} "
                             f"(padding {self.padding})")
        return ag.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class _Pool2d(Module):
    op_name = ""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _pair(kernel_size, "kernel_size", name, 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", name, 1)
        self.padding = _pair(padding, "padding", name, 0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{name}: padding {self.padding} must be at most half of kernel_size "
                             f"{self.kernel_size}")

    def forward(self, x) -> Tensor:
        name = type(self).__name__
        x = as_input(x, name)
        _check_rank(x, (4,), name, "[N, C, H, W]")
        if any(x.shape[2 + i] + 2 * self.padding[i] < self.kernel_size[i] for i in range(2)):
            raise ValueError(f"{name}: kernel {self.kernel_size} larger than padded input {x.shape}")
        return getattr(ag, self.op_name)(x, self.kernel_size, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_Pool2d):
    """Mean over each ``kernel_size`` window (``stride`` defaults to ``kernel_size``).

    Zero padding is counted in the mean (PyTorch's ``count_include_pad=True``).
    """

    op_name = "avg_pool2d"


class MaxPool2d(_Pool2d):
    """Maximum over each ``kernel_size`` window (``stride`` defaults to ``kernel_size``)."""

    op_name = "max_pool2d"


class Upsample(Module):
    """Nearest-neighbour upsampling by an integer ``s``: ``y[n, c, i, j] = x[n, c, i // s, j // s]``."""

    def __init__(self, scale_factor: int = 2, mode: str = "nearest"):
        super().__init__()
        if mode != "nearest":
            raise ValueError(f"Upsample: only mode='nearest' is implemented, got {mode!r}")
        if int(scale_factor) != scale_factor or scale_factor < 1:
            raise ValueError(f"Upsample: scale_factor must be a positive integer, got {scale_factor!r}")
        self.scale_factor, self.mode = int(scale_factor), mode

    def forward(self, x) -> Tensor:
        x = as_input(x, "Upsample")
        _check_rank(x, (4,), "Upsample", "[N, C, H, W]")
        return ag.upsample_nearest(x, self.scale_factor)

    def extra_repr(self) -> str:
        return f"scale_factor={self.scale_factor}, mode={self.mode!r}"


class Flatten(Module):
    """Merge axes ``start_dim..end_dim`` into one: ``[N, C, H, W] -> [N, C·H·W]`` by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x) -> Tensor:
        x = as_input(x, "Flatten")
        s = self.start_dim + x.ndim if self.start_dim < 0 else self.start_dim
        e = self.end_dim + x.ndim if self.end_dim < 0 else self.end_dim
        if not 0 <= s <= e < x.ndim:
            raise ValueError(f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}): invalid for "
                             f"input shape {x.shape}")
        if s == e:
            return x
        return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Training: zero each element with probability ``p`` and scale survivors by ``1/(1 − p)``;
    evaluation: the identity.  Masks come from ``rng`` (Generator or int seed), so a seeded
    Dropout drops the same elements every run.
    """

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = float(p)
        self.rng = init.as_generator(rng, "Dropout")

    def forward(self, x) -> Tensor:
        x = as_input(x, "Dropout")
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * 0.0
        return ag.dropout(x, self.p, True, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class ReLU(Module):
    """``max(x, 0)``."""

    def forward(self, x) -> Tensor:
        return ag.relu(as_input(x, "ReLU"))


class Sigmoid(Module):
    """``1 / (1 + e⁻ˣ)``."""

    def forward(self, x) -> Tensor:
        return ag.sigmoid(as_input(x, "Sigmoid"))


class Tanh(Module):
    """``tanh x``."""

    def forward(self, x) -> Tensor:
        return ag.tanh(as_input(x, "Tanh"))


class Identity(Module):
    """Returns its input unchanged (arrays become Tensors)."""

    def forward(self, x) -> Tensor:
        return as_input(x, "Identity")


class _BatchNorm(Module):
    """Shared body of BatchNorm1d / BatchNorm2d (statistics over every axis but axis 1)."""

    ranks: tuple = ()
    layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype=np.float32):
        super().__init__()
        name = type(self).__name__
        if num_features < 1:
            raise ValueError(f"{name}: num_features must be >= 1, got {num_features}")
        if not eps > 0:
            raise ValueError(f"{name}: eps must be > 0, got {eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))
        else:
            for buf in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(buf, None)

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0 (in place)."""
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def forward(self, x) -> Tensor:
        name = type(self).__name__
        dtype = self.weight.dtype if self.affine else (
            self.running_mean.dtype if self.track_running_stats else None)
        x = as_input(x, name, dtype)
        _check_rank(x, self.ranks, name, self.layout)
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}({self.num_features}): expected {self.num_features} features on axis 1, "
                             f"got input shape {x.shape}")
        use_batch = self.training or self.running_mean is None
        if use_batch and x.size // x.shape[1] < 2:
            raise ValueError(f"{name}: batch statistics need more than one value per channel, got input "
                             f"shape {x.shape}")
        momentum = self.momentum
        if self.training and self.running_mean is not None:
            self.num_batches_tracked += 1  # in place on the 0-d buffer
            if momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked)
        shape = x.shape
        if x.ndim == 3:  # [N, C, L] -> [N, C, L, 1]: statistics over N and L
            x = x.reshape(shape + (1,))
        y = ag.batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var,
                          use_batch, momentum=0.0 if momentum is None else momentum, eps=self.eps)
        return y.reshape(shape) if len(shape) == 3 else y

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``[N, C]`` or ``[N, C, L]`` over N (and L), per feature C.

    Training: ``y = (x − μ_B) / √(σ²_B + eps) · γ + β`` with the biased batch variance,
    and ``running ← (1 − momentum)·running + momentum·batch`` (the unbiased variance
    ``σ²_B · n/(n−1)`` goes into ``running_var``).  Evaluation: the running statistics.
    Parameters ``weight`` (γ, ones) and ``bias`` (β, zeros); buffers ``running_mean``,
    ``running_var``, ``num_batches_tracked`` — PyTorch's names.
    """

    ranks = (2, 3)
    layout = "[N, C] or [N, C, L]"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``[N, C, H, W]`` per channel C over N, H, W (formulas as BatchNorm1d)."""

    ranks = (4,)
    layout = "[N, C, H, W]"
