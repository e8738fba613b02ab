"""The ``refsnn`` command: ``info``, ``train``, ``evaluate``, ``reproduce`` and ``crossval``.

    refsnn info                                   # version, backends, kernels, optional extras
    refsnn train --model ann --epochs 5 --out results/ann.h5
    refsnn train --model snn --data ../shared/data/mnist-5k --epochs 3 --out results/snn.h5
    refsnn evaluate --checkpoint results/ann.h5 [--data DIR]
    refsnn reproduce STUDY [study options]        # a paper study (refsnn.studies), e.g. --help
    refsnn crossval MODEL.py:ATTR [--weights W.safetensors --data DIR --attack pgd ...]

Without ``--data`` the shipped MNIST sample is used.  Models run on the default
backend (``REFSNN_BACKEND=numpy|cupy``); an unknown or unavailable one is an
error (exit status 2) naming what is installed.  Checkpoints are HDF5
(``refsnn.io``); the model kind and its config are stored in their attributes.

Every argument and the output path are checked before any work starts; a
checkpoint's config and parameter shapes are checked before a model is built.
An error prints one line, ``refsnn: error: ...``, and exits with status 2;
``--debug`` shows the traceback instead.  ``python -m refsnn`` runs the same.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import traceback

import refsnn
from refsnn import backend, studies

MODELS = ("ann", "snn")
MAX_HIDDEN = 100_000  # 784 x 100k float32 weights = 314 MB; larger is surely a typo or a hostile file
_INPUTS, _CLASSES = 784, 10


def _int_in(lo: int, hi: int):
    """An argparse type: an integer in ``[lo, hi]`` (argparse names the option in the error)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be in [{lo}, {hi}], got {value}")
        return value
    parse.__name__ = "integer"
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _expected_state(kind: str, hidden: int) -> dict[str, tuple]:
    """Parameter names and shapes of ``_build(kind, hidden=hidden)``, without building it."""
    first, second = ("1", "3") if kind == "ann" else ("fc1", "fc2")
    return {f"{first}.weight": (hidden, _INPUTS), f"{first}.bias": (hidden,),
            f"{second}.weight": (_CLASSES, hidden), f"{second}.bias": (_CLASSES,)}


def _check_checkpoint(path, ckpt) -> tuple[str, int]:
    """The model kind and hidden size a checkpoint's config names, checked against its arrays."""
    config = ckpt.config
    if not isinstance(config, dict):
        raise ValueError(f"{path}: checkpoint config must be a JSON object with 'model' and 'hidden', "
                         f"got {type(config).__name__}")
    kind = config.get("model")
    if kind not in MODELS:
        raise ValueError(f"{path}: config names model {kind!r:.40}; expected one of {MODELS}")
    hidden = config.get("hidden", 3000)
    if isinstance(hidden, bool) or not isinstance(hidden, int) or not 1 <= hidden <= MAX_HIDDEN:
        raise ValueError(f"{path}: config 'hidden' must be an integer in [1, {MAX_HIDDEN}], "
                         f"got {hidden!r:.40}")
    expected = _expected_state(kind, hidden)
    got = {k: tuple(v.shape) for k, v in ckpt.state.items()}
    if got != expected:
        wrong = sorted(set(got) ^ set(expected)) or [k for k in expected if got[k] != expected[k]]
        detail = "; ".join(f"{k}: file {got.get(k, 'missing')} vs model {expected.get(k, 'none')}"
                           for k in wrong[:4])
        raise ValueError(f"{path}: parameters do not match a {kind} model with hidden={hidden} ({detail})")
    return kind, hidden


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
    from refsnn.io import check_writable, save_module
    from refsnn.nn import Adam
    from refsnn.train import evaluate, fit

    if args.out:
        check_writable(args.out, (".h5", ".hdf5"))  # evaluate reads HDF5 checkpoints
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
    kind, hidden = _check_checkpoint(args.checkpoint, ckpt)
    model = _build(kind, 0, hidden).to(backend.active_backend())
    model.load_state_dict(ckpt.state)
    xt, yt = _load(args.data, "test")
    print(f"test accuracy: {100 * evaluate(model, xt, yt):.2f}%")
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an error")
    p = argparse.ArgumentParser(prog="refsnn", description="refsnn reference implementation")
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, backends, kernels, optional extras", parents=[common])
    t = sub.add_parser("train", help="train the GAMIN-study ANN or SNN", parents=[common])
    t.add_argument("--model", choices=MODELS, default="ann")
    t.add_argument("--data", help="IDX directory (default: shipped sample)")
    t.add_argument("--epochs", type=_int_in(1, 1_000_000), default=5)
    t.add_argument("--batch-size", type=_int_in(1, 1 << 20), default=128)
    t.add_argument("--lr", type=_positive_float, default=1e-3)
    t.add_argument("--hidden", type=_int_in(1, MAX_HIDDEN), default=3000)
    t.add_argument("--seed", type=_int_in(0, 2**63 - 1), default=0)
    t.add_argument("--out", help="checkpoint path (.h5 or .hdf5), checked before training")
    e = sub.add_parser("evaluate", help="test accuracy of a checkpoint", parents=[common])
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--data", help="IDX directory (default: shipped sample)")
    r = sub.add_parser("reproduce", help="run a paper study: " + ", ".join(studies.available()),
                       parents=[common])
    r.add_argument("study", help="one of: " + ", ".join(studies.available()))
    r.add_argument("options", nargs=argparse.REMAINDER, help="the study's own options (see its --help)")
    from refsnn.crossval.cli_crossval import add_arguments

    add_arguments(sub.add_parser("crossval", help="check your snnTorch / SpikingJelly model (and a "
                                 "torchattacks attack) against refsnn", parents=[common]))
    return p


def cmd_reproduce(args) -> int:
    studies.run(args.study, args.options)
    return 0


def cmd_crossval(args) -> int:
    from refsnn.crossval.cli_crossval import run

    return run(args)


def _one_line(exc: BaseException) -> str:
    msg = exc.args[0] if isinstance(exc, KeyError) and len(exc.args) == 1 else str(exc)
    return " ".join(str(msg).split()) or type(exc).__name__


def main(argv=None) -> int:
    """Run the command; an error prints ``refsnn: error: <one line>`` and returns 2 (``--debug``: raise)."""
    args = build_parser().parse_args(argv)
    handler = {"info": cmd_info, "train": cmd_train, "evaluate": cmd_evaluate,
               "reproduce": cmd_reproduce, "crossval": cmd_crossval}[args.command]
    try:
        return handler(args)
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        else:
            print(f"refsnn: error: {_one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
