"""Benchmark: one training step of the 784-3000-10 ReLU ANN at batch 128, refsnn vs PyTorch (CPU).

A step is forward, cross-entropy, backward and an Adam update.  Both frameworks
start from the same weights and use the same thread count (REFSNN_BENCH_THREADS,
default: all cores).  Also times the bare GEMMs of the step as the BLAS bound.
Writes benchmarks/results/ann_train.json and prints a table.

    python benchmarks/ann_train.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import numpy as np
from _util import machine, peak_rss_mb, table, threads, timeit, write

from refsnn.autograd import Tensor, cross_entropy
from refsnn.models import gamin_ann
from refsnn.nn import Adam


def refsnn_step(model, opt, x, y):
    def step():
        loss = cross_entropy(model(Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def torch_step(state, x, y):
    import torch

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 3000), torch.nn.ReLU(),
                              torch.nn.Linear(3000, 10))
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        loss = torch.nn.functional.cross_entropy(net(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def gemm_bound(x, w1, w2):
    h = np.maximum(x @ w1.T, 0)
    g = np.ones((x.shape[0], 10), np.float32)

    def gemms():
        h_ = x @ w1.T          # forward layer 1
        _ = h_ @ w2.T          # forward layer 2
        gh = g @ w2            # backward into hidden
        _ = g.T @ h            # dW2
        _ = gh.T @ x           # dW1
    return gemms


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--batch", type=int, default=128)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.batch)
    model = gamin_ann(rng=0)
    state = model.state_dict()
    rows = [dict(framework="refsnn", **timeit(refsnn_step(model, Adam(model.parameters()), x, y),
                                              repeat=args.repeat))]
    rows.append(dict(framework="gemm bound (numpy)", **timeit(
        gemm_bound(x, state["1.weight"], state["3.weight"]), repeat=args.repeat)))
    try:
        import torch

        torch.set_num_threads(threads())
        rows.append(dict(framework=f"pytorch {torch.__version__}",
                         **timeit(torch_step(state, x, y), repeat=args.repeat)))
        ratio = rows[0]["median_s"] / rows[-1]["median_s"]
    except ImportError:
        ratio = None
    for r in rows:
        r["ms"] = 1e3 * r["median_s"]
    result = {"benchmark": f"ann_train_step 784-3000-10 batch {args.batch}", "machine": machine(),
              "rows": rows, "refsnn_over_pytorch": ratio, "target": "<= 1.2", "peak_rss_mb": peak_rss_mb()}
    path = write("ann_train", result)
    print(table(rows, ["framework", "ms", "min_s", "repeat"]))
    if ratio is not None:
        print(f"refsnn / pytorch time ratio: {ratio:.3f} (target <= 1.2)")
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
