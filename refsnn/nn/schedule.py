"""Learning-rate schedules (PyTorch's closed forms), driven by ``scheduler.step()`` once per epoch.

With ``e`` = number of ``step()`` calls so far (``last_epoch``) and ``lr₀`` the
optimizer's learning rate when the scheduler was created:

=================  ===========================================================
StepLR             ``lr = lr₀ · γ^⌊e / step_size⌋``
MultiStepLR        ``lr = lr₀ · γ^(number of milestones ≤ e)``
CosineAnnealingLR  ``lr = η_min + (lr₀ − η_min) · (1 + cos(π e / T_max)) / 2``
=================  ===========================================================

Creating a scheduler sets ``optimizer.lr`` to the value at ``e = 0``;
``step()`` advances ``e`` and writes the new value into ``optimizer.lr``;
``get_last_lr()`` returns ``[lr]`` (a one-element list, as PyTorch's per-group list).

>>> import numpy as np
>>> from refsnn.autograd import Tensor
>>> from refsnn.nn import SGD
>>> opt = SGD([Tensor(np.zeros(1), requires_grad=True)], lr=1.0)
>>> sched = StepLR(opt, step_size=2, gamma=0.5)
>>> [(sched.step(), opt.lr)[1] for _ in range(4)]
[1.0, 0.5, 0.5, 0.25]
"""

from __future__ import annotations

import bisect
import math

import numpy as np


class LRScheduler:
    """Base class: subclasses define ``lr_at(epoch) -> float`` from ``self.base_lr``."""

    def __init__(self, optimizer):
        if not hasattr(optimizer, "lr"):
            raise TypeError(f"{type(self).__name__}: expected an optimizer with an lr attribute, "
                            f"got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_epoch = 0
        self._set(self.lr_at(0))

    def lr_at(self, epoch: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _set(self, lr: float) -> None:
        self.optimizer.lr = lr
        self._last_lr = [float(lr)]

    def step(self) -> None:
        """Advance one epoch and set ``optimizer.lr`` to the schedule's value there."""
        self.last_epoch += 1
        self._set(self.lr_at(self.last_epoch))

    def get_last_lr(self) -> list[float]:
        """``[lr]`` most recently set by this scheduler."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """``{"last_epoch", "base_lr"}`` as 0-d arrays (HDF5-ready) for resuming."""
        return {"last_epoch": np.asarray(self.last_epoch), "base_lr": np.asarray(self.base_lr)}

    def load_state_dict(self, state) -> None:
        """Restore ``last_epoch`` and ``base_lr`` and set ``optimizer.lr`` accordingly."""
        missing = [k for k in ("last_epoch", "base_lr") if k not in state]
        if missing:
            raise KeyError(f"{type(self).__name__}.load_state_dict: missing keys {missing}")
        self.last_epoch = int(np.asarray(state["last_epoch"]))
        self.base_lr = float(np.asarray(state["base_lr"]))
        self._set(self.lr_at(self.last_epoch))


def _check_gamma(gamma: float, where: str) -> float:
    if not gamma > 0:
        raise ValueError(f"{where}: gamma must be > 0, got {gamma}")
    return float(gamma)


class StepLR(LRScheduler):
    """``lr = lr₀ · gamma^⌊epoch / step_size⌋``: decay by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        if int(step_size) != step_size or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size, self.gamma = int(step_size), _check_gamma(gamma, "StepLR")
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class MultiStepLR(LRScheduler):
    """``lr = lr₀ · gamma^k`` with ``k`` the number of ``milestones`` ≤ epoch (milestones increasing)."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1):
        milestones = [int(m) for m in milestones]
        if any(b <= a for a, b in zip(milestones, milestones[1:])) or any(m < 0 for m in milestones):
            raise ValueError(f"MultiStepLR: milestones must be strictly increasing and >= 0, "
                             f"got {milestones}")
        self.milestones, self.gamma = milestones, _check_gamma(gamma, "MultiStepLR")
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)


class CosineAnnealingLR(LRScheduler):
    """``lr = eta_min + (lr₀ − eta_min) · (1 + cos(π · epoch / T_max)) / 2``.

    Falls from ``lr₀`` at epoch 0 to ``eta_min`` at ``T_max``; past ``T_max``
    the cosine continues (rising again), as PyTorch's closed form does.
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):
        if int(T_max) != T_max or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive integer, got {T_max!r}")
        if not eta_min >= 0:
            raise ValueError(f"CosineAnnealingLR: eta_min must be >= 0, got {eta_min}")
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
