"""AT&T (ORL) faces: 40 subjects x 10 grey 92x112 PGM images, for model-inversion studies.

Directory layout of the original archive::

    s1/1.pgm ... s1/10.pgm
    ...
    s40/1.pgm ... s40/10.pgm

Subject ``sK`` gets label ``K - 1`` (0..39). By default images ``1..7`` of
every subject are the training set and ``8..10`` the test set, in subject
then image order; ``shuffle=True`` instead draws, per subject, which
images train, from an explicit ``rng``.

>>> (x_tr, y_tr), (x_te, y_te) = load_att_faces("orl_faces")   # doctest: +SKIP
>>> x_tr.shape, x_te.shape                                      # doctest: +SKIP
((280, 1, 112, 92), (120, 1, 112, 92))
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from data_tools.batches import as_generator
from data_tools.errors import DataFormatError
from data_tools.netpbm import read_netpbm_bytes

__all__ = ["load_att_faces", "read_pgm"]

ATT_HEIGHT, ATT_WIDTH = 112, 92


def read_pgm(path: str | os.PathLike) -> np.ndarray:
    """One greyscale PGM (P2 or P5) as uint8 ``[H, W]`` on the 0..255 scale.

    Parsed by :func:`data_tools.netpbm.read_netpbm`: sizes checked against the
    file before allocating, samples above ``maxval`` refused, other maxvals
    (16-bit included) rescaled to 0..255; errors are ``DataFormatError``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    raw = path.read_bytes()
    if raw[:2] in (b"P3", b"P6"):
        raise DataFormatError("magic", f"{raw[:2]!r} is a colour PPM; expected a greyscale PGM (P2 or P5)",
                              path=path)
    return read_netpbm_bytes(raw, str(path))


def load_att_faces(
    directory: str | os.PathLike,
    train_per_subject: int = 7,
    rng=None,
    shuffle: bool = False,
    subjects: int = 40,
    images_per_subject: int = 10,
    size: tuple[int, int] = (ATT_HEIGHT, ATT_WIDTH),
    normalize: bool = True,
):
    """Load the AT&T faces as ``((x_train, y_train), (x_test, y_test))``.

    Images are ``[N, 1, H, W]`` float32 in ``[0, 1]`` (uint8 when not
    ``normalize``), labels int64 ``0..subjects-1``. Every ``s1..s{subjects}``
    folder must hold ``1.pgm..{images_per_subject}.pgm`` of shape ``size``
    (height, width). ``train_per_subject`` images per subject go to training
    (``0`` or ``images_per_subject`` leaves one side empty).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"AT&T faces directory not found: {directory}")
    if not 0 <= train_per_subject <= images_per_subject:
        raise ValueError(
            f"train_per_subject must be in [0, {images_per_subject}], got {train_per_subject}"
        )
    if subjects < 1 or images_per_subject < 1:
        raise ValueError(
            f"subjects ({subjects}) and images_per_subject ({images_per_subject}) must be >= 1"
        )
    gen = as_generator(rng, "load_att_faces(shuffle=True)") if shuffle else None

    missing_subjects = [f"s{k}" for k in range(1, subjects + 1) if not (directory / f"s{k}").is_dir()]
    if missing_subjects:
        raise FileNotFoundError(
            f"{directory}: missing subject folder(s) {', '.join(missing_subjects)} "
            f"(expected s1..s{subjects})"
        )
    missing = [
        f"s{k}/{i}.pgm"
        for k in range(1, subjects + 1)
        for i in range(1, images_per_subject + 1)
        if not (directory / f"s{k}" / f"{i}.pgm").is_file()
    ]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise FileNotFoundError(f"{directory}: missing image file(s) {shown}")

    images = np.empty((subjects, images_per_subject) + tuple(size), dtype=np.uint8)
    for k in range(subjects):
        for i in range(images_per_subject):
            path = directory / f"s{k + 1}" / f"{i + 1}.pgm"
            pixels = read_pgm(path)
            if pixels.shape != tuple(size):
                raise DataFormatError(
                    "size", f"is wrong: expected {size[1]}x{size[0]} (width x height) pixels, "
                    f"found {pixels.shape[1]}x{pixels.shape[0]}", path=path)
            images[k, i] = pixels

    train_x, train_y, test_x, test_y = [], [], [], []
    for k in range(subjects):
        order = gen.permutation(images_per_subject) if gen is not None else np.arange(images_per_subject)
        train_idx = np.sort(order[:train_per_subject])
        test_idx = np.sort(order[train_per_subject:])
        train_x.append(images[k, train_idx])
        test_x.append(images[k, test_idx])
        train_y += [k] * len(train_idx)
        test_y += [k] * len(test_idx)

    def finish(parts, labels):
        x = np.concatenate(parts)[:, None, :, :]
        if normalize:
            x = x.astype(np.float32) / np.float32(255.0)
        return x, np.asarray(labels, dtype=np.int64)

    return finish(train_x, train_y), finish(test_x, test_y)
