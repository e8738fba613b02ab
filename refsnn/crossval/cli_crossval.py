"""``refsnn crossval MODEL.py:ATTR``: check a user's torch SNN (and a torchattacks attack) against refsnn.

::

    refsnn crossval net.py:Net --weights w.safetensors --data ../shared/data/mnist-5k \\
        [--order fc1,lif1,fc2,lif2] [--n 1000] [--input-shape 784] \\
        [--encoding direct|rate --T 25] [--attack pgd --eps 8/255 --alpha 2/255 --steps 10 --attack-n 100]

``MODEL.py:ATTR`` is a torch module, or a class / function building one without
arguments.  ``--data`` is an MNIST-style IDX directory (default: the shipped
MNIST sample); images ``[N, 1, 28, 28]`` in ``[0, 1]`` are reshaped to
``--input-shape``.  ``--encoding direct`` hands the images to the model as they
are (a ``Sequential`` in single-step mode then needs ``--T``); ``rate`` draws
Bernoulli spike trains ``[T, N, ...]`` (seeded) and passes them time-first.
Writes ``crossval.json`` and ``crossval_report.txt`` to ``--out`` (default
``results/crossval``), and with ``--attack`` a PNG of the worst-differing
image (clean | torchattacks | refsnn | 10×|difference|).  Exit status 0 when
everything agrees, 1 when the check finds a difference.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np

from refsnn.crossval.compare import _jsonable


def fraction(text: str) -> float:
    """``"8/255"`` or ``"0.03"`` → float (argparse type)."""
    import argparse

    try:
        value = float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a number or a fraction like 8/255, got {text!r}") \
            from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def add_arguments(p) -> None:
    p.add_argument("model", help="FILE.py:ATTR naming a torch module (or a zero-argument class/factory)")
    p.add_argument("--weights", help=".safetensors state dict loaded into the model first (strict)")
    p.add_argument("--data", help="IDX directory (default: shipped MNIST sample)")
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--n", type=int, default=1000, help="images to check (default 1000)")
    p.add_argument("--order", help="comma-separated layer order of a custom forward, e.g. fc1,lif1,fc2,lif2")
    p.add_argument("--input-shape", help="per-image shape the model takes, e.g. 784 or 1,28,28")
    p.add_argument("--encoding", choices=("direct", "rate"), default="direct")
    p.add_argument("--T", type=int, help="time steps (rate encoding, or a single-step Sequential)")
    p.add_argument("--readout", choices=("mean", "sum", "last"), default="mean")
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--attack", choices=("fgsm", "pgd"))
    p.add_argument("--eps", type=fraction, default=8 / 255)
    p.add_argument("--alpha", type=fraction, default=2 / 255)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--targeted", action="store_true")
    p.add_argument("--attack-n", type=int, default=100, help="images attacked (default 100)")
    p.add_argument("--peer", help=".npy file with the peer's x_adv for the first --attack-n images "
                                  "(default: run torchattacks here)")
    p.add_argument("--out", default="results/crossval", help="output directory")


def _images(args):
    from refsnn.datasets import load_idx_dataset, load_sample

    x, y = load_idx_dataset(args.data, args.split) if args.data else load_sample(args.split)
    if args.n < 1:
        raise ValueError(f"--n must be >= 1, got {args.n}")
    x, y = x[: args.n], y[: args.n]
    if args.input_shape:
        try:
            shape = tuple(int(s) for s in args.input_shape.split(","))
        except ValueError:
            raise ValueError(f"--input-shape must be comma-separated integers, got "
                             f"{args.input_shape!r}") from None
        if int(np.prod(shape)) != int(np.prod(x.shape[1:])):
            raise ValueError(f"--input-shape {shape} does not hold an image of shape {x.shape[1:]}")
        x = x.reshape((len(x),) + shape)
    return np.ascontiguousarray(x, np.float32), y


def write_png(path: Path, panels, scale: int = 4) -> Path:
    """Grey panels (2-D arrays in [0, 1]) side by side, each upscaled ``scale``×, as a PNG (Pillow)."""
    from PIL import Image

    tiles = [np.kron(np.clip(p, 0, 1), np.ones((scale, scale))) for p in panels]
    h = max(t.shape[0] for t in tiles)
    gap = np.ones((h, scale))
    parts = []
    for t in tiles:
        parts += [np.pad(t, ((0, h - t.shape[0]), (0, 0))), gap]
    row = np.concatenate(parts[:-1], axis=1)
    Image.fromarray((row * 255).round().astype(np.uint8), mode="L").save(path)
    return path


def _as_image(a: np.ndarray) -> np.ndarray | None:
    a = np.asarray(a, np.float64)
    if a.ndim == 1 and int(np.sqrt(a.size)) ** 2 == a.size:
        side = int(np.sqrt(a.size))
        return a.reshape(side, side)
    if a.ndim == 3:
        return a.mean(0)
    return a if a.ndim == 2 else None


def run(args) -> int:
    from refsnn.crossval import check, check_attack, format_attack, format_check, run_torchattacks
    from refsnn.crossval.torch_run import load_model

    model = load_model(args.model)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    order = [s.strip() for s in args.order.split(",")] if args.order else None
    x, y = _images(args)
    kwargs = dict(order=order, weights=args.weights, readout_how=args.readout, batch_size=args.batch_size,
                  seed=args.seed)
    if args.encoding == "rate":
        if not args.T:
            raise ValueError("--encoding rate needs --T (the number of time steps)")
        rng = np.random.default_rng(args.seed)
        inputs = (rng.random((args.T,) + x.shape) < x).astype(np.float32)
        res = check(model, inputs, y, batch_axis=1, **kwargs)
    else:
        T = args.T if order is None else None
        res = check(model, x, y, T=T, **kwargs)
    text = format_check(res)
    payload = {"model": args.model, "weights": args.weights, "data": args.data or "shipped sample",
               "check": res}
    ok = res["verdict"]["pass"]
    if args.attack:
        params = {"eps": args.eps, "targeted": args.targeted}
        if args.attack == "pgd":
            params.update(alpha=args.alpha, steps=args.steps)
        xa, ya = x[: args.attack_n], y[: args.attack_n]
        peer = np.load(args.peer) if args.peer else run_torchattacks(model, args.attack, params, xa, ya)
        att = check_attack(model, args.attack, params, xa, ya, peer, order=order)
        ours = att.pop("x_adv_refsnn")
        text += "\n\n" + format_attack(att)
        payload["attack"] = att
        ok = ok and att["pass"]
        i = att["worst_image"]
        panels = [_as_image(v) for v in (xa[i], peer[i], ours[i])]
        if all(p is not None for p in panels):
            diff = np.abs(panels[1] - panels[2]) * 10
            png = write_png(out / "crossval_worst.png", panels + [diff])
            text += f"\nworst-differing image {i}: {png}"
    (out / "crossval.json").write_text(json.dumps(_jsonable(payload), indent=2))
    (out / "crossval_report.txt").write_text(text + "\n")
    print(text)
    print(f"wrote {out / 'crossval.json'} and {out / 'crossval_report.txt'}")
    return 0 if ok else 1
