"""refsnn.memory: a pooled array is handed out again only when nothing references it,
and results with the pool are bit for bit those without it."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn import memory
from refsnn.autograd import cross_entropy
from refsnn.kernels.spikemm import spike_matmul, spike_matmul_t
from refsnn.models import GaminSNN
from refsnn.nn import Adam

SHAPE = (512, 1024)  # 2 MiB of float32: pooled


@pytest.fixture(autouse=True)
def fresh_pool(monkeypatch):
    monkeypatch.delenv(memory.ENV, raising=False)
    memory.clear()
    yield
    memory.clear()


def test_free_array_is_reused():
    a = memory.empty(SHAPE, np.float32)
    ptr = a.ctypes.data
    del a
    b = memory.empty(SHAPE, np.float32)
    assert b.ctypes.data == ptr and b.shape == SHAPE and b.dtype == np.float32 and b.flags.c_contiguous


def test_array_in_use_is_never_handed_out():
    a = memory.empty(SHAPE, np.float32)
    a[:] = 7.0
    b = memory.empty(SHAPE, np.float32)
    assert not np.shares_memory(a, b)
    b[:] = 3.0
    assert (a == 7.0).all()


@pytest.mark.parametrize("make_view", [lambda a: a[::2], lambda a: a.reshape(-1), lambda a: a.T,
                                       lambda a: a[3], lambda a: memoryview(a)])
def test_live_view_keeps_its_base_out_of_the_pool(make_view):
    a = memory.empty(SHAPE, np.float32)
    view = make_view(a)
    ptr = a.ctypes.data
    del a
    b = memory.empty(SHAPE, np.float32)
    assert b.ctypes.data != ptr  # the view still uses the old buffer
    del view, b
    assert memory.empty(SHAPE, np.float32).ctypes.data == ptr


def test_keys_small_arrays_and_limits(monkeypatch):
    a = memory.empty(SHAPE, np.float32)
    ptr = a.ctypes.data
    del a
    assert memory.empty(SHAPE, np.float64).ctypes.data != ptr  # other dtype: its own key
    assert memory.empty((1024, 512), np.float32).ctypes.data != ptr  # other shape: its own key
    before = memory.stats()["arrays"]
    small = memory.empty((4, 4), np.float32)  # below MIN_BYTES: plain np.empty, not pooled
    assert small.shape == (4, 4) and memory.stats()["arrays"] == before
    held = [memory.empty(SHAPE, np.float32) for _ in range(memory.PER_KEY + 3)]
    assert len({x.ctypes.data for x in held}) == len(held)  # all distinct, all usable
    assert memory.stats()["arrays"] == before + memory.PER_KEY - 1  # one SHAPE array was pooled
    monkeypatch.setenv(memory.ENV, "0")  # pool off: nothing new is kept
    memory.clear()
    del held
    x = memory.empty(SHAPE, np.float32)
    del x
    assert memory.stats()["arrays"] == 0 and memory.stats()["unpooled"] > 0
    monkeypatch.setenv(memory.ENV, "lots")
    with pytest.raises(ValueError, match="REFSNN_WORKSPACE_MB"):
        memory.empty(SHAPE, np.float32)


def test_spike_kernels_do_not_overwrite_a_live_result(rng):
    S1 = (rng.random((700, 784)) < 0.2).astype(np.uint8)
    S2 = (rng.random((700, 784)) < 0.2).astype(np.uint8)
    W = rng.standard_normal((784, 600)).astype(np.float32)
    z1 = spike_matmul(S1, W)
    keep = z1.copy()
    z2 = spike_matmul(S2, W)
    assert not np.shares_memory(z1, z2)
    np.testing.assert_array_equal(z1, keep)
    np.testing.assert_allclose(z2, S2.astype(np.float32) @ W, rtol=1e-4, atol=1e-4)
    G = rng.standard_normal((700, 600)).astype(np.float32)
    d1 = spike_matmul_t(S1, G)
    keep = d1.copy()
    spike_matmul_t(S2, G)
    np.testing.assert_array_equal(d1, keep)


def _train(steps: int, pool: bool, monkeypatch) -> tuple:
    monkeypatch.setenv(memory.ENV, "4096" if pool else "0")
    memory.clear()
    rng = np.random.default_rng(3)
    net = GaminSNN(hidden=1000, num_steps=5, rng=0, encode_seed=1)  # [T·B, H] = 1.3 MB
    opt = Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        x = rng.random((64, 784)).astype(np.float32)
        y = rng.integers(0, 10, 64)
        loss = cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, {k: v.copy() for k, v in net.state_dict().items()}, memory.stats()


def test_training_is_bit_identical_with_and_without_the_pool(monkeypatch):
    l_pool, w_pool, st = _train(4, True, monkeypatch)
    l_plain, w_plain, st_plain = _train(4, False, monkeypatch)
    assert st["hits"] > 0 and st_plain["arrays"] == 0  # the pool did work in the first run only
    assert l_pool == l_plain
    for k in w_pool:
        np.testing.assert_array_equal(w_pool[k], w_plain[k])
