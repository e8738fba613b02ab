"""Benchmark: ``refsnn.crossval.check`` on a user's snnTorch 784-3000-10 net, T = 25, 1,000 MNIST-5k images.

The model is the snnTorch tutorial's (custom forward: a time loop over
``fc1 → Leaky → fc2 → Leaky``, direct input, fast sigmoid k = 25, β = 0.9),
with seeded weights scaled so the hidden layer fires on a fair share of its
steps.  The timed call is the whole check: import, the torch run with hooks,
forward + backward (cross-entropy on the mean output spikes), the refsnn run,
and the per-layer comparison.  Goal: under 30 s on 2 cores including the torch
side.  The JSON records the total, the torch / refsnn / compare parts, and the
agreement (spike mismatches, worst membrane / gradient differences, verdict).
In float32 a few hidden neurons sit within rounding of θ somewhere in the
1.9e9 neuron-steps, and the two sides' 784-term sums round differently: the
JSON counts the flipped neurons and how many first flipped on a threshold tie
(``ties_only``: every flip is one of those, or follows from one).

    python benchmarks/crossval_check.py [--quick] [--n 1000] [--T 25] [--hidden 3000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import numpy as np
from _util import machine, peak_rss_mb, table, threads, tuning_env, write

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist-5k")


def build(hidden: int, T: int, seed: int = 0):
    import snntorch as snn
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.lif1 = nn.Linear(784, hidden), snn.Leaky(beta=0.9)
            self.fc2, self.lif2 = nn.Linear(hidden, 10), snn.Leaky(beta=0.9)

        def forward(self, x):
            mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
            spk_rec = []
            for _ in range(T):
                spk1, mem1 = self.lif1(self.fc1(x), mem1)
                spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
                spk_rec.append(spk2)
            return torch.stack(spk_rec)

    torch.manual_seed(seed)
    net = Net()
    with torch.no_grad():
        net.fc1.weight.mul_(6.0)
        net.fc2.weight.mul_(3.0)
    return net


def load(n: int):
    from refsnn.datasets import load_idx_dataset, load_sample

    if os.path.isdir(DATA):
        x, y = load_idx_dataset(DATA, "test")
        source = "mnist-5k t10k"
    else:
        x, y = load_sample("test")
        source = "shipped sample (../shared/data absent)"
    n = min(n, len(x))
    return x[:n].reshape(n, -1).astype(np.float32), y[:n], source


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="100 images, hidden 300, T = 10")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--T", type=int, default=25)
    p.add_argument("--hidden", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--out", help="directory for the JSON (default benchmarks/results)")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.T, args.hidden = 100, 10, 300
    import torch

    torch.set_num_threads(threads())
    from refsnn.crossval import check

    x, y, source = load(args.n)
    model = build(args.hidden, args.T)
    order = ["fc1", "lif1", "fc2", "lif2"]
    runs = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        res = check(model, x, y, order=order, batch_size=args.batch_size)
        runs.append((time.perf_counter() - t0, res))
    total, res = min(runs, key=lambda r: r[0])
    hidden = res["layers"][1]["spikes"]
    grads = [res["grad_input"]] + list(res["grad_params"].values())
    neurons = [lay for lay in res["layers"] if lay["kind"] == "neuron"]
    row = {
        "images": len(x), "T": args.T, "hidden": args.hidden, "total_s": total,
        "torch_s": res["timing"]["torch_s"], "refsnn_s": res["timing"]["refsnn_s"],
        "compare_s": res["timing"]["compare_s"],
        "spike_mismatches": sum(lay["spikes"]["mismatches"] for lay in neurons),
        "hidden_rate": hidden["count_torch"] / hidden["total"],
        "mem_rel_max": max(lay["membrane"]["max_rel"] for lay in neurons),
        "grad_rel_max": max(g["max_rel"] for g in grads),
        "pass": res["verdict"]["pass"], "ties_only": res["verdict"]["rounding_ties_only"],
        "flipped_neurons": sum(lay["spikes"]["neurons_flipped"] for lay in neurons),
        "flips_at_threshold": sum(lay["spikes"]["first_flips_at_threshold"] for lay in neurons),
        "accuracy_torch": res["accuracy"]["torch"], "accuracy_refsnn": res["accuracy"]["refsnn"],
    }
    result = {"benchmark": "crossval_check", "goal": "total_s < 30 on 2 cores", "data": source,
              "quick": bool(args.quick), "machine": machine(), "tuning": tuning_env(),
              "peak_rss_mb": peak_rss_mb(), "result": row, "all_totals_s": [r[0] for r in runs],
              "versions": res["versions"]}
    path = write("crossval_check" + ("_quick" if args.quick else ""), result, args.out)
    print(table([row], ["images", "T", "hidden", "total_s", "torch_s", "refsnn_s", "compare_s",
                        "spike_mismatches", "flipped_neurons", "flips_at_threshold", "hidden_rate",
                        "mem_rel_max", "grad_rel_max", "pass", "ties_only"]))
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
