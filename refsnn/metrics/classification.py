"""Top-1 accuracies, and the three GAMIN accuracies A_S, A_S∘G and A_T (Poursiami et al. §IV-B).

Every function takes model outputs as either

* scores ``[N, C]`` (logits, probabilities, summed membranes — anything whose
  argmax over ``C`` is the predicted class), or
* predicted labels ``[N]`` (integers, e.g. an :class:`~refsnn.oracle.Oracle`
  answering ``output="labels"``),

as NumPy/CuPy arrays or refsnn Tensors, and returns a Python float in ``[0, 1]``.
Ties in the argmax go to the lowest class index (``numpy.argmax``).

>>> import numpy as np
>>> accuracy(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), np.array([1, 0, 0]))
0.6666666666666666
>>> a_sog(np.array([2, 2, 1, 2]), target_label=2, num_classes=3)
0.75
"""

from __future__ import annotations

import numpy as np

from refsnn.backend import to_host


def _host(a, what: str, where: str) -> np.ndarray:
    data = a.data if hasattr(a, "data") and hasattr(a, "requires_grad") else a  # refsnn Tensor
    arr = np.asarray(to_host(data))
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {what} must be numeric, got dtype {arr.dtype}")
    return arr


def predicted_labels(outputs, where: str = "predicted_labels", num_classes: int | None = None):
    """``(labels [N] int64, C or None)`` from scores ``[N, C]`` (argmax) or labels ``[N]``.

    ``C`` is the score width, else ``num_classes``.  Empty input, NaN/inf scores,
    non-integer label arrays, labels outside ``[0, C)`` and a score width that
    disagrees with ``num_classes`` are errors naming ``where``.
    """
    out = _host(outputs, "outputs", where)
    if out.ndim not in (1, 2) or out.shape[0] == 0:
        raise ValueError(f"{where}: outputs must be non-empty scores [N, C] or labels [N], "
                         f"got shape {out.shape}")
    if out.ndim == 2:
        if num_classes is not None and out.shape[1] != num_classes:
            raise ValueError(f"{where}: scores have {out.shape[1]} columns but num_classes={num_classes}")
        if not np.isfinite(out).all():
            raise ValueError(f"{where}: scores contain NaN or inf")
        return out.argmax(axis=1).astype(np.int64), int(out.shape[1])
    if out.dtype.kind not in "iu":
        raise TypeError(f"{where}: 1-D outputs are labels and must be integers, got dtype {out.dtype}")
    if num_classes is not None and (out.min() < 0 or out.max() >= num_classes):
        raise ValueError(f"{where}: predicted labels outside [0, {num_classes})")
    return out.astype(np.int64), num_classes


def _check_label(label, classes, where: str) -> int:
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)):
        raise TypeError(f"{where}: target_label must be an int, got {label!r}")
    if label < 0 or (classes is not None and label >= classes):
        raise ValueError(f"{where}: target label {label} is outside the model's classes [0, {classes})")
    return int(label)


def accuracy(outputs, labels, num_classes: int | None = None) -> float:
    """Top-1 accuracy ``(1/N) Σ_i [ŷ_i = y_i]``, ``ŷ_i = argmax_c outputs[i, c]`` (or ``outputs[i]``).

    ``outputs``: scores ``[N, C]`` or predicted labels ``[N]``; ``labels``: integers ``[N]``
    in ``[0, C)`` (``C`` the score width or ``num_classes``).
    """
    pred, classes = predicted_labels(outputs, "accuracy", num_classes)
    y = _host(labels, "labels", "accuracy")
    if y.dtype.kind not in "iu":
        raise TypeError(f"accuracy: labels must be integers, got dtype {y.dtype}")
    if y.shape != pred.shape:
        raise ValueError(f"accuracy: {len(pred)} predictions but labels of shape {y.shape}")
    if y.min() < 0 or (classes is not None and y.max() >= classes):
        raise ValueError(f"accuracy: labels outside the model's classes [0, {classes})")
    return float((pred == y).mean())


def a_s(surrogate_outputs, test_labels, num_classes: int | None = None) -> float:
    """Surrogate test accuracy ``A_S`` (§IV-B3): the surrogate's accuracy on the real test set.

    ``A_S = (1/N) Σ_i [argmax_c S(x_i)_c = y_i]`` over the test set ``(x_i, y_i)``;
    ``surrogate_outputs`` is ``S(x)`` ``[N, C]`` (or its labels ``[N]``).
    """
    return accuracy(surrogate_outputs, test_labels, num_classes)


def _label_rate(outputs, target_label, num_classes, where: str) -> float:
    pred, classes = predicted_labels(outputs, where, num_classes)
    label = _check_label(target_label, classes, where)
    return float((pred == label).mean())


def a_sog(surrogate_outputs_on_generated, target_label: int, num_classes: int | None = None) -> float:
    """Combined accuracy ``A_S∘G`` (§IV-B4, from GAMIN): the surrogate on the generator's samples.

    ``A_S∘G = (1/M) Σ_j [argmax_c S(G(z_j))_c = y_t]`` for ``M`` generated samples
    ``G(z_j)`` and the attacked label ``y_t``; the input is ``S(G(z))`` ``[M, C]``
    (or its labels ``[M]`` with ``num_classes``).  A ``y_t`` outside ``[0, C)`` is a ValueError.
    """
    return _label_rate(surrogate_outputs_on_generated, target_label, num_classes, "a_sog")


def a_t(target_outputs_on_generated, target_label: int, num_classes: int | None = None) -> float:
    """Target accuracy on inverted samples ``A_T`` (§IV-B5): the *target* on the generator's samples.

    ``A_T = (1/M) Σ_j [argmax_c T(G(z_j))_c = y_t]``; the input is ``T(G(z))``
    ``[M, C]`` — for a black-box target, the oracle's answers (probabilities, logits
    or labels ``[M]`` with ``num_classes``).  A ``y_t`` outside ``[0, C)`` is a ValueError.
    """
    return _label_rate(target_outputs_on_generated, target_label, num_classes, "a_t")
