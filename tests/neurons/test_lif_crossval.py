"""Cross-validation of forms 1 and 4 against snnTorch ``Leaky`` and SpikingJelly ``LIFNode`` / PLIF.

Same float32 input and upstream gradients; spikes must be identical,
membranes within 1e-5 and input gradients within 1e-4.  Marked ``crossval``
(not in the default run); skipped when torch / snnTorch / SpikingJelly are
not importable.
"""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.neurons.lif import PLIF, lif_delayed, lif_sj
from refsnn.neurons.surrogate import FastSigmoid, Sigmoid

pytestmark = pytest.mark.crossval

T, SHAPE = 12, (3, 40)


def _data(seed, scale=1.0):
    rng = np.random.default_rng(seed)
    x = (scale * (0.7 * rng.standard_normal((T, *SHAPE)) + 0.4)).astype(np.float32)
    vs, vu = rng.standard_normal((2, T, *SHAPE)).astype(np.float32)
    return x, vs, vu


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("k", [25.0, 40.0])
def test_form1_matches_snntorch_leaky(reset, k):
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    from snntorch import surrogate as ssg

    x, vs, vu = _data(1)
    leaky = snn.Leaky(beta=0.7, threshold=1.0, spike_grad=ssg.fast_sigmoid(slope=k),
                      reset_mechanism=reset)
    xt = torch.tensor(x, requires_grad=True)
    mem = torch.zeros(SHAPE)
    spikes, mems = [], []
    for t in range(T):
        s, mem = leaky(xt[t], mem)
        spikes.append(s)
        mems.append(mem)
    S_ref, U_ref = torch.stack(spikes), torch.stack(mems)
    (S_ref * torch.tensor(vs) + U_ref * torch.tensor(vu)).sum().backward()

    xr = Tensor(x, requires_grad=True)
    S, U = lif_delayed(xr, beta=0.7, theta=1.0, reset=reset, surrogate=FastSigmoid(k=k),
                       detach_reset=True, return_membrane=True)
    (S * vs + U * vu).sum().backward()
    assert 0 < S.data.sum() < S.size
    np.testing.assert_array_equal(S.data, S_ref.detach().numpy())
    np.testing.assert_allclose(U.data, U_ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xr.grad, xt.grad.numpy(), rtol=1e-4, atol=1e-4)


def _sj_reference(node, x, vs, torch):
    xt = torch.tensor(x, requires_grad=True)
    S_ref = node(xt)
    V_ref = node.v_seq
    (S_ref * torch.tensor(vs)).sum().backward()
    return S_ref.detach().numpy(), V_ref.detach().numpy(), xt.grad.numpy()


def _post_reset(S, H, v_threshold, v_reset):
    return (1 - S) * H + S * v_reset if v_reset is not None else H - v_threshold * S


@pytest.mark.parametrize("v_reset", [0.0, -0.2, None])
@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("detach", [False, True])
def test_form4_matches_spikingjelly_lifnode(v_reset, decay_input, detach):
    torch = pytest.importorskip("torch")
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based import neuron, surrogate

    x, vs, _ = _data(2, scale=1.5)
    node = neuron.LIFNode(tau=2.0, decay_input=decay_input, v_threshold=1.0, v_reset=v_reset,
                          surrogate_function=surrogate.Sigmoid(alpha=4.0), detach_reset=detach,
                          step_mode="m", store_v_seq=True)
    S_ref, V_ref, g_ref = _sj_reference(node, x, vs, torch)

    xr = Tensor(x, requires_grad=True)
    S, H = lif_sj(xr, tau=2.0, v_threshold=1.0, v_reset=v_reset, decay_input=decay_input,
                  surrogate=Sigmoid(alpha=4.0), detach_reset=detach, return_membrane=True)
    (S * vs).sum().backward()
    assert 0 < S.data.sum() < S.size
    np.testing.assert_array_equal(S.data, S_ref)
    np.testing.assert_allclose(_post_reset(S.data, H.data, 1.0, v_reset), V_ref,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xr.grad, g_ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("v_reset", [0.0, None])
@pytest.mark.parametrize("decay_input", [True, False])
def test_plif_matches_spikingjelly_parametric_lif(v_reset, decay_input):
    torch = pytest.importorskip("torch")
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based import neuron, surrogate

    x, vs, _ = _data(3, scale=1.5)
    node = neuron.ParametricLIFNode(init_tau=3.0, decay_input=decay_input, v_threshold=1.0,
                                    v_reset=v_reset, surrogate_function=surrogate.Sigmoid(),
                                    step_mode="m", store_v_seq=True)
    S_ref, V_ref, g_ref = _sj_reference(node, x, vs, torch)
    w_grad_ref = float(node.w.grad)

    layer = PLIF(init_tau=3.0, v_threshold=1.0, v_reset=v_reset, decay_input=decay_input,
                 return_membrane=True)
    assert float(layer.w.data) == pytest.approx(float(node.w.detach()), rel=1e-6)
    xr = Tensor(x, requires_grad=True)
    S, H = layer(xr)
    (S * vs).sum().backward()
    np.testing.assert_array_equal(S.data, S_ref)
    np.testing.assert_allclose(_post_reset(S.data, H.data, 1.0, v_reset), V_ref,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xr.grad, g_ref, rtol=1e-4, atol=1e-4)
    assert float(layer.w.grad) == pytest.approx(w_grad_ref, rel=1e-4, abs=1e-4)
