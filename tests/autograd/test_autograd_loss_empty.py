"""The mean loss over an empty batch is an error, not NaN; sum and none stay defined."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.autograd import Tensor, cross_entropy, mse_loss


def test_cross_entropy_of_an_empty_batch():
    logits = Tensor(np.zeros((0, 10), np.float32), requires_grad=True)
    labels = np.zeros(0, np.int64)
    with pytest.raises(ValueError, match="cross_entropy: empty batch"):
        cross_entropy(logits, labels)
    assert float(cross_entropy(logits, labels, reduction="sum").item()) == 0.0
    assert cross_entropy(logits, labels, reduction="none").shape == (0,)


def test_mse_of_an_empty_input():
    pred = Tensor(np.zeros((0, 3)), requires_grad=True)
    with pytest.raises(ValueError, match="mse_loss: empty input"):
        mse_loss(pred, np.zeros((0, 3)))
    assert float(mse_loss(pred, np.zeros((0, 3)), reduction="sum").item()) == 0.0
