"""The ``refsnn`` command: ``info``, ``train`` and ``evaluate``.

    refsnn info                                   # version, backends, kernels, optional extras
    refsnn train --model ann --epochs 5 --out results/ann.h5
    refsnn train --model snn --data ../shared/data/mnist-5k --epochs 3 --out results/snn.h5
    refsnn evaluate --checkpoint results/ann.h5 [--data DIR]

Without ``--data`` the shipped MNIST sample is used.  Models run on the default
backend (``REFSNN_BACKEND=numpy|cupy``); an unknown or unavailable one is an
error (exit status 2) naming what is installed.  Checkpoints are HDF5
(``refsnn.io``); the model kind and its config are stored in their attributes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys

import refsnn
from refsnn import backend

MODELS = ("ann", "snn")


def _load(data, split):
    from refsnn.datasets import load_idx_dataset, load_sample

    return load_idx_dataset(data, split) if data else load_sample(split)


def _build(kind: str, seed: int, hidden: int):
    if kind == "ann":
        from refsnn.models import gamin_ann

        return gamin_ann(rng=seed, hidden=hidden)
    from refsnn.models import GaminSNN

    return GaminSNN(hidden=hidden, rng=seed)


def cmd_info(args) -> int:
    extras = {name: importlib.util.find_spec(name) is not None
              for name in ("torch", "snntorch", "spikingjelly", "torchattacks", "cupy")}
    info = {"refsnn": refsnn.__version__, "backend": backend.active_backend(),
            "backends_known": backend.known_backends(), "backends_installed": backend.installed_backends(),
            "kernels": backend.registered_kernels("numpy"), "optional": extras}
    print(json.dumps(info, indent=2))
    return 0


def cmd_train(args) -> int:
    from refsnn.io import save_module
    from refsnn.nn import Adam
    from refsnn.train import evaluate, fit

    x, y = _load(args.data, "train")
    xt, yt = _load(args.data, "test")
    model = _build(args.model, args.seed, args.hidden).to(backend.active_backend())
    fit(model, Adam(model.parameters(), lr=args.lr), x, y, epochs=args.epochs,
        batch_size=args.batch_size, rng=args.seed)
    acc = evaluate(model, xt, yt)
    print(f"test accuracy: {100 * acc:.2f}%")
    if args.out:
        save_module(args.out, model, config={"model": args.model, "hidden": args.hidden},
                    seed=args.seed, step=args.epochs)
        print(f"wrote {args.out}")
    return 0


def cmd_evaluate(args) -> int:
    from refsnn.io import load_checkpoint
    from refsnn.train import evaluate

    ckpt = load_checkpoint(args.checkpoint)
    config = ckpt.config or {}
    kind = config.get("model")
    if kind not in MODELS:
        raise SystemExit(f"{args.checkpoint}: config names model {kind!r}; expected one of {MODELS}")
    model = _build(kind, 0, int(config.get("hidden", 3000))).to(backend.active_backend())
    model.load_state_dict(ckpt.state)
    xt, yt = _load(args.data, "test")
    print(f"test accuracy: {100 * evaluate(model, xt, yt):.2f}%")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="refsnn", description="refsnn reference implementation")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, backends, kernels, optional extras")
    t = sub.add_parser("train", help="train the GAMIN-study ANN or SNN")
    t.add_argument("--model", choices=MODELS, default="ann")
    t.add_argument("--data", help="IDX directory (default: shipped sample)")
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--hidden", type=int, default=3000)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", help="checkpoint path (.h5)")
    e = sub.add_parser("evaluate", help="test accuracy of a checkpoint")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--data", help="IDX directory (default: shipped sample)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"info": cmd_info, "train": cmd_train, "evaluate": cmd_evaluate}[args.command]
    try:
        return handler(args)
    except backend.BackendError as exc:
        print(f"refsnn: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
