"""Greedy SD attack (Algorithm 1): Eq. 1–3 by hand, one iteration recomputed independently,
query accounting through the Oracle, stopping rules, clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.attacks.greedy_sd import GreedySD, gap, sd_distance, window_sd
from refsnn.oracle import Oracle, QueryBudgetExceeded


def linear_oracle(w, budget=10_000, output="probs"):
    return Oracle(lambda x: np.asarray(x).reshape(len(x), -1) @ w, budget=budget, output=output)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_eq1_sd_by_hand():
    patch = np.array([[0.0, 1.0], [1.0, 1.0]])
    mu = 0.75
    dev = (patch - mu) ** 2  # 0.5625, 0.0625 ×3 → Σ = 0.75
    want = np.sqrt((0.75 - dev) / 4)
    np.testing.assert_allclose(window_sd(patch), want)
    assert want[0, 0] == pytest.approx(np.sqrt(0.1875 / 4))
    # flat window: Eq. 1 gives 0, the floor keeps D finite
    np.testing.assert_array_equal(window_sd(np.zeros((3, 3)), eps=0.02), np.full((3, 3), 0.02))


def test_eq2_eq3_by_hand():
    x = np.array([[0.0, 1.0], [1.0, 1.0]])
    sd = window_sd(x)
    adv = x.copy()
    adv[0, 0] = 0.1
    adv[1, 1] = 0.9
    assert sd_distance(adv, x, sd) == pytest.approx(0.1 / sd[0, 0] + 0.1 / sd[1, 1])
    p = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    np.testing.assert_allclose(gap(p, 2), [0.3 - 0.5, 0.3 - 0.6])
    np.testing.assert_allclose(gap(p, 0), [0.2 - 0.5, 0.6 - 0.3])


def test_first_iteration_matches_an_independent_recomputation():
    g = np.random.default_rng(0)
    x = g.random((8, 8))
    w = g.normal(size=(64, 4))
    n, m, delta, target = 4, 5, 0.1, 2
    oracle = linear_oracle(w)
    res = GreedySD(oracle, n=n, m=m, center=(4, 4), max_iter=1, stop_at_success=False)(x, target)
    # by hand: window rows/cols 2..5, Gap± for each of the 16 pixels, priority, top 5
    r0 = c0 = 2
    P = lambda img: softmax(img.reshape(-1) @ w)  # noqa: E731
    G = lambda img: P(img)[target] - np.delete(P(img), target).max()  # noqa: E731
    pri, sgn = np.zeros(16), np.zeros(16)
    sd_cur = window_sd(x[2:6, 2:6]).ravel()
    for k in range(16):
        i, j = r0 + k // n, c0 + k % n
        up, dn = x.copy(), x.copy()
        up[i, j] = min(1.0, x[i, j] + delta)
        dn[i, j] = max(0.0, x[i, j] - delta)
        gp, gm = G(up), G(dn)
        sgn[k] = -1 if gm > gp else 1
        pri[k] = (max(gp, gm) - G(x)) * sd_cur[k]
    pick = np.argsort(-pri, kind="stable")[:m]
    want = x.copy()
    for k in pick:
        i, j = r0 + k // n, c0 + k % n
        want[i, j] = np.clip(x[i, j] + sgn[k] * delta, 0, 1)
    np.testing.assert_allclose(res.x_adv, want, rtol=0, atol=1e-15)
    assert res.iterations == 1 and res.stopped == "max_iter" and res.window == (2, 2, 4)
    assert res.queries == oracle.queries_used == 1 + 2 * 16 + 1
    assert res.distance == pytest.approx(sd_distance(want[2:6, 2:6], x[2:6, 2:6], window_sd(x[2:6, 2:6])))
    assert res.history[1]["gap"] == pytest.approx(G(want)) and res.history[1]["gap"] > res.history[0]["gap"]


def test_reaches_the_target_on_a_linear_model_and_stops_at_success():
    g = np.random.default_rng(1)
    x = g.random((10, 10)) * 0.5 + 0.25
    w = np.zeros((100, 3))
    w[:, 0] = 0.05
    w[44:46, 1] = 1.5  # class 1 reads two pixels inside the centred window
    oracle = linear_oracle(w)
    p0 = oracle(x[None])[0]
    assert p0.argmax() == 0
    res = GreedySD(oracle, n=5, m=2, d_max=1e9)(x, target=1)
    assert res.success and res.stopped == "success"
    assert res.history[-1]["label"] == 1 and all(h["label"] != 1 for h in res.history[:-1])
    assert res.queries == 1 + res.iterations * 51
    changed = np.argwhere(res.x_adv != x)
    assert ((changed >= 3) & (changed <= 7)).all()  # only inside the window rows/cols 3..7


def test_d_max_stops_before_crossing_and_sdbn_style_probability_answers():
    x = np.tile(np.linspace(0, 1, 6), (6, 1))
    w = np.zeros((36, 2))
    w[:, 0] = 1.0
    probs = lambda a: np.abs(np.asarray(a).reshape(len(a), -1) @ w) + np.array([1.0, 0.0])  # noqa: E731
    oracle = Oracle(lambda a: probs(a) / probs(a).sum(1, keepdims=True), budget=10_000, output="logits")
    res = GreedySD(oracle, n=4, m=3, d_max=2.0)(x, target=1)  # class 1 never wins: P = 0 always
    assert not res.success and res.stopped in ("d_max", "stalled")
    assert res.distance <= 2.0 and all(h["distance"] <= 2.0 for h in res.history)
    bad = Oracle(lambda a: np.asarray(a).reshape(len(a), -1) @ w + 1.0, budget=100, output="logits")
    with pytest.raises(ValueError, match="not probability rows"):
        GreedySD(bad, n=2, m=1)(x, 0)


def test_budget_is_enforced_by_the_oracle():
    w = np.random.default_rng(2).normal(size=(36, 3))
    oracle = linear_oracle(w, budget=30)
    with pytest.raises(QueryBudgetExceeded):
        GreedySD(oracle, n=4, m=2, stop_at_success=False)(np.full((6, 6), 0.5), 1)
    assert oracle.queries_used == 1  # the 32-image Gap± batch was refused whole


def test_bad_input():
    w = np.zeros((36, 3))
    o = linear_oracle(w)
    x = np.full((6, 6), 0.5)
    with pytest.raises(ValueError, match="negative"):
        GreedySD(o, n=3, m=2)(x - 1.0, 1)
    with pytest.raises(ValueError, match="larger than the 6x6 image"):
        GreedySD(o, n=7, m=2)(x, 1)
    with pytest.raises(ValueError, match=r"M must lie in \[1, N²\] = \[1, 9\]"):
        GreedySD(o, n=3, m=10)
    for d in (0.0, -0.1):
        with pytest.raises(ValueError, match="delta .* must be > 0"):
            GreedySD(o, n=3, m=2, delta=d)
    with pytest.raises(ValueError, match="leaves the 6x6 image"):
        GreedySD(o, n=3, m=2, center=(0, 0))(x, 1)
    with pytest.raises(ValueError, match="target 5 is not a class"):
        GreedySD(o, n=3, m=2)(x, 5)
    with pytest.raises(ValueError, match="answers 'labels'"):
        GreedySD(linear_oracle(w, output="labels"), n=3, m=2)
    with pytest.raises(TypeError, match="must be a refsnn.oracle.Oracle"):
        GreedySD(lambda a: a, n=3, m=2)
    with pytest.raises(ValueError, match="NaN"):
        GreedySD(o, n=3, m=2)(np.full((6, 6), np.nan), 1)
    with pytest.raises(ValueError, match="above the range"):
        GreedySD(o, n=3, m=2)(x + 1.0, 1)
