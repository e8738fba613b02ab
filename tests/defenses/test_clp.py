"""CLP: channel Lipschitz bounds of rank-one kernels by hand, pruning with and without BatchNorm."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.defenses.clp import channel_lipschitz, clp_prune
from refsnn.nn import BatchNorm2d, Conv2d, Linear, ReLU, SeqToANN, Sequential


def _rank_one_conv(scales, c_in=3, seed=0):
    """Kernels ``W[k] = s_k · u_k v_kᵀ`` with unit u, v: the largest singular value is exactly s_k."""
    rng = np.random.default_rng(seed)
    conv = Conv2d(c_in, len(scales), 3, padding=1, rng=0, dtype=np.float64)
    for k, s in enumerate(scales):
        u, v = rng.standard_normal(c_in), rng.standard_normal(9)
        conv.weight.data[k] = (s * np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v))).reshape(c_in, 3, 3)
    return conv


def test_rank_one_kernels_give_their_scale_and_batchnorm_multiplies():
    scales = [0.5, 2.0, 1.25]
    conv = _rank_one_conv(scales)
    assert np.allclose(channel_lipschitz(conv), scales)
    bn = BatchNorm2d(3, dtype=np.float64)
    bn.weight.data[:] = [2.0, -1.0, 0.5]
    bn.running_var[:] = [4.0 - 1e-5, 1.0 - 1e-5, 0.25 - 1e-5]   # sqrt(var + eps) = 2, 1, 0.5
    assert np.allclose(channel_lipschitz(conv, bn), [0.5, 2.0, 1.25])


def test_outlier_channel_is_pruned_without_batchnorm():
    scales = [1.0] * 19 + [10.0]  # mean 1.45, std (ddof 1) 2.012: threshold 7.49 < 10
    conv = _rank_one_conv(scales)
    net = Sequential(conv, ReLU())
    before = conv.weight.data.copy()
    report = clp_prune(net, u=3.0)
    assert report == {"0": [19]}
    assert np.all(conv.weight.data[19] == 0) and conv.bias.data[19] == 0
    assert np.array_equal(conv.weight.data[:19], before[:19])


def test_batchnorm_channel_zeroed_and_nested_spiking_container_found():
    scales = [1.0] * 19 + [1.0]
    conv = _rank_one_conv(scales)
    bn = BatchNorm2d(20, dtype=np.float64)
    bn.weight.data[:] = 1.0
    bn.weight.data[4] = 12.0      # only the BatchNorm makes channel 4 an outlier
    bn.bias.data[:] = 0.3
    net = Sequential(SeqToANN(conv, bn), ReLU(), SeqToANN(_rank_one_conv([1.0, 1.0], c_in=20)))
    report = clp_prune(net, u=3.0)
    assert report == {"0.module.0": [4], "2.module": []}
    assert bn.weight.data[4] == 0 and bn.bias.data[4] == 0 and np.all(bn.bias.data[:4] == 0.3)


def test_clp_needs_a_convolution_and_a_real_u():
    with pytest.raises(ValueError, match="no Conv2d layer"):
        clp_prune(Sequential(Linear(2, 2, rng=0)))
    with pytest.raises(TypeError, match="u must be a real number"):
        clp_prune(Sequential(_rank_one_conv([1.0])), u="3")
