"""Mini-batches, splits and normalization — every random draw from an explicit Generator.

``rng`` arguments accept a ``numpy.random.Generator`` (used as is, so its
state advances and successive epochs differ) or an integer seed (a fresh
``default_rng(seed)``). There is no hidden global RNG: where a function needs
randomness and gets ``rng=None`` it raises ``TypeError`` instead of guessing.

>>> import numpy as np
>>> x, y = np.arange(10.0), np.arange(10) % 2
>>> [len(yb) for _, yb in batch_iterator(x, y, 4, rng=0)]
[4, 4, 2]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

__all__ = [
    "as_generator",
    "batch_iterator",
    "normalize",
    "standardize",
    "train_val_split",
    "stratified_subset",
]


def as_generator(rng, where: str) -> np.random.Generator:
    """``rng`` as a Generator: a Generator passes through, an int seeds ``default_rng(seed)``.

    The one place refsnn and data_tools turn an ``rng`` argument into a
    Generator.  Anything else is a ``TypeError`` naming ``where``; ``None`` too,
    because nothing here draws from hidden global random state.

    >>> int(as_generator(3, "demo").integers(10)) == int(np.random.default_rng(3).integers(10))
    True
    >>> as_generator(None, "demo")
    Traceback (most recent call last):
    ...
    TypeError: demo: needs rng, a numpy.random.Generator or an int seed; got None (no global random state)
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    if rng is None:
        raise TypeError(
            f"{where}: needs rng, a numpy.random.Generator or an int seed; got None (no global random state)"
        )
    raise TypeError(
        f"{where}: rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}"
    )


def _check_pair(x, y, where: str) -> int:
    if len(x) != len(y):
        raise ValueError(f"{where}: x has {len(x)} samples but y has {len(y)}")
    return len(x)


def batch_iterator(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    rng=None,
    shuffle: bool = True,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(x[idx], y[idx])`` mini-batches covering every sample once per pass.

    With ``shuffle`` the order is ``rng.permutation(N)`` (``rng`` required: a
    seed or a Generator); otherwise samples come in their stored order and
    ``rng`` is ignored. The last batch holds the ``N % batch_size`` leftovers
    unless ``drop_last``.
    """
    n = _check_pair(x, y, "batch_iterator")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_iterator: batch_size must be an int, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_iterator: batch_size must be >= 1, got {batch_size}")
    if shuffle:
        order = as_generator(rng, "batch_iterator(shuffle=True)").permutation(n)
    else:
        order = np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size]
        yield x[idx], y[idx]


def _per_channel(value, x: np.ndarray, name: str) -> np.ndarray:
    """Scalar -> itself; length-C sequence -> shape ``[1, C, 1, ...]`` for axis 1 of ``x``."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return arr
    if arr.ndim != 1 or x.ndim < 2 or arr.shape[0] != x.shape[1]:
        raise ValueError(
            f"normalize: {name} must be a scalar or have one value per channel "
            f"(axis 1 of x, size {x.shape[1] if x.ndim > 1 else 'n/a'}), got shape {arr.shape}"
        )
    return arr.reshape((1, -1) + (1,) * (x.ndim - 2))


def normalize(x: np.ndarray, mean: float | Sequence[float], std: float | Sequence[float]):
    """``(x - mean) / std``; per-channel (axis 1, NCHW) when given sequences. Keeps float dtype.

    >>> normalize(np.array([[1.0, 3.0]]), mean=[1, 1], std=[1, 2]).tolist()
    [[0.0, 1.0]]
    """
    x = np.asarray(x)
    m, s = _per_channel(mean, x, "mean"), _per_channel(std, x, "std")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"normalize: std must be finite and > 0, got {np.asarray(std).tolist()}")
    dtype = x.dtype if x.dtype.kind == "f" else np.float32
    return ((x - m) / s).astype(dtype, copy=False)


def standardize(x: np.ndarray, per_channel: bool = True, eps: float = 1e-8):
    """Zero-mean unit-variance ``x``; returns ``(z, mean, std)`` so the same map applies to test data.

    ``per_channel`` computes statistics over all axes but 1 (NCHW channels);
    otherwise over everything. ``std`` is floored at ``eps`` (constant inputs).
    Apply to new data with ``normalize(x_test, mean, std)``.
    """
    x = np.asarray(x)
    if per_channel and x.ndim >= 2:
        axes = (0,) + tuple(range(2, x.ndim))
        mean = x.mean(axis=axes, dtype=np.float64)
        std = x.std(axis=axes, dtype=np.float64)
    else:
        mean = np.float64(x.mean(dtype=np.float64))
        std = np.float64(x.std(dtype=np.float64))
    std = np.maximum(std, eps)
    return normalize(x, mean, std), mean, std


def train_val_split(x, y, fraction: float, rng, stratify: bool = False):
    """Split off a random ``fraction`` of the samples for validation.

    Returns ``(x_train, y_train), (x_val, y_val)``; each part keeps the
    original order of its samples. With ``stratify`` every class gives
    ``round(fraction * count)`` samples.
    """
    n = _check_pair(x, y, "train_val_split")
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"train_val_split: fraction must be in (0, 1), got {fraction}")
    gen = as_generator(rng, "train_val_split")
    y_arr = np.asarray(y)
    if stratify:
        chosen = []
        for cls in np.unique(y_arr):
            members = np.flatnonzero(y_arr == cls)
            k = int(round(fraction * len(members)))
            chosen.append(gen.choice(members, size=k, replace=False))
        val_idx = np.concatenate(chosen)
    else:
        val_idx = gen.permutation(n)[: int(round(fraction * n))]
    if len(val_idx) == 0 or len(val_idx) == n:
        raise ValueError(
            f"train_val_split: fraction {fraction} of {n} samples leaves an empty part"
        )
    mask = np.zeros(n, dtype=bool)
    mask[val_idx] = True
    return (x[~mask], y[~mask]), (x[mask], y[mask])


def stratified_subset(x, y, per_class: int, rng, return_indices: bool = False):
    """Draw ``per_class`` samples of every class in ``y`` without replacement.

    The result keeps the original order of the chosen samples (so sorted input
    gives sorted output). Raises when a class has fewer than ``per_class``
    samples. With ``return_indices`` the chosen indices come third.
    """
    _check_pair(x, y, "stratified_subset")
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)):
        raise TypeError(f"stratified_subset: per_class must be an int, got {per_class!r}")
    if per_class < 1:
        raise ValueError(f"stratified_subset: per_class must be >= 1, got {per_class}")
    gen = as_generator(rng, "stratified_subset")
    y_arr = np.asarray(y)
    chosen = []
    for cls in np.unique(y_arr):
        members = np.flatnonzero(y_arr == cls)
        if len(members) < per_class:
            raise ValueError(
                f"stratified_subset: class {cls} has {len(members)} samples, "
                f"fewer than per_class={per_class}"
            )
        chosen.append(gen.choice(members, size=per_class, replace=False))
    idx = np.sort(np.concatenate(chosen))
    if return_indices:
        return x[idx], y[idx], idx
    return x[idx], y[idx]
