"""CuPy spike × dense products vs the reference (host emulation by default, real GPU under ``-m gpu``).

The CUDA kernel adds the same rows in the same groups as the Numba kernel,
so results must be equal bit for bit; they are also checked against a dense
float64 product (an independent definition) to rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.backend import kernel

# (M, K, N): small; N < 512 (no chunking); K and M above the reference's row chunk
SHAPES = [(1, 1, 1), (5, 7, 3), (40, 784, 600), (700, 30, 520), (3, 0, 4), (0, 5, 4)]


def spikes(rng, M, K, density=0.17):
    return (rng.random((M, K)) < density).astype(np.uint8)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spike_matmul(device, rng, shape, dtype):
    M, K, N = shape
    S = spikes(rng, M, K)
    Wt = rng.standard_normal((K, N)).astype(dtype)
    want = kernel("spike_matmul", "numpy")(S, Wt)
    got = device.get(device.kernel("spike_matmul")(device.put(S), device.put(Wt)))
    assert got.shape == (M, N) and got.dtype == dtype
    np.testing.assert_array_equal(got, want)
    dense = S.astype(np.float64) @ Wt.astype(np.float64)
    np.testing.assert_allclose(got, dense, rtol=1e-4 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spike_matmul_t(device, rng, shape, dtype):
    M, K, N = shape
    S = spikes(rng, M, K)
    G = rng.standard_normal((M, N)).astype(dtype)
    want = kernel("spike_matmul_t", "numpy")(S, G)
    got = device.get(device.kernel("spike_matmul_t")(device.put(S), device.put(G)))
    assert got.shape == (K, N) and got.dtype == dtype
    np.testing.assert_array_equal(got, want)
    dense = S.T.astype(np.float64) @ G.astype(np.float64)
    np.testing.assert_allclose(got, dense, rtol=1e-4 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)


def test_spike_matmul_by_hand_and_bool(device):
    S = np.array([[1, 0, 1], [0, 0, 0]], bool)
    Wt = np.arange(6, dtype=np.float32).reshape(3, 2)
    Z = device.get(device.kernel("spike_matmul")(device.put(S), device.put(Wt)))
    assert Z.tolist() == [[4.0, 6.0], [0.0, 0.0]]
    G = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    D = device.get(device.kernel("spike_matmul_t")(device.put(S), device.put(G)))
    assert D.tolist() == [[1.0, 2.0], [0.0, 0.0], [1.0, 2.0]]


def test_spike_matmul_noncontiguous_weights(device, rng):
    S = spikes(rng, 9, 12)
    W = rng.standard_normal((20, 12)).astype(np.float32)  # PyTorch layout [out, in]
    want = kernel("spike_matmul", "numpy")(S, np.ascontiguousarray(W.T))
    got = device.get(device.kernel("spike_matmul")(device.put(S), device.put(W).T))
    np.testing.assert_array_equal(got, want)


def test_spike_matmul_errors(device, rng):
    S = device.put(spikes(rng, 3, 4))
    mm = device.kernel("spike_matmul")
    with pytest.raises(TypeError, match="uint8 or bool"):
        mm(device.put(np.ones((3, 4), np.float32)), device.put(np.ones((4, 2), np.float32)))
    with pytest.raises(ValueError, match="needs 4 rows"):
        mm(S, device.put(np.ones((5, 2), np.float32)))
    with pytest.raises(TypeError, match="float32/float64"):
        mm(S, device.put(np.ones((4, 2), np.int32)))
