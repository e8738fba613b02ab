"""The LIF family in one namespace: forms 1–4 of DESIGN.md, functional and as layers.

=====  =======================================  ======================  =========================
form   what                                     functional              layer
=====  =======================================  ======================  =========================
1      LIF, delayed reset (snnTorch ``Leaky``)  :func:`lif_delayed`     :class:`LIFDelayed`
2      LIF / IF, immediate soft or hard reset   :func:`lif_immediate`   :class:`LIFImmediate`, IF
3      LIF(V_thr, τ), decay factor (BadSNN)     :func:`lif_decay`       :class:`LIFDecay`
4      SpikingJelly ``LIFNode`` / PLIF          :func:`lif_sj`, plif    :class:`LIFNodeSJ`, PLIF
=====  =======================================  ======================  =========================

Each form is one file (:mod:`refsnn.neurons.forms` says what it holds); each functional
entry point is one autograd Function over ``x [T, B, ...]`` calling one fused forward kernel
and one fused BPTT kernel of the active backend (``refsnn.backend.kernel_for``); each layer
also has a single-step ``step(x_t, state)`` built from autograd ops, equal to the fused path.
The equations are in each form's docstring; surrogates in :mod:`refsnn.neurons.surrogate`.
"""

from refsnn.neurons.base import NeuronState, SpikingNeuron
from refsnn.neurons.lif_decay import LIFDecay, lif_decay
from refsnn.neurons.lif_delayed import LIFDelayed, lif_delayed
from refsnn.neurons.lif_immediate import IF, LIFImmediate, lif_immediate
from refsnn.neurons.lif_sj import PLIF, LIFNodeSJ, lif_sj, plif, plif_init_w

__all__ = [
    "NeuronState", "SpikingNeuron",
    "lif_delayed", "LIFDelayed",
    "lif_immediate", "LIFImmediate", "IF",
    "lif_decay", "LIFDecay",
    "lif_sj", "LIFNodeSJ",
    "plif", "PLIF", "plif_init_w",
]
