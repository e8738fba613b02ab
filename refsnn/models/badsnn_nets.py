"""BadSNN's spiking networks: TET-style ResNet-19, VGG-16 and the N-MNIST net, with form-3 neurons.

Every net is a :class:`~refsnn.models.spiking.SpikingNet` with direct input
(``x`` at each of ``T = 4`` steps), BatchNorm after every convolution (TET's
ResNet-19 has it; one BatchNorm over the merged ``T·B`` axis, as
SpikingJelly's ``SeqToANNContainer``), the mean readout, and LIF(V_thr, τ)
neurons of DESIGN form 3 (:class:`~refsnn.neurons.LIFDecay`, hard reset,
fires on ``U ≥ V_thr``, triangle surrogate)::

    U[t] = τ·U[t−1]·(1 − S[t−1]) + X[t],     S[t] = [U[t] ≥ V_thr]

``model(x, v_thr=..., tau=...)`` runs the *whole* network under those values
(checked: ``V_thr > 0``, ``τ ∈ (0, 1]``); without them the nominal
``(1.0, 0.5)`` of the layers.  ``neuron="plif"`` builds the PLIF variant of
the ablation (:class:`PLIFThreshold`: SpikingJelly's ParametricLIF, form 4,
learnable τ per layer; only ``v_thr`` is taken per call, ``tau`` is ignored).

Architectures (``width`` scales every channel count; ``in_shape = (C, H, W)``):

* :func:`resnet19` — TET's ResNet-19: conv3-128 stem, stages of 3, 3, 2 basic
  blocks at 128, 256, 512 channels (stride 2 into stages 2 and 3), global
  average pool, fc-256 + LIF, fc-classes.
* :func:`vgg16` — VGG-16 (config D) with BN and average pooling, fc-classes.
* :func:`nmnist_net` — two ``conv3 + BN + LIF + avgpool2`` (``widths``), fc-classes.

>>> import numpy as np
>>> net = nmnist_net(in_shape=(1, 8, 8), widths=(2, 4), rng=0)
>>> net(np.zeros((3, 1, 8, 8), np.float32), v_thr=1.2, tau=0.5).shape
(3, 10)
"""

from __future__ import annotations

import numpy as np

from data_tools.batches import as_generator
from refsnn.attacks.badsnn import check_hyper
from refsnn.models.spiking import NeuronSlot, SpikingBlock, SpikingNet
from refsnn.models.vgg import _check_shape
from refsnn.neurons import LIFDecay
from refsnn.neurons.lif_sj import PLIF
from refsnn.nn import AvgPool2d, BatchNorm2d, Conv2d, Flatten, Linear, SeqToANN
from refsnn.validation import check_positive

__all__ = ["BadSNNNet", "PLIFThreshold", "resnet19", "vgg16", "nmnist_net", "build_badsnn_net", "ARCHS",
           "event_frames"]

VGG16 = [64, 64, "A", 128, 128, "A", 256, 256, 256, "A", 512, 512, 512, "A", 512, 512, 512, "A"]


class PLIFThreshold(PLIF):
    """PLIF (learnable τ) whose threshold a forward call may override: ``forward(x, v_thr=, tau=)``.

    ``tau`` is accepted and ignored — in the ablation τ is learnt, only ``V_thr`` is varied.
    """

    def kernel_args(self, v_thr=None, tau=None):
        k, vt, vr, code, decay = super().kernel_args()
        if v_thr is not None:
            vt = check_positive("PLIFThreshold", "v_thr", v_thr)
        return k, vt, vr, code, decay


class BadSNNNet(SpikingNet):
    """A :class:`SpikingNet` whose ``forward(x, v_thr=None, tau=None)`` checks the pair first."""

    def forward(self, x, trace: bool = False, v_thr=None, tau=None, **neuron_args):
        if v_thr is not None or tau is not None:
            v, t = check_hyper("BadSNNNet.forward", (1.0 if v_thr is None else v_thr,
                                                      0.5 if tau is None else tau))
            neuron_args.update(v_thr=v, tau=t)
        return super().forward(x, trace=trace, **neuron_args)


def _neuron(kind):
    if kind == "lif":
        return lambda i: LIFDecay(v_thr=1.0, tau=0.5, surrogate="triangle")
    if kind == "plif":
        return lambda i: PLIFThreshold(init_tau=2.0, v_threshold=1.0, surrogate="triangle")
    raise ValueError(f"BadSNN nets: neuron must be 'lif' or 'plif', got {kind!r}")


def _conv_bn(c_in, c_out, gen, dtype, k=3, stride=1):
    return [Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False, rng=gen, dtype=dtype),
            BatchNorm2d(c_out, dtype=dtype)]


class _BNBlock(SpikingBlock):
    """:class:`SpikingBlock` with a BatchNorm after each convolution (and after the 1×1 shortcut)."""

    def __init__(self, c_in, c_out, stride, gen, dtype, neuron, index):
        super().__init__(c_in, c_out, stride, 0.0, gen, dtype, neuron, index)
        self.conv1 = SeqToANN(*_conv_bn(c_in, c_out, gen, dtype, 3, stride))
        self.conv2 = SeqToANN(*_conv_bn(c_out, c_out, gen, dtype))
        if self.shortcut is not None:
            self.shortcut = SeqToANN(*_conv_bn(c_in, c_out, gen, dtype, 1, stride))


def _w(c, width):
    return max(1, int(round(c * width)))


def event_frames(x, T):
    """Encoder for event frames ``x [B, T, 2, H, W]`` → ``[T, B, 2, H, W]`` (the frames are the steps)."""
    if x.ndim != 5 or x.shape[1] != T:
        raise ValueError(f"event_frames: expected frames [B, {T}, 2, H, W], got shape {tuple(x.shape)}")
    return x.transpose(1, 0, 2, 3, 4)


def _finish(nodes, T, events=False):
    return BadSNNNet(nodes, T, encoder=event_frames if events else "direct", readout="mean")


def resnet19(in_shape=(3, 32, 32), num_classes=10, width=1.0, T=4, neuron="lif", rng=0,
             dtype=np.float32) -> BadSNNNet:
    """TET's spiking ResNet-19 (module doc); ``width`` scales 128/256/512 and the fc-256."""
    c, h, w = _check_shape(in_shape, num_classes, "resnet19")
    if h != w:
        raise ValueError(f"resnet19: the global average pool needs square inputs, got {h}×{w}")
    gen, make = as_generator(rng, "resnet19"), _neuron(neuron)
    widths = [_w(128, width), _w(256, width), _w(512, width)]
    nodes, k = [SeqToANN(*_conv_bn(c, widths[0], gen, dtype)), NeuronSlot(make(0), 0)], 1
    c_in = widths[0]
    for stage, (c_out, blocks) in enumerate(zip(widths, (3, 3, 2))):
        for b in range(blocks):
            stride = 2 if (stage > 0 and b == 0) else 1
            nodes.append(_BNBlock(c_in, c_out, stride, gen, dtype, make, k))
            k, c_in = k + 2, c_out
            if stride == 2:
                h, w = (h + 1) // 2, (w + 1) // 2
    hidden = _w(256, width)
    nodes += [SeqToANN(AvgPool2d(h), Flatten(),
                       Linear(c_in, hidden, bias=False, rng=gen, dtype=dtype)),
              NeuronSlot(make(k), k),
              SeqToANN(Linear(hidden, int(num_classes), bias=False, rng=gen, dtype=dtype))]
    return _finish(nodes, T)


def vgg16(in_shape=(3, 32, 32), num_classes=10, width=1.0, T=4, neuron="lif", rng=0,
          dtype=np.float32) -> BadSNNNet:
    """Spiking VGG-16 (config D, BN, average pooling; a pool that would shrink a 1×1 map is skipped)."""
    c, h, w = _check_shape(in_shape, num_classes, "vgg16")
    gen, make = as_generator(rng, "vgg16"), _neuron(neuron)
    nodes, k = [], 0
    for item in VGG16:
        if item == "A":
            if h >= 2 and w >= 2:
                nodes.append(SeqToANN(AvgPool2d(2)))
                h, w = h // 2, w // 2
            continue
        nodes += [SeqToANN(*_conv_bn(c, _w(item, width), gen, dtype)), NeuronSlot(make(k), k)]
        c, k = _w(item, width), k + 1
    nodes.append(SeqToANN(Flatten(), Linear(c * h * w, int(num_classes), bias=False, rng=gen, dtype=dtype)))
    return _finish(nodes, T)


def nmnist_net(in_shape=(2, 34, 34), num_classes=10, widths=(16, 32), T=4, neuron="lif", rng=0,
               dtype=np.float32, events=False) -> BadSNNNet:
    """The N-MNIST net: two ``conv3 + BN + LIF + avgpool2`` stages of ``widths``, then fc-classes.

    ``events=True``: the input is event frames ``[B, T, 2, H, W]``, one frame per step
    (:func:`event_frames`); otherwise static images ``[B, C, H, W]`` repeated over ``T``.
    """
    c, h, w = _check_shape(in_shape, num_classes, "nmnist_net")
    if len(widths) != 2 or min(widths) < 1:
        raise ValueError(f"nmnist_net: widths must be two positive channel counts, got {widths!r}")
    gen, make = as_generator(rng, "nmnist_net"), _neuron(neuron)
    nodes = []
    for k, c_out in enumerate(int(v) for v in widths):
        nodes += [SeqToANN(*_conv_bn(c, c_out, gen, dtype)), NeuronSlot(make(k), k), SeqToANN(AvgPool2d(2))]
        c, h, w = c_out, h // 2, w // 2
    nodes.append(SeqToANN(Flatten(), Linear(c * h * w, int(num_classes), bias=False, rng=gen, dtype=dtype)))
    return _finish(nodes, T, events)


ARCHS = {"resnet19": resnet19, "vgg16": vgg16, "nmnist": nmnist_net}


def build_badsnn_net(arch: str, **options) -> BadSNNNet:
    """``ARCHS[arch](**options)`` with the arch name checked."""
    if arch not in ARCHS:
        raise ValueError(f"build_badsnn_net: unknown arch {arch!r}; choose from {sorted(ARCHS)}")
    return ARCHS[arch](**options)
