"""Data sets for refsnn: the MNIST sample shipped inside the package, and IDX directories.

``load_sample`` needs no download: 2,000 training and 500 test MNIST digits
(200 / 50 per class, CC BY-SA 3.0, see ``refsnn/data/README.md``) read with
``importlib.resources``, so it works from a plain ``pip install``.

>>> from refsnn.datasets import load_sample
>>> x, y = load_sample("test")
>>> x.shape, x.dtype, y.dtype
((500, 1, 28, 28), dtype('float32'), dtype('int64'))
"""

from __future__ import annotations

import os
from importlib import resources

import numpy as np

from data_tools.idx import parse_idx
from data_tools.make_sample import sample_file_names
from data_tools.mnist import load_mnist, to_float_images

__all__ = ["load_sample", "load_idx_dataset"]


def load_sample(split: str = "train", normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The shipped MNIST sample: ``(x float32 [N, 1, 28, 28] in [0, 1], y int64 [N])``.

    ``split`` is ``"train"`` (N = 2000) or ``"test"`` (N = 500); ``normalize=False``
    gives the uint8 pixels.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be one of ['test', 'train'], got {split!r}")
    data = resources.files("refsnn").joinpath("data")
    image_name, label_name = sample_file_names(split)
    arrays = []
    for name, ndim in ((image_name, 3), (label_name, 1)):
        resource = data.joinpath(name)
        if not resource.is_file():
            raise FileNotFoundError(
                f"shipped sample file {name} is missing from the refsnn package (looked in "
                f"{data}); reinstall refsnn or rebuild it with python -m data_tools.make_sample"
            )
        arrays.append(parse_idx(resource.read_bytes(), f"refsnn/data/{name}", ndim, "uint8"))
    images, labels = arrays
    if len(images) != len(labels):
        raise ValueError(f"shipped sample {split}: {len(images)} images but {len(labels)} labels")
    x = images[:, None, :, :]
    return (to_float_images(x) if normalize else x), labels.astype(np.int64)


def load_idx_dataset(
    directory: str | os.PathLike, split: str = "train", normalize: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Any MNIST-style IDX directory (MNIST, MNIST-5k, Fashion-MNIST); see ``data_tools.load_mnist``."""
    return load_mnist(directory, split, normalize)
