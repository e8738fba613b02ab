"""TSBD: weight change by hand, largest-change channels zeroed, stage 2 = Adam fine-tuning at a = ρ = 0."""

import copy

import numpy as np
import pytest

from refsnn.autograd import cross_entropy
from refsnn.defenses import neuron_weight_change, tsbd
from refsnn.models import nmnist_net
from refsnn.nn import Adam

X = np.random.default_rng(0).random((16, 1, 8, 8), dtype=np.float32) * 3
Y = np.arange(16) % 10


def _net():
    return nmnist_net(in_shape=(1, 8, 8), widths=(4, 5), rng=0)


def test_neuron_weight_change_by_hand():
    a = _net()
    b = copy.deepcopy(a)
    conv = [m for m in b.modules() if type(m).__name__ == "Conv2d"]
    conv[0].weight.data[2] += 0.5                 # 1·3·3 weights moved by 0.5 → NWC 4.5
    conv[1].weight.data[4, 0, 0, 0] -= 2.0
    nwc = neuron_weight_change(a, b)
    assert len(nwc) == 2                          # the output layer is never counted
    np.testing.assert_allclose(nwc[0], [0, 0, 4.5, 0], rtol=1e-6)
    np.testing.assert_allclose(nwc[1], [0, 0, 0, 0, 2.0], rtol=1e-6)


def test_channels_with_the_largest_change_are_zeroed():
    net = _net()
    rep = tsbd(net, X, Y, reinit_ratio=0.5, epochs=0, unlearn_steps=3, unlearn_acc=-1.0, batch_size=8)
    convs = [m for m in net.modules() if type(m).__name__ == "Conv2d"]
    for conv, nwc, reset in zip(convs, rep["nwc"], rep["reset"]):
        k = round(0.5 * len(nwc))
        assert sorted(reset) == sorted(np.argsort(-np.asarray(nwc), kind="stable")[:k].tolist())
        assert all(not conv.weight.data[c].any() for c in reset)


def test_stage_two_without_regularisation_is_plain_adam_fine_tuning():
    a, b = _net(), _net()
    tsbd(a, X, Y, reinit_ratio=0.0, unlearn_steps=0, epochs=1, rho=0.0, a=0.0, batch_size=8, seed=3)
    order = np.random.default_rng(3).permutation(16)          # tsbd's only draw when nothing is unlearned
    opt = Adam(b.parameters(), lr=1e-3)
    b.train()
    for i in range(0, 16, 8):
        idx = order[i:i + 8]
        opt.zero_grad()
        cross_entropy(b(X[idx], v_thr=1.0, tau=0.5), Y[idx]).backward()
        opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-7)
    assert any(not np.array_equal(p.data, q.data) for p, q in zip(a.parameters(), _net().parameters()))


def test_tsbd_bad_input():
    with pytest.raises(ValueError, match="tsbd: reinit_ratio must be in"):
        tsbd(_net(), X, Y, reinit_ratio=2.0)
    with pytest.raises(ValueError, match="tsbd: 16 clean images for 2 labels"):
        tsbd(_net(), X, Y[:2])
