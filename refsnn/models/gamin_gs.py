"""The attacker's two networks of GAMIN: generator ``G`` and surrogate ``S`` (Poursiami et al. §III).

Neither paper fixes them for a fully connected MNIST/AT&T target: Poursiami et
al. use "the GAMIN framework" unchanged and name no layer sizes; GAMIN's own
text (Aïvodji, Gambs & Ther, arXiv:1909.11835) was not reachable from this
project's sources, so the shapes below are our documented choice, picked to
match the targets' own kind (fully connected, one or two hidden layers):

* ``G``: noise ``Z [B, d_z]`` ~ N(0, 1) → Linear → ReLU → … → Linear → Sigmoid → ``X_G [B, N]``
  in ``[0, 1]`` (the pixel range every target was trained on; the SNN's rate
  encoder reads it as firing probabilities).  ``d_z = 64`` is BEGAN's
  embedding size ``N_z = h = 64`` (Berthelot et al. 2017, §4).
* ``S``: ``X [B, N]`` → Linear → ReLU → … → Linear → logits ``[B, C]`` — an
  ANN of the targets' shape, so it can mimic either target.

Parameter names follow PyTorch's ``nn.Sequential`` numbering (``"0.weight"``
is G's first ``[hidden, d_z]`` weight; the surrogate starts with a Flatten, so
its first Linear is ``"1.weight"``).

>>> import numpy as np
>>> g = gamin_generator(noise_dim=8, in_features=16, hidden=(12,), rng=0)
>>> x = g(np.zeros((3, 8), np.float32)).data
>>> x.shape, bool(((x > 0) & (x < 1)).all())
((3, 16), True)
>>> gamin_surrogate(in_features=16, num_classes=4, hidden=(12,), rng=0)(x).shape
(3, 4)
"""

from __future__ import annotations

import numpy as np

from data_tools.batches import as_generator
from refsnn.models.mlp import mlp
from refsnn.nn import Linear, ReLU, Sequential, Sigmoid


def _widths(hidden, where: str) -> list[int]:
    widths = [hidden] if isinstance(hidden, (int, np.integer)) else list(hidden)
    if not all(isinstance(w, (int, np.integer)) and not isinstance(w, bool) and w >= 1 for w in widths):
        raise ValueError(f"{where}: hidden must be positive int widths, got {hidden!r}")
    return [int(w) for w in widths]


def _positive(value, name: str, where: str, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"{where}: {name} must be an int >= {least}, got {value!r}")
    return int(value)


def gamin_generator(noise_dim: int = 64, in_features: int = 784, hidden=(256, 256), rng=0,
                    dtype=np.float32) -> Sequential:
    """``G``: ``d_z → hidden… → N`` with ReLU between layers and a Sigmoid output in ``[0, 1]``.

    Input ``Z [B, noise_dim]``, output ``X_G [B, in_features]``; ``rng`` draws
    the PyTorch-default initialisation.
    """
    where = "gamin_generator"
    sizes = [_positive(noise_dim, "noise_dim", where), *_widths(hidden, where),
             _positive(in_features, "in_features", where)]
    rng = as_generator(rng, where)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(n_in, n_out, rng=rng, dtype=dtype))
        layers.append(ReLU() if i < len(sizes) - 2 else Sigmoid())
    return Sequential(*layers)


def gamin_surrogate(in_features: int = 784, num_classes: int = 10, hidden=(256,), rng=0,
                    dtype=np.float32) -> Sequential:
    """``S``: ``N → hidden… → C`` ReLU MLP returning logits ``[B, C]`` (see :func:`~refsnn.models.mlp`)."""
    where = "gamin_surrogate"
    sizes = [_positive(in_features, "in_features", where), *_widths(hidden, where),
             _positive(num_classes, "num_classes", where, least=2)]
    return mlp(sizes, activation="relu", rng=rng, dtype=dtype)
