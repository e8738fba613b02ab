"""Pieces of the SDBN study (:mod:`refsnn.studies.sdbn`): data, the two networks, noise, attacks, PNG.

* Data: MNIST-style IDX files from ``--data`` (default ``../shared/data/mnist-5k``, or
  ``fashion-mnist`` with ``--dataset fashion``); when that folder is absent, the sample
  shipped with refsnn (:func:`refsnn.datasets.load_sample`), and the study says so.
  Files are sorted by class: every split is shuffled with the study's Generator.
* SDBN: :class:`refsnn.models.SDBN` (784-500-500-10 Siegert RBMs, O'Connor's constants).
* DNN: 784-500-500-10, tanh hidden units and softmax output (MATLAB ``patternnet``'s
  ``tansig``/``softmax``), trained full-batch by scaled conjugate gradient
  (:func:`refsnn.nn.scg.train_scg`, MATLAB ``trainscg``).
* Noise (Table I, Fig. 3) on the [0, 1] image scale, clipped to [0, 1], then scaled to rates by the
  SDBN (DESIGN): ``normal``: ``x + δ·N(0, 1)``; ``uniform``: ``x + δ·U(−1, 1)`` (zero-mean,
  half-width δ: the paper does not say which uniform law; a documented choice).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from refsnn.attacks.greedy_sd import GreedySD
from refsnn.oracle import Oracle

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
# Fig. 3's 4x5 windows, 0-based [rows, cols]: the paper's (x, y) = ([14 17], [10 14]) is 1-based
# MATLAB columns 14..17 and rows 10..14.
WINDOWS = {"top_left": (slice(0, 5), slice(0, 4)), "centre": (slice(9, 14), slice(13, 17))}


def load_data(data, dataset: str, rng):
    """``(x, y, xt, yt, source)``: images ``[n, 28, 28]`` in [0, 1], shuffled by ``rng``."""
    from refsnn.datasets import load_idx_dataset, load_sample

    folder = Path(data) if data else SHARED / ("fashion-mnist" if dataset == "fashion" else "mnist-5k")
    if folder.is_dir():
        (x, y), (xt, yt) = load_idx_dataset(folder, "train"), load_idx_dataset(folder, "test")
        source = str(folder)
    elif data:
        raise FileNotFoundError(f"sdbn study: --data {data} is not a directory")
    else:
        (x, y), (xt, yt) = load_sample("train"), load_sample("test")
        source = f"shipped MNIST sample (refsnn.datasets.load_sample; {folder} not found)"
    out = []
    for a, b in ((x, y), (xt, yt)):
        a = np.asarray(a, np.float64).reshape(len(a), 28, 28)
        order = rng.permutation(len(a))
        out += [a[order], np.asarray(b, np.int64)[order]]
    return (*out, source)


def add_noise(x, kind: str, delta: float, rng, window=None) -> np.ndarray:
    """Noise of amplitude ``delta`` (module docstring) on all pixels or a ``(rows, cols)`` window."""
    x = np.asarray(x, np.float64)
    if kind == "normal":
        noise = delta * rng.standard_normal(x.shape)
    elif kind == "uniform":
        noise = delta * rng.uniform(-1.0, 1.0, x.shape)
    else:
        raise ValueError(f"add_noise: kind must be 'normal' or 'uniform', got {kind!r}")
    if window is not None:
        mask = np.zeros(x.shape[-2:], bool)
        mask[window] = True
        noise = noise * mask
    return np.clip(x + noise, 0.0, 1.0)


def train_sdbn(x, y, sizes, epochs, seed, top="joint", checkpoint_dir=None, log=print):
    from refsnn.models import SDBN

    net = SDBN(sizes=(784, *sizes), rng=seed, top=top)
    net.fit(x.reshape(len(x), -1), y, epochs=epochs, rng=seed + 1, checkpoint_dir=checkpoint_dir)
    log(f"    SDBN trained ({epochs} epochs per stage, top {top!r}; reconstruction error of the last epoch "
        f"{[round(r.history[-1], 5) if r.history else None for r in net.rbms]})")
    return net


def train_dnn(x, y, sizes, iters, seed, log=print):
    from refsnn.models import mlp
    from refsnn.nn.scg import train_scg

    net = mlp([784, *sizes, 10], activation="tanh", rng=seed)
    res = train_scg(net, x.reshape(len(x), -1).astype(np.float32), y, maxiter=iters)
    log(f"    DNN trained by SCG: {res.nit} iterations, cross-entropy {res.history[0]['f']:.3f} -> "
        f"{res.fun:.3f}")
    return net


def dnn_logits(net, x) -> np.ndarray:
    from refsnn.autograd import Tensor, no_grad

    with no_grad():
        return np.asarray(net(Tensor(np.asarray(x, np.float32).reshape(len(x), -1))).data, np.float64)


def dnn_proba(net, x) -> np.ndarray:
    z = dnn_logits(net, x)
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def accuracy(proba_fn, x, y) -> float:
    return float((proba_fn(x).argmax(1) == y).mean())


def oracles(sdbn, dnn, budget):
    """The attack's two oracles: the SDBN answers its rate shares (already probabilities, so
    ``output="logits"`` passes them through), the DNN the softmax of its logits (``"probs"``)."""
    return {"SDBN": Oracle(lambda a: sdbn.predict_proba(a), budget, output="logits", classes=10,
                           tag="sdbn"),
            "DNN": Oracle(lambda a: dnn_logits(dnn, a), budget, output="probs", classes=10, tag="dnn")}


MAX_ITER = 100  # Algorithm 1 has no cap; pixels pushed back and forth can cycle below D_MAX forever


def attack(oracle, image, target, n, m, d_max, stop_at_success=True):
    return GreedySD(oracle, n=n, m=m, d_max=d_max, stop_at_success=stop_at_success,
                    max_iter=MAX_ITER)(image, target)


def case_rows(res, target):
    """Table II/III rows: iteration 0, the first iteration classified as ``target`` (if any), last."""
    hist = res.history
    keep = {0, hist[-1]["iteration"]}
    first = next((h["iteration"] for h in hist if h["label"] == target), None)
    if first is not None:
        keep.add(first)
    rows = []
    for h in hist:
        if h["iteration"] in keep:
            others = np.delete(np.array(h["p"]), target)
            rows.append(dict(iteration=h["iteration"], p_max_other=100 * float(others.max()),
                             p_target=100 * h["p_target"], distance=h["distance"], label=h["label"]))
    return rows


def save_png(path, panels, scale: int = 6) -> None:
    """Grid of rows ``(original, adversarial)`` → original | adversarial | difference (grey = 0)."""
    from PIL import Image

    tiles = []
    for orig, adv in panels:
        diff = 0.5 + 0.5 * (np.asarray(adv) - np.asarray(orig))
        row = np.concatenate([orig, np.ones((28, 2)), adv, np.ones((28, 2)), diff], axis=1)
        tiles += [row, np.ones((2, row.shape[1]))]
    img = (255 * np.clip(np.concatenate(tiles[:-1]), 0, 1)).astype(np.uint8)
    Image.fromarray(img).resize((img.shape[1] * scale, img.shape[0] * scale), Image.NEAREST).save(path)
