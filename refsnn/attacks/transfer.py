"""Black-box (transfer) evaluation: craft on a source model, measure accuracy on targets.

Sharmin et al. §4: the adversarial test set is crafted on a separately
initialised and trained source (an ANN of the same topology, or an SNN
through the conv1 route) and every target — ANN, converted SNN, surrogate-
trained SNN — is evaluated on the same ``x_adv``.  Accuracy is
``acc = (1/B) Σ_b [argmax_c f(x)_bc = y_b]`` on clean and adversarial inputs.

>>> import numpy as np
>>> from refsnn.nn import Linear
>>> from refsnn.attacks import FGSM
>>> src, tgt = Linear(4, 3, rng=0), Linear(4, 3, rng=1)
>>> x, y = np.full((6, 4), 0.5, np.float32), np.arange(6) % 3
>>> res = transfer(FGSM(src, eps=0.1), x, y, {"target": tgt})
>>> sorted(res.adversarial), res.x_adv.shape
(['target'], (6, 4))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from refsnn import autograd as ag
from refsnn.attacks.base import Attack, attack_mode
from refsnn.autograd import Tensor


def predict(model, x, batch_size: int | None = None) -> np.ndarray:
    """``argmax_c model(x)_c`` ``[B]`` (host int64), evaluation mode, no graph, in batches."""
    data = np.asarray(x.data if isinstance(x, Tensor) else x)
    step = len(data) if batch_size is None else int(batch_size)
    if step < 1:
        raise ValueError(f"predict: batch_size must be >= 1, got {batch_size}")
    out = []
    with ag.no_grad(), attack_mode(model):
        for i in range(0, len(data), step):
            logits = model(Tensor(data[i:i + step]))
            arr = logits.data if isinstance(logits, Tensor) else logits
            arr = arr.get() if hasattr(arr, "get") else np.asarray(arr)
            if arr.ndim != 2:
                raise ValueError(f"predict: the model must return logits [B, C], got shape {arr.shape}")
            out.append(arr.argmax(axis=1))
    return np.concatenate(out).astype(np.int64)


def accuracy(model, x, y, batch_size: int | None = None) -> float:
    """Fraction of ``x`` the model labels ``y``."""
    y = np.asarray(y)
    if y.shape != (len(x),):
        raise ValueError(f"accuracy: {y.shape} labels for {len(x)} images")
    return float((predict(model, x, batch_size) == y).mean())


@dataclass
class TransferResult:
    """``x_adv`` crafted on the source; per-target accuracy on clean and adversarial inputs."""

    x_adv: np.ndarray
    clean: dict = field(default_factory=dict)
    adversarial: dict = field(default_factory=dict)

    def drop(self) -> dict:
        """Accuracy lost per target, ``clean − adversarial``."""
        return {k: self.clean[k] - self.adversarial[k] for k in self.adversarial}


def transfer(source_attack: Attack, x, y, targets, batch_size: int | None = None) -> TransferResult:
    """Craft ``x_adv = source_attack(x, y)`` once (in batches) and evaluate every target on it.

    ``targets``: a mapping name → model, or a sequence of models (named ``"0"``, ``"1"``, ...).
    In targeted mode ``y`` are the target labels, and the accuracies count hits
    on them (the attack success rate).
    """
    if not isinstance(source_attack, Attack):
        raise TypeError(f"transfer: source_attack must be an Attack (FGSM, PGD, ...), got "
                        f"{type(source_attack).__name__}")
    if not hasattr(targets, "items"):
        targets = {str(i): t for i, t in enumerate(targets)}
    if not targets:
        raise ValueError("transfer: give at least one target model")
    x = np.asarray(x)
    y = np.asarray(y)
    step = len(x) if batch_size is None else int(batch_size)
    if step < 1:
        raise ValueError(f"transfer: batch_size must be >= 1, got {batch_size}")
    x_adv = np.concatenate([source_attack(x[i:i + step], y[i:i + step]) for i in range(0, len(x), step)])
    res = TransferResult(x_adv=x_adv)
    for name, model in targets.items():
        res.clean[name] = accuracy(model, x, y, batch_size)
        res.adversarial[name] = accuracy(model, x_adv, y, batch_size)
    return res
