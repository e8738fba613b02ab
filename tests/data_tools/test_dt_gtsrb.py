"""GTSRB loader on PPM + CSV trees written with Pillow."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from data_tools.errors import DataFormatError
from data_tools.gtsrb import load_gtsrb, read_gtsrb_csv

HEADER = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"


def _write_images(folder, specs, seed):
    """specs: (file name, width, height, x1, y1, class); ROI is 10 wide, 8 high (inclusive corners)."""
    g = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows, pixels = [HEADER], {}
    for name, w, h, x1, y1, cls in specs:
        arr = g.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(arr, mode="RGB").save(folder / name)
        rows.append(f"{name};{w};{h};{x1};{y1};{x1 + 9};{y1 + 7};{cls}")
        pixels[name] = (arr, x1, y1)
    return rows, pixels


def _roi(entry):
    arr, x1, y1 = entry
    return arr[y1:y1 + 8, x1:x1 + 10].transpose(2, 0, 1)


def _train_tree(root):
    specs = {0: [("00000_00000.ppm", 30, 25, 3, 4, 0), ("00000_00001.ppm", 41, 37, 0, 0, 0)],
             2: [("00000_00000.ppm", 12, 8, 2, 0, 2)]}
    pixels = {}
    for cls, items in specs.items():
        folder = root / f"{cls:05d}"
        rows, px = _write_images(folder, items, cls)
        (folder / f"GT-{cls:05d}.csv").write_text("\n".join(rows) + "\n")
        pixels.update({(cls, k): v for k, v in px.items()})
    return pixels


def test_ppm_files_are_real_ppm(tmp_path):
    _write_images(tmp_path, [("a.ppm", 12, 8, 0, 0, 1)], 0)
    assert (tmp_path / "a.ppm").read_bytes().startswith(b"P6")


def test_training_layout_roi_crop_exact(tmp_path):
    pixels = _train_tree(tmp_path)
    x, y = load_gtsrb(tmp_path, size=None, normalize=False)  # ROI crops are all 10x8
    assert x.shape == (3, 3, 8, 10) and x.dtype == np.uint8
    np.testing.assert_array_equal(y, [0, 0, 2])
    np.testing.assert_array_equal(x[0], _roi(pixels[(0, "00000_00000.ppm")]))
    np.testing.assert_array_equal(x[1], _roi(pixels[(0, "00000_00001.ppm")]))
    np.testing.assert_array_equal(x[2], _roi(pixels[(2, "00000_00000.ppm")]))
    xf, _ = load_gtsrb(tmp_path, size=(8, 10))  # resize to the crop size changes nothing
    np.testing.assert_array_equal(xf, x / np.float32(255))
    assert xf.dtype == np.float32
    with pytest.raises(ValueError, match="images differ in size"):
        load_gtsrb(tmp_path, size=None, crop_roi=False)


def _ramp_image(w, h):
    """R = 20·x, G = 15·y, B = 77: a bilinear resize of a linear ramp is the ramp, sampled."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([20 * x, 15 * y, np.full_like(x, 77)], axis=-1).astype(np.uint8)


def _bilinear_ramp(n_in, n_out, offset, slope):
    """Expected ramp after resizing n_in -> n_out pixels (upsampling), derived by hand.

    Output pixel j's centre maps to input coordinate ``c = (j + ½)·n_in/n_out − ½``;
    linear interpolation of ``slope·(offset + x)`` there is ``slope·(offset + c)``, with
    ``c`` held at the edge pixels outside ``[0, n_in − 1]``.  Nearest neighbour would
    give ``slope·(offset + ⌊c + ½⌋)`` instead — up to ``slope·n_in/(2·n_out)`` away.
    """
    c = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    return slope * (offset + np.clip(c, 0, n_in - 1))


def test_resize_is_bilinear_on_a_ramp(tmp_path):
    folder = tmp_path / "00001"
    folder.mkdir()
    Image.fromarray(_ramp_image(12, 14), mode="RGB").save(folder / "c.ppm")
    # ROI x 2..9, y 2..11 (inclusive): an 8-wide, 10-high crop, upsampled to 32x32
    (folder / "GT-00001.csv").write_text(f"{HEADER}\nc.ppm;12;14;2;2;9;11;1\n")
    x, y = load_gtsrb(tmp_path, normalize=False)
    assert x.shape == (1, 3, 32, 32) and y.tolist() == [1]
    want_r = np.broadcast_to(_bilinear_ramp(8, 32, 2, 20), (32, 32))
    want_g = np.broadcast_to(_bilinear_ramp(10, 32, 2, 15)[:, None], (32, 32))
    np.testing.assert_allclose(x[0, 0], want_r, atol=1)  # Pillow's fixed-point rounding: ±1
    np.testing.assert_allclose(x[0, 1], want_g, atol=1)
    assert np.all(x[0, 2] == 77)
    x2, _ = load_gtsrb(tmp_path, size=(16, 20), crop_roi=False, normalize=False)  # whole 12x14 image
    assert x2.shape == (1, 3, 16, 20)
    np.testing.assert_allclose(x2[0, 0], np.broadcast_to(_bilinear_ramp(12, 20, 0, 20), (16, 20)), atol=1)
    np.testing.assert_allclose(x2[0, 1], np.broadcast_to(_bilinear_ramp(14, 16, 0, 15)[:, None], (16, 20)),
                               atol=1)


def test_test_layout(tmp_path):
    rows, pixels = _write_images(
        tmp_path, [("00000.ppm", 20, 20, 1, 1, 14), ("00001.ppm", 15, 9, 0, 1, 3)], 4)
    (tmp_path / "GT-final_test.csv").write_text("\n".join(rows))
    x, y = load_gtsrb(tmp_path, size=None, normalize=False)
    np.testing.assert_array_equal(y, [14, 3])
    np.testing.assert_array_equal(x[1], _roi(pixels["00001.ppm"]))


def test_csv_parsing_and_errors(tmp_path):
    path = tmp_path / "GT.csv"
    path.write_text(f"{HEADER}\na.ppm;30;31;1;2;20;21;7\n")
    assert read_gtsrb_csv(path) == [{"Filename": "a.ppm", "Width": 30, "Height": 31, "Roi.X1": 1,
                                     "Roi.Y1": 2, "Roi.X2": 20, "Roi.Y2": 21, "ClassId": 7}]
    path.write_text("Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2\na.ppm;1;1;0;0;0;0\n")
    with pytest.raises(ValueError, match=r"GT.csv: header is missing column\(s\) ClassId"):
        read_gtsrb_csv(path)
    assert read_gtsrb_csv(path, need_class=False)[0]["Width"] == 1
    path.write_text(f"{HEADER}\na.ppm;30;x;1;2;20;21;7\n")
    with pytest.raises(ValueError, match=r"GT.csv: Height on line 2 must be a decimal integer, found 'x'"):
        read_gtsrb_csv(path)
    path.write_text("Filename,Width,Height\n")
    with pytest.raises(ValueError, match="semicolon-separated"):
        read_gtsrb_csv(path)


def _single(tmp_path, row, size=(30, 25)):
    Image.new("RGB", size).save(tmp_path / "a.ppm")
    (tmp_path / "GT-final_test.csv").write_text(f"{HEADER}\n{row}\n")


def test_roi_outside_image(tmp_path):
    _single(tmp_path, "a.ppm;30;25;0;0;30;10;1")
    with pytest.raises(ValueError, match=r"a.ppm: ROI \(0, 0\)-\(30, 10\) is empty or outside"):
        load_gtsrb(tmp_path)


def test_size_mismatch_with_annotation(tmp_path):
    _single(tmp_path, "a.ppm;31;25;0;0;5;5;1")
    with pytest.raises(DataFormatError, match=r"a.ppm: size is 30x25 \(width x height\), "
                                              r"GT-final_test.csv says 31x25"):
        load_gtsrb(tmp_path)


def test_missing_image_and_layout_errors(tmp_path):
    _single(tmp_path, "b.ppm;30;25;0;0;5;5;1")
    with pytest.raises(FileNotFoundError, match="lists b.ppm"):
        load_gtsrb(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="found 0 CSV"):
        load_gtsrb(empty)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_gtsrb(tmp_path / "nowhere")


def test_class_id_must_match_folder(tmp_path):
    folder = tmp_path / "00003"
    rows, _ = _write_images(folder, [("x.ppm", 12, 8, 0, 0, 4)], 0)
    (folder / "GT-00003.csv").write_text("\n".join(rows))
    with pytest.raises(ValueError, match="ClassId 4 inside class folder 00003"):
        load_gtsrb(tmp_path)


def test_bom_header_is_read(tmp_path):
    path = tmp_path / "GT.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"{HEADER}\na.ppm;30;31;1;2;20;21;7\n".encode())
    assert read_gtsrb_csv(path)[0]["Filename"] == "a.ppm"


@pytest.mark.parametrize("row,field,fragment", [
    ("a.ppm;30;25;0;0;5;5;-5", "ClassId", r"ClassId on line 2 must be in \[0, 42\], found -5"),
    ("a.ppm;30;25;0;0;5;5;43", "ClassId", r"found 43"),
    ("a.ppm;0;25;0;0;5;5;1", "Width", r"Width on line 2 must be in \[1, 16384\], found 0"),
    ("a.ppm;30;25;-1;0;5;5;1", "Roi.X1", r"Roi.X1 on line 2 must be >= 0, found -1"),
    ("../a.ppm;30;25;0;0;5;5;1", "Filename", r"'../a.ppm' must be a relative path inside"),
    ("/etc/passwd;30;25;0;0;5;5;1", "Filename", r"'/etc/passwd' must be a relative path inside"),
    ("a.ppm;30;25;0;0;5;5;1_0", "ClassId", r"must be a decimal integer, found '1_0'"),
    ("a.ppm;30;25;0;0;5;5;" + "9" * 5000, "ClassId", r"must be a decimal integer, found '9999"),
])
def test_bad_rows_named(tmp_path, row, field, fragment):
    path = tmp_path / "GT.csv"
    path.write_text(f"{HEADER}\n{row}\n")
    with pytest.raises(DataFormatError, match=fragment) as info:
        read_gtsrb_csv(path)
    assert info.value.field == field and info.value.path == str(path)


@pytest.mark.parametrize("raw,fragment", [
    (HEADER.encode() + b"\na\xff.ppm;1;1;0;0;0;0;1\n", "encoding is not UTF-8"),
    (HEADER.encode() + b"\na\x00.ppm;1;1;0;0;0;0;1\n", "'a\\\\x00.ppm' must be a relative path"),
    (HEADER.encode() + b'\n"' + b"a" * 200_000 + b"\n", "csv is malformed near line 2 .*field limit"),
])
def test_undecodable_csv(tmp_path, raw, fragment):
    path = tmp_path / "GT.csv"
    path.write_bytes(raw)
    with pytest.raises(DataFormatError, match=fragment):
        read_gtsrb_csv(path)


def test_symlink_out_of_the_dataset_refused(tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    Image.new("RGB", (30, 25), (9, 9, 9)).save(outside / "s.ppm")
    root = tmp_path / "test"
    root.mkdir()
    (root / "link.ppm").symlink_to(outside / "s.ppm")
    (root / "GT-final_test.csv").write_text(f"{HEADER}\nlink.ppm;30;25;0;0;5;5;1\n")
    with pytest.raises(DataFormatError, match=r"Filename 'link.ppm' resolves to .*secret/s.ppm, "
                                              r"outside the dataset folder"):
        load_gtsrb(root)
    # a class folder that is a link out of the tree is refused at its CSV
    train = tmp_path / "train"
    train.mkdir()
    (outside / "GT-00001.csv").write_text(f"{HEADER}\ns.ppm;30;25;0;0;5;5;1\n")
    (train / "00001").symlink_to(outside)
    with pytest.raises(DataFormatError, match="annotation file resolves to .*outside"):
        load_gtsrb(train)


def test_pillow_formats_guarded(tmp_path, monkeypatch):
    pixels = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels, mode="RGB").save(tmp_path / "a.png")
    (tmp_path / "GT-final_test.csv").write_text(f"{HEADER}\na.png;30;20;0;0;29;19;1\n")
    x, _ = load_gtsrb(tmp_path, size=None, normalize=False)
    np.testing.assert_array_equal(x[0], pixels.transpose(2, 0, 1))
    from PIL import Image as PILImage

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 100)  # 600 pixels > 2 x 100: a "bomb"
    with pytest.raises(DataFormatError, match=r"a.png: image cannot be decoded \(DecompressionBomb"):
        load_gtsrb(tmp_path)
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    with pytest.raises(DataFormatError, match=r"a.png: image cannot be decoded"):
        load_gtsrb(tmp_path)


def test_ppm_above_maxval_in_gtsrb(tmp_path):
    (tmp_path / "a.ppm").write_bytes(b"P6 1 1 100\n" + bytes([1, 2, 101]))
    (tmp_path / "GT-final_test.csv").write_text(f"{HEADER}\na.ppm;1;1;0;0;0;0;1\n")
    with pytest.raises(DataFormatError, match=r"a.ppm: raster sample 2 is 101, above maxval 100"):
        load_gtsrb(tmp_path)


def test_only_plain_image_formats_reach_pillow(tmp_path):
    # an EPS file named .png: Pillow would identify it (and run Ghostscript to decode it)
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 30 20\nshowpage\n"
    (tmp_path / "a.png").write_bytes(eps)
    with Image.open(tmp_path / "a.png") as control:
        assert control.format == "EPS"
    (tmp_path / "GT-final_test.csv").write_text(f"{HEADER}\na.png;30;20;0;0;29;19;1\n")
    with pytest.raises(DataFormatError, match=r"a.png: image cannot be decoded \(UnidentifiedImageError"):
        load_gtsrb(tmp_path)
