"""AT&T faces loader on PGM trees written with Pillow."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from data_tools.errors import DataFormatError
from data_tools.faces import load_att_faces, read_pgm


def _write_faces(root, subjects, images, size=(112, 92), seed=0):
    g = np.random.default_rng(seed)
    pixels = g.integers(0, 256, (subjects, images) + size, dtype=np.uint8)
    for k in range(subjects):
        (root / f"s{k + 1}").mkdir(parents=True)
        for i in range(images):
            Image.fromarray(pixels[k, i], mode="L").save(root / f"s{k + 1}" / f"{i + 1}.pgm")
    return pixels


def test_pgm_written_by_pillow_is_binary_pgm(tmp_path):
    pixels = _write_faces(tmp_path, 1, 1)
    raw = (tmp_path / "s1" / "1.pgm").read_bytes()
    assert raw.startswith(b"P5")
    # independent parse of the P5 body: the last 92*112 bytes are the pixels, row-major
    body = np.frombuffer(raw[-92 * 112:], np.uint8).reshape(112, 92)
    np.testing.assert_array_equal(body, pixels[0, 0])
    np.testing.assert_array_equal(read_pgm(tmp_path / "s1" / "1.pgm"), pixels[0, 0])


def test_default_layout_full_size(tmp_path):
    pixels = _write_faces(tmp_path, 40, 10)
    (x, y), (xt, yt) = load_att_faces(tmp_path)
    assert x.shape == (280, 1, 112, 92) and xt.shape == (120, 1, 112, 92)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(y, np.repeat(np.arange(40), 7))
    np.testing.assert_array_equal(yt, np.repeat(np.arange(40), 3))
    # subject s6 (label 5): training images 1..7, test images 8..10
    np.testing.assert_array_equal(x[5 * 7 + 2, 0], pixels[5, 2] / np.float32(255))
    np.testing.assert_array_equal(xt[5 * 3 + 0, 0], pixels[5, 7] / np.float32(255))


def test_small_tree_and_uint8(tmp_path):
    pixels = _write_faces(tmp_path, 3, 4)
    (x, y), (xt, yt) = load_att_faces(tmp_path, train_per_subject=3, subjects=3,
                                      images_per_subject=4, normalize=False)
    assert x.dtype == np.uint8
    np.testing.assert_array_equal(x[:, 0], pixels[:, :3].reshape(9, 112, 92))
    np.testing.assert_array_equal(xt[:, 0], pixels[:, 3])
    np.testing.assert_array_equal(yt, [0, 1, 2])


def test_shuffled_split_is_seeded_partition(tmp_path):
    pixels = _write_faces(tmp_path, 3, 4)
    kw = dict(train_per_subject=2, subjects=3, images_per_subject=4, normalize=False, shuffle=True)
    (x, y), (xt, yt) = load_att_faces(tmp_path, rng=5, **kw)
    (x2, _), _ = load_att_faces(tmp_path, rng=5, **kw)
    np.testing.assert_array_equal(x, x2)
    for k in range(3):
        got = np.concatenate([x[y == k, 0], xt[yt == k, 0]])
        assert len(got) == 4
        # train + test of a subject are exactly its four images, each once
        matches = [[np.array_equal(g, p) for p in pixels[k]] for g in got]
        np.testing.assert_array_equal(np.sum(matches, axis=0), [1, 1, 1, 1])
    different = [load_att_faces(tmp_path, rng=s, **kw)[0][0] for s in range(6)]
    assert any(not np.array_equal(d, x) for d in different)
    with pytest.raises(TypeError, match="needs rng"):
        load_att_faces(tmp_path, **kw)


def test_missing_subject_and_file(tmp_path):
    _write_faces(tmp_path, 3, 4)
    with pytest.raises(FileNotFoundError, match=r"missing subject folder\(s\) s4, s5"):
        load_att_faces(tmp_path)  # default expects s1..s40
    (tmp_path / "s2" / "3.pgm").unlink()
    with pytest.raises(FileNotFoundError, match=r"s2/3.pgm"):
        load_att_faces(tmp_path, subjects=3, images_per_subject=4, train_per_subject=2)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_att_faces(tmp_path / "nowhere")


def test_wrong_size_and_bad_file(tmp_path):
    _write_faces(tmp_path, 1, 2, size=(100, 92))
    with pytest.raises(DataFormatError, match=r"s1/1.pgm: size is wrong: expected 92x112 .*found 92x100"):
        load_att_faces(tmp_path, subjects=1, images_per_subject=2, train_per_subject=1)
    (tmp_path / "s1" / "1.pgm").write_bytes(b"P5 garbage")
    with pytest.raises(DataFormatError, match="1.pgm: width must be a decimal number") as info:
        read_pgm(tmp_path / "s1" / "1.pgm")
    assert info.value.field == "width" and info.value.path == str(tmp_path / "s1" / "1.pgm")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8), mode="RGB").save(tmp_path / "c.ppm")
    with pytest.raises(DataFormatError, match="c.ppm: magic b'P6' is a colour PPM; expected a greyscale"):
        read_pgm(tmp_path / "c.ppm")
    with pytest.raises(ValueError, match=r"train_per_subject must be in \[0, 10\], got 11"):
        load_att_faces(tmp_path, train_per_subject=11)


def test_maxval_rescaled_8_and_16_bit(tmp_path):
    # hand-derived: v * 255 / maxval, halves rounded up
    path = tmp_path / "m.pgm"
    path.write_bytes(b"P5\n# a comment\n3 1\n15\n" + bytes([0, 7, 15]))
    np.testing.assert_array_equal(read_pgm(path), [[0, 119, 255]])  # 7*255/15 = 119
    path.write_bytes(b"P5 4 1 65535\n" + np.array([0, 65535, 25700, 257], ">u2").tobytes())
    np.testing.assert_array_equal(read_pgm(path), [[0, 255, 100, 1]])
    path.write_bytes(b"P2\n2 2\n# comment\n1000\n0 1000\n500 2\n")
    np.testing.assert_array_equal(read_pgm(path), [[0, 255], [128, 1]])  # 127.5 -> 128, 0.51 -> 1


def test_pixel_above_maxval_is_an_error_not_clipped(tmp_path):
    path = tmp_path / "hot.pgm"
    path.write_bytes(b"P5 2 1 100\n" + bytes([50, 200]))
    with pytest.raises(DataFormatError, match=r"hot.pgm: raster sample 1 is 200, above maxval 100"):
        read_pgm(path)
    path.write_bytes(b"P5 1 1 1000\n" + (1001).to_bytes(2, "big"))
    with pytest.raises(DataFormatError, match=r"above maxval 1000"):
        read_pgm(path)
    path.write_bytes(b"P2 2 1 9 3 10")
    with pytest.raises(DataFormatError, match=r"sample 1 is 10, above maxval 9"):
        read_pgm(path)


@pytest.mark.parametrize("raw,fragment", [
    (b"P5 60000 60000 255\n" + bytes(10), r"truncated: 60000x60000x1 samples of 1 byte\(s\) need"),
    (b"P2 60000 60000 255\n1 2 3", "needs 3600000000 ASCII samples"),
    (b"P5 2 1 255\n" + bytes(3), "followed by extra bytes"),
    (b"P5 2 1 0\n" + bytes(2), "maxval must be in \\[1, 65535\\], found 0"),
    (b"P5 2 1 70000\n" + bytes(8), "maxval must be in"),
    (b"P5 0 1 255\n", "size 0x1 is empty"),
    (b"P5 99999999999 1 255\n", "width must be a decimal number of at most 10 digits"),
    (b"P2 2 1 255\n1 x", "non-digit byte b'x'"),
    (b"P2 2 1 255\n1 2 3", "holds 3 samples, the header declares 2"),
    (b"P2 1 1 255\n0000001", "more than 5 digits"),
    (b"P4 1 1\n\x00", "P1/P4 bitmaps"),
    (b"P5 1 1 255", "ends without the whitespace byte"),
    (b"", "magic b'' is not a PGM/PPM magic"),
])
def test_hostile_headers(tmp_path, raw, fragment):
    import tracemalloc

    path = tmp_path / "h.pgm"
    path.write_bytes(raw)
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError, match=fragment) as info:
            read_pgm(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.path == str(path)
    assert peak < 1 << 20  # nothing the size of the declared image was allocated


def test_ppm_reader_matches_pillow(tmp_path):
    from data_tools.netpbm import read_netpbm

    pixels = np.random.default_rng(3).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(pixels, mode="RGB").save(tmp_path / "c.ppm")
    np.testing.assert_array_equal(read_netpbm(tmp_path / "c.ppm"), pixels)
    text = "P3 2 1 255\n" + " ".join(str(v) for v in pixels[0, :2].ravel()) + "\n"
    (tmp_path / "a.ppm").write_text(text)
    np.testing.assert_array_equal(read_netpbm(tmp_path / "a.ppm"), pixels[:1, :2])
