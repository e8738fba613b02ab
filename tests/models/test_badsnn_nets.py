"""BadSNN's nets: shapes, V_thr/τ per forward (against neurons built with those values), PLIF, bad input."""

import numpy as np
import pytest

from refsnn import autograd as ag
from refsnn.models import build_badsnn_net, nmnist_net, resnet19, vgg16
from refsnn.models.badsnn_nets import PLIFThreshold
from refsnn.neurons import LIFDecay

X = np.random.default_rng(0).random((3, 1, 8, 8), dtype=np.float32)


@pytest.mark.parametrize("make", [
    lambda: resnet19(in_shape=(1, 8, 8), width=1 / 32, rng=0),
    lambda: vgg16(in_shape=(1, 8, 8), width=1 / 32, rng=0),
    lambda: nmnist_net(in_shape=(1, 8, 8), widths=(2, 3), rng=0),
])
def test_per_call_hyper_equals_neurons_built_with_those_values(make):
    net = make().eval()
    called = net(X, v_thr=1.2, tau=0.7).data
    for slot in net.slots():
        assert isinstance(slot.neuron, LIFDecay)
        slot.neuron.v_thr, slot.neuron.tau = 1.2, 0.7
    np.testing.assert_array_equal(called, net(X).data)
    assert called.shape == (3, 10)


def test_layer_counts_match_the_architectures():
    assert len(resnet19(in_shape=(1, 8, 8), width=1 / 32).slots()) == 1 + 2 * 8 + 1   # stem, 8 blocks, fc
    assert len(vgg16(in_shape=(1, 8, 8), width=1 / 32).slots()) == 13
    assert len(nmnist_net(in_shape=(2, 8, 8), widths=(2, 2)).slots()) == 2


def test_threshold_changes_the_output_and_gradients_flow():
    net = nmnist_net(in_shape=(1, 8, 8), widths=(4, 4), rng=1).eval()
    a, b = net(X * 4, v_thr=0.5).data, net(X * 4, v_thr=3.0).data
    assert not np.array_equal(a, b)
    loss = ag.cross_entropy(net(X, v_thr=1.5, tau=0.5), np.array([0, 1, 2]))
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())


def test_plif_variant_ignores_tau_takes_v_thr_and_learns_tau():
    net = nmnist_net(in_shape=(1, 8, 8), widths=(3, 3), neuron="plif", rng=0).eval()
    assert all(isinstance(s.neuron, PLIFThreshold) for s in net.slots())
    np.testing.assert_array_equal(net(X * 3, tau=0.2).data, net(X * 3, tau=0.9).data)
    assert not np.array_equal(net(X * 3, v_thr=0.3).data, net(X * 3, v_thr=2.0).data)
    ag.cross_entropy(net(X * 3), np.array([0, 1, 2])).backward()
    assert net.slots()[0].neuron.w.grad is not None


def test_event_frames_input():
    net = nmnist_net(in_shape=(2, 8, 8), widths=(2, 2), events=True, rng=0)
    assert net(np.zeros((2, 4, 2, 8, 8), np.float32)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"event_frames: expected frames \[B, 4, 2, H, W\]"):
        net(np.zeros((2, 3, 2, 8, 8), np.float32))


@pytest.mark.parametrize("kw, msg", [
    (dict(v_thr=0.0), "V_thr must be > 0"), (dict(v_thr=-1.0), "V_thr must be > 0"),
    (dict(tau=0.0), r"tau must be in \(0.0, 1.0\]"), (dict(tau=1.5), r"tau must be in \(0.0, 1.0\]"),
])
def test_bad_hyperparameters_are_refused(kw, msg):
    net = nmnist_net(in_shape=(1, 8, 8), widths=(2, 2))
    with pytest.raises(ValueError, match="BadSNNNet.forward: " + msg):
        net(X, **kw)


def test_unknown_arch_and_neuron():
    with pytest.raises(ValueError, match="unknown arch 'vgg5'"):
        build_badsnn_net("vgg5")
    with pytest.raises(ValueError, match="neuron must be 'lif' or 'plif'"):
        nmnist_net(neuron="if")
