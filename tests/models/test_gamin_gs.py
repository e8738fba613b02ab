"""GAMIN's attacker networks: shapes, PyTorch names, the generator's [0, 1] range, a hand-computed
forward, seeded determinism and bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.models import gamin_generator, gamin_surrogate


def test_generator_layout_range_and_forward_by_hand():
    g = gamin_generator(noise_dim=5, in_features=12, hidden=(7, 6), rng=0)
    st = g.state_dict()
    assert {k: v.shape for k, v in st.items()} == {"0.weight": (7, 5), "0.bias": (7,), "2.weight": (6, 7),
                                                   "2.bias": (6,), "4.weight": (12, 6), "4.bias": (12,)}
    z = np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32)
    h = np.maximum(z @ st["0.weight"].T + st["0.bias"], 0)
    h = np.maximum(h @ st["2.weight"].T + st["2.bias"], 0)
    want = 1 / (1 + np.exp(-(h @ st["4.weight"].T + st["4.bias"])))
    got = g(z).data
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert got.min() > 0 and got.max() < 1
    same = gamin_generator(noise_dim=5, in_features=12, hidden=(7, 6), rng=0).state_dict()
    assert all(np.array_equal(st[k], same[k]) for k in st)


def test_surrogate_layout_and_forward_by_hand():
    s = gamin_surrogate(in_features=12, num_classes=4, hidden=9, rng=2)
    st = s.state_dict()
    assert {k: v.shape for k, v in st.items()} == {"1.weight": (9, 12), "1.bias": (9,), "3.weight": (4, 9),
                                                   "3.bias": (4,)}
    x = np.random.default_rng(3).random((5, 1, 3, 4), dtype=np.float32)  # images are flattened first
    h = np.maximum(x.reshape(5, 12) @ st["1.weight"].T + st["1.bias"], 0)
    np.testing.assert_allclose(s(x).data, h @ st["3.weight"].T + st["3.bias"], rtol=1e-5)


@pytest.mark.parametrize("build, match", [
    (lambda: gamin_generator(noise_dim=0), "noise_dim"),
    (lambda: gamin_generator(in_features=-1), "in_features"),
    (lambda: gamin_generator(hidden=(8, 0)), "hidden"),
    (lambda: gamin_surrogate(num_classes=1), "num_classes"),
    (lambda: gamin_surrogate(hidden=(2.5,)), "hidden"),
])
def test_bad_arguments_are_clear(build, match):
    with pytest.raises(ValueError, match=match):
        build()
