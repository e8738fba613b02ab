"""Time-first spiking conv nets built from the same layer spec as the ANNs (VGG5, VGG11, ResNet20).

:func:`spiking_from_spec` turns a spec of :mod:`refsnn.models.vgg` /
:mod:`refsnn.models.resnet` into a :class:`SpikingNet`: runs of stateless
layers (``conv``, ``avgpool``, ``flatten``, ``linear``) become one
:class:`~refsnn.nn.SeqToANN` block each, every ``relu`` becomes a
:class:`NeuronSlot` holding whatever neuron the caller's factory builds
(IF, LIF, form 3, a noisy LIF, ...), ``dropout`` becomes :class:`TimeDropout`
(one mask per sample for all steps, as the hybrid-training code does) and
``block`` a :class:`SpikingBlock`.  With the same seed the weights equal the
ANN's (same Generator draws in the same order).  For ``x [B, C, H, W]``::

    X[t]   = encoder(x)[t]                                   [T, B, C, H, W]
    ...    = neuron_l( SeqToANN(stateless layers)(...) )     [T, B, ...]  per neuron layer l
    Z[t]   = W_out · (spikes of the last neuron layer)[t]     [T, B, classes]
    logits = (1/T)·Σ_t Z[t]   (readout="mean")  or  Σ_t Z[t]   (readout="sum")

The output layer has no neuron: it *accumulates membrane without threshold or
reset* (Sharmin §2.1: inference on the cumulative membrane after T steps);
the default divides by T so the logits' scale does not grow with T.  Logits
``[B, classes]`` go to any loss, and any attack of :mod:`refsnn.attacks` runs
on the model unchanged, by BPTT.

Encoders: ``"poisson"`` — signed Poisson spikes (:class:`PoissonSpikes`) whose
backward is straight-through, ``∂J/∂x = Σ_t ∂J/∂X[t]``; ``"direct"`` — ``x``
at every step (:func:`~refsnn.nn.repeat_time`); or a callable
``encoder(x_tensor, T) -> [T, B, ...]``.  For Poisson input the straight-
through gradient *is* Sharmin's SNN-crafted Eq. 6: ``Σ_t convᵀ(∂J/∂Z1[t]) =
convᵀ(Σ_t ∂J/∂Z1[t])`` (tested against :class:`~refsnn.attacks.Conv1Route`).

Run-time arguments of ``forward(x, trace=False, **neuron_args)``:
``neuron_args`` go to every neuron's ``forward`` (e.g. BadSNN's
``v_thr``/``tau`` for form 3); ``trace=True`` also returns one
:class:`LayerTrace` per neuron layer (input current, spikes, membrane) for
membrane losses (TGO) or perturbation analyses.

>>> import numpy as np
>>> from refsnn.models.vgg import vgg_spec
>>> from refsnn.neurons import IF
>>> spec = vgg_spec("vgg5", (1, 8, 8), 3, hidden=8, conv_widths=(4, 4, 4))
>>> snn = spiking_from_spec(spec, neurons(IF), T=4, rng=0)
>>> snn(np.zeros((2, 1, 8, 8), np.float32)).shape
(2, 3)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data_tools.batches import as_generator
from refsnn import autograd as ag
from refsnn.autograd import Function, Tensor
from refsnn.backend import xp_of
from refsnn.encoding import signed_poisson
from refsnn.models.vgg import DEFAULT_BUILDERS
from refsnn.nn import Conv2d, Linear, Module, SeqToANN, Sequential, repeat_time

STATELESS = ("conv", "linear", "avgpool", "flatten")
ENCODERS = ("poisson", "direct")


class PoissonSpikes(Function):
    """Signed Poisson spikes with a straight-through gradient.

    forward:  ``x [B, ...] → S [T, B, ...]``, ``S[t] = sign(x)·[u[t] ≤ |x|]`` (``u`` from ``rng``)
    backward: ``dx = Σ_t dS[t]`` — ``∂E[S[t]]/∂x = 1`` for ``|x| ≤ 1``.
    """

    def forward(self, x, *, T, rng):
        return signed_poisson(x, T, rng, dtype=x.dtype)

    def backward(self, g):
        return (g.sum(axis=0),)


def neurons(cls, **params):
    """A neuron factory ``f(i) -> cls(**params_i)``; a list/tuple value gives layer ``i`` its ``i``-th entry.

    >>> from refsnn.neurons import IF
    >>> f = neurons(IF, theta=[2.0, 3.0])
    >>> f(1).theta
    3.0
    """
    def make(i: int):
        kw = {}
        for k, v in params.items():
            if isinstance(v, (list, tuple)):
                if i >= len(v):
                    raise ValueError(f"neurons({cls.__name__}): {k} lists {len(v)} values, "
                                     f"layer {i} has none")
                v = v[i]
            kw[k] = v
        return cls(**kw)
    return make


@dataclass
class LayerTrace:
    """One neuron layer's record of a forward pass (all ``[T, B, ...]`` Tensors)."""

    current: Tensor
    spikes: Tensor
    membrane: Tensor | None


class _Run:
    """What one forward pass carries to the neuron slots: overrides, the trace, an early stop."""

    def __init__(self, overrides=None, trace=None, stop_at=None):
        self.overrides, self.trace, self.stop_at = overrides or {}, trace, stop_at


class _Stop(Exception):
    def __init__(self, current):
        super().__init__("stop")
        self.current = current


class NeuronSlot(Module):
    """A neuron layer at position ``index``: ``x [T, B, ...]`` (input current) → spikes.

    The neuron runs with ``return_membrane=True`` so its membrane can be traced.
    """

    def __init__(self, neuron: Module, index: int):
        super().__init__()
        if not callable(neuron):
            raise TypeError(f"NeuronSlot {index}: the factory built {type(neuron).__name__}, not a neuron")
        self.index = int(index)
        self.replace(neuron)

    def replace(self, neuron: Module) -> None:
        """Put ``neuron`` in this slot (e.g. IF → LIF after conversion)."""
        self.neuron = neuron
        if hasattr(neuron, "return_membrane"):
            neuron.return_membrane = True

    def forward(self, x, run: _Run | None = None):
        run = run or _Run()
        if run.stop_at == self.index:
            raise _Stop(x)
        try:
            out = self.neuron(x, **run.overrides)
        except TypeError as exc:
            if not run.overrides:
                raise
            raise TypeError(f"neuron layer {self.index} ({type(self.neuron).__name__}) does not take the "
                            f"run-time arguments {sorted(run.overrides)} ({exc})") from None
        s, h = out if isinstance(out, tuple) else (out, None)
        if run.trace is not None:
            run.trace.append(LayerTrace(current=x, spikes=s, membrane=h))
        return s


class TimeDropout(Module):
    """Dropout with one mask per sample shared by all T steps: ``x [T, B, ...] · m[B, ...] / (1 − p)``."""

    def __init__(self, p: float, rng):
        super().__init__()
        if not 0.0 <= float(p) < 1.0:
            raise ValueError(f"TimeDropout: p must be in [0, 1), got {p}")
        self.p, self.rng = float(p), as_generator(rng, "TimeDropout")

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        ones = Tensor(xp_of(x.data).ones((1,) + tuple(x.shape[1:]), dtype=x.dtype))
        return x * ag.dropout(ones, self.p, True, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _seed(gen) -> np.random.Generator:
    return np.random.default_rng(int(gen.integers(2**63)))


class SpikingBlock(Module):
    """Spiking :class:`~refsnn.models.resnet.BasicBlock`: ``act2(conv2(drop(act1(conv1(x)))) + shortcut(x))``.

    ``x [T, B, c_in, H, W]`` (spikes); convolutions in SeqToANN; two neuron slots
    (``index``, ``index + 1``).  Children and Generator draws in BasicBlock's order.
    """

    def __init__(self, c_in, c_out, stride, p, gen, dtype, neuron, index):
        super().__init__()
        conv = lambda a, b, k, s, pad: SeqToANN(  # noqa: E731
            Conv2d(a, b, k, stride=s, padding=pad, bias=False, rng=gen, dtype=dtype))
        self.conv1 = conv(c_in, c_out, 3, stride, 1)
        self.act1 = NeuronSlot(neuron(index), index)
        self.drop = TimeDropout(p, _seed(gen))
        self.conv2 = conv(c_out, c_out, 3, 1, 1)
        self.shortcut = conv(c_in, c_out, 1, stride, 0) if (stride != 1 or c_in != c_out) else None
        self.act2 = NeuronSlot(neuron(index + 1), index + 1)

    def forward(self, x, run: _Run | None = None):
        out = self.conv2(self.drop(self.act1(self.conv1(x), run)))
        skip = x if self.shortcut is None else self.shortcut(x)
        return self.act2(out + skip, run)


class SpikingNet(Module):
    """Encoder → ``layers`` (SeqToANN blocks, neuron slots, ...) → accumulated output membrane.

    ``T`` (steps) and ``readout`` may be changed between calls.  ``rng`` seeds the encoder.
    """

    def __init__(self, layers, T: int, encoder="poisson", readout: str = "mean", rng=None):
        super().__init__()
        if int(T) != T or T < 1:
            raise ValueError(f"SpikingNet: T must be an integer >= 1, got {T!r}")
        if not (callable(encoder) or encoder in ENCODERS):
            raise ValueError(f"SpikingNet: encoder must be one of {ENCODERS} or a callable, got {encoder!r}")
        if readout not in ("mean", "sum"):
            raise ValueError(f"SpikingNet: readout must be 'mean' or 'sum', got {readout!r}")
        self.layers = Sequential(*layers)
        self.T, self.encoder, self.readout = int(T), encoder, readout
        self.rng = as_generator(rng, "SpikingNet (the Poisson encoder)") if encoder == "poisson" else None

    def encode(self, x) -> Tensor:
        """``x [B, ...] → X [T, B, ...]``."""
        x = x if isinstance(x, Tensor) else Tensor(x)
        if self.encoder == "poisson":
            return PoissonSpikes.apply(x, T=self.T, rng=self.rng)
        if self.encoder == "direct":
            return repeat_time(x, self.T)
        return self.encoder(x, self.T)

    def _body(self, x, run: _Run) -> Tensor:
        h = self.encode(x)
        for node in self.layers:
            h = node(h, run) if isinstance(node, (NeuronSlot, SpikingBlock)) else node(h)
        return h

    def forward(self, x, trace: bool = False, **neuron_args):
        """Logits ``[B, classes]``; with ``trace``, ``(logits, [LayerTrace per neuron layer])``."""
        run = _Run(neuron_args, [] if trace else None)
        z = self._body(x, run)
        logits = z.sum(axis=0)
        if self.readout == "mean":
            logits = logits * (1.0 / self.T)
        return (logits, run.trace) if trace else logits

    def slots(self) -> list[NeuronSlot]:
        """The neuron layers in order (``slots()[i].neuron`` is layer ``i``'s neuron)."""
        return [m for m in self.modules() if isinstance(m, NeuronSlot)]

    def current_into(self, x, index: int, **neuron_args) -> Tensor:
        """The input current ``[T, B, ...]`` of neuron layer ``index`` (the network runs up to it)."""
        n = len(self.slots())
        if not 0 <= index < n:
            raise ValueError(f"SpikingNet.current_into: index {index} outside the {n} neuron layers")
        try:
            self._body(x, _Run(neuron_args, None, stop_at=index))
        except _Stop as stop:
            return stop.current
        raise RuntimeError("SpikingNet.current_into: the forward pass never reached the neuron layer")

    def extra_repr(self) -> str:
        return f"T={self.T}, encoder={self.encoder!r}, readout={self.readout!r}"


def spiking_from_spec(spec, neuron, T: int, encoder="poisson", readout: str = "mean", rng=0,
                      dtype=np.float32, encoder_rng=None) -> SpikingNet:
    """A :class:`SpikingNet` from a layer spec; ``neuron(i)`` builds neuron layer ``i`` (see :func:`neurons`).

    ``rng`` draws the weights exactly as :func:`~refsnn.models.vgg.build_ann` does (same seed,
    same weights); ``encoder_rng`` seeds the Poisson encoder (default: drawn from ``rng``).
    """
    if not callable(neuron) or isinstance(neuron, Module):
        raise TypeError(f"spiking_from_spec: neuron must be a factory f(i) -> neuron (e.g. neurons(IF)), "
                        f"got {type(neuron).__name__}")
    gen = as_generator(rng, "spiking_from_spec")
    nodes, group, k = [], [], 0

    def flush():
        if group:
            nodes.append(SeqToANN(*group))
            group.clear()

    for i, entry in enumerate(spec):
        kind, args = entry[0], tuple(entry[1:])
        if kind in STATELESS:
            group.append(DEFAULT_BUILDERS[kind](args, gen, dtype))
        elif kind == "relu":
            flush()
            nodes.append(NeuronSlot(neuron(k), k))
            k += 1
        elif kind == "dropout":
            flush()
            nodes.append(TimeDropout(args[0], _seed(gen)))
        elif kind == "block":
            flush()
            nodes.append(SpikingBlock(*args, gen, dtype, neuron, k))
            k += 2
        else:
            raise ValueError(f"spiking_from_spec: spec entry {i} has unknown kind {kind!r}; known: "
                             f"{sorted((*STATELESS, 'relu', 'dropout', 'block'))}")
    if not group or not isinstance(group[-1], Linear):
        raise ValueError("spiking_from_spec: the spec must end with the output layer "
                         "('linear', n_in, classes)")
    flush()
    enc_rng = (encoder_rng if encoder_rng is not None else _seed(gen)) if encoder == "poisson" else None
    return SpikingNet(nodes, T, encoder, readout, enc_rng)


def weight_layers(model) -> list:
    """Every Conv2d / Linear of ``model`` in registration order (ANN and SNN of one spec line up)."""
    return [m for m in model.modules() if isinstance(m, (Conv2d, Linear))]


def copy_weights(src, dst) -> None:
    """Copy the weights (and biases) of ``src``'s Conv2d/Linear layers into ``dst``'s, in order."""
    a, b = weight_layers(src), weight_layers(dst)
    if len(a) != len(b):
        raise ValueError(f"copy_weights: {len(a)} weight layers in the source, {len(b)} in the destination")
    for i, (m, n) in enumerate(zip(a, b)):
        if m.weight.shape != n.weight.shape:
            raise ValueError(f"copy_weights: weight layer {i} is {m.weight.shape} in the source, "
                             f"{n.weight.shape} in the destination")
        n.weight.data[...] = m.weight.data
        if getattr(m, "bias", None) is not None and getattr(n, "bias", None) is not None:
            n.bias.data[...] = m.bias.data


def spiking_vgg(arch: str, neuron, T: int, in_shape=(1, 28, 28), num_classes: int = 10, rng=0,
                encoder="poisson", readout: str = "mean", dtype=np.float32, **spec_options) -> SpikingNet:
    """Spiking VGG5 / VGG11 (``arch``); ``spec_options`` go to :func:`~refsnn.models.vgg.vgg_spec`."""
    from refsnn.models.vgg import vgg_spec

    spec = vgg_spec(arch, in_shape, num_classes, **spec_options)
    return spiking_from_spec(spec, neuron, T, encoder, readout, rng, dtype)


def spiking_resnet20(neuron, T: int, in_shape=(3, 32, 32), num_classes: int = 10, rng=0, encoder="poisson",
                     readout: str = "mean", dtype=np.float32, **spec_options) -> SpikingNet:
    """Spiking ResNet20; ``spec_options`` go to :func:`~refsnn.models.resnet.resnet_spec`."""
    from refsnn.models.resnet import resnet_spec

    spec = resnet_spec(in_shape, num_classes, **spec_options)
    return spiking_from_spec(spec, neuron, T, encoder, readout, rng, dtype)
