"""ResNet20 of Sharmin et al. §3.1: He et al.'s CIFAR ResNet with a stem of two 3×3 convolutions.

Spec (see :mod:`refsnn.models.vgg` for the tuple vocabulary), for ``in_shape = (C, H, W)``::

    stem    ("conv", C, 16, 3, 1, 1), relu, dropout, ("conv", 16, 16, 3, 1, 1), relu, dropout
    stage 1 3 × ("block", 16, 16, 1, p)                 H × W
    stage 2 ("block", 16, 32, 2, p), 2 × ("block", 32, 32, 1, p)      ⌈H/2⌉ × ⌈W/2⌉
    stage 3 ("block", 32, 64, 2, p), 2 × ("block", 64, 64, 1, p)      ⌈H/4⌉ × ⌈W/4⌉
    head    ("avgpool", ⌈H/4⌉) global average, flatten, ("linear", 64, classes)

A basic block ``("block", c_in, c_out, stride, p)`` (:class:`BasicBlock`)::

    out = relu( conv2(dropout(relu(conv1(x)))) + shortcut(x) )

with 3×3 convolutions (conv1 carries the stride), the identity shortcut, or a
1×1 convolution of the same stride when the shape changes (He's option B).

Choices, stated: **no batch norm and no biases** — the paper (§3.1) removes
biases for threshold balancing, and with them BN; dropout follows each ReLU
that feeds a convolution (the stem's and the block's inner one), ``p = 0.2``;
the block's output ReLU feeds the next block and its shortcut, and gets none.
The paper replaces He's single first convolution by two, so the network has
21 weight layers on the main path (2 + 18 + 1) besides the two 1×1 shortcuts;
the name ResNet20 is the paper's.  Widths 16/32/64 and 3 blocks per stage are
He's CIFAR values (parameters ``widths`` and ``blocks``).

>>> import numpy as np
>>> net = resnet20(in_shape=(1, 28, 28), num_classes=10, rng=0)
>>> net(np.zeros((2, 1, 28, 28), np.float32)).shape
(2, 10)
"""

from __future__ import annotations

import numpy as np

from data_tools.batches import as_generator
from refsnn.autograd import Tensor
from refsnn.models.vgg import _check_shape, build_ann
from refsnn.nn import Conv2d, Dropout, Module, ReLU, Sequential


class BasicBlock(Module):
    """``relu(conv2(drop(relu(conv1(x)))) + shortcut(x))``; ``x [B, c_in, H, W] → [B, c_out, H/s, W/s]``.

    ``activation`` builds the two activations (``ReLU`` here; a spiking variant
    passes a neuron factory).  Children: ``conv1``, ``act1``, ``drop``,
    ``conv2``, ``shortcut`` (a 1×1 conv, or absent for the identity), ``act2``.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, dropout: float = 0.2, rng=None,
                 dtype=np.float32, activation=ReLU):
        super().__init__()
        gen = as_generator(rng, "BasicBlock")
        self.conv1 = Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False, rng=gen, dtype=dtype)
        self.act1 = activation()
        self.drop = Dropout(dropout, rng=np.random.default_rng(int(gen.integers(2**63))))
        self.conv2 = Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False, rng=gen, dtype=dtype)
        if stride != 1 or c_in != c_out:
            self.shortcut = Conv2d(c_in, c_out, 1, stride=stride, bias=False, rng=gen, dtype=dtype)
        else:
            self.shortcut = None
        self.act2 = activation()

    def forward(self, x) -> Tensor:
        out = self.conv2(self.drop(self.act1(self.conv1(x))))
        skip = x if self.shortcut is None else self.shortcut(x)
        return self.act2(out + skip)


def _block(args, gen, dtype):
    c_in, c_out, stride, p = args
    return BasicBlock(c_in, c_out, stride, p, rng=gen, dtype=dtype)


def resnet_spec(in_shape=(3, 32, 32), num_classes: int = 10, widths=(16, 32, 64), blocks: int = 3,
                dropout: float = 0.2) -> list[tuple]:
    """The ResNet20 spec (module docstring) for inputs ``in_shape = (C, H, W)``."""
    c, h, w = _check_shape(in_shape, num_classes, "resnet_spec")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"resnet_spec: dropout must be in [0, 1), got {dropout}")
    if int(blocks) != blocks or blocks < 1 or len(widths) < 1:
        raise ValueError(f"resnet_spec: need blocks >= 1 and at least one width, got {blocks}, {widths}")
    w0 = int(widths[0])
    spec = [("conv", c, w0, 3, 1, 1), ("relu",), ("dropout", dropout),
            ("conv", w0, w0, 3, 1, 1), ("relu",), ("dropout", dropout)]
    c = w0
    for stage, width in enumerate(int(v) for v in widths):
        for b in range(int(blocks)):
            stride = 2 if stage > 0 and b == 0 else 1
            spec.append(("block", c, width, stride, dropout))
            c = width
            h, w = (h - 1) // stride + 1, (w - 1) // stride + 1
    if h != w:
        raise ValueError(f"resnet_spec: the global average pool needs a square map, got {h}×{w} "
                         f"for in_shape {in_shape}")
    spec += [("avgpool", h), ("flatten",), ("linear", c, int(num_classes))]
    return spec


def resnet20(in_shape=(3, 32, 32), num_classes: int = 10, rng=0, dtype=np.float32,
             **spec_options) -> Sequential:
    """The ResNet20 ANN of the paper (module docstring); ``spec_options`` go to :func:`resnet_spec`."""
    return build_ann(resnet_spec(in_shape, num_classes, **spec_options), rng=rng, dtype=dtype,
                     builders={"block": _block})
