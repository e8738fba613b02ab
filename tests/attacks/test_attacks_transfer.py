"""Black-box transfer: craft once on a source, evaluate several targets."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.attacks import FGSM, PGD, accuracy, predict, transfer
from refsnn.nn import Linear


def _data():
    rng = np.random.default_rng(0)
    y = np.arange(30) % 3
    x = rng.uniform(0.0, 0.3, (30, 6)).astype(np.float32)
    x[np.arange(30), 2 * y] += 0.6  # class c lights feature 2c
    return x, y


def _model(seed):
    net = Linear(6, 3, bias=False, rng=seed)
    noise = np.random.default_rng(seed).standard_normal((3, 6))
    net.weight.data[...] = np.kron(np.eye(3), [[1.0, 0.0]]) + 0.05 * noise
    return net


def test_predict_and_accuracy_by_hand():
    x, y = _data()
    net = _model(1)
    expected = (x @ net.weight.data.T).argmax(axis=1)
    np.testing.assert_array_equal(predict(net, x, batch_size=7), expected)
    assert accuracy(net, x, y) == pytest.approx(float((expected == y).mean()))


def test_transfer_crafts_once_and_scores_every_target():
    x, y = _data()
    src, t1, t2 = _model(1), _model(2), _model(3)
    atk = PGD(src, eps=0.4, alpha=0.1, steps=5)
    res = transfer(atk, x, y, {"ann-II": t1, "other": t2}, batch_size=8)
    crafted = [atk(x[i:i + 8], y[i:i + 8]) for i in range(0, 30, 8)]
    np.testing.assert_array_equal(res.x_adv, np.concatenate(crafted))
    for name, m in (("ann-II", t1), ("other", t2)):
        assert res.clean[name] == accuracy(m, x, y) == 1.0
        assert res.adversarial[name] == accuracy(m, res.x_adv, y)
        assert res.adversarial[name] < 0.5  # the source's attack transfers to similar models
    assert res.drop()["other"] == res.clean["other"] - res.adversarial["other"]
    assert sorted(transfer(FGSM(src), x, y, [t1, t2]).clean) == ["0", "1"]


def test_transfer_bad_input():
    x, y = _data()
    with pytest.raises(TypeError, match="must be an Attack"):
        transfer(_model(1), x, y, [_model(2)])
    with pytest.raises(ValueError, match="at least one target"):
        transfer(FGSM(_model(1)), x, y, {})
