"""Quickstart: train the GAMIN-study ANN (784-3000-10, ReLU) on the MNIST sample shipped with refsnn.

Runs anywhere after `pip install -e .` — no data download.  Prints one line per
epoch and the test accuracy, and writes the trained weights and a JSON summary
to --out (default ./results/quickstart).

    python examples/quickstart.py                 # shipped sample, ~30 s on 2 cores
    python examples/quickstart.py --data ../shared/data/mnist-5k --epochs 10
    REFSNN_BACKEND=cupy python examples/quickstart.py   # the same on a GPU (pip install -e .[cupy])

The model goes to the default backend (``REFSNN_BACKEND``) with ``Module.to``;
``fit`` and ``evaluate`` move each batch there; results are written from host
arrays.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import refsnn
from refsnn.backend import BackendError, active_backend
from refsnn.datasets import load_idx_dataset, load_sample
from refsnn.io import save_module
from refsnn.models import gamin_ann
from refsnn.nn import Adam
from refsnn.train import evaluate, fit


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="directory with MNIST-style IDX files (default: shipped sample)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/quickstart")
    args = p.parse_args(argv)

    device = active_backend()  # REFSNN_BACKEND: unknown or unavailable -> a clear error, before any work
    if args.data:
        x_train, y_train = load_idx_dataset(args.data, "train")
        x_test, y_test = load_idx_dataset(args.data, "test")
        source = args.data
    else:
        (x_train, y_train), (x_test, y_test) = load_sample("train"), load_sample("test")
        source = "shipped MNIST sample"
    print(f"refsnn {refsnn.__version__}: ANN 784-{args.hidden}-10 on {source} "
          f"({len(x_train)} train / {len(x_test)} test), seed {args.seed}, backend {device}")

    rng = np.random.default_rng(args.seed)
    model = gamin_ann(rng=rng, hidden=args.hidden).to(device)
    start = time.perf_counter()
    history = fit(model, Adam(model.parameters(), lr=args.lr), x_train, y_train,
                  epochs=args.epochs, batch_size=args.batch_size, rng=rng)
    acc = evaluate(model, x_test, y_test)
    seconds = time.perf_counter() - start
    print(f"test accuracy: {100 * acc:.2f}%  ({seconds:.1f} s)")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_module(out / "ann.h5", model, config={"model": "gamin_ann", "hidden": args.hidden},
                seed=args.seed, step=args.epochs)
    summary = {"test_accuracy": acc, "seconds": seconds, "history": history, "data": source,
               "seed": args.seed, "epochs": args.epochs, "backend": device}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {out / 'ann.h5'} and {out / 'summary.json'}")
    return summary


if __name__ == "__main__":
    try:
        main()
    except BackendError as exc:  # REFSNN_BACKEND unknown or not installed: the message says what to do
        raise SystemExit(f"quickstart: {exc}") from None
