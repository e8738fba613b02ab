"""The MNIST sample shipped inside refsnn, and refsnn.datasets."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import numpy as np
import pytest

import refsnn
from data_tools import load_mnist, read_idx
from data_tools.make_sample import make_sample, sample_file_names
from refsnn.datasets import load_idx_dataset, load_sample

DATA_DIR = Path(refsnn.__file__).parent / "data"


@pytest.mark.parametrize("split,n", [("train", 2000), ("test", 500)])
def test_sample_sizes_balance_range(split, n):
    x, y = load_sample(split)
    assert x.shape == (n, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y, minlength=10), [n // 10] * 10)
    assert x.min() == 0.0 and x.max() == 1.0
    raw, _ = load_sample(split, normalize=False)
    assert raw.dtype == np.uint8
    np.testing.assert_array_equal(raw.astype(np.float32) / 255, x)
    assert len({r.tobytes() for r in raw}) == n  # no duplicate digits


def test_sample_files_small_and_packaged():
    names = [n for s in ("train", "test") for n in sample_file_names(s)]
    assert sum((DATA_DIR / n).stat().st_size for n in names) < 1_000_000
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    pyproject = tomllib.loads((Path(refsnn.__file__).parents[1] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["refsnn"]
    for name in names + ["README.md"]:
        assert any(fnmatch.fnmatch(f"data/{name}", p) for p in patterns), name
    readme = (DATA_DIR / "README.md").read_text()
    assert "CC BY-SA 3.0" in readme and "LeCun" in readme and "mnist_5k" in readme
    # the magic numbers are those of MNIST images and labels
    assert read_idx(DATA_DIR / names[0]).shape == (2000, 28, 28)
    assert read_idx(DATA_DIR / names[1]).shape == (2000,)


def test_sample_is_a_subset_of_mnist5k(shared_data):
    for split in ("train", "test"):
        src_x, src_y = load_mnist(shared_data / "mnist-5k", split, normalize=False)
        known = {(img.tobytes(), int(lab)) for img, lab in zip(src_x, src_y, strict=True)}
        x, y = load_sample(split, normalize=False)
        assert all((img.tobytes(), int(lab)) in known for img, lab in zip(x, y, strict=True))


def test_make_sample_reproduces_shipped_arrays(shared_data, tmp_path):
    chosen = make_sample(shared_data / "mnist-5k", tmp_path)
    assert len(chosen["train"]) == 2000 and len(chosen["test"]) == 500
    for split in ("train", "test"):
        for name in sample_file_names(split):
            np.testing.assert_array_equal(read_idx(tmp_path / name), read_idx(DATA_DIR / name))


def test_load_idx_dataset_delegates(shared_data):
    x, y = load_idx_dataset(shared_data / "mnist-5k", "test")
    x2, y2 = load_mnist(shared_data / "mnist-5k", "test")
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert x.shape == (1000, 1, 28, 28)


def test_bad_split():
    with pytest.raises(ValueError, match=r"split must be one of \['test', 'train'\], got 'val'"):
        load_sample("val")
