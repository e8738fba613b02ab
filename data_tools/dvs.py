"""A DVS emulator: N-MNIST-like event data from static images (three saccades, log-intensity events).

N-MNIST was recorded by moving an event camera in three saccades over each
digit.  This emulator does the same to any ``[N, H, W]`` image batch in
``[0, 1]``, so BadSNN's event-data experiments run on MNIST-5k:

1. pad each image by ``pad`` pixels of black (28×28 → 34×34, N-MNIST's crop);
2. move it along a closed triangle of ``3·substeps`` straight steps with
   corners ``(dy, dx) = (−a, 0), (a, a), (a, −a)`` (``a = amplitude`` pixels,
   bilinear sub-pixel shifts), one saccade of ``duration_us / 3`` per side;
3. per pixel, log intensity ``L_k = ln(I_k + eps)``; a reference ``R``
   starts at ``L_0``; at every step ``n = trunc((L_k − R) / C)`` events fire
   (ON when ``n > 0``, OFF when ``n < 0``, ``|n|`` of them) and
   ``R ← R + n·C`` — the contrast-threshold model of a DVS pixel (``R`` is
   kept as ``L_0 + m·C`` with an integer ``m``, so no rounding drifts);
4. step ``k`` (of ``K = 3·substeps``) is at ``t_k = k·duration_us / K`` µs.

Because the path is closed and ``R`` stays within ``C`` of ``L``, every
pixel fires as many ON as OFF events over the three saccades (the tests
check this invariant).  Choices the sources leave open — amplitude, step
count, ``C`` and ``eps`` — are arguments; the defaults give a few hundred
to a few thousand events per digit, the order of N-MNIST's.  Nothing here
draws random numbers.

>>> img = np.zeros((1, 28, 28)); img[0, 10:18, 12:16] = 1.0
>>> frames = dvs_frames(img, steps=3)
>>> frames.shape, bool((frames[:, :, 1].sum() == frames[:, :, 0].sum()))
((1, 3, 2, 34, 34), True)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from data_tools.nmnist import EVENT_DTYPE

__all__ = ["saccade_path", "dvs_counts", "dvs_frames", "dvs_events"]


def saccade_path(substeps: int, amplitude: float) -> np.ndarray:
    """Offsets ``[3·substeps + 1, 2]`` (dy, dx) along the closed triangle, starting at its top corner."""
    if int(substeps) < 1:
        raise ValueError(f"saccade_path: substeps must be >= 1, got {substeps}")
    a = float(amplitude)
    corners = np.array([(-a, 0.0), (a, a), (a, -a), (-a, 0.0)])
    frac = np.arange(int(substeps)) / int(substeps)
    legs = [c0 + frac[:, None] * (c1 - c0) for c0, c1 in zip(corners[:-1], corners[1:])]
    return np.concatenate(legs + [corners[-1:]])


def _check_images(images, pad: int, amplitude: float) -> np.ndarray:
    x = np.asarray(images, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"dvs: images must be [N, H, W], got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"dvs: images contain {int((~np.isfinite(x)).sum())} NaN/inf values")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"dvs: images must lie in [0, 1] (divide uint8 by 255), got "
                         f"[{x.min():g}, {x.max():g}]")
    if pad < 0 or amplitude < 0 or amplitude > pad:
        raise ValueError(f"dvs: need 0 <= amplitude ({amplitude}) <= pad ({pad}) so the digit stays "
                         f"inside the padded frame")
    return x


def dvs_counts(images, *, substeps: int = 10, amplitude: float = 2.0, pad: int = 3,
               threshold: float = 0.3, eps: float = 0.1) -> np.ndarray:
    """Signed event counts per step, ``[N, K, H + 2·pad, W + 2·pad]`` int32 (ON > 0, OFF < 0), K = 3·substeps.

    ``substeps`` steps per saccade, ``amplitude`` a (pixels), ``threshold`` C, ``eps`` as above.
    """
    if not threshold > 0 or not eps > 0:
        raise ValueError(f"dvs: threshold ({threshold}) and eps ({eps}) must be > 0")
    x = _check_images(images, int(pad), float(amplitude))
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    path = saccade_path(substeps, amplitude)
    log_frame = [np.log(ndimage.shift(padded, (0.0, dy, dx), order=1, mode="constant") + eps)
                 for dy, dx in path]
    level = np.zeros(padded.shape, np.int64)  # R = L_0 + level·C, kept as an integer: no drift
    counts = np.empty((x.shape[0], len(path) - 1) + padded.shape[1:], np.int32)
    for k in range(1, len(path)):
        n = np.trunc((log_frame[k] - log_frame[0]) / threshold - level).astype(np.int64)
        level += n
        counts[:, k - 1] = n
    return counts


def dvs_frames(images, steps: int, dtype=np.float32, **options) -> np.ndarray:
    """Event frames ``[N, T, 2, H', W']`` (channel 0 OFF, 1 ON): the K steps of
    :func:`dvs_counts` summed into ``steps`` equal windows (``window(k) = ⌊k·T / K⌋``)."""
    if int(steps) < 1:
        raise ValueError(f"dvs_frames: steps must be >= 1, got {steps}")
    counts = dvs_counts(images, **options)
    n, K = counts.shape[:2]
    window = np.arange(K) * int(steps) // K
    frames = np.zeros((n, int(steps), 2) + counts.shape[2:], dtype)
    for k in range(K):
        frames[:, window[k], 1] += np.maximum(counts[:, k], 0)
        frames[:, window[k], 0] += np.maximum(-counts[:, k], 0)
    return frames


def dvs_events(image, duration_us: int = 300_000, **options) -> np.ndarray:
    """The events of one ``[H, W]`` image as an N-MNIST ``EVENT_DTYPE`` array, sorted by time.

    Step ``k`` (1-based) of K is stamped ``t = k·duration_us // K``; an
    ``|n|``-event burst repeats the row ``|n|`` times.  Writable with
    :func:`data_tools.nmnist.write_events`.
    """
    counts = dvs_counts(np.asarray(image)[None], **options)[0]
    K = counts.shape[0]
    k, y, x = np.nonzero(counts)
    n = counts[k, y, x]
    reps = np.abs(n)
    events = np.empty(int(reps.sum()), EVENT_DTYPE)
    events["t"] = np.repeat((k + 1) * int(duration_us) // K, reps)
    events["x"], events["y"] = np.repeat(x, reps), np.repeat(y, reps)
    events["p"] = np.repeat((n > 0).astype(np.int8), reps)
    return events
