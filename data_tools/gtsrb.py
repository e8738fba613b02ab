"""GTSRB (German Traffic Sign Recognition Benchmark): PPM images + semicolon-separated CSV.

Training layout (``GTSRB/Final_Training/Images``)::

    00000/GT-00000.csv  00000/00000_00000.ppm ...
    00001/GT-00001.csv  ...
    ...
    00042/

Test layout (``GTSRB/Final_Test/Images``): all PPMs in one folder with one
CSV (``GT-final_test.csv``, the version *with* ``ClassId``). Every CSV row::

    Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId

The ROI corners are inclusive pixel coordinates, so the crop box is
``(X1, Y1, X2 + 1, Y2 + 1)``. Images are optionally cropped to the ROI and
resized with Pillow (bilinear) to ``size`` = (height, width), default 32x32.

>>> x, y = load_gtsrb("GTSRB/Final_Training/Images")   # doctest: +SKIP
>>> x.shape[1:], x.dtype                                 # doctest: +SKIP
((3, 32, 32), dtype('float32'))
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from pathlib import Path

import numpy as np

from data_tools.errors import DataFormatError
from data_tools.netpbm import is_netpbm, read_netpbm

__all__ = ["load_gtsrb", "read_gtsrb_csv"]

COLUMNS = ("Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2")
NUM_CLASSES = 43
MAX_SIDE = 1 << 14  # no GTSRB image is near 16384 pixels wide; a bigger header is hostile
# formats handed to Pillow (netpbm files use the strict parser); never EPS (runs Ghostscript) & co.
PILLOW_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")
_INT = re.compile(r"-?[0-9]{1,9}")


def _check_row(row: dict, need_class: bool, where: str, path: Path) -> None:
    """Range checks of one parsed row (``where`` is ``"line N"``)."""
    def bad(column, problem):
        raise DataFormatError(column, f"on {where} {problem}", path=path)

    name = row["Filename"]
    parts = name.replace("\\", "/").split("/")
    if not name or "\0" in name or name.startswith(("/", "\\")) or ".." in parts \
            or (len(name) > 1 and name[1] == ":"):
        bad("Filename", f"{name!r:.80} must be a relative path inside the dataset folder")
    for column in ("Width", "Height"):
        if not 1 <= row[column] <= MAX_SIDE:
            bad(column, f"must be in [1, {MAX_SIDE}], found {row[column]}")
    for column in COLUMNS[3:]:
        if row[column] < 0:
            bad(column, f"must be >= 0, found {row[column]}")
    if need_class and not 0 <= row["ClassId"] < NUM_CLASSES:
        bad("ClassId", f"must be in [0, {NUM_CLASSES - 1}], found {row['ClassId']}")


def read_gtsrb_csv(path: str | os.PathLike, need_class: bool = True) -> list[dict]:
    """Parse a GTSRB annotation CSV into dicts (ints for every numeric column).

    UTF-8 with or without a byte-order mark. Raises :class:`DataFormatError`
    naming the file, the line and the column for a missing column, a value
    that is not a plain decimal integer, a ``Filename`` that is absolute or
    climbs out with ``..``, a width or height outside ``[1, MAX_SIDE]``, a
    negative ROI corner or a ``ClassId`` outside ``[0, 42]``; ``need_class``
    requires the ``ClassId`` column.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GTSRB annotation file not found: {path}")
    required = COLUMNS + (("ClassId",) if need_class else ())
    reader = None
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle, delimiter=";")
            fields = [f.strip() for f in reader.fieldnames or []]
            missing = [c for c in required if c not in fields]
            if missing:
                raise DataFormatError(
                    "header", f"is missing column(s) {', '.join(missing)}; found {fields[:20]} "
                    f"(expected semicolon-separated {';'.join(required)})", path=path)
            rows = []
            for raw in reader:
                line = reader.line_num
                row = {k.strip(): (v or "").strip() for k, v in raw.items() if isinstance(k, str)}
                parsed = {"Filename": row["Filename"]}
                for column in required[1:]:
                    if not _INT.fullmatch(row[column]):
                        raise DataFormatError(column, f"on line {line} must be a decimal integer, "
                                              f"found {row[column]!r:.40}", path=path)
                    parsed[column] = int(row[column])
                _check_row(parsed, need_class, f"line {line}", path)
                rows.append(parsed)
    except UnicodeDecodeError as exc:
        line = reader.line_num + 1 if reader is not None else 1
        raise DataFormatError("encoding", f"is not UTF-8 near line {line} ({exc.reason} at byte "
                              f"{exc.start} of a block)", path=path) from None
    except csv.Error as exc:
        line = reader.line_num + 1 if reader is not None else 1
        raise DataFormatError("csv", f"is malformed near line {line} ({exc})", path=path) from None
    return rows


def _inside(root: Path, target: Path, csv_path: Path, what: str) -> Path:
    """``target`` resolved (symlinks followed); a DataFormatError if it leaves ``root``."""
    resolved = target.resolve()
    if not resolved.is_relative_to(root):
        raise DataFormatError(what, f"resolves to {resolved}, outside the dataset folder {root}",
                              path=csv_path)
    return resolved


def _decode(path: Path, row: dict, csv_path: Path):
    """The image at ``path`` as a Pillow RGB image, its size checked against the CSV first."""
    from PIL import Image

    want = (row["Width"], row["Height"])
    with open(path, "rb") as handle:
        head = handle.read(2)
    if is_netpbm(head):  # GTSRB's own format: the strict parser
        pixels = read_netpbm(path)
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[:, :, None], 3, axis=2)
        img = Image.fromarray(pixels, mode="RGB")
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path, formats=PILLOW_FORMATS) as opened:
                    if opened.size != want:  # the header only: nothing decoded yet
                        img = opened
                    else:
                        img = opened.convert("RGB")
        except Exception as exc:
            raise DataFormatError("image", f"cannot be decoded ({type(exc).__name__}: "
                                  f"{str(exc)[:200]})", path=path) from None
    if img.size != want:
        raise DataFormatError(
            "size", f"is {img.size[0]}x{img.size[1]} (width x height), {csv_path.name} says "
            f"{want[0]}x{want[1]}", path=path)
    return img


def _load_image(path: Path, row: dict, csv_path: Path, crop_roi: bool, size) -> np.ndarray:
    from PIL import Image

    if not path.is_file():
        raise FileNotFoundError(f"{csv_path}: lists {row['Filename']}, not found at {path}")
    img = _decode(path, row, csv_path)
    if crop_roi:
        x1, y1, x2, y2 = row["Roi.X1"], row["Roi.Y1"], row["Roi.X2"], row["Roi.Y2"]
        if not (0 <= x1 <= x2 < img.size[0] and 0 <= y1 <= y2 < img.size[1]):
            raise DataFormatError(
                "ROI", f"({x1}, {y1})-({x2}, {y2}) is empty or outside the "
                f"{img.size[0]}x{img.size[1]} image", path=path)
        img = img.crop((x1, y1, x2 + 1, y2 + 1))
    if size is not None:
        height, width = size
        if img.size != (width, height):
            img = img.resize((width, height), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)


def _load_table(root: Path, folder: Path, csv_path: Path, crop_roi: bool, size):
    csv_path = _inside(root, csv_path, csv_path, "annotation file")
    rows = read_gtsrb_csv(csv_path)
    images = []
    for r in rows:
        target = _inside(root, folder / r["Filename"], csv_path, f"Filename {r['Filename']!r}")
        images.append(_load_image(target, r, csv_path, crop_roi, size))
    labels = [r["ClassId"] for r in rows]
    return images, labels


def load_gtsrb(
    directory: str | os.PathLike,
    size: int | tuple[int, int] | None = 32,
    crop_roi: bool = True,
    normalize: bool = True,
):
    """Load a GTSRB training tree or test folder -> ``(images [N, 3, H, W], labels int64 [N])``.

    ``directory`` is either the training ``Images`` folder (class folders
    ``00000``.. each with its ``GT-<class>.csv``) or a test folder (PPMs plus
    exactly one ``*.csv``). ``size`` is an int or ``(height, width)``;
    ``None`` keeps each crop's size, which then must be the same for all.
    Images are float32 in ``[0, 1]`` (uint8 when not ``normalize``); order is
    class folder, then CSV row.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"GTSRB directory not found: {directory}")
    root = directory.resolve()
    if isinstance(size, int):
        size = (size, size)
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise ValueError(f"size must be a positive int or (height, width), got {size!r}")
    class_dirs = sorted(p for p in directory.iterdir()
                        if p.is_dir() and p.name.isdigit() and len(p.name) == 5)
    images: list[np.ndarray] = []
    labels: list[int] = []
    if class_dirs:
        for folder in class_dirs:
            csv_path = folder / f"GT-{folder.name}.csv"
            imgs, labs = _load_table(root, folder, csv_path, crop_roi, size)
            wrong = [c for c in labs if c != int(folder.name)]
            if wrong:
                raise DataFormatError("ClassId", f"{wrong[0]} inside class folder {folder.name}",
                                      path=csv_path)
            images += imgs
            labels += labs
    else:
        csvs = sorted(directory.glob("*.csv"))
        if len(csvs) != 1:
            raise FileNotFoundError(
                f"{directory}: expected class folders 00000.. (training layout) or exactly one "
                f"CSV (test layout), found {len(csvs)} CSV file(s)"
            )
        images, labels = _load_table(root, directory, csvs[0], crop_roi, size)
    if not images:
        raise DataFormatError("annotations", "list no images", path=directory)
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise DataFormatError("images", f"differ in size {sorted(shapes)[:5]}; pass size=", path=directory)
    x = np.stack(images)
    if normalize:
        x = x.astype(np.float32) / np.float32(255.0)
    return x, np.asarray(labels, dtype=np.int64)
