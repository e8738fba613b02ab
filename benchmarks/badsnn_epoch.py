"""Benchmark: one epoch of BadSNN dual-spike training (Eq. 2), refsnn vs the same network in SpikingJelly.

The model is the study's reduced net on Fashion-MNIST (1×28×28): two ``conv3 (8, 16) + BN +
LIF + avgpool2`` stages and fc-10, T = 4, direct input, mean readout
(:func:`refsnn.models.nmnist_net`), neurons of DESIGN form 3 (``U[t] = τ·U[t−1]·(1 − S[t−1]) +
X[t]``, hard reset to 0, fires on ``U ≥ V_thr``, triangle surrogate ``max(0, 1 − |U − V_thr|)``,
gradient through the reset).  SpikingJelly 2.0 (torch backend): ``SeqToANNContainer(Conv2d,
BatchNorm2d)`` + ``LIFNode(tau = 1/(1 − τ) = 2, decay_input=False, v_reset=0, detach_reset=False,
step_mode='m')`` — its charge ``H = V − V/τ_SJ + X = τ·V + X`` is form 3 — with a triangle
surrogate written as a ``torch.autograd.Function``; its ``v_threshold`` is set per call for the
malicious pass, as refsnn's ``model(x, v_thr=...)``.  Same weights, same batch order, same
poisoned mask (P = 3% of the target class 0; malicious ``V_thr^t = 1.5``), Adam lr 1e-3, batch 64.

Each framework runs in its own subprocess with the same thread count (``_util.worker_env``).
Reported: epoch seconds, speedup (SpikingJelly / refsnn), and the first batch's loss in both
(the same numbers up to float rounding: the check that both train the same network).

    python benchmarks/badsnn_epoch.py [--n 60000] [--rounds 1]
    python benchmarks/badsnn_epoch.py --quick     # smoke: 256 samples, one round

Writes benchmarks/results/badsnn_epoch.json (``--out DIR`` elsewhere) and prints a table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import numpy as np
from _util import emit, machine, run_workers, table, threads, tuning_env, worker_env, write

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "fashion-mnist"))
WIDTHS, T, BATCH, LR, V_T, TARGET, RATIO = (8, 16), 4, 64, 1e-3, 1.5, 0, 0.03


def data(n, path, seed=0):
    """``(x [n, 1, 28, 28], y, poisoned mask, batch order)`` — the same in both workers."""
    from refsnn.attacks.backdoor import dual_spike_split

    if os.path.isdir(path):
        from refsnn.datasets import load_idx_dataset

        x, y = load_idx_dataset(path, "train")
    else:
        from refsnn.datasets import load_sample

        x, y = load_sample("train")
    x, y = np.ascontiguousarray(x[:n]), y[:n].astype(np.int64)
    mask = np.zeros(len(y), bool)
    mask[dual_spike_split(y, TARGET, RATIO, seed)["target_poison"]] = True
    return x, y, mask, np.random.default_rng(seed).permutation(len(y))


def refsnn_model():
    from refsnn.models import nmnist_net

    return nmnist_net(in_shape=(1, 28, 28), widths=WIDTHS, T=T, rng=0)


def run_refsnn(n, path):
    import numba

    from refsnn.attacks.badsnn import dual_spike_loss
    from refsnn.autograd import Tensor
    from refsnn.nn import Adam

    numba.set_num_threads(threads())
    x, y, mask, order = data(n, path)
    net = refsnn_model().train()
    opt = Adam(net.parameters(), lr=LR)
    first = None
    t0 = time.perf_counter()
    for i in range(0, len(order), BATCH):
        idx = order[i:i + BATCH]
        loss = dual_spike_loss(net, Tensor(x[idx]), y[idx], mask[idx], (1.0, 0.5), (V_T, 0.5))
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = float(loss.item()) if first is None else first
    return {"epoch_s": time.perf_counter() - t0, "first_loss": first, "samples": len(y)}


def spikingjelly_model(ref):
    """The same net in SpikingJelly, weights and BN parameters copied from ``ref``."""
    import torch
    from spikingjelly.activation_based import layer, neuron

    class Triangle(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return (x >= 0).to(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * torch.clamp(1 - x.abs(), min=0)

    def lif():
        return neuron.LIFNode(tau=2.0, decay_input=False, v_threshold=1.0, v_reset=0.0, detach_reset=False,
                              surrogate_function=Triangle.apply, step_mode="m")

    c1, c2 = WIDTHS

    def conv_bn(a, b):
        conv = torch.nn.Conv2d(a, b, 3, padding=1, bias=False)
        return layer.SeqToANNContainer(conv, torch.nn.BatchNorm2d(b))

    body = torch.nn.Sequential(
        conv_bn(1, c1), lif(), layer.SeqToANNContainer(torch.nn.AvgPool2d(2)), conv_bn(c1, c2), lif(),
        layer.SeqToANNContainer(torch.nn.AvgPool2d(2), torch.nn.Flatten(),
                                torch.nn.Linear(c2 * 7 * 7, 10, bias=False)))
    ours = [v for name, v in ref.state_dict().items() if "num_batches" not in name]
    theirs = [t for name, t in body.state_dict().items() if "num_batches" not in name]
    with torch.no_grad():
        for dst, src in zip(theirs, ours):
            dst.copy_(torch.from_numpy(np.ascontiguousarray(src)).reshape(dst.shape))
    return body


def run_spikingjelly(n, path):
    import torch
    from spikingjelly.activation_based import functional, neuron

    torch.set_num_threads(threads())
    x, y, mask, order = data(n, path)
    body = spikingjelly_model(refsnn_model()).train()
    nodes = [m for m in body.modules() if isinstance(m, neuron.LIFNode)]

    def run(xb, v_thr):
        for m in nodes:
            m.v_threshold = v_thr
        functional.reset_net(body)
        return body(xb.unsqueeze(0).repeat(T, 1, 1, 1, 1)).mean(0)

    opt = torch.optim.Adam(body.parameters(), lr=LR)
    ce = torch.nn.functional.cross_entropy
    xt, yt, mt = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(mask)
    first = None
    t0 = time.perf_counter()
    for i in range(0, len(order), BATCH):
        idx = torch.from_numpy(order[i:i + BATCH])
        xb, yb, mb = xt[idx], yt[idx], mt[idx]
        loss = ce(run(xb, 1.0), yb)
        if mb.any():
            loss = loss + ce(run(xb[mb], V_T), yb[mb])
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = float(loss) if first is None else first
    return {"epoch_s": time.perf_counter() - t0, "first_loss": first, "samples": len(y)}


WORKERS = {"refsnn": run_refsnn, "spikingjelly": run_spikingjelly}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=60000, help="training samples (60000 = one full epoch)")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="smoke run: 256 samples, one round")
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--out", default=None, help="results directory (default benchmarks/results)")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.rounds = 256, 1
    if args.worker:
        return emit(WORKERS[args.worker](args.n, args.data))
    times, first, errors = {k: [] for k in WORKERS}, {}, {}
    for r in range(args.rounds):
        order = list(WORKERS) if r % 2 == 0 else list(WORKERS)[::-1]
        res = run_workers(__file__, order, ["--n", str(args.n), "--data", args.data], env=worker_env())
        for name, out in res.items():
            if "error" in out:
                errors[name] = out["error"]
            else:
                times[name].append(out["epoch_s"])
                first[name] = out["first_loss"]
    rec = {f"{k}_s": statistics.median(v) for k, v in times.items() if v}
    if len(rec) == 2:
        rec["speedup"] = rec["spikingjelly_s"] / rec["refsnn_s"]
    rec.update({f"{k}_first_loss": v for k, v in first.items()})
    results = {"benchmark": "badsnn_epoch", "samples": args.n, "T": T, "batch": BATCH, "widths": WIDTHS,
               "quick": args.quick, "rounds_s": times, "errors": errors, "machine": machine(),
               "tuning_env": tuning_env(), "load_avg_1min": os.getloadavg()[0],
               "goal": "speedup >= 1.5 on 2 cores", **rec}
    path = write("badsnn_epoch", results, args.out)
    cols = ["samples", "refsnn_s", "spikingjelly_s", "speedup", "refsnn_first_loss",
            "spikingjelly_first_loss"]
    print(table([{k: results.get(k, "") for k in cols}], cols))
    for name, err in errors.items():
        print(f"{name} failed: {err}")
    print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
