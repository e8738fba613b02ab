"""Neural-network building blocks with PyTorch names and layouts.

``Module`` (parameters, buffers, submodules, ``state_dict``), the layers
(``Linear``, ``Conv2d``, pooling, ``BatchNorm1d/2d``, ``Dropout``, activations,
``Sequential``), PyTorch-default initialisation (``refsnn.nn.init``),
optimizers with PyTorch's exact update rules (``SGD``, ``Adam``, ``AdamW``) and
learning-rate schedules (``StepLR``, ``MultiStepLR``, ``CosineAnnealingLR``).

>>> import numpy as np
>>> from refsnn.nn import Linear, ReLU, Sequential, Adam
>>> net = Sequential(Linear(4, 8, rng=0), ReLU(), Linear(8, 2, rng=1))
>>> opt = Adam(net.parameters(), lr=1e-2)
>>> net(np.ones((5, 4), np.float32)).shape
(5, 2)
"""

from refsnn.nn import init
from refsnn.nn.layers import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Identity,
    Linear,
    LinearFunction,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Tanh,
    Upsample,
    as_input,
    linear,
)
from refsnn.nn.module import IncompatibleKeys, Module, ModuleList, Parameter, Sequential
from refsnn.nn.optim import SGD, Adam, AdamW, Optimizer
from refsnn.nn.schedule import CosineAnnealingLR, LRScheduler, MultiStepLR, StepLR
from refsnn.nn.time import SeqToANN, repeat_time

__all__ = [
    "init", "Module", "Parameter", "Sequential", "ModuleList", "IncompatibleKeys",
    "Linear", "LinearFunction", "linear", "Conv2d", "AvgPool2d", "MaxPool2d", "Upsample", "Flatten",
    "Dropout", "BatchNorm1d", "BatchNorm2d", "ReLU", "Sigmoid", "Tanh", "Identity", "as_input",
    "Optimizer", "SGD", "Adam", "AdamW",
    "LRScheduler", "StepLR", "MultiStepLR", "CosineAnnealingLR", "SeqToANN", "repeat_time",
]
