"""LR schedules against their closed forms (hand-computed values), resume and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.nn import SGD, Adam, CosineAnnealingLR, MultiStepLR, StepLR


def make_opt(lr=1.0):
    return SGD([Tensor(np.zeros(2), requires_grad=True)], lr=lr)


def trace(sched, opt, n):
    out = [opt.lr]
    for _ in range(n):
        sched.step()
        out.append(opt.lr)
        assert sched.get_last_lr() == [opt.lr]
    return out


def test_step_lr_values():
    opt = make_opt(0.5)
    got = trace(StepLR(opt, step_size=3, gamma=0.1), opt, 7)
    expected = [0.5, 0.5, 0.5, 0.05, 0.05, 0.05, 0.005, 0.005]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_multistep_lr_values():
    opt = make_opt(2.0)
    got = trace(MultiStepLR(opt, milestones=[2, 5], gamma=0.5), opt, 6)
    np.testing.assert_allclose(got, [2.0, 2.0, 1.0, 1.0, 1.0, 0.5, 0.5], rtol=1e-12)


def test_cosine_lr_values():
    opt = make_opt(1.0)
    got = trace(CosineAnnealingLR(opt, T_max=4, eta_min=0.2), opt, 8)
    # 0.2 + 0.8·(1 + cos(πe/4))/2 for e = 0..8: 1, 0.2+0.4(1+√½), 0.6, 0.2+0.4(1−√½), 0.2, then back up
    r = math.sqrt(0.5)
    expected = [1.0, 0.6 + 0.4 * r, 0.6, 0.6 - 0.4 * r, 0.2, 0.6 - 0.4 * r, 0.6, 0.6 + 0.4 * r, 1.0]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_scheduler_drives_adam_and_resumes():
    p = Tensor(np.zeros(2), requires_grad=True)
    opt = Adam([p], lr=0.1)
    sched = CosineAnnealingLR(opt, T_max=10)
    for _ in range(3):
        sched.step()
    state = sched.state_dict()
    opt2 = Adam([Tensor(np.zeros(2), requires_grad=True)], lr=0.1)
    sched2 = CosineAnnealingLR(opt2, T_max=10)
    sched2.load_state_dict(state)
    assert opt2.lr == opt.lr == pytest.approx(0.05 * (1 + math.cos(0.3 * math.pi)))
    sched.step(), sched2.step()
    assert opt2.lr == opt.lr
    with pytest.raises(KeyError, match="base_lr"):
        sched2.load_state_dict({"last_epoch": np.asarray(1)})


def test_scheduler_argument_errors():
    opt = make_opt()
    with pytest.raises(ValueError, match="step_size"):
        StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="gamma"):
        StepLR(opt, step_size=2, gamma=0.0)
    with pytest.raises(ValueError, match="milestones"):
        MultiStepLR(opt, milestones=[5, 3])
    with pytest.raises(ValueError, match="T_max"):
        CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(TypeError, match="optimizer"):
        StepLR(object(), step_size=1)
