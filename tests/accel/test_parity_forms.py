"""CuPy kernels of forms 3, 4 and 5 (decay LIF, SpikingJelly LIF / PLIF, noisy LIF) vs the reference.

Same two runs as ``test_parity_lif``: host emulation of the CUDA source by
default, a real GPU under ``-m gpu``.  Spikes exact, forward membranes bit
for bit, gradients to 1e-4 (bit for bit where no ``exp`` is involved), the
PLIF ``1/τ`` gradient to 1e-6 relative (its cross-neuron summation order
differs from the reference's).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_parity_lif import EXP_FREE, SURROGATES, assert_grad_close, inputs, ref


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("v_thr,tau", [(1.0, 0.5), (0.6, 0.9), (1.3, 0.0)])
def test_lif_decay_forward_backward(device, rng, dtype, v_thr, tau):
    X, gS, gU = inputs(rng, (20, 131), dtype)
    S_ref, U_ref = ref("lif_decay_forward")(X, v_thr, tau)
    S, U = device.kernel("lif_decay_forward")(device.put(X), v_thr, tau)
    np.testing.assert_array_equal(device.get(S), S_ref)
    np.testing.assert_array_equal(device.get(U), U_ref)
    for sg in (SURROGATES[3], SURROGATES[5]):
        for detach in (False, True):
            want = ref("lif_decay_backward")(gS, gU, S_ref, U_ref, v_thr, tau, *sg, detach)
            got = device.kernel("lif_decay_backward")(device.put(gS), device.put(gU), device.put(S_ref),
                                                      device.put(U_ref), v_thr, tau, *sg, detach)
            assert_grad_close(device.get(got), want, exact=True)


SJ_CONFIGS = [  # (inv_tau, v_threshold, v_reset, reset, decay_input)
    (0.5, 1.0, 0.0, 1, True), (0.5, 1.0, 0.0, 0, True), (0.3, 0.8, -0.1, 1, False),
    (0.7, 1.0, 0.2, 0, False),
]


@pytest.mark.parametrize("cfg", SJ_CONFIGS, ids=lambda c: f"k{c[0]}-r{c[3]}-di{int(c[4])}")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lif_sj_forward(device, rng, cfg, dtype):
    X, _, _ = inputs(rng, (25, 300), dtype, scale=1.0, bias=0.8)
    S_ref, H_ref = ref("lif_sj_forward")(X, *cfg)
    S, H = device.kernel("lif_sj_forward")(device.put(X), *cfg)
    np.testing.assert_array_equal(device.get(S), S_ref)
    np.testing.assert_array_equal(device.get(H), H_ref)
    assert S_ref.any()


def test_lif_sj_fires_at_equality(device):
    # Θ is non-strict for SpikingJelly: H = V_th exactly must fire (k = 1 makes H = X).
    X = np.array([[1.0, 0.5]], np.float32)
    S, _ = device.kernel("lif_sj_forward")(device.put(X), 1.0, 1.0, 0.0, 1, True)
    assert device.get(S).tolist() == [[1, 0]]


@pytest.mark.parametrize("cfg", SJ_CONFIGS, ids=lambda c: f"k{c[0]}-r{c[3]}-di{int(c[4])}")
@pytest.mark.parametrize("sg", [SURROGATES[2], SURROGATES[1], SURROGATES[5]], ids=lambda s: f"sg{s[0]}")
@pytest.mark.parametrize("detach", [False, True])
def test_lif_sj_backward(device, rng, cfg, sg, detach):
    X, gS, gH = inputs(rng, (25, 300), np.float32, scale=1.0, bias=0.8)
    S, H = ref("lif_sj_forward")(X, *cfg)
    for gs, gh, grad_k in ((gS, gH, True), (gS, None, True), (gS, gH, False)):
        args = (*cfg, *sg, detach, grad_k)
        dX_ref, dk_ref = ref("lif_sj_backward")(gs, gh, S, H, X, *args)
        dX, dk = device.kernel("lif_sj_backward")(device.put(gs), device.put(gh), device.put(S),
                                                  device.put(H), device.put(X), *args)
        assert_grad_close(device.get(dX), dX_ref, exact=sg[0] in EXP_FREE or device.kind == "emu")
        assert isinstance(dk, float)
        if grad_k:
            assert dk == pytest.approx(dk_ref, rel=1e-6, abs=1e-6)
            assert dk_ref != 0.0
        else:
            assert dk == 0.0 and dk_ref == 0.0


def test_lif_sj_backward_needs_x_for_tau_gradient(device, rng):
    X, gS, _ = inputs(rng, (4, 3), np.float32)
    S, H = ref("lif_sj_forward")(X, 0.5, 1.0, 0.0, 1, True)
    with pytest.raises(ValueError, match="X is needed"):
        device.kernel("lif_sj_backward")(device.put(gS), None, device.put(S), device.put(H), None,
                                         0.5, 1.0, 0.0, 1, True, 2, 4.0, 0.0, False, True)


NOISY_CONFIGS = [(1.0, 1.0, 0.2, 0, 0.0), (0.9, 1.0, 0.1, 1, 0.0), (0.95, 0.8, 0.5, 1, -0.3)]


@pytest.mark.parametrize("cfg", NOISY_CONFIGS, ids=lambda c: f"lam{c[0]}-r{c[3]}")
@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("noise", [0, 1], ids=["logistic", "gaussian"])
def test_noisy_lif_forward_backward(device, rng, cfg, mode, dtype, noise):
    lam, theta, t_noise, reset, v_reset = cfg
    X, gS, gH = inputs(rng, (20, 257), dtype)
    U = rng.random(X.shape, dtype=dtype) if mode == 1 else None
    S_ref, H_ref = ref("noisy_lif_forward")(X, U, *cfg, mode, noise)
    S, H = device.kernel("noisy_lif_forward")(device.put(X), device.put(U), *cfg, mode, noise)
    S, H = device.get(S), device.get(H)
    assert S.dtype == S_ref.dtype
    np.testing.assert_array_equal(S, S_ref)
    np.testing.assert_array_equal(H, H_ref)
    for detach in (True, False):
        want = ref("noisy_lif_backward")(gS, gH, S_ref, H_ref, *cfg, detach, noise)
        got = device.kernel("noisy_lif_backward")(device.put(gS), device.put(gH), device.put(S_ref),
                                                  device.put(H_ref), *cfg, detach, noise)
        assert_grad_close(device.get(got), want, exact=device.kind == "emu")


def test_noisy_lif_takes_host_uniforms(device, rng):
    # Uniforms are drawn on the host; a NumPy U is accepted and gives the reference spikes.
    X = inputs(rng, (10, 64), np.float32)[0]
    U = np.random.default_rng(7).random(X.shape, dtype=np.float32)
    S_ref, _ = ref("noisy_lif_forward")(X, U, 0.9, 1.0, 0.2, 0, 0.0, 1)
    S, _ = device.kernel("noisy_lif_forward")(device.put(X), U, 0.9, 1.0, 0.2, 0, 0.0, 1)
    np.testing.assert_array_equal(device.get(S), S_ref)
    assert 0 < S_ref.mean() < 1


def test_noisy_lif_errors(device, rng):
    X = device.put(inputs(rng, (3, 4), np.float32)[0])
    fwd = device.kernel("noisy_lif_forward")
    with pytest.raises(TypeError, match="needs U"):
        fwd(X, None, 1.0, 1.0, 0.2, 0, 0.0, 1)
    with pytest.raises(ValueError, match="U has shape"):
        fwd(X, np.zeros((2, 4), np.float32), 1.0, 1.0, 0.2, 0, 0.0, 1)
    with pytest.raises(ValueError, match="t_noise"):
        fwd(X, None, 1.0, 1.0, 0.0, 0, 0.0, 0)
    with pytest.raises(ValueError, match="mode"):
        fwd(X, None, 1.0, 1.0, 0.2, 0, 0.0, "sometimes")
