"""TGO's spiking VGG-11 and WRN-16 (T = 4, direct input) with a width parameter.

Both are :class:`~refsnn.models.spiking.SpikingNet` s built from a layer spec, so
``forward(x, trace=True)`` gives each spiking layer's membrane ``H [T, B, ...]`` for
the threshold-guarding constraint (:mod:`refsnn.defenses.tgo`).

* VGG-11: :func:`~refsnn.models.vgg.vgg_spec` ``"vgg11"`` with the conv widths
  ``(64, 128, 256, 256, 512, 512, 512, 512) · width`` and hidden fc ``4096 · width``
  (``width = 1`` is the paper-scale net; the study's CPU default is 1/16).
* WRN-16-k (Zagoruyko & Komodakis): stem conv 3×3 → 16·w, three stages of
  ``(16 − 4)/6 = 2`` basic blocks of widths ``(16k, 32k, 64k)·w`` (strides 1, 2, 2),
  global average pool, linear.  ``k = 4`` (WRN-16-4, the width the SR/TGO code
  base names for CIFAR); ``w`` the reduction.  Choices, stated: the framework's
  post-activation :class:`~refsnn.models.resnet.BasicBlock` (spiking neurons
  replace ReLUs), no batch norm, no biases, block dropout ``p = 0`` by default.

Without batch norm a deep spiking net starts silent (no spike reaches the output);
:func:`data_init` rescales, layer by layer on one batch, the weight layer feeding each
spiking layer so that the ``q``-quantile of its input current equals θ (an LSUV-style
data-dependent initialisation; our choice, the paper's nets have batch norm).

Neurons (:func:`tgo_neuron`): the plain LIF is form 2 (``H = λ·V + X``, soft reset,
θ = 1, λ = 0.5 i.e. SpikingJelly's τ = 2, triangle surrogate of width 1); the noisy
LIF is form 5 with ``noise="gaussian"`` and ``t_noise = σ`` — P(fire) = Φ((H − θ)/σ)
while training, deterministic or noisy at evaluation (``noisy_eval``).  The paper
states none of λ, θ, reset or surrogate (see ``003-tgo-details.md``).

>>> import numpy as np
>>> net = tgo_vgg11(width=1 / 32, in_shape=(1, 16, 16), rng=0)
>>> net(np.zeros((2, 1, 16, 16), np.float32)).shape
(2, 10)
>>> wrn16(width=1 / 8, in_shape=(1, 8, 8), rng=0)(np.zeros((1, 1, 8, 8), np.float32)).shape
(1, 10)
"""

from __future__ import annotations

import math

import numpy as np

from data_tools.batches import as_generator
from refsnn.autograd import Tensor, no_grad
from refsnn.models.spiking import NeuronSlot, SpikingNet, spiking_from_spec
from refsnn.models.vgg import _check_shape, vgg_spec
from refsnn.neurons import LIFImmediate
from refsnn.neurons.noisy import NoisyLIF
from refsnn.nn import Conv2d, Linear
from refsnn.validation import check_interval, check_positive

VGG11_WIDTHS = (64, 128, 256, 256, 512, 512, 512, 512)
VGG11_HIDDEN = 4096
NEURON_DEFAULTS = dict(lam=0.5, theta=1.0)


def _scaled(where: str, base, width: float) -> list[int]:
    width = check_positive(where, "width", width)
    return [max(1, int(round(b * width))) for b in base]


def tgo_neuron(noisy: bool = False, sigma: float = 0.2, noisy_eval: bool = False, rng=0,
               lam: float = NEURON_DEFAULTS["lam"], theta: float = NEURON_DEFAULTS["theta"]):
    """A factory ``f(i) -> neuron`` for :func:`~refsnn.models.spiking.spiking_from_spec`.

    ``noisy=False``: form-2 LIF (triangle surrogate).  ``noisy=True``: Gaussian noisy LIF of std
    ``sigma`` > 0 (each layer its own Generator drawn from ``rng``); ``noisy_eval`` keeps the
    noise on in evaluation mode (and so inside attacks).
    """
    if noisy:
        sigma = check_interval("tgo_neuron", "sigma", sigma, 0.0, math.inf, lo_open=True)
    gen = as_generator(rng, "tgo_neuron")
    seeds = {}

    def build(i: int):
        if not noisy:
            return LIFImmediate(lam=lam, theta=theta, reset="soft", surrogate="triangle")
        seeds.setdefault(i, int(gen.integers(2**63)))
        return NoisyLIF(lam=lam, theta=theta, t_noise=sigma, reset="soft", rng=seeds[i],
                        stochastic_eval=noisy_eval, noise="gaussian")

    return build


def tgo_vgg11(width: float = 1.0, in_shape=(3, 32, 32), num_classes: int = 10, T: int = 4,
              neuron=None, rng=0, dropout: float = 0.0, dtype=np.float32) -> SpikingNet:
    """Spiking VGG-11 (module doc) of ``width`` · the paper's channels; direct input, mean readout."""
    widths = _scaled("tgo_vgg11", VGG11_WIDTHS, width)
    hidden = _scaled("tgo_vgg11", (VGG11_HIDDEN,), width)[0]
    spec = vgg_spec("vgg11", in_shape, num_classes, hidden=hidden, conv_dropout=dropout,
                    fc_dropout=dropout, conv_widths=widths)
    return spiking_from_spec(spec, neuron or tgo_neuron(), T, encoder="direct", rng=rng, dtype=dtype)


def wrn16_spec(in_shape=(3, 32, 32), num_classes: int = 10, k: int = 4, width: float = 1.0,
               dropout: float = 0.0) -> list[tuple]:
    """The WRN-16-k spec (module doc) at ``width`` · its channels."""
    c, h, w = _check_shape(in_shape, num_classes, "wrn16_spec")
    if int(k) != k or k < 1:
        raise ValueError(f"wrn16_spec: k must be an integer >= 1, got {k!r}")
    stem, *stages = _scaled("wrn16_spec", (16, 16 * k, 32 * k, 64 * k), width)
    spec = [("conv", c, stem, 3, 1, 1), ("relu",)]
    c = stem
    for s, width_s in enumerate(stages):
        for b in range(2):
            stride = 2 if s > 0 and b == 0 else 1
            spec.append(("block", c, width_s, stride, dropout))
            c = width_s
            h, w = (h - 1) // stride + 1, (w - 1) // stride + 1
    return spec + [("avgpool", h), ("flatten",), ("linear", c, int(num_classes))]


def wrn16(width: float = 1.0, in_shape=(3, 32, 32), num_classes: int = 10, T: int = 4, k: int = 4,
          neuron=None, rng=0, dropout: float = 0.0, dtype=np.float32) -> SpikingNet:
    """Spiking WRN-16-k (module doc); direct input, mean readout."""
    spec = wrn16_spec(in_shape, num_classes, k, width, dropout)
    return spiking_from_spec(spec, neuron or tgo_neuron(), T, encoder="direct", rng=rng, dtype=dtype)


def _feeding_layers(model) -> list:
    """For each neuron slot in order, the last Conv2d / Linear before it (shortcut convs skipped)."""
    out, last = [], None
    for name, m in model.named_modules():
        if isinstance(m, (Conv2d, Linear)) and "shortcut" not in name:
            last = m
        elif isinstance(m, NeuronSlot):
            out.append(last)
    return out


def data_init(model: SpikingNet, x, q: float = 0.9, theta: float = 1.0) -> list[float]:
    """Scale each spiking layer's feeding weights so that quantile ``q`` of its current is ``θ``.

    ``x [B, ...]`` one batch; returns the scale factors (layer order).  In place, no gradient.
    """
    q = check_interval("data_init", "q", q, 0.0, 1.0, lo_open=True)
    from refsnn.backend import to_backend, to_host
    from refsnn.train import model_backend

    x = x if isinstance(x, Tensor) else Tensor(to_backend(np.asarray(x), model_backend(model)))
    scales = []
    was_training = model.training
    model.eval()
    with no_grad():
        for i, layer in enumerate(_feeding_layers(model)):
            cur = np.asarray(to_host(model.current_into(x, i).data), np.float64)
            top = float(np.quantile(cur, q))
            scale = theta / top if top > 1e-8 else 4.0
            layer.weight.data[...] *= layer.weight.data.dtype.type(scale)
            if getattr(layer, "bias", None) is not None:
                layer.bias.data[...] *= layer.bias.data.dtype.type(scale)
            scales.append(scale)
    model.train(was_training)
    return scales
