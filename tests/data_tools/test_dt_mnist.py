"""MNIST-style loaders on the shared real data and on directories the tests write."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from data_tools import IDXFormatError, load_fashion_mnist, load_mnist, write_idx
from data_tools.mnist import mnist_files


def test_shared_data_sha256_match_readme(shared_data):
    text = (shared_data / "README.md").read_text()
    listed = re.findall(r"^([0-9a-f]{64})  (\S+)$", text, flags=re.M)
    assert len(listed) == 8
    for digest, relative in listed:
        actual = hashlib.sha256((shared_data / relative).read_bytes()).hexdigest()
        assert actual == digest, relative


def test_mnist5k_counts_classes_and_range(shared_data):
    x, y = load_mnist(shared_data / "mnist-5k", "train")
    xt, yt = load_mnist(shared_data / "mnist-5k", "test")
    assert x.shape == (4000, 1, 28, 28) and xt.shape == (1000, 1, 28, 28)
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y, minlength=10), [400] * 10)
    np.testing.assert_array_equal(np.bincount(yt, minlength=10), [100] * 10)
    assert x.min() == 0.0 and x.max() == 1.0
    raw, raw_y = load_mnist(shared_data / "mnist-5k", "train", normalize=False)
    assert raw.dtype == np.uint8
    np.testing.assert_array_equal(raw_y, y)
    np.testing.assert_allclose(x * 255.0, raw, atol=1e-4)
    # real digits: ink covers roughly a fifth of the 28x28 frame on average
    assert 0.1 < (raw > 0).mean() < 0.3


def test_fashion_mnist_counts(shared_data):
    x, y = load_fashion_mnist(shared_data / "fashion-mnist", "train", normalize=False)
    xt, yt = load_fashion_mnist(shared_data / "fashion-mnist", "test", normalize=False)
    assert x.shape == (60000, 1, 28, 28) and xt.shape == (10000, 1, 28, 28)
    assert x.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y, minlength=10), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(yt, minlength=10), [1000] * 10)


def _write_dir(directory, n=5, gz=True, dotted=False, seed=0):
    g = np.random.default_rng(seed)
    images = g.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = g.integers(0, 10, n).astype(np.uint8)
    sep = "." if dotted else "-"
    ext = ".gz" if gz else ""
    for prefix in ("train", "t10k"):
        write_idx(directory / f"{prefix}-images{sep}idx3-ubyte{ext}", images)
        write_idx(directory / f"{prefix}-labels{sep}idx1-ubyte{ext}", labels)
    return images, labels


@pytest.mark.parametrize("gz,dotted", [(True, False), (False, False), (False, True)])
def test_user_directory_values(tmp_path, gz, dotted):
    images, labels = _write_dir(tmp_path, gz=gz, dotted=dotted)
    for split in ("train", "test"):
        x, y = load_mnist(tmp_path, split)
        np.testing.assert_array_equal(y, labels.astype(np.int64))
        np.testing.assert_array_equal(x[:, 0], images.astype(np.float32) / 255.0)
        assert x[2, 0, 5, 7] == np.float32(images[2, 5, 7] / 255.0)


def test_count_mismatch(tmp_path):
    _write_dir(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    with pytest.raises(IDXFormatError, match=r"train-labels-idx1-ubyte.gz: count is 4 labels but "
                                            r"train-images-idx3-ubyte.gz has 5 images"):
        load_mnist(tmp_path, "train")


def test_images_file_with_wrong_dims(tmp_path):
    _write_dir(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((5, 784), np.uint8))
    with pytest.raises(IDXFormatError, match=r"t10k-images-idx3-ubyte.gz: ndim is wrong: expected 3 dim"):
        load_mnist(tmp_path, "test")


def test_unknown_split_lists_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"\['test', 'train'\].*'validation'"):
        load_mnist(tmp_path, "validation")


def test_missing_directory_and_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-dir"):
        load_mnist(tmp_path / "no-such-dir")
    with pytest.raises(FileNotFoundError, match=r"train images.*train-images-idx3-ubyte.gz"):
        load_mnist(tmp_path)


def test_prefers_gz_and_reports_paths(tmp_path):
    _write_dir(tmp_path, gz=True)
    images, labels = mnist_files(tmp_path, "test")
    assert images.name == "t10k-images-idx3-ubyte.gz"
    assert labels.name == "t10k-labels-idx1-ubyte.gz"


def test_label_out_of_range(tmp_path):
    _write_dir(tmp_path)
    labels = np.zeros(5, np.uint8)
    labels[3] = 10
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    with pytest.raises(IDXFormatError, match=r"train-labels-idx1-ubyte.gz: labels must lie in \[0, 9\], "
                                            r"found 10") as info:
        load_mnist(tmp_path, "train")
    assert info.value.field == "labels"
