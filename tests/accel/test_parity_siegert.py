"""CuPy Siegert kernel vs the reference (host emulation by default, real GPU under ``-m gpu``).

The CUDA kernel uses CUDA's ``erfcx`` (on the host emulator: an independent
continued-fraction ``erfcx`` in the shim), the reference its own Numba
``erfcx``; both are accurate to ~1e-14, so float64 results agree to 1e-10
relative and float32 ones to 1e-5 (the golden tolerance).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erfcx

from refsnn.backend import kernel

PARAMS = (5.0, 0.001, 0.002, 0.005, 0.0, 0.0)  # tau_m, tau_s, t_ref, v_th, v_reset, v_rest


def layer(rng, B, n_in, n_out, dtype, w_scale=0.004, density=0.5):
    X = (rng.random((B, n_in)) * (rng.random((B, n_in)) < density)).astype(dtype)
    W = (w_scale * rng.standard_normal((n_in, n_out)) + w_scale / 4).astype(dtype)
    b = (0.001 * rng.standard_normal(n_out)).astype(dtype)
    return X, W, b


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("with_bias", [False, True])
def test_siegert_matches_reference(device, rng, dtype, rtol, with_bias):
    X, W, b = layer(rng, 16, 60, 33, dtype)
    b = b if with_bias else None
    want = kernel("siegert_forward", "numpy")(X, W, b, *PARAMS)
    got = device.get(device.kernel("siegert_forward")(device.put(X), device.put(W), device.put(b),
                                                       *PARAMS))
    assert got.dtype == dtype and got.shape == (16, 33)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-30)
    assert (want > 1e-3).any() and (want < 1e-6).any()  # both firing and near-silent units


def test_siegert_edge_cases(device):
    tau_m, tau_s, t_ref, v_th, v_reset, v_rest = PARAMS
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], np.float64)
    # unit 0: sigma = 0 and mu = 5 * 0.002 > v_th -> the deterministic LIF rate in every row;
    # unit 1: b = -1 puts mu near -5 with a tiny sigma -> erfcx overflows, rate exactly 0
    W = np.array([[0.0, 1e-4], [0.0, 1e-6]], np.float64)
    b = np.array([0.002, -1.0], np.float64)
    Y = device.get(device.kernel("siegert_forward")(device.put(X), device.put(W), device.put(b),
                                                     *PARAMS))
    mu = v_rest + tau_m * 0.002
    det = t_ref / (t_ref + tau_m * np.log((mu - v_reset) / (mu - v_th)))  # hand formula
    assert not np.isnan(Y).any()
    np.testing.assert_allclose(Y[:, 0], det, rtol=1e-12)
    assert Y[:, 1].tolist() == [0.0, 0.0, 0.0]
    Y0 = device.get(device.kernel("siegert_forward")(device.put(np.zeros((1, 2))), device.put(W),
                                                      None, *PARAMS))
    assert Y0.tolist() == [[0.0, 0.0]]  # no input at all: sigma = 0, rate 0, not NaN


def test_siegert_simpson_by_hand(device):
    # One unit, one input: check the 3-point Simpson formula written out independently here.
    tau_m, tau_s, t_ref, v_th, v_reset, v_rest = PARAMS
    x, w = 0.8, 0.004
    mu, sigma = v_rest + tau_m * x * w, np.sqrt(tau_m * x * w * w / 2)
    kg = np.sqrt(tau_s / tau_m) * 1.4603545088095868 * sigma
    a, c = v_reset + kg, v_th + kg
    f = [erfcx((mu - u) / (sigma * np.sqrt(2))) for u in (a, (a + c) / 2, c)]
    integral = (c - a) / 6 * (f[0] + 4 * f[1] + f[2])
    want = t_ref / (t_ref + tau_m / sigma * np.sqrt(np.pi / 2) * integral)
    Y = device.get(device.kernel("siegert_forward")(device.put(np.array([[x]])),
                                                     device.put(np.array([[w]])), None, *PARAMS))
    assert Y[0, 0] == pytest.approx(want, rel=1e-10)


def test_siegert_errors(device, rng):
    X, W, _ = layer(rng, 2, 3, 4, np.float32)
    fwd = device.kernel("siegert_forward")
    with pytest.raises(ValueError, match="rates >= 0"):
        fwd(device.put(-X - 1), device.put(W), None, *PARAMS)
    with pytest.raises(ValueError, match="RBM layout"):
        fwd(device.put(X), device.put(W.T), None, *PARAMS)
    with pytest.raises(ValueError, match="b must be"):
        fwd(device.put(X), device.put(W), device.put(np.zeros(3, np.float32)), *PARAMS)
    with pytest.raises(ValueError, match="v_reset < v_th"):
        fwd(device.put(X), device.put(W), None, 5.0, 0.001, 0.002, 0.0, 0.005, 0.0)
