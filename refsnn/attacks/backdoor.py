"""Backdoor data: BadSNN's poisoning split and triggers, and the four poisoning baselines.

Images are NCHW float arrays on the ``[0, 1]`` scale (normalisation, if any,
is the model's first step), event frames ``[N, T, 2, H, W]`` in ``[0, 1]``.
Every trigger returns an array of the input's shape and dtype and is checked
to stay in ``[0, 1]`` (:func:`apply_trigger`); every random draw takes an
explicit Generator.

BadSNN (paper 002 §3.3):

* :func:`dual_spike_split` — ``D_n`` (non-target), ``D_t^c`` (clean target)
  and ``D_t^p`` (poisoned target) with ``P = |D_t^p| / |D_t|``.  No trigger
  is added in training: ``D_t^p`` trains under the malicious neuron
  hyperparameters.
* :func:`power_trigger` — ``T_p(x) = [D(x_norm)]^q`` (Eq. 3); on the ``[0, 1]``
  scale ``D(x_norm) = x``, so ``T_p(x) = x^q``.  ``q`` is not stated in the
  paper; the default ``q = 2`` is our choice (overridable).
* :func:`noise_trigger` — ``T_s(x) = clip(x + ε, 0, 1)``, ``ε ~ U(−β, β)``
  element-wise, β = 0.03 (Eq. 7), for event frames.

Baselines (5% poisoning in the paper's Table 2):

* :func:`badnet` — a ``3×3`` white patch in the bottom-right corner (Gu et al.).
* :func:`blend` — ``(1 − α)·x + α·pattern``, α = 0.2, a fixed uniform-random
  pattern (:func:`blend_pattern`; Chen et al.).
* :func:`wanet_grid`, :func:`wanet` — WaNet (Nguyen & Tran 2021) warping:
  a ``k×k`` field ``U(−1, 1)`` divided by its mean absolute value, upsampled to
  ``H×W`` (cubic spline here; WaNet uses PyTorch's bicubic), the sampling grid
  ``clip(identity + s·field / H, −1, 1)`` in normalised coordinates, bilinear
  sampling with corners aligned; k = 4, s = 0.5.  Noise mode adds
  ``U(−1, 1)/H`` to the grid of "cross" samples that keep their labels.
* clean-label (Turner et al.): PGD-perturbed target-class images plus the
  BadNet patch, labels unchanged — :func:`clean_label` takes any
  :class:`~refsnn.attacks.Attack` so the perturbation comes from a model the
  caller trained.

>>> x = np.zeros((1, 1, 5, 5), np.float32)
>>> badnet(x)[0, 0, 2:, 2:].tolist()
[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from data_tools.batches import as_generator
from refsnn.validation import check_finite, check_interval, check_positive

__all__ = ["dual_spike_split", "power_trigger", "noise_trigger", "badnet", "blend", "blend_pattern",
           "wanet_grid", "wanet", "clean_label", "poison", "apply_trigger"]


def _images(where: str, x, rank=4) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: images must be floating point on the [0, 1] scale, got {x.dtype}")
    if x.ndim != rank:
        layout = "[N, C, H, W]" if rank == 4 else "[N, T, 2, H, W]"
        raise ValueError(f"{where}: images must be {layout}, got shape {x.shape}")
    check_finite(where, "images", x)
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{where}: images must lie in [0, 1], got [{x.min():g}, {x.max():g}]")
    return x


def apply_trigger(trigger, x, where: str = "trigger") -> np.ndarray:
    """``trigger(x)``, refused unless it keeps ``x``'s shape and stays finite and in ``[0, 1]``."""
    out = np.asarray(trigger(x))
    if out.shape != np.shape(x):
        raise ValueError(f"{where}: output shape {out.shape} != input shape {np.shape(x)}")
    check_finite(where, "output", out)
    if out.size and (out.min() < 0 or out.max() > 1):
        raise ValueError(f"{where}: output leaves the valid range [0, 1]: [{out.min():g}, {out.max():g}]")
    return out


def dual_spike_split(y, target: int, ratio: float, rng) -> dict[str, np.ndarray]:
    """Index arrays ``{"nontarget", "target_clean", "target_poison"}`` of BadSNN's split (Eq. 2).

    ``round(ratio · |D_t|)`` target-class samples, drawn without replacement
    from ``rng``, form ``D_t^p``; indices come back sorted.
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"dual_spike_split: labels must be a 1-D integer array, got {y.dtype} {y.shape}")
    ratio = check_interval("dual_spike_split", "ratio P", ratio, 0.0, 1.0)
    if not np.any(y == target):
        raise ValueError(f"dual_spike_split: no sample has the target label {target}")
    gen = as_generator(rng, "dual_spike_split")
    tgt = np.flatnonzero(y == target)
    poisoned = np.sort(gen.choice(tgt, size=int(round(ratio * tgt.size)), replace=False))
    return {"nontarget": np.flatnonzero(y != target),
            "target_clean": np.setdiff1d(tgt, poisoned), "target_poison": poisoned}


def power_trigger(x, q: float = 2.0) -> np.ndarray:
    """``T_p(x) = x^q`` element-wise on the ``[0, 1]`` scale (BadSNN Eq. 3)."""
    x = _images("power_trigger", x)
    q = check_positive("power_trigger", "q", q)
    return np.power(x, x.dtype.type(q))


def noise_trigger(frames, rng, beta: float = 0.03) -> np.ndarray:
    """``T_s(x) = clip(x + U(−β, β), 0, 1)`` (BadSNN Eq. 7) for event frames ``[N, T, 2, H, W]``."""
    x = _images("noise_trigger", frames, rank=5)
    beta = check_interval("noise_trigger", "beta", beta, 0.0, 1.0, lo_open=True)
    gen = as_generator(rng, "noise_trigger")
    return np.clip(x + gen.uniform(-beta, beta, size=x.shape).astype(x.dtype), 0, 1)


def badnet(x, size: int = 3, value: float = 1.0) -> np.ndarray:
    """Images with a ``size×size`` patch of ``value`` in the bottom-right corner of every channel."""
    x = _images("badnet", x)
    if not 1 <= size <= min(x.shape[2:]):
        raise ValueError(f"badnet: patch size {size} must be in [1, {min(x.shape[2:])}]")
    check_interval("badnet", "value", value, 0.0, 1.0)
    out = x.copy()
    out[:, :, -size:, -size:] = value
    return out


def blend_pattern(shape, rng, dtype=np.float32) -> np.ndarray:
    """A fixed ``U(0, 1)`` pattern of image shape ``[C, H, W]`` (draw it once, reuse it for every sample)."""
    return as_generator(rng, "blend_pattern").random(tuple(shape)).astype(dtype)


def blend(x, pattern, alpha: float = 0.2) -> np.ndarray:
    """``(1 − α)·x + α·pattern`` (the Blended attack)."""
    x = _images("blend", x)
    alpha = check_interval("blend", "alpha", alpha, 0.0, 1.0)
    pattern = np.asarray(pattern, dtype=x.dtype)
    if pattern.shape != x.shape[1:]:
        raise ValueError(f"blend: pattern shape {pattern.shape} != image shape {x.shape[1:]}")
    return ((1 - alpha) * x + alpha * pattern).astype(x.dtype)


def wanet_grid(size: int, rng, k: int = 4, s: float = 0.5) -> np.ndarray:
    """WaNet's warping grid ``[2, H, H]`` (row, column) in normalised coordinates ``[−1, 1]``."""
    if not 2 <= k <= size:
        raise ValueError(f"wanet_grid: k ({k}) must be in [2, image size {size}]")
    s = check_positive("wanet_grid", "s", s)
    field = as_generator(rng, "wanet_grid").uniform(-1, 1, size=(2, k, k))
    field /= np.abs(field).mean()
    smooth = np.stack([ndimage.zoom(f, size / k, order=3, grid_mode=False) for f in field])
    axis = np.linspace(-1, 1, size)
    identity = np.stack(np.meshgrid(axis, axis, indexing="ij"))
    return np.clip(identity + s * smooth / size, -1, 1)


def wanet(x, grid, noise_rng=None) -> np.ndarray:
    """Warp images by ``grid`` (bilinear, corners aligned); with ``noise_rng`` each image gets its own
    extra ``U(−1, 1)/H`` grid jitter (WaNet's noise mode, for the label-keeping cross samples)."""
    x = _images("wanet", x)
    grid = np.asarray(grid, np.float64)
    n, c, h, w = x.shape
    if grid.shape != (2, h, w):
        raise ValueError(f"wanet: grid shape {grid.shape} != (2, {h}, {w})")
    out = np.empty_like(x)
    gen = None if noise_rng is None else as_generator(noise_rng, "wanet")
    for i in range(n):
        g = grid if gen is None else np.clip(grid + gen.uniform(-1, 1, size=grid.shape) / h, -1, 1)
        coords = np.stack([(g[0] + 1) / 2 * (h - 1), (g[1] + 1) / 2 * (w - 1)])
        for ch in range(c):
            out[i, ch] = ndimage.map_coordinates(x[i, ch], coords, order=1, mode="nearest")
    return out


def clean_label(x_target, y_target, attack, size: int = 3) -> np.ndarray:
    """Clean-label poison: ``badnet(attack(x, y))`` for target-class images (their labels stay)."""
    x_adv = np.clip(np.asarray(attack(x_target, y_target)), 0, 1).astype(np.asarray(x_target).dtype)
    return badnet(x_adv, size=size)


def poison(x, y, trigger, target: int, ratio: float, rng):
    """A poisoned copy of a training set: ``round(ratio·N)`` non-target samples, drawn from ``rng``,
    get ``trigger`` applied and the ``target`` label.  Returns ``(x, y, poisoned_indices)``."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"poison: {len(x)} images but {len(y)} labels")
    ratio = check_interval("poison", "ratio", ratio, 0.0, 1.0)
    candidates = np.flatnonzero(y != target)
    count = int(round(ratio * len(y)))
    if count > candidates.size:
        raise ValueError(f"poison: ratio {ratio} asks for {count} samples, only {candidates.size} are "
                         f"not of the target class")
    idx = np.sort(as_generator(rng, "poison").choice(candidates, size=count, replace=False))
    x_out, y_out = x.copy(), y.copy()
    if count:
        x_out[idx] = apply_trigger(trigger, x[idx], "poison trigger")
        y_out[idx] = target
    return x_out, y_out, idx
