"""ANP on spiking channels: the mask wrapper against weight surgery, pruning by threshold, bad input."""

import copy

import numpy as np
import pytest

from refsnn.defenses import ChannelMask, anp_prune
from refsnn.models import nmnist_net
from refsnn.nn import BatchNorm2d

X = np.random.default_rng(0).random((12, 1, 8, 8), dtype=np.float32) * 3
Y = np.arange(12) % 10


def _net():
    return nmnist_net(in_shape=(1, 8, 8), widths=(4, 4), rng=0).eval()


def test_zero_mask_equals_zeroing_the_channel_before_the_neuron():
    net = _net()
    ref = copy.deepcopy(net)
    bn = [m for m in ref.modules() if isinstance(m, BatchNorm2d)][0]   # the current of slot 0 = BN output
    bn.weight.data[1] = 0
    bn.bias.data[1] = 0
    slot = net.slots()[0]
    slot.neuron = ChannelMask(slot.neuron, 4)
    np.testing.assert_array_equal(net(X).data, copy.deepcopy(net)(X).data)
    slot.neuron.mask.data[1] = 0
    np.testing.assert_allclose(net(X).data, ref(X).data, atol=1e-6)


def test_no_learning_prunes_nothing_and_keeps_the_output():
    net = _net()
    before = net(X).data
    rep = anp_prune(net, X, Y, eps=0.0, alpha=1.0, lr=0.0, batch_size=6)
    assert rep["pruned"] == [[], []]
    np.testing.assert_allclose(net(X).data, before, atol=1e-6)


def test_threshold_above_every_mask_prunes_every_channel():
    net = _net()
    rep = anp_prune(net, X, Y, threshold=1.0, lr=0.5, batch_size=6, seed=1)
    learnt = [np.asarray(m) for m in rep["masks"]]
    assert [sorted(p) for p in rep["pruned"]] == [np.flatnonzero(m < 1.0).tolist() for m in learnt]
    assert all(0.0 <= v <= 1.0 for m in learnt for v in m)


def test_anp_bad_input():
    with pytest.raises(ValueError, match=r"anp_prune: eps must be in"):
        anp_prune(_net(), X, Y, eps=1.5)
    with pytest.raises(ValueError, match="anp_prune: 12 clean images for 3 labels"):
        anp_prune(_net(), X, Y[:3])
    with pytest.raises(ValueError, match="ChannelMask: input"):
        ChannelMask(lambda x: x, 5)(np.zeros((2, 1, 4, 3, 3), np.float32))
