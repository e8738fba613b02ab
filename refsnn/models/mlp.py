"""Fully connected ANNs: a generic MLP builder and the GAMIN-study target ANN.

``mlp([784, 3000, 10])`` is ``Flatten → Linear(784, 3000) → ReLU → Linear(3000, 10)``:
input ``[B, 1, 28, 28]`` (or ``[B, 784]``), output logits ``[B, 10]``.  Parameter
names follow PyTorch's ``nn.Sequential`` numbering (``"1.weight"`` is the
first Linear's ``[3000, 784]`` weight), so a PyTorch ``state_dict`` of the same
``Sequential`` loads one to one.

>>> import numpy as np
>>> net = mlp([4, 8, 3], rng=0)
>>> net(np.zeros((2, 4), np.float32)).shape
(2, 3)
"""

from __future__ import annotations

import numpy as np

from data_tools.batches import as_generator
from refsnn.nn import Flatten, Linear, ReLU, Sequential, Sigmoid, Tanh

ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}


def mlp(sizes, activation: str = "relu", rng=0, dtype=np.float32) -> Sequential:
    """``Flatten`` then Linear layers ``sizes[i] → sizes[i+1]`` with ``activation`` between them.

    ``rng`` (Generator or int seed) draws the PyTorch-default initialisation.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise ValueError(f"mlp: sizes must be >= 2 positive layer widths, got {sizes}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"mlp: unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
    rng = as_generator(rng, "mlp")
    layers = [Flatten()]
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(n_in, n_out, rng=rng, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return Sequential(*layers)


def gamin_ann(rng=0, hidden: int = 3000, dtype=np.float32, in_features: int = 784,
              num_classes: int = 10) -> Sequential:
    """The GAMIN-study target ANN: ``in_features``-``hidden``-``num_classes``, ReLU (Poursiami et al., §IV-A).

    784-3000-10 for MNIST; 10304-3000-40 for AT&T faces (92×112 pixels, 40 subjects),
    the same single-hidden-layer shape as :class:`~refsnn.models.GaminSNN`.
    """
    if num_classes < 2:
        raise ValueError(f"gamin_ann: num_classes must be >= 2, got {num_classes}")
    return mlp([in_features, hidden, num_classes], activation="relu", rng=rng, dtype=dtype)
