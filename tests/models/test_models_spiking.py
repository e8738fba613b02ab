"""Spiking nets from a spec: same weights as the ANN, a NumPy re-simulation, Eq. 6 = straight-through."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn import autograd as ag
from refsnn.attacks import FGSM, Conv1Route
from refsnn.autograd import Tensor
from refsnn.encoding import signed_poisson
from refsnn.models import resnet20, vgg5
from refsnn.models.resnet import resnet_spec
from refsnn.models.spiking import (
    NeuronSlot,
    SpikingBlock,
    TimeDropout,
    neurons,
    spiking_from_spec,
    spiking_resnet20,
    spiking_vgg,
    weight_layers,
)
from refsnn.models.vgg import vgg_spec
from refsnn.neurons import IF, LIFDecay, LIFImmediate, lif_decay

SMALL = dict(hidden=16, conv_widths=(4, 8, 8))
MLP = [("flatten",), ("linear", 16, 12), ("relu",), ("linear", 12, 8), ("relu",), ("linear", 8, 3)]


def _images(n=4, seed=0, shape=(1, 12, 12)):
    return np.random.default_rng(seed).random((n,) + shape).astype(np.float32)


def test_same_seed_same_weights_as_the_ann():
    ann = vgg5((1, 12, 12), 4, rng=3, **SMALL)
    snn = spiking_vgg("vgg5", neurons(IF), T=3, in_shape=(1, 12, 12), num_classes=4, rng=3, **SMALL)
    pairs = list(zip(weight_layers(ann), weight_layers(snn)))
    assert len(pairs) == 6
    assert all(np.array_equal(a.weight.data, b.weight.data) for a, b in pairs)
    v11 = spiking_vgg("vgg11", neurons(IF), T=2, in_shape=(1, 8, 8), num_classes=3, rng=0, hidden=8,
                      conv_widths=(2,) * 8)
    assert len(v11.slots()) == 10 and v11(_images(2, shape=(1, 8, 8))).shape == (2, 3)
    ra = resnet20((1, 8, 8), 3, rng=1)
    rs = spiking_resnet20(neurons(IF), T=2, in_shape=(1, 8, 8), num_classes=3, rng=1)
    pairs = zip(weight_layers(ra), weight_layers(rs))
    assert all(np.array_equal(a.weight.data, b.weight.data) for a, b in pairs)
    assert len(rs.slots()) == 20 and sum(isinstance(m, SpikingBlock) for m in rs.modules()) == 9
    assert rs(_images(2, shape=(1, 8, 8))).shape == (2, 3)


def _numpy_if_mlp(net, x, T, thetas, lam=1.0):
    """Re-simulation with plain NumPy: direct input, form-2 soft reset, mean output membrane."""
    W = [m.weight.data.astype(np.float64) for m in weight_layers(net)]
    h = np.repeat(x.reshape(1, len(x), -1).astype(np.float64), T, axis=0)
    for w, theta in zip(W[:-1], thetas):
        cur, v, spikes = h @ w.T, 0.0, []
        for t in range(T):
            hh = lam * v + cur[t]
            s = (hh >= theta).astype(np.float64)
            v = hh - theta * s
            spikes.append(s)
        h = np.stack(spikes)
    return (h @ W[-1].T).mean(axis=0)


@pytest.mark.parametrize("lam", [1.0, 0.9])
def test_direct_input_matches_numpy_simulation(lam):
    thetas = [0.3, 0.2]
    net = spiking_from_spec(MLP, neurons(LIFImmediate, lam=lam, theta=thetas), T=7, encoder="direct", rng=2)
    x = _images(5, shape=(1, 4, 4))
    np.testing.assert_allclose(net(x).data, _numpy_if_mlp(net, x, 7, thetas, lam), rtol=1e-5, atol=1e-6)
    net.readout = "sum"
    np.testing.assert_allclose(net(x).data, 7 * _numpy_if_mlp(net, x, 7, thetas, lam), rtol=1e-5, atol=1e-5)


def test_poisson_straight_through_gradient_is_eq6():
    """BPTT through the straight-through Poisson encoder equals Algorithm 1 / Eq. 6 (Conv1Route)."""
    T, x, y = 5, _images(3), np.array([0, 1, 3])
    spec = vgg_spec("vgg5", (1, 12, 12), 4, **SMALL)
    snn = spiking_from_spec(spec, neurons(LIFImmediate, lam=0.99, theta=0.05), T, rng=0,
                            encoder_rng=np.random.default_rng(7)).eval()
    xt = Tensor(x.copy(), requires_grad=True)
    with ag.enable_grad():
        ag.cross_entropy(snn(xt), y).backward()

    def rest(z):
        h = z
        for node in list(snn.layers)[1:]:
            h = node(h) if not isinstance(node, NeuronSlot) else node(h, None)
        return h.sum(axis=0) * (1.0 / T)

    route = Conv1Route(lambda a: signed_poisson(a, T, rng=7), snn.layers[0].module, rest)
    g = route.input_gradient(x, y, ag.cross_entropy)
    assert np.abs(g).max() > 0
    np.testing.assert_allclose(xt.grad, g, rtol=1e-4, atol=1e-7 * np.abs(g).max())


def test_white_box_attack_runs_unchanged_on_the_snn():
    x, y = _images(4), np.array([0, 1, 2, 3])
    snn = spiking_vgg("vgg5", neurons(LIFImmediate, lam=0.99, theta=0.05), T=4, in_shape=(1, 12, 12),
                      num_classes=4, rng=0, encoder="direct", **SMALL)
    x_adv = FGSM(snn, eps=0.1)(x, y)
    d = np.abs(x_adv - x)
    assert 0 < d.max() <= 0.1 + 1e-6 and snn.training


def test_trace_current_into_and_neuron_overrides():
    x = _images(3, shape=(1, 4, 4))
    net = spiking_from_spec(MLP, neurons(LIFDecay, v_thr=1.0, tau=0.5), T=6, encoder="direct", rng=4)
    for w in weight_layers(net):
        w.weight.data *= 4
    _, trace = net(x, trace=True, v_thr=0.5)
    assert len(trace) == 2 and all(t.membrane is not None for t in trace)
    for tr in trace:  # spikes are form 3 at the overridden threshold of the recorded current
        np.testing.assert_array_equal(tr.spikes.data, lif_decay(tr.current.data, v_thr=0.5, tau=0.5).data)
    np.testing.assert_array_equal(net.current_into(x, 1, v_thr=0.5).data, trace[1].current.data)
    assert not np.array_equal(net(x, v_thr=0.5).data, net(x).data)


def test_time_dropout_one_mask_for_all_steps():
    drop = TimeDropout(0.5, rng=0)
    x = Tensor(np.ones((4, 3, 10), np.float32))
    out = drop(x).data
    assert all(np.array_equal(out[0], out[t]) for t in range(4))
    assert set(np.unique(out)) == {0.0, 2.0}
    assert drop.eval()(x) is x


def test_bad_construction():
    with pytest.raises(ValueError, match="unknown kind 'maxpool'"):
        spiking_from_spec([("maxpool", 2), ("linear", 2, 2)], neurons(IF), T=2)
    with pytest.raises(ValueError, match="must end with the output"):
        spiking_from_spec(MLP[:-1], neurons(IF), T=2)
    with pytest.raises(ValueError, match="T must be"):
        spiking_from_spec(MLP, neurons(IF), T=0)
    with pytest.raises(ValueError, match="encoder must be"):
        spiking_from_spec(MLP, neurons(IF), T=2, encoder="latency")
    with pytest.raises(TypeError, match="factory"):
        spiking_from_spec(MLP, IF(), T=2)
    with pytest.raises(ValueError, match="layer 1 has none"):
        spiking_from_spec(MLP, neurons(IF, theta=[1.0]), T=2)
    mlp = spiking_from_spec(MLP, neurons(IF), T=2, encoder="direct")
    with pytest.raises(TypeError, match=r"layer 0 \(IF\) does not take the run-time arguments \['v_thr'\]"):
        mlp(_images(1, shape=(1, 4, 4)), v_thr=0.5)
    net = spiking_from_spec(resnet_spec((1, 8, 8), 3), neurons(IF), T=2)
    with pytest.raises(ValueError, match="outside the 20 neuron layers"):
        net.current_into(_images(1, shape=(1, 8, 8)), 20)
