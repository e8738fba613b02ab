"""Seeded CIFAR-style augmentation of ``NCHW`` batches: pad-4 random crop and horizontal flip.

The scheme of Lee et al. (deeply-supervised nets) that Sharmin et al. §3.2
train with: pad every side by ``p = 4`` pixels, take an ``H × W`` crop at a
uniformly drawn offset, and flip it left–right with probability ½.  For an
image ``x [C, H, W]``, its zero-padded ``x̃ [C, H + 2p, W + 2p]``, an offset
``(dy, dx) ∈ {0..2p}²`` and a flip bit ``f``::

    crop[c, i, j] = x̃[c, dy + i, dx + j]                      (offset (p, p) is the identity)
    out[c, i, j]  = crop[c, i, W − 1 − j]   if f   else   crop[c, i, j]

Flipping the crop equals cropping the flipped padded image at ``(dy, 2p − dx)``,
so this is the paper's "crop from the padded image or its horizontal flip".

Randomness: one Generator (or int seed) per call; the draws are, in order,
the offsets ``integers(0, 2p + 1, size=(N, 2))`` (rows ``dy, dx``) and then
the flips ``random(N) < flip_prob``.  Same seed, same batch → same output.
:func:`crop` and :func:`hflip` are the deterministic halves, given those draws.

>>> import numpy as np
>>> x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
>>> crop(x, np.array([[0, 2]]), padding=1)[0, 0]
array([[0., 0., 0.],
       [1., 2., 0.],
       [4., 5., 0.]], dtype=float32)
>>> random_crop_flip(x, rng=0).shape
(1, 1, 3, 3)
"""

from __future__ import annotations

import numpy as np

from data_tools.batches import as_generator


def _check_batch(x, where: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{where}: expected an NCHW batch [N, C, H, W], got shape {x.shape}")
    return x


def crop(x, offsets, padding: int = 4, fill=0) -> np.ndarray:
    """Crop every image of ``x [N, C, H, W]``, zero-padded by ``padding``, at ``offsets [N, 2]`` (dy, dx)."""
    x = _check_batch(x, "crop")
    p = int(padding)
    if p < 0:
        raise ValueError(f"crop: padding must be >= 0, got {padding}")
    offsets = np.asarray(offsets)
    n, c, h, w = x.shape
    if offsets.shape != (n, 2) or offsets.dtype.kind not in "iu":
        raise ValueError(f"crop: offsets must be integers of shape ({n}, 2), got "
                         f"{offsets.dtype} {offsets.shape}")
    if offsets.size and (offsets.min() < 0 or offsets.max() > 2 * p):
        raise ValueError(f"crop: offsets must lie in [0, {2 * p}] for padding {p}")
    padded = np.full((n, c, h + 2 * p, w + 2 * p), fill, dtype=x.dtype)
    padded[:, :, p:p + h, p:p + w] = x
    rows = offsets[:, 0, None] + np.arange(h)  # [N, H]
    cols = offsets[:, 1, None] + np.arange(w)  # [N, W]
    idx_n = np.arange(n)[:, None, None, None]
    idx_c = np.arange(c)[None, :, None, None]
    return padded[idx_n, idx_c, rows[:, None, :, None], cols[:, None, None, :]]


def hflip(x, mask) -> np.ndarray:
    """Flip left–right the images of ``x [N, C, H, W]`` where the boolean ``mask [N]`` is set (a copy)."""
    x = _check_batch(x, "hflip")
    mask = np.asarray(mask)
    if mask.shape != (x.shape[0],) or mask.dtype != bool:
        raise ValueError(f"hflip: mask must be boolean of shape ({x.shape[0]},), got "
                         f"{mask.dtype} {mask.shape}")
    out = x.copy()
    out[mask] = x[mask][..., ::-1]
    return out


def random_crop_flip(x, rng, padding: int = 4, flip_prob: float = 0.5, fill=0, return_params: bool = False):
    """Pad-``padding`` random crop, then a horizontal flip with probability ``flip_prob`` (module docstring).

    ``rng``: a Generator or an int seed (required).  With ``return_params``,
    returns ``(out, offsets [N, 2], flips [N])``.
    """
    x = _check_batch(x, "random_crop_flip")
    if not 0.0 <= flip_prob <= 1.0:
        raise ValueError(f"random_crop_flip: flip_prob must be in [0, 1], got {flip_prob}")
    if int(padding) < 0:
        raise ValueError(f"random_crop_flip: padding must be >= 0, got {padding}")
    gen = as_generator(rng, "random_crop_flip")
    n = x.shape[0]
    offsets = gen.integers(0, 2 * int(padding) + 1, size=(n, 2))
    flips = gen.random(n) < flip_prob
    out = hflip(crop(x, offsets, padding, fill), flips)
    return (out, offsets, flips) if return_params else out
