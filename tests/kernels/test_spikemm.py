"""Binary-spike × dense products and ``spike_linear``: kernel == twin, exact sums, gradients."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.autograd.ops_spike import spike_linear
from refsnn.backend import kernel
from refsnn.kernels.spikemm import (
    spike_matmul,
    spike_matmul_t,
    spike_matmul_t_twin,
    spike_matmul_twin,
    transpose,
)
from refsnn.testing import gradcheck

# (M, K, N): tiny, odd, several column tiles (N > 512), several row chunks (K, M > rc), empty
SHAPES = [(1, 1, 1), (5, 7, 3), (40, 784, 600), (700, 30, 520), (97, 300, 1100), (3, 0, 4),
          (0, 5, 4), (4, 6, 0)]


def _spikes(rng, M, K, density=0.17):
    return (rng.random((M, K)) < density).astype(np.uint8)


def _bound(S, A, dtype, transpose=False):
    """Rounding bound for a sum of selected rows: n·ε·(|S| @ |A|), n = entries per output."""
    Sf = S.astype(np.float64)
    absum = (Sf.T if transpose else Sf) @ np.abs(A.astype(np.float64))
    n = max(1, S.shape[0] if transpose else S.shape[1])
    return n * np.finfo(dtype).eps * absum + np.finfo(dtype).tiny


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_equal_twins(rng, shape, dtype):
    M, K, N = shape
    S = _spikes(rng, M, K)
    Wt = rng.standard_normal((K, N)).astype(dtype)
    G = rng.standard_normal((M, N)).astype(dtype)
    Z, D = spike_matmul(S, Wt), spike_matmul_t(S, G)
    assert Z.shape == (M, N) and D.shape == (K, N) and Z.dtype == D.dtype == dtype
    assert np.all(np.abs(Z - spike_matmul_twin(S, Wt)) <= _bound(S, Wt, dtype))
    assert np.all(np.abs(D - spike_matmul_t_twin(S, G)) <= _bound(S, G, dtype, transpose=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_integer_weights_are_exact(rng, dtype):
    # small integers add exactly in any order: kernel and dense twin must agree bit for bit
    S = _spikes(rng, 300, 784, 0.3)
    Wt = rng.integers(-8, 9, (784, 530)).astype(dtype)
    G = rng.integers(-8, 9, (300, 530)).astype(dtype)
    np.testing.assert_array_equal(spike_matmul(S, Wt), spike_matmul_twin(S, Wt))
    np.testing.assert_array_equal(spike_matmul_t(S, G), spike_matmul_t_twin(S, G))


def test_by_hand_bool_and_noncontiguous(rng):
    S = np.array([[1, 0, 1], [0, 0, 0]], bool)
    Wt = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert spike_matmul(S, Wt).tolist() == [[4.0, 6.0], [0.0, 0.0]]
    G = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    assert spike_matmul_t(S, G).tolist() == [[1.0, 2.0], [0.0, 0.0], [1.0, 2.0]]
    W = rng.standard_normal((20, 12)).astype(np.float32)  # [out, in]; W.T is not contiguous
    S2 = _spikes(rng, 9, 12)
    np.testing.assert_array_equal(spike_matmul(S2, W.T), spike_matmul(S2, np.ascontiguousarray(W.T)))


def test_real_mnist_rate_coded(shared_data, rng):
    with gzip.open(shared_data / "mnist-5k" / "train-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)[:16] / 255.0
    S = (rng.random((5, 16, 784)) < x).astype(np.uint8).reshape(80, 784)
    assert 0.1 < S.mean() < 0.25
    Wt = (0.03 * rng.standard_normal((784, 300))).astype(np.float32)
    assert np.all(np.abs(spike_matmul(S, Wt) - spike_matmul_twin(S, Wt)) <= _bound(S, Wt, np.float32))


def test_registered_and_errors(rng):
    assert kernel("spike_matmul", "numpy") is spike_matmul
    assert kernel("spike_matmul_t", "numpy") is spike_matmul_t
    S = _spikes(rng, 3, 4)
    with pytest.raises(TypeError, match="uint8 or bool"):
        spike_matmul(np.ones((3, 4), np.float32), np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match="needs 4 rows"):
        spike_matmul(S, np.ones((5, 2), np.float32))
    with pytest.raises(ValueError, match="needs 3 rows"):
        spike_matmul_t(S, np.ones((4, 2), np.float32))
    with pytest.raises(TypeError, match="float32/float64"):
        spike_matmul(S, np.ones((4, 2), np.int32))
    with pytest.raises(TypeError, match="2-D"):
        spike_matmul(S[0], np.ones((4, 2), np.float32))


# ------------------------------------------------------------------ spike_linear


def test_spike_linear_equals_dense_autograd(rng):
    s = _spikes(rng, 3 * 5, 40).reshape(3, 5, 40)  # [T, B, in]
    w0 = rng.standard_normal((7, 40))
    b0 = rng.standard_normal(7)
    g = rng.standard_normal((3, 5, 7))
    w1, b1 = Tensor(w0.copy(), requires_grad=True), Tensor(b0.copy(), requires_grad=True)
    z1 = spike_linear(s, w1, b1)
    (z1 * g).sum().backward()
    w2, b2 = Tensor(w0.copy(), requires_grad=True), Tensor(b0.copy(), requires_grad=True)
    z2 = Tensor(s.astype(np.float64)) @ w2.T + b2  # the dense path through other primitives
    (z2 * g).sum().backward()
    assert z1.shape == (3, 5, 7)
    np.testing.assert_allclose(z1.data, z2.data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w1.grad, w2.grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b1.grad, b2.grad, rtol=1e-12, atol=1e-12)


def test_spike_linear_gradcheck(rng):
    s = _spikes(rng, 6, 9, 0.4)
    w = Tensor(rng.standard_normal((4, 9)), requires_grad=True)
    b = Tensor(rng.standard_normal(4), requires_grad=True)
    assert gradcheck(lambda w, b: spike_linear(s, w, b), [w, b])
    assert gradcheck(lambda w: spike_linear(s, w), [w])


def test_spike_linear_input_kinds(rng):
    s = _spikes(rng, 4, 6, 0.5)
    w = Tensor(rng.standard_normal((3, 6)).astype(np.float32))
    want = s.astype(np.float32) @ w.data.T
    for inp in (s, s.astype(bool), s.astype(np.float32), Tensor(s.astype(np.float64))):
        np.testing.assert_allclose(spike_linear(inp, w).data, want, rtol=1e-6)
    z = spike_linear(s, w)
    assert z.dtype == np.float32 and not z.requires_grad


def test_spike_linear_errors(rng):
    s = _spikes(rng, 4, 6)
    w = Tensor(rng.standard_normal((3, 6)), requires_grad=True)
    with pytest.raises(ValueError, match="requires grad"):
        spike_linear(Tensor(s.astype(np.float64), requires_grad=True), w)
    with pytest.raises(ValueError, match="0/1"):
        spike_linear(s * 2, w)
    with pytest.raises(ValueError, match="only 0 and 1"):
        spike_linear(s * 0.5, w)
    np.testing.assert_array_equal(  # check=False: any nonzero counts as a spike
        spike_linear(s * 2, w, check=False).data, spike_linear(s, w).data)
    with pytest.raises(ValueError, match=r"\[\.\.\., 6\]"):
        spike_linear(s[:, :5], w)
    with pytest.raises(ValueError, match="bias must be"):
        spike_linear(s, w, Tensor(np.zeros(4)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_bias_and_transpose_are_bit_identical(rng, dtype):
    S = (rng.random((300, 130)) < 0.3).astype(np.uint8)
    Wt = rng.standard_normal((130, 700)).astype(dtype)
    b = rng.standard_normal(700).astype(dtype)
    z = spike_matmul(S, Wt).copy()
    z += b
    np.testing.assert_array_equal(spike_matmul(S, Wt, b), z)  # bias added last, same float op
    np.testing.assert_array_equal(transpose(Wt), Wt.T)
    np.testing.assert_array_equal(transpose(S), S.T)
    with pytest.raises(ValueError, match="bias must be"):
        spike_matmul(S, Wt, b[:5])
