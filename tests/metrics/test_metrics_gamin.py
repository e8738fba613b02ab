"""M_global (Eq. 7 printed and BEGAN's) and F_S (Eq. 8) on hand-derived values."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.metrics import fidelity_fs, m_global, m_global_began, m_global_report


def test_m_global_printed_eq7():
    # L_S = 2, L_G = 0.5, λ_k = 0.4: 2 − |0.8 − 0.5| = 1.7
    assert m_global(2.0, 0.5, 0.4) == pytest.approx(1.7, abs=1e-12)
    # the absolute value: λ_k·L_S < L_G → 2 − |0.2 − 1.0| = 1.2
    assert m_global(2.0, 1.0, 0.1) == pytest.approx(1.2, abs=1e-12)
    assert m_global(np.float32(2.0), Tensor(np.array(0.5)), np.array(0.4)) == pytest.approx(1.7, abs=1e-6)


def test_m_global_began():
    # L = 2, L_G = 0.5, γ = 0.4: 2 + |0.8 − 0.5| = 2.3
    assert m_global_began(2.0, 0.5, 0.4) == pytest.approx(2.3, abs=1e-12)
    assert m_global_began(2.0, 1.0, 0.1) == pytest.approx(2.8, abs=1e-12)


def test_report_gives_both_and_they_differ_by_twice_the_gap():
    r = m_global_report(3.0, 1.0, lambda_k=0.5, gamma=0.5)
    assert r == {"m_global": pytest.approx(2.5), "m_global_began": pytest.approx(3.5)}
    assert r["m_global_began"] - r["m_global"] == pytest.approx(2 * abs(0.5 * 3.0 - 1.0))


def test_fidelity_fs_is_one_minus_mae():
    y = np.array([[0.7, 0.2, 0.1], [0.0, 1.0, 0.0]])
    yh = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]])
    # |diffs| = .2 .1 .1 | .1 .4 .3 → sum 1.2 over 6 entries → MAE 0.2
    assert fidelity_fs(y, yh) == pytest.approx(0.8, abs=1e-12)
    assert fidelity_fs(y, y) == 1.0
    assert fidelity_fs(np.eye(2), 1 - np.eye(2)) == 0.0
    assert fidelity_fs(Tensor(y.astype(np.float32)), yh) == pytest.approx(0.8, abs=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="finite"):
        m_global(float("nan"), 1.0, 0.5)
    with pytest.raises(TypeError, match="l_g must be a real scalar"):
        m_global(1.0, np.ones(3), 0.5)
    with pytest.raises(ValueError, match="gamma is inf"):
        m_global_began(1.0, 1.0, float("inf"))
    with pytest.raises(ValueError, match=r"\[N, C\]"):
        fidelity_fs(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"\[N, C\]"):
        fidelity_fs(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        fidelity_fs(np.full((1, 2), np.nan), np.ones((1, 2)))
