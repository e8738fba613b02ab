"""Optimizer constructors refuse non-finite or out-of-range hyperparameters, naming the argument."""

from __future__ import annotations

import math

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.nn import SGD, Adam, AdamW


def _params():
    return [Tensor(np.zeros(3), requires_grad=True)]


@pytest.mark.parametrize("kwargs, match", [
    ({"lr": math.inf}, "lr must be a finite number"),
    ({"lr": math.nan}, "lr must be a finite number"),
    ({"lr": -1.0}, "lr must be a finite number >= 0"),
    ({"lr": True}, "lr must be a finite number"),
    ({"lr": 0.1, "momentum": math.inf}, "momentum"),
    ({"lr": 0.1, "dampening": math.nan}, "dampening"),
    ({"lr": 0.1, "weight_decay": math.inf}, "weight_decay"),
])
def test_sgd_refuses(kwargs, match):
    with pytest.raises(ValueError, match=f"SGD: {match}"):
        SGD(_params(), **kwargs)


@pytest.mark.parametrize("cls", [Adam, AdamW])
@pytest.mark.parametrize("kwargs, match", [
    ({"lr": math.inf}, "lr must be a finite number"),
    ({"eps": math.inf}, "eps must be a finite number > 0"),
    ({"eps": math.nan}, "eps must be a finite number > 0"),
    ({"eps": 0.0}, "eps must be a finite number > 0"),
    ({"weight_decay": math.inf}, "weight_decay"),
    ({"betas": (0.9, math.nan)}, "betas"),
])
def test_adam_refuses(cls, kwargs, match):
    with pytest.raises(ValueError, match=f"{cls.__name__}: {match}"):
        cls(_params(), **kwargs)


def test_scheduler_style_lr_assignment_is_checked_too():
    opt = SGD(_params(), lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        opt.lr = math.inf
    assert opt.lr == 0.1
    opt.lr = 0.0  # a zero learning rate is allowed (frozen)
    assert opt.lr == 0.0
