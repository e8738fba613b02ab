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
from pathlib import Path

import numpy as np

__all__ = ["load_gtsrb", "read_gtsrb_csv"]

COLUMNS = ("Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2")


def read_gtsrb_csv(path: str | os.PathLike, need_class: bool = True) -> list[dict]:
    """Parse a GTSRB annotation CSV into dicts (ints for every numeric column).

    Raises ``ValueError`` naming the file (and line) for a missing column or a
    non-integer value; ``need_class`` requires the ``ClassId`` column.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GTSRB annotation file not found: {path}")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        fields = [f.strip() for f in reader.fieldnames or []]
        required = COLUMNS + (("ClassId",) if need_class else ())
        missing = [c for c in required if c not in fields]
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {', '.join(missing)}; found {fields} "
                f"(expected semicolon-separated {';'.join(required)})"
            )
        rows = []
        for line, raw in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            parsed = {"Filename": row["Filename"]}
            for column in required[1:]:
                try:
                    parsed[column] = int(row[column])
                except ValueError:
                    raise ValueError(
                        f"{path}, line {line}: column {column} must be an integer, "
                        f"found {row[column]!r}"
                    ) from None
            rows.append(parsed)
    return rows


def _load_image(path: Path, row: dict, csv_path: Path, crop_roi: bool, size) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise FileNotFoundError(f"{csv_path}: lists {row['Filename']}, not found at {path}")
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"{path}: cannot be read as an image ({exc})") from None
    if img.size != (row["Width"], row["Height"]):
        raise ValueError(
            f"{path}: {csv_path.name} says {row['Width']}x{row['Height']}, "
            f"image is {img.size[0]}x{img.size[1]} (width x height)"
        )
    if crop_roi:
        x1, y1, x2, y2 = row["Roi.X1"], row["Roi.Y1"], row["Roi.X2"], row["Roi.Y2"]
        if not (0 <= x1 <= x2 < img.size[0] and 0 <= y1 <= y2 < img.size[1]):
            raise ValueError(
                f"{path}: ROI ({x1}, {y1})-({x2}, {y2}) is empty or outside the "
                f"{img.size[0]}x{img.size[1]} image"
            )
        img = img.crop((x1, y1, x2 + 1, y2 + 1))
    if size is not None:
        height, width = size
        if img.size != (width, height):
            img = img.resize((width, height), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)


def _load_table(folder: Path, csv_path: Path, crop_roi: bool, size):
    rows = read_gtsrb_csv(csv_path)
    images = [_load_image(folder / r["Filename"], r, csv_path, crop_roi, size) for r in rows]
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
            imgs, labs = _load_table(folder, csv_path, crop_roi, size)
            wrong = [c for c in labs if c != int(folder.name)]
            if wrong:
                raise ValueError(
                    f"{csv_path}: ClassId {wrong[0]} inside class folder {folder.name}"
                )
            images += imgs
            labels += labs
    else:
        csvs = sorted(directory.glob("*.csv"))
        if len(csvs) != 1:
            raise FileNotFoundError(
                f"{directory}: expected class folders 00000.. (training layout) or exactly one "
                f"CSV (test layout), found {len(csvs)} CSV file(s)"
            )
        images, labels = _load_table(directory, csvs[0], crop_roi, size)
    if not images:
        raise ValueError(f"{directory}: the annotation file(s) list no images")
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise ValueError(f"{directory}: images differ in size {sorted(shapes)}; pass size=")
    x = np.stack(images)
    if normalize:
        x = x.astype(np.float32) / np.float32(255.0)
    return x, np.asarray(labels, dtype=np.int64)
