"""VGG5 and VGG11 (config A, average pooling) of Sharmin et al. §3.1, as layer specs and ANNs.

A model is described once as a *spec*: a list of plain tuples, one per layer,

====================================  ====================================================
``("conv", c_in, c_out, k, s, p)``    3×3 convolution, no bias, ``[B, c_in, H, W] → [B, c_out, H', W']``
``("relu",)``                         the activation (an SNN variant swaps in a neuron)
``("dropout", p)``                    dropout after a ReLU that is not followed by pooling
``("avgpool", k)``                    average pooling, kernel = stride = ``k``
``("flatten",)``                      ``[B, C, H, W] → [B, C·H·W]``
``("linear", n_in, n_out)``           fully connected, no bias
====================================  ====================================================

and :func:`build_ann` turns a spec into a :class:`~refsnn.nn.Sequential`
whose children are numbered ``"0"``, ``"1"``, ... like a PyTorch
``nn.Sequential`` of the same layers (so its ``state_dict`` maps one to one).
``builders`` overrides how a kind is built — the later ``spiking=`` variants
reuse the spec and replace ``"relu"`` by IF/LIF neurons.

The paper's rules: no biases, no batch norm (a bias shifts the threshold
balancing of the converted SNN, and without biases BN is dropped too); a
dropout after every ReLU that is not followed by a pooling layer.

* VGG5: conv3-64, avgpool, conv3-128, conv3-128, avgpool, fc1024, fc1024, fc-classes.
* VGG11 (Simonyan config A, max- replaced by average pooling): 64, A, 128, A,
  256, 256, A, 512, 512, A, 512, 512, A, then fc ``hidden`` ×2 and fc-classes.
  A pool that would shrink a 1×1 map is left out (a 28×28 input reaches 1×1
  after four pools, so its fifth pool is omitted).

Documented choices the paper leaves open: dropout ``p = 0.2`` after conv ReLUs
and ``0.5`` after fc ReLUs (overridable); PyTorch-default initialisation drawn
from one seeded Generator in layer order (dropout masks from Generators seeded
by it as well); convolutions ``3×3``, stride 1, padding 1.

>>> import numpy as np
>>> net = vgg5(in_shape=(1, 28, 28), num_classes=10, rng=0)
>>> net(np.zeros((2, 1, 28, 28), np.float32)).shape
(2, 10)
>>> [s[0] for s in vgg_spec("vgg5")][:6]
['conv', 'relu', 'avgpool', 'conv', 'relu', 'dropout']
"""

from __future__ import annotations

import numpy as np

from data_tools.batches import as_generator
from refsnn.nn import AvgPool2d, Conv2d, Dropout, Flatten, Linear, ReLU, Sequential

CONFIGS = {
    "vgg5": ([64, "A", 128, 128, "A"], [1024, 1024]),
    "vgg11": ([64, "A", 128, "A", 256, 256, "A", 512, 512, "A", 512, 512, "A"], [4096, 4096]),
}


def _check_shape(in_shape, num_classes, where):
    shape = tuple(int(v) for v in in_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{where}: in_shape must be (C, H, W) with positive sizes, got {in_shape!r}")
    if int(num_classes) != num_classes or num_classes < 2:
        raise ValueError(f"{where}: num_classes must be an integer >= 2, got {num_classes!r}")
    return shape


def vgg_spec(arch: str = "vgg5", in_shape=(1, 28, 28), num_classes: int = 10, hidden: int | None = None,
             conv_dropout: float = 0.2, fc_dropout: float = 0.5, conv_widths=None) -> list[tuple]:
    """The layer spec of ``arch`` (``"vgg5"`` or ``"vgg11"``) for inputs ``in_shape = (C, H, W)``.

    ``hidden`` overrides the width of the two hidden fc layers (1024 for VGG5, 4096 for VGG11);
    ``conv_widths`` the convolutions' output channels, one per conv in order (a reduced-width
    variant for CPU runs; VGG5's are ``(64, 128, 128)``).
    """
    if arch not in CONFIGS:
        raise ValueError(f"vgg_spec: unknown arch {arch!r}; choose from {sorted(CONFIGS)}")
    c, h, w = _check_shape(in_shape, num_classes, "vgg_spec")
    for name, p in (("conv_dropout", conv_dropout), ("fc_dropout", fc_dropout)):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"vgg_spec: {name} must be in [0, 1), got {p}")
    convs, fcs = CONFIGS[arch]
    if hidden is not None:
        fcs = [int(hidden)] * len(fcs)
    if conv_widths is not None:
        widths = [int(v) for v in conv_widths]
        n_conv = sum(item != "A" for item in convs)
        if len(widths) != n_conv or min(widths) < 1:
            raise ValueError(f"vgg_spec: conv_widths must list {n_conv} positive widths for {arch}, "
                             f"got {conv_widths!r}")
        it = iter(widths)
        convs = [item if item == "A" else next(it) for item in convs]
    spec: list[tuple] = []
    for i, item in enumerate(convs):
        if item == "A":
            if h >= 2 and w >= 2:
                spec.append(("avgpool", 2))
                h, w = h // 2, w // 2
            continue
        spec += [("conv", c, item, 3, 1, 1), ("relu",)]
        c = item
        followed_by_pool = i + 1 < len(convs) and convs[i + 1] == "A" and h >= 2 and w >= 2
        if not followed_by_pool:
            spec.append(("dropout", conv_dropout))
    spec.append(("flatten",))
    n = c * h * w
    for width in fcs:
        spec += [("linear", n, width), ("relu",), ("dropout", fc_dropout)]
        n = width
    spec.append(("linear", n, int(num_classes)))
    return spec


def _conv(args, gen, dtype):
    c_in, c_out, k, s, p = args
    return Conv2d(c_in, c_out, k, stride=s, padding=p, bias=False, rng=gen, dtype=dtype)


DEFAULT_BUILDERS = {
    "conv": _conv,
    "linear": lambda args, gen, dtype: Linear(args[0], args[1], bias=False, rng=gen, dtype=dtype),
    "relu": lambda args, gen, dtype: ReLU(),
    "dropout": lambda args, gen, dtype: Dropout(args[0], rng=np.random.default_rng(int(gen.integers(2**63)))),
    "avgpool": lambda args, gen, dtype: AvgPool2d(args[0]),
    "flatten": lambda args, gen, dtype: Flatten(),
}


def build_ann(spec, rng=0, dtype=np.float32, builders=None) -> Sequential:
    """A :class:`~refsnn.nn.Sequential` with one child per spec entry, in order.

    ``rng`` (Generator or int seed) draws every initialisation in layer order;
    ``builders`` maps a kind to ``f(args, generator, dtype) -> Module`` and
    overrides (or extends) :data:`DEFAULT_BUILDERS`.
    """
    table = {**DEFAULT_BUILDERS, **(builders or {})}
    gen = as_generator(rng, "build_ann")
    layers = []
    for i, entry in enumerate(spec):
        kind, args = entry[0], tuple(entry[1:])
        if kind not in table:
            raise ValueError(f"build_ann: spec entry {i} has unknown kind {kind!r}; known: {sorted(table)}")
        layers.append(table[kind](args, gen, dtype))
    return Sequential(*layers)


def vgg5(in_shape=(1, 28, 28), num_classes: int = 10, rng=0, dtype=np.float32, **spec_options) -> Sequential:
    """The VGG5 ANN (see module docstring); ``spec_options`` go to :func:`vgg_spec`."""
    return build_ann(vgg_spec("vgg5", in_shape, num_classes, **spec_options), rng=rng, dtype=dtype)


def vgg11(in_shape=(3, 32, 32), num_classes: int = 100, rng=0, dtype=np.float32,
          **spec_options) -> Sequential:
    """The VGG11 ANN, config A with average pooling (see module docstring)."""
    return build_ann(vgg_spec("vgg11", in_shape, num_classes, **spec_options), rng=rng, dtype=dtype)
