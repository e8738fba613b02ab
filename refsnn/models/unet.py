"""A small label-conditioned U-Net (Ronneberger et al. 2015): BadSNN's trigger generator ``T_o``.

``T_o(x, y_t)`` maps an image ``x [B, C, H, W]`` and a target label ``y_t``
to a perturbation ``[B, C, H, W]`` (BadSNN §3.3.2, Eq. 5–6).  The paper names
the U-Net and nothing more; our documented choices:

* conditioning: ``num_classes`` one-hot planes of ``y_t`` appended to the input
  channels (``C + num_classes`` in);
* ``depth`` levels, each two ``3×3`` convolutions (padding 1) + BatchNorm +
  ReLU; ``2×2`` max pooling down; nearest ``×2`` upsampling + a ``3×3``
  convolution up, concatenated with the skip of the same level; widths
  ``base·2^level``;
* a ``1×1`` convolution to ``C`` channels, then ``scale · tanh``: the
  perturbation is bounded by ``scale`` (default 1, the image range), so the
  triggered image ``clip(x + T_o(x), 0, 1)`` is always valid.

``H`` and ``W`` must be divisible by ``2^depth``.  Parameters are initialised
from one seeded Generator in layer order.

>>> import numpy as np
>>> net = UNet(in_channels=1, num_classes=10, base=4, depth=2, rng=0)
>>> net(np.zeros((2, 1, 28, 28), np.float32), np.array([3, 7])).shape
(2, 1, 28, 28)
"""

from __future__ import annotations

import numpy as np

from data_tools.batches import as_generator
from refsnn import autograd as ag
from refsnn.autograd import Tensor
from refsnn.backend import xp_of
from refsnn.nn import BatchNorm2d, Conv2d, MaxPool2d, Module, ModuleList, ReLU, Sequential, Upsample
from refsnn.nn.layers import as_input


def _double_conv(c_in: int, c_out: int, gen, dtype) -> Sequential:
    return Sequential(Conv2d(c_in, c_out, 3, padding=1, bias=False, rng=gen, dtype=dtype),
                      BatchNorm2d(c_out, dtype=dtype), ReLU(),
                      Conv2d(c_out, c_out, 3, padding=1, bias=False, rng=gen, dtype=dtype),
                      BatchNorm2d(c_out, dtype=dtype), ReLU())


class UNet(Module):
    """``T_o``: ``forward(x [B, C, H, W], y_t [B]) -> perturbation [B, C, H, W]`` in ``(−scale, scale)``."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, base: int = 16, depth: int = 2,
                 scale: float = 1.0, rng=None, dtype=np.float32):
        super().__init__()
        if in_channels < 1 or num_classes < 1 or base < 1 or depth < 1:
            raise ValueError(f"UNet: in_channels ({in_channels}), num_classes ({num_classes}), base ({base}) "
                             f"and depth ({depth}) must be >= 1")
        if not scale > 0:
            raise ValueError(f"UNet: scale must be > 0, got {scale}")
        gen = as_generator(rng, "UNet")
        self.in_channels, self.num_classes, self.depth, self.scale = in_channels, num_classes, depth, scale
        widths = [base * 2 ** level for level in range(depth + 1)]
        ins = [in_channels + num_classes] + widths[:depth - 1]
        self.down = ModuleList([_double_conv(ins[i], widths[i], gen, dtype) for i in range(depth)])
        self.bottom = _double_conv(widths[depth - 1], widths[depth], gen, dtype)
        levels = list(reversed(range(depth)))
        self.up = ModuleList([Sequential(Upsample(2), Conv2d(widths[i + 1], widths[i], 3, padding=1, rng=gen,
                                                             dtype=dtype)) for i in levels])
        self.merge = ModuleList([_double_conv(2 * widths[i], widths[i], gen, dtype) for i in levels])
        self.head = Conv2d(widths[0], in_channels, 1, rng=gen, dtype=dtype)
        self.pool = MaxPool2d(2)

    def _condition(self, x: Tensor, y) -> Tensor:
        y = np.asarray(y)
        if y.shape != (x.shape[0],) or y.dtype.kind not in "iu":
            raise ValueError(f"UNet: y_t must be {x.shape[0]} integer labels, got {y.dtype} {y.shape}")
        if y.size and (y.min() < 0 or y.max() >= self.num_classes):
            raise ValueError(f"UNet: target labels must be in [0, {self.num_classes}), "
                             f"got {y.min()}..{y.max()}")
        planes = np.zeros((x.shape[0], self.num_classes) + tuple(x.shape[2:]), x.dtype)
        planes[np.arange(x.shape[0]), y] = 1
        return ag.concat([x, Tensor(xp_of(x.data).asarray(planes))], axis=1)

    def forward(self, x, y_t) -> Tensor:
        x = as_input(x, "UNet", self.head.weight.dtype)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"UNet: x must be [B, {self.in_channels}, H, W], got shape {x.shape}")
        if x.shape[2] % 2 ** self.depth or x.shape[3] % 2 ** self.depth:
            raise ValueError(f"UNet: H and W must be divisible by 2^depth = {2 ** self.depth}, "
                             f"got {x.shape[2:]}")
        h, skips = self._condition(x, y_t), []
        for block in self.down:
            h = block(h)
            skips.append(h)
            h = self.pool(h)
        h = self.bottom(h)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips)):
            h = merge(ag.concat([up(h), skip], axis=1))
        return ag.tanh(self.head(h)) * self.scale
