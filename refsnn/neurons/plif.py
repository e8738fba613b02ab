"""PLIF — SpikingJelly's ``ParametricLIFNode``: form 4 with a learnable time constant.

Defined with its form in :mod:`refsnn.neurons.lif_sj`; this module keeps the import path
``refsnn.neurons.plif`` that ``refsnn.crossval`` uses.
"""

from refsnn.neurons.lif_sj import PLIF, plif, plif_init_w

__all__ = ["PLIF", "plif", "plif_init_w"]
