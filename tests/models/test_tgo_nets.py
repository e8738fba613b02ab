"""TGO's spiking VGG-11 / WRN-16: layer counts, widths, the data-dependent init, the neuron factory."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.models import data_init, tgo_neuron, tgo_vgg11, wrn16, wrn16_spec
from refsnn.models.spiking import weight_layers
from refsnn.neurons import LIFImmediate, NoisyLIF


def test_vgg11_layers_and_widths():
    net = tgo_vgg11(width=1 / 32, in_shape=(1, 16, 16), rng=0)
    assert len(net.slots()) == 10  # 8 conv + 2 hidden fc
    outs = [w.weight.shape[0] for w in weight_layers(net)]
    assert outs == [2, 4, 8, 8, 16, 16, 16, 16, 128, 128, 10]  # round(paper · 1/32)
    assert net.T == 4 and net.encoder == "direct"


def test_wrn16_spec_and_layers():
    spec = wrn16_spec((3, 32, 32), 10, k=4, width=1.0)
    blocks = [e for e in spec if e[0] == "block"]
    assert [b[2] for b in blocks] == [64, 64, 128, 128, 256, 256]
    assert [b[3] for b in blocks] == [1, 1, 2, 1, 2, 1]
    assert spec[-3] == ("avgpool", 8)
    net = wrn16(width=1 / 16, in_shape=(1, 8, 8), rng=0)
    assert len(net.slots()) == 13  # stem + 6 blocks × 2
    assert net(np.zeros((2, 1, 8, 8), np.float32)).shape == (2, 10)


def test_data_init_puts_the_quantile_at_threshold():
    x = np.random.default_rng(0).random((16, 1, 16, 16), dtype=np.float32)
    net = tgo_vgg11(width=1 / 32, in_shape=(1, 16, 16), rng=0)
    data_init(net, x, q=0.8)
    net.eval()
    for i in (0, 5, 9):  # each layer's current, recomputed after the whole init
        cur = np.asarray(net.current_into(Tensor(x), i).data, np.float64)
        assert np.quantile(cur, 0.8) == pytest.approx(1.0, rel=1e-4)
    _, traces = net(Tensor(x), trace=True)
    assert all(0.02 < float(t.spikes.data.mean()) < 0.5 for t in traces)  # no silent layer


def test_neuron_factory():
    assert isinstance(tgo_neuron()(0), LIFImmediate)
    n = tgo_neuron(noisy=True, sigma=0.3, noisy_eval=True, rng=1)
    a, b = n(0), n(1)
    assert isinstance(a, NoisyLIF) and a.t_noise == 0.3 and a.stochastic_eval and a.noise == 1
    assert a.rng.integers(1 << 30) != b.rng.integers(1 << 30)  # one Generator per layer
    with pytest.raises(ValueError, match="sigma"):
        tgo_neuron(noisy=True, sigma=-0.1)
    with pytest.raises(ValueError, match="width"):
        tgo_vgg11(width=0)
