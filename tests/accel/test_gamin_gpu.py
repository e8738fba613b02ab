"""End to end on a GPU: one GAMIN-SNN training step with the cupy backend equals the reference.

Marked ``gpu`` and ``slow``; skipped with "no CUDA GPU / CuPy" without a GPU,
and skipped (not failed) when a piece of the model stack is not importable
yet.  Two checks:

* the step built from the primitives the GAMIN SNN uses (``spike_linear`` →
  LIF delayed reset → ``linear`` → LIF → Σ_t U → cross-entropy, BPTT with the
  fast sigmoid k = 40) — logits to 1e-5, every parameter gradient to 1e-4;
* ``refsnn.models.GaminSNN`` itself with its parameters moved to the GPU —
  logits to 1e-5 (this needs the model to keep its input spikes on the
  parameters' device).
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from accel_devices import NO_GPU_REASON, gpu_available

pytestmark = [pytest.mark.gpu, pytest.mark.slow]

T, B, N_IN, HIDDEN = 25, 16, 784, 256


def need(module: str, name: str):
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        pytest.skip(f"{module}.{name} not available yet: {exc}")


@pytest.fixture
def cupy_backend():
    if not gpu_available():
        pytest.skip(NO_GPU_REASON)
    import cupy

    import accel.cupy

    accel.cupy.register()
    return cupy


def problem(seed=0):
    rng = np.random.default_rng(seed)
    spikes = (rng.random((T, B, N_IN)) < 0.17).astype(np.uint8)
    bound1, bound2 = 1 / np.sqrt(N_IN), 1 / np.sqrt(HIDDEN)
    params = {
        "fc1.weight": rng.uniform(-bound1, bound1, (HIDDEN, N_IN)).astype(np.float32),
        "fc1.bias": rng.uniform(-bound1, bound1, HIDDEN).astype(np.float32),
        "fc2.weight": rng.uniform(-bound2, bound2, (10, HIDDEN)).astype(np.float32),
        "fc2.bias": rng.uniform(-bound2, bound2, 10).astype(np.float32),
    }
    labels = rng.integers(0, 10, B)
    return spikes, params, labels


def gamin_step(put, spikes, params, labels):
    """Loss, logits and parameter gradients of one step; ``put`` moves arrays to the backend."""
    Tensor = need("refsnn.autograd", "Tensor")
    snn_logits = need("refsnn.models.gamin_snn", "snn_logits")
    cross_entropy = need("refsnn.autograd.ops_loss", "cross_entropy")

    p = {k: Tensor(put(v), requires_grad=True) for k, v in params.items()}
    logits = snn_logits(put(spikes), p["fc1.weight"], p["fc1.bias"], p["fc2.weight"], p["fc2.bias"])
    loss = cross_entropy(logits, put(labels))
    loss.backward()
    return loss, logits, {k: v.grad for k, v in p.items()}


def test_gamin_step_on_gpu_matches_reference(cupy_backend):
    cp = cupy_backend
    spikes, params, labels = problem()
    loss_h, logits_h, grads_h = gamin_step(lambda a: a, spikes, params, labels)
    loss_d, logits_d, grads_d = gamin_step(cp.asarray, spikes, params, labels)
    assert type(logits_d.data).__module__.startswith("cupy")  # it really ran on the device
    np.testing.assert_allclose(cp.asnumpy(logits_d.data), logits_h.data, rtol=1e-5,
                               atol=1e-5 * float(np.abs(logits_h.data).max()))
    assert float(loss_d.item()) == pytest.approx(float(loss_h.item()), rel=1e-5)
    for name, g in grads_h.items():
        scale = max(1e-12, float(np.abs(g).max()))
        np.testing.assert_allclose(cp.asnumpy(grads_d[name]), g, rtol=1e-4, atol=1e-4 * scale,
                                   err_msg=name)
    assert np.abs(grads_h["fc1.weight"]).max() > 0  # the gradient reaches the first layer


def test_gamin_model_forward_on_gpu(cupy_backend):
    cp = cupy_backend
    GaminSNN = need("refsnn.models.gamin_snn", "GaminSNN")
    spikes, _, _ = problem(1)
    host = GaminSNN(hidden=HIDDEN, num_steps=T, rng=0)
    dev = GaminSNN(hidden=HIDDEN, num_steps=T, rng=0)
    for p in dev.parameters():
        p.data = cp.asarray(p.data)
    want = host.forward_spikes(spikes).data
    got = dev.forward_spikes(cp.asarray(spikes)).data
    np.testing.assert_allclose(cp.asnumpy(got), want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))


@pytest.mark.slow
def test_gamin_training_gives_the_same_accuracy_on_both_backends(cupy_backend):
    """300 Adam steps from one seed on each backend: test accuracy within 0.5 pp (issue 5)."""
    cp = cupy_backend
    GaminSNN = need("refsnn.models.gamin_snn", "GaminSNN")
    load_sample = need("refsnn.datasets", "load_sample")
    from refsnn.autograd import cross_entropy, no_grad
    from refsnn.nn import Adam

    x, y = load_sample("train")
    xt, yt = load_sample("test")

    def train_and_score(put, get):
        net = GaminSNN(hidden=500, rng=0, encode_seed=1)
        for p in net.parameters():
            p.data = put(p.data)
        opt = Adam(net.parameters(), lr=5e-4)
        order = np.random.default_rng(2)
        for _ in range(300):
            idx = order.choice(len(x), 64, replace=False)
            loss = cross_entropy(net(put(x[idx])), put(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        with no_grad():
            logits = get(net(put(xt)).data)
        return float((logits.argmax(1) == yt).mean())

    acc_cpu = train_and_score(lambda a: a, np.asarray)
    acc_gpu = train_and_score(cp.asarray, cp.asnumpy)
    assert acc_cpu > 0.8, acc_cpu
    assert abs(acc_gpu - acc_cpu) <= 0.005, (acc_cpu, acc_gpu)
