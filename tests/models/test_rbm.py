"""Siegert RBM: one PCD/fast-weight update recomputed by hand, bit-identical resume, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.models.rbm import RBMConfig, SiegertRBM
from refsnn.neurons.siegert import siegert

NEURON = dict(tau_m=5.0, tau_s=0.001, t_ref=0.002, v_th=0.005)


def data(n=200, nv=20, seed=3):
    return np.random.default_rng(seed).random((n, nv)) * 0.2


def S(x, W, b):
    return siegert(x, W, b, **NEURON).data


def test_one_update_equals_the_documented_rule():
    cfg = RBMConfig(batch_size=50, noise=False, momentum=(0.5, 0.9), lr=0.7, fast_lr=0.3,
                    weight_decay=1e-3, sparsity_cost=0.2, selectivity_cost=0.1)
    rbm = SiegertRBM(20, 8, rng=0, config=cfg)
    W0 = rbm.W.copy()
    v = data(50)
    rbm.fit(v, epochs=1, rng=np.random.default_rng(1))  # one batch, momentum 0.5
    # by hand (independent of the class): chain starts at the batch, the order of v is irrelevant
    h = S(v, W0, np.zeros(8))
    hb = np.clip(h + 0.2 * (0.1 - h.mean(1, keepdims=True)) + 0.1 * (0.1 - 0.1), 0, 1)
    hn = S(v, W0, np.zeros(8))
    vn = S(hn, W0.T, np.zeros(20))
    hn = S(vn, W0, np.zeros(8))
    G = (v.T @ hb - vn.T @ hn) / 50
    np.testing.assert_allclose(rbm.W, W0 + 0.7 * (G - 1e-3 * W0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(rbm.F, 0.3 * G, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(rbm.b_h, 0.7 * (hb - hn).mean(0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(rbm.b_v, 0.7 * (v - vn).mean(0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(rbm.q, 0.9 * 0.1 + 0.1 * h.mean(0), rtol=1e-12)
    perm = np.random.default_rng(1).permutation(50)  # fit's shuffle: the chain holds batch order
    np.testing.assert_allclose(rbm.chain, vn[perm], rtol=1e-12)


def _arrays(rbm):
    return {k: getattr(rbm, k) for k in SiegertRBM._STATE}


def test_resume_is_bit_identical(tmp_path):
    x = data()
    straight = SiegertRBM(20, 8, rng=0).fit(x, epochs=2, rng=np.random.default_rng(5))
    path = tmp_path / "rbm.h5"
    SiegertRBM(20, 8, rng=0).fit(x, epochs=1, rng=np.random.default_rng(5), checkpoint=path)
    resumed = SiegertRBM(20, 8, rng=0)
    resumed.fit(x, epochs=2, rng=np.random.default_rng(999), checkpoint=path)  # state comes from the file
    assert resumed.epoch == straight.epoch == 2
    for name, arr in _arrays(straight).items():
        assert np.array_equal(arr, getattr(resumed, name)), name
    assert resumed.history == straight.history
    # the file now holds epoch 2; fitting to 2 again is a no-op
    again = SiegertRBM(20, 8, rng=1).fit(x, epochs=2, rng=0, checkpoint=path)
    assert np.array_equal(again.W, straight.W)


def test_noise_makes_training_depend_on_rng_only():
    x = data()
    a = SiegertRBM(20, 8, rng=0).fit(x, epochs=1, rng=7)
    b = SiegertRBM(20, 8, rng=0).fit(x, epochs=1, rng=7)
    c = SiegertRBM(20, 8, rng=0).fit(x, epochs=1, rng=8)
    assert np.array_equal(a.W, b.W) and not np.array_equal(a.W, c.W)


def test_labels_clamp_the_hidden_units():
    x = data(100)
    y = np.repeat(np.arange(4), 25)
    x[y == 2, :5] += 0.5  # class 2 drives the first five inputs
    rbm = SiegertRBM(20, 4, rng=0, noise=False).fit(x, epochs=5, rng=0, labels=y)
    # positive-phase correlation v⁺ᵀh⁺ makes those weights largest for label unit 2
    assert rbm.W[:5].mean(0).argmax() == 2


def test_bad_input(tmp_path):
    rbm = SiegertRBM(20, 8, rng=0)
    x = data()
    with pytest.raises(ValueError, match="negative rates"):
        rbm.fit(x - 0.5, epochs=1, rng=0)
    with pytest.raises(ValueError, match=r"shape \[B, 20\]"):
        rbm.transform(np.zeros((3, 7)))
    with pytest.raises(ValueError, match="NaN"):
        rbm.transform(np.full((1, 20), np.nan))
    with pytest.raises(ValueError, match="fewer than one batch"):
        rbm.fit(x[:10], epochs=1, rng=0)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 8\)"):
        rbm.fit(x, epochs=1, rng=0, labels=np.full(200, 8))
    path = tmp_path / "other.h5"
    SiegertRBM(20, 6, rng=0).save(path)
    with pytest.raises(ValueError, match="RBM of 20 x 6 units, this RBM is 20 x 8"):
        rbm.load(path)
    with pytest.raises(ValueError, match="RBM of 20 x 6"):
        rbm.fit(x, epochs=1, rng=0, checkpoint=path)
    with pytest.raises(ValueError, match="sizes must be >= 1"):
        SiegertRBM(0, 3, rng=0)
    with pytest.raises(TypeError, match="needs rng"):
        SiegertRBM(3, 3, rng=None)
