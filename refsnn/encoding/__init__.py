"""Encoders (analog input → spike trains ``[T, B, ...]``) and decoders (trace → readout).

Encoders: :func:`rate` (Bernoulli, alias :func:`bernoulli`), :func:`signed_poisson`,
:func:`direct`, :func:`latency`, and the dispatcher :func:`encode`.  Decoders:
:func:`spike_count`, :func:`mean_membrane`, :func:`summed_membrane`,
:func:`first_spike_time`, and :func:`decode`.  Everything that draws takes an
explicit ``rng`` (Generator or int seed).

>>> import numpy as np
>>> S = encode(np.full((2, 3), 0.5), T=8, method="rate", rng=0)
>>> S.shape, decode(S, "spike_count").shape
((8, 2, 3), (2, 3))
"""

from refsnn.encoding.decoders import (
    decode,
    first_spike_time,
    mean_membrane,
    spike_count,
    summed_membrane,
)
from refsnn.encoding.encoders import bernoulli, direct, encode, latency, rate, signed_poisson

__all__ = [
    "rate", "bernoulli", "signed_poisson", "direct", "latency", "encode",
    "spike_count", "mean_membrane", "summed_membrane", "first_spike_time", "decode",
]
