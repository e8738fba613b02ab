"""Spiking neurons: DESIGN forms 1–6 and surrogate gradients.

Functional entry points take ``x [T, B, ...]`` and are one autograd Function
each; layers (``SpikingNeuron`` subclasses) add a single-step ``step``.
See :mod:`refsnn.neurons.lif` for the LIF family table.
"""

from refsnn.neurons.lif import (
    IF,
    PLIF,
    LIFDecay,
    LIFDelayed,
    LIFImmediate,
    LIFNodeSJ,
    NeuronState,
    SpikingNeuron,
    lif_decay,
    lif_delayed,
    lif_immediate,
    lif_sj,
    plif,
    plif_init_w,
)
from refsnn.neurons.noisy import NoisyLIF, noisy_lif
from refsnn.neurons.siegert import SiegertLayer, siegert
from refsnn.neurons.surrogate import Surrogate, get_surrogate, spike

__all__ = [
    "NeuronState", "SpikingNeuron", "Surrogate", "get_surrogate", "spike",
    "lif_delayed", "LIFDelayed", "lif_immediate", "LIFImmediate", "IF",
    "lif_decay", "LIFDecay", "lif_sj", "LIFNodeSJ", "plif", "PLIF", "plif_init_w",
    "noisy_lif", "NoisyLIF", "siegert", "SiegertLayer",
]
