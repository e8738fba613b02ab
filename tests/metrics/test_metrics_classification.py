"""Accuracy, A_S, A_S∘G and A_T on hand-built predictions (expected values counted by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.metrics import a_s, a_sog, a_t, accuracy, predicted_labels

SCORES = np.array([[0.1, 0.7, 0.2],    # → 1
                   [2.0, -1.0, 0.5],   # → 0
                   [0.3, 0.3, 0.4],    # → 2
                   [5.0, 5.0, 1.0]])   # → 0 (tie: lowest index)


def test_accuracy_from_scores_and_from_labels():
    y = np.array([1, 2, 2, 0])
    assert accuracy(SCORES, y) == 0.75  # rows 0, 2, 3 right
    assert accuracy(np.array([1, 0, 2, 0]), y) == 0.75
    assert accuracy(Tensor(SCORES), y) == 0.75
    assert accuracy(SCORES, np.array([0, 0, 0, 1])) == 0.25
    assert predicted_labels(SCORES)[0].tolist() == [1, 0, 2, 0]


def test_a_s_is_accuracy_on_the_test_set():
    assert a_s(SCORES, np.array([1, 0, 2, 0])) == 1.0
    assert a_s(SCORES, np.array([2, 1, 0, 1])) == 0.0


def test_a_sog_and_a_t_count_the_target_label():
    # 3 of 4 generated samples go to class 0 under this "surrogate", 1 of 4 to class 2
    assert a_sog(SCORES[[1, 1, 3, 2]], target_label=0) == 0.75
    assert a_sog(SCORES[[1, 1, 3, 2]], target_label=2) == 0.25
    assert a_t(np.array([4, 4, 39, 4, 4]), target_label=4, num_classes=40) == 0.8  # oracle "labels" answers
    probs = np.full((3, 40), 1 / 40)
    probs[:, 39] += 0.1
    assert a_t(probs, target_label=39) == 1.0


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="target label 3 is outside the model's classes \\[0, 3\\)"):
        a_sog(SCORES, target_label=3)
    with pytest.raises(ValueError, match="outside"):
        a_t(SCORES, target_label=-1)
    with pytest.raises(ValueError, match="40 columns but num_classes=10"):
        a_t(np.zeros((2, 40)), target_label=1, num_classes=10)
    with pytest.raises(TypeError, match="target_label must be an int"):
        a_t(SCORES, target_label=1.0)
    with pytest.raises(ValueError, match="predicted labels outside"):
        a_t(np.array([0, 12]), target_label=1, num_classes=10)
    with pytest.raises(ValueError, match="4 predictions but labels of shape \\(3,\\)"):
        accuracy(SCORES, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="labels outside"):
        accuracy(SCORES, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="NaN"):
        accuracy(np.array([[np.nan, 1.0]]), np.array([0]))
    with pytest.raises(ValueError, match="non-empty"):
        accuracy(np.zeros((0, 3)), np.zeros(0, int))
    with pytest.raises(TypeError, match="integers"):
        accuracy(np.array([0.0, 1.0]), np.array([0, 1]))
    with pytest.raises(TypeError, match="labels must be integers"):
        accuracy(SCORES, np.array([0.0, 1.0, 2.0, 0.0]))
