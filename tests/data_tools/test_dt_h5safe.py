"""h5safe: what a well-formed file gives back, and what a hostile one is refused."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from data_tools.errors import DataFormatError
from data_tools.h5safe import MAX_RATIO, check_dataset, child, read_attr, read_dataset


@pytest.fixture
def h5(tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("zeros", data=np.zeros((500, 400)), compression="gzip", shuffle=True)
        f.create_dataset("ints", data=np.arange(12, dtype=np.int16).reshape(3, 4), chunks=(1, 4))
        f.create_dataset("empty", shape=(0, 5), dtype="f4")
        f.create_dataset("scalar", data=2.5)
        f.create_dataset("fixed", data=np.array([b"ab", b"c"]))
        f.create_group("g")
        f.attrs["names"] = ["a", "bb"]
        f.attrs["n"] = 7
    with h5py.File(path, "r") as f:
        yield f


def test_plain_datasets_round_trip(h5):
    # 1.6 MB of zeros stored in a few KB: within deflate's ratio, so read
    assert h5["zeros"].id.get_storage_size() * MAX_RATIO > 500 * 400 * 8
    np.testing.assert_array_equal(read_dataset(child(h5, "zeros")), np.zeros((500, 400)))
    np.testing.assert_array_equal(read_dataset(child(h5, "ints")), np.arange(12).reshape(3, 4))
    assert read_dataset(child(h5, "empty")).shape == (0, 5)
    assert read_dataset(child(h5, "scalar")) == 2.5
    assert read_dataset(child(h5, "fixed")).tolist() == [b"ab", b"c"]
    assert list(read_attr(h5, "names")) == ["a", "bb"] and read_attr(h5, "n") == 7
    assert read_attr(h5, "absent", "dflt") == "dflt"


def test_refusals_name_file_and_object(h5):
    with pytest.raises(DataFormatError, match=r"x.h5: /g is a Group, not a dataset"):
        read_dataset(child(h5, "g"))
    with pytest.raises(DataFormatError, match=r"x.h5: /nope is missing"):
        child(h5, "nope")
    with pytest.raises(DataFormatError, match=r"/ints declares 24 bytes, more than the 10 allowed") as info:
        check_dataset(child(h5, "ints"), max_bytes=10)
    assert info.value.path.endswith("x.h5") and info.value.field == "/ints"
