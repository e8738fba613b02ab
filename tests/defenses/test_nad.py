"""NAD from spike rates: attention maps by hand, the distillation loss, a run."""

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.defenses import attention_loss, nad, spike_attention
from refsnn.models import nmnist_net
from refsnn.models.spiking import LayerTrace


def test_spike_attention_by_hand():
    s = np.zeros((2, 1, 2, 1, 2), np.float32)   # T=2, B=1, C=2, 1x2 map
    s[:, 0, 0, 0, 0] = 1                       # channel 0 pixel 0 fires both steps: rate 1
    s[0, 0, 1, 0, 1] = 1                       # channel 1 pixel 1 fires once: rate 0.5
    a = spike_attention(Tensor(s)).data         # mean_c r^2 = [0.5, 0.125], normalised
    np.testing.assert_allclose(a, np.array([[0.5, 0.125]]) / np.hypot(0.5, 0.125), rtol=1e-6)
    with pytest.raises(ValueError, match=r"spikes must be \[T, B, C, H, W\]"):
        spike_attention(Tensor(np.zeros((2, 3, 4), np.float32)))


def test_attention_loss_zero_for_equal_traces_and_squared_mean_otherwise():
    g = np.random.default_rng(0)
    s1, s2 = (Tensor((g.random((3, 2, 2, 2, 2)) > 0.5).astype(np.float32)) for _ in range(2))
    tr = lambda s: [LayerTrace(current=s, spikes=s, membrane=None)]  # noqa: E731
    assert float(attention_loss(tr(s1), tr(s1)).data) == 0.0
    d = spike_attention(s1).data - spike_attention(s2).data
    np.testing.assert_allclose(float(attention_loss(tr(s1), tr(s2)).data), np.mean(d * d), rtol=1e-6)
    flat = Tensor(np.zeros((3, 2, 4), np.float32))
    with pytest.raises(ValueError, match="no convolutional neuron layer"):
        attention_loss(tr(flat), tr(flat))


def test_nad_changes_the_student():
    net = nmnist_net(in_shape=(1, 8, 8), widths=(3, 3), rng=0)
    x = np.random.default_rng(1).random((8, 1, 8, 8), dtype=np.float32) * 3
    before = [p.data.copy() for p in net.parameters()]
    hist = nad(net, x, np.arange(8) % 10, epochs=1, teacher_epochs=1, batch_size=4)
    assert len(hist) == 1 and np.isfinite(hist[0]["loss"])
    assert any(not np.array_equal(a, p.data) for a, p in zip(before, net.parameters()))
