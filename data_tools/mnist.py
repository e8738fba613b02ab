"""MNIST-style data sets in the IDX layout: MNIST, Fashion-MNIST, the MNIST-5k subset.

A directory holds four files with the names of the original distribution,
each raw or gzip-compressed (``.gz``)::

    train-images-idx3-ubyte   [N, 28, 28] uint8, magic 0x00000803
    train-labels-idx1-ubyte   [N] uint8,         magic 0x00000801
    t10k-images-idx3-ubyte    test split
    t10k-labels-idx1-ubyte

(the ``train-images.idx3-ubyte`` spelling of some mirrors is accepted too).

>>> x, y = load_mnist("../shared/data/mnist-5k", "test")   # doctest: +SKIP
>>> x.shape, x.dtype, y.shape, y.dtype                      # doctest: +SKIP
((1000, 1, 28, 28), dtype('float32'), (1000,), dtype('int64'))
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from data_tools.idx import IDXFormatError, read_idx

__all__ = ["load_mnist", "load_fashion_mnist", "mnist_files", "SPLITS", "to_float_images"]

# split -> file-name prefix of the original distribution
SPLITS = {"train": "train", "test": "t10k"}


def _find(directory: Path, prefix: str, kind: str, ndim: int) -> Path:
    stems = [f"{prefix}-{kind}-idx{ndim}-ubyte", f"{prefix}-{kind}.idx{ndim}-ubyte"]
    candidates = [directory / (stem + ext) for stem in stems for ext in (".gz", "")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(c.name for c in candidates)
    raise FileNotFoundError(f"no {prefix} {kind} file in {directory} (looked for {tried})")


def mnist_files(directory: str | os.PathLike, split: str = "train") -> tuple[Path, Path]:
    """Paths of the (images, labels) files of ``split`` in ``directory``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"MNIST directory not found: {directory}")
    prefix = SPLITS[split]
    return _find(directory, prefix, "images", 3), _find(directory, prefix, "labels", 1)


def to_float_images(images: np.ndarray) -> np.ndarray:
    """uint8 ``[N, H, W]`` (or ``[N, C, H, W]``) pixels -> float32 in ``[0, 1]`` (``x / 255``)."""
    return images.astype(np.float32) / np.float32(255.0)


def load_mnist(
    directory: str | os.PathLike, split: str = "train", normalize: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of an MNIST-style IDX directory.

    Returns ``(images, labels)``: images ``[N, 1, H, W]`` (28x28 for MNIST),
    float32 in ``[0, 1]`` when ``normalize`` else the raw uint8 pixels;
    labels int64 ``[N]``. The image and label files must agree on ``N``.
    """
    image_path, label_path = mnist_files(directory, split)
    images = read_idx(image_path, expect_ndim=3, expect_dtype="uint8")
    labels = read_idx(label_path, expect_ndim=1, expect_dtype="uint8")
    if len(images) != len(labels):
        raise IDXFormatError(
            "count", f"is {len(labels)} labels but {image_path.name} has {len(images)} images",
            path=label_path)
    if labels.size and labels.max() > 9:
        raise IDXFormatError("labels", f"must lie in [0, 9], found {labels.max()}", path=label_path)
    images = images[:, None, :, :]
    if normalize:
        images = to_float_images(images)
    return images, labels.astype(np.int64)


def load_fashion_mnist(
    directory: str | os.PathLike, split: str = "train", normalize: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST uses the MNIST layout and file names; see :func:`load_mnist`."""
    return load_mnist(directory, split, normalize)
