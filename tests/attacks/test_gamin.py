"""GAMIN (refsnn.attacks.gamin): the step's equations against a NumPy re-derivation, the frozen
surrogate, query accounting, selection of the kept pair, an inversion that works, and bad input.

Tiny shapes (16 pixels, 3 classes, batch 8) keep the file fast.
"""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.attacks import Gamin, GaminConfig
from refsnn.attacks.gamin_state import soft_cross_entropy
from refsnn.autograd import Tensor
from refsnn.models import gamin_generator, gamin_surrogate, mlp
from refsnn.oracle import Oracle

N, C, B = 16, 3, 8


def small(**kw):
    base = dict(target_label=1, batch_size=B, steps=6, noise_dim=4, gen_hidden=(8,), sur_hidden=(8,),
                log_every=0, seed=3)
    return GaminConfig(**{**base, **kw})


def np_mlp(state, x, prefix_layers, final=None):
    """A NumPy forward of a Linear/ReLU stack from its state dict (independent of refsnn.nn)."""
    h = x.astype(np.float64)
    for i, name in enumerate(prefix_layers):
        h = h @ state[f"{name}.weight"].T.astype(np.float64) + state[f"{name}.bias"]
        if i < len(prefix_layers) - 1:
            h = np.maximum(h, 0)
    return 1 / (1 + np.exp(-h)) if final == "sigmoid" else h


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def test_first_step_losses_k_and_scores_match_numpy():
    target = mlp([N, 6, C], rng=0)
    cfg = small(k0=0.2, lambda_k=0.05, gamma_k=0.7, steps=4, select_after=0.0)
    res = Gamin(Oracle(target, budget=200, classes=C), N, C, cfg).run()
    # re-derive step 1 from the documented seeding: init Generator → G, S, then the attack Generator
    init = np.random.default_rng(cfg.seed)
    g = gamin_generator(cfg.noise_dim, N, cfg.gen_hidden, rng=init).state_dict()
    s = gamin_surrogate(N, C, cfg.sur_hidden, rng=init).state_dict()
    rng = np.random.default_rng(int(init.integers(2**63)))
    z = rng.standard_normal((B, cfg.noise_dim), dtype=np.float32)
    xs = rng.random((B, N), dtype=np.float32)
    xg = np_mlp(g, z, ["0", "2"], final="sigmoid").astype(np.float32)
    t = target.state_dict()
    probs = [np.exp(log_softmax(np_mlp(t, v, ["1", "3"]))) for v in (xg, xs)]
    l_g, l_s = (-(p * log_softmax(np_mlp(s, v, ["1", "3"]))).sum(1).mean() for p, v in zip(probs, (xg, xs)))
    h = res.history
    np.testing.assert_allclose([h["l_s"][0], h["l_g"][0]], [l_s, l_g], rtol=1e-4)
    np.testing.assert_allclose(h["k"][0], 0.2 + 0.05 * (0.7 * l_s - l_g), rtol=1e-4)                  # Eq. 5
    np.testing.assert_allclose(h["m_global"][0], l_s - abs(0.05 * l_s - l_g), rtol=1e-4)               # Eq. 7
    np.testing.assert_allclose(h["m_global_began"][0], l_s + abs(0.7 * l_s - l_g), rtol=1e-4)          # BEGAN
    for i in range(1, 4):  # the k_t recursion over the recorded losses
        k_next = h["k"][i - 1] + 0.05 * (0.7 * h["l_s"][i] - h["l_g"][i])
        np.testing.assert_allclose(h["k"][i], k_next, rtol=1e-6)


def test_k_is_unbounded_by_default_and_clipped_on_request():
    # a trained-looking target answers one class on noise: L_HG > γ·L_HS, so Eq. 5 drives k below 0
    target = lambda x: np.tile([4.0, 0.0, 0.0], (len(x), 1)) + np.asarray(x)[:, :3]  # noqa: E731
    free = Gamin(Oracle(target, budget=200, classes=C), N, C, small(lambda_k=0.5, target_label=2)).run()
    began = Gamin(Oracle(target, budget=200, classes=C), N, C,
                  small(lambda_k=0.5, target_label=2, k_range=(0.0, 1.0))).run()
    assert free.history["k"].min() < 0
    assert began.history["k"].min() >= 0 and began.history["k"].max() <= 1
    k, h = 0.0, began.history
    for i in range(len(h["k"])):  # BEGAN's clipped recursion over the recorded losses
        k = min(max(k + 0.5 * (0.5 * h["l_s"][i] - h["l_g"][i]), 0.0), 1.0)
        assert h["k"][i] == pytest.approx(k, abs=1e-12)


def test_generator_step_leaves_the_surrogate_frozen():
    # lr_s so small that an Adam step (≈ lr·sign g) cannot move a float32 weight: S may change only if
    # the generator's step wrongly steps it too
    cfg = small(lr_s=1e-30, lr_g=1e-2)
    res = Gamin(Oracle(mlp([N, 6, C], rng=0), budget=200, classes=C), N, C, cfg).run()
    init = np.random.default_rng(cfg.seed)
    g0 = gamin_generator(cfg.noise_dim, N, cfg.gen_hidden, rng=init).state_dict()
    s0 = gamin_surrogate(N, C, cfg.sur_hidden, rng=init).state_dict()
    assert all(np.array_equal(v, s0[k]) for k, v in res.last_surrogate.state_dict().items())
    assert not all(np.array_equal(v, g0[k]) for k, v in res.last_generator.state_dict().items())


def test_queries_only_through_the_oracle_and_the_kept_pair():
    oracle = Oracle(mlp([N, 6, C], rng=0), budget=1000, output="labels", classes=C)
    res = Gamin(oracle, N, C, small(steps=10, select_after=0.4)).run()
    assert oracle.queries_used == res.queries_used == 10 * 2 * B
    np.testing.assert_array_equal(res.history["queries"], np.arange(1, 11) * 2 * B)
    m = res.history["m_global"]
    assert res.best_step == 4 + int(np.argmin(m[4:])) and res.m_global == m[res.best_step]
    again = Gamin(Oracle(mlp([N, 6, C], rng=0), budget=1000, output="labels", classes=C), N, C,
                  small(steps=10, select_after=0.4)).run()
    assert all(np.array_equal(a, b) for a, b in zip(res.samples(5, rng=0), again.samples(5, rng=0)))
    by_began = Gamin(Oracle(mlp([N, 6, C], rng=0), budget=1000, classes=C), N, C,
                     small(steps=10, select_by="m_global_began")).run()
    mb = by_began.history["m_global_began"]
    assert by_began.m_global_began == mb[5:].min()


def test_steps_default_to_the_budget():
    oracle = Oracle(mlp([N, 6, C], rng=0), budget=5 * 2 * B + 3, classes=C)
    attack = Gamin(oracle, N, C, small(steps=None))
    assert attack.steps == 5


def test_inverts_an_easy_target():
    """Target: class = which third of the pixels is brightest.  G learns inputs the target calls label 2."""
    w = np.zeros((C, N), np.float32)
    for c in range(C):
        w[c, c * 5:(c + 1) * 5] = 4.0
    target = lambda x: np.asarray(x, np.float32) @ w.T - 2.0 * np.asarray(x).mean(axis=1, keepdims=True)  # noqa: E731
    oracle = Oracle(target, budget=120 * 2 * 16, classes=C)
    cfg = small(target_label=2, batch_size=16, steps=120, lr_g=1e-2, lr_s=1e-2, select_after=0.5)
    res = Gamin(oracle, N, C, cfg).run()
    x = res.samples(64, rng=0)
    assert (target(x).argmax(1) == 2).mean() >= 0.9  # A_T
    assert x[:, 10:15].mean() > x[:, :10].mean()


def test_soft_cross_entropy_of_one_hot_is_the_label_cross_entropy():
    z = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], np.float32)
    got = soft_cross_entropy(Tensor(z), np.eye(3, dtype=np.float32)[[1, 2]]).item()
    want = -np.mean(log_softmax(z)[[0, 1], [1, 2]])
    assert got == pytest.approx(want, rel=1e-6)


# ---------------------------------------------------------------------------- bad input
def test_bad_budget_label_width_and_config_are_clear():
    with pytest.raises(ValueError, match="budget"):
        Oracle(mlp([N, 6, C], rng=0), budget=0)
    with pytest.raises(ValueError, match="budget"):
        Oracle(mlp([N, 6, C], rng=0), budget=-5)
    with pytest.raises(ValueError, match="need 160 queries but the oracle has 100 left"):
        Gamin(Oracle(mlp([N, 6, C], rng=0), budget=100, classes=C), N, C, small(steps=10))
    with pytest.raises(ValueError, match=r"target_label 3 is outside the model's classes 0\.\.2"):
        Gamin(Oracle(mlp([N, 6, C], rng=0), budget=500, classes=C), N, C, small(target_label=3))
    with pytest.raises(ValueError, match="target_label -1"):
        Gamin(Oracle(mlp([N, 6, C], rng=0), budget=500, classes=C), N, C, small(target_label=-1))
    with pytest.raises(ValueError, match="answers 4 classes but num_classes=3"):
        Gamin(Oracle(mlp([N, 6, 4], rng=0), budget=500, classes=4), N, C, small())
    undeclared = Oracle(lambda x: np.zeros((len(x), 4)), budget=500)  # width learned only when answering
    with pytest.raises(ValueError, match="output width .*4.* does not match num_classes=3"):
        Gamin(undeclared, N, C, small()).run()
    with pytest.raises(ValueError, match="select_by"):
        Gamin(Oracle(mlp([N, 6, C], rng=0), budget=500, classes=C), N, C, small(select_by="x"))
    with pytest.raises(ValueError, match="'probs' or 'labels'"):
        Gamin(Oracle(mlp([N, 6, C], rng=0), budget=500, output="logits", classes=C), N, C, small())


def test_nan_from_the_generator_is_a_clear_error_and_costs_no_query(monkeypatch):
    import refsnn.attacks.gamin as gamin_mod

    def broken(*args, **kwargs):
        g = gamin_generator(*args, **kwargs)
        g[0].weight.data[0, 0] = np.nan
        return g

    monkeypatch.setattr(gamin_mod, "gamin_generator", broken)
    oracle = Oracle(mlp([N, 6, C], rng=0), budget=500, classes=C)
    with pytest.raises(ValueError, match=r"Gamin step 1: the generator's output X_G .* non-finite"):
        Gamin(oracle, N, C, small()).run()
    assert oracle.queries_used == 0
