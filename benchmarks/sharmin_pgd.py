"""Benchmark: one PGD-7 attack on a batch of 64 for the SNN-BP VGG5, refsnn vs SpikingJelly + torchattacks.

The model is the Sharmin-study SNN-BP VGG5 (conv 64, avgpool, conv 128 ×2, avgpool, fc 1024 ×2,
fc 10; no bias; LIF λ = 0.99, immediate soft reset, fires on ``H ≥ θ``, per-layer θ from
threshold balancing of the untrained net on the batch; output = mean membrane of the last
layer) on MNIST-5k images (1×28×28); the thresholds are half the balanced maxima so the
untrained net spikes in every layer (timing does not depend on trained weights).  Both
frameworks get the same weights and thresholds and the same *direct* input (the image at
every step, so both compute the same numbers: Poisson draws would differ between frameworks).
SpikingJelly 2.0 (torch backend):
``SeqToANNContainer`` + ``LIFNode(tau = 1/(1 − λ) = 100, decay_input=False, v_reset=None,
detach_reset=True)`` — its soft-reset charge ``H = V − V/τ + X = λ·V + X`` is form 2 — with
``surrogate.PiecewiseQuadratic(α = 1/θ_l)``, whose derivative ``α(1 − α|x|)`` is refsnn's linear
surrogate ``(a/θ)(1 − |x|/θ)`` divided by ``a = 0.3``: every input-gradient path crosses each
neuron layer once, so the factor is one positive constant and the PGD signs are the same.
torchattacks 3.5 ``PGD(eps=8/255, alpha=2/255, steps=7, random_start=False)``; refsnn
``refsnn.attacks.PGD`` with the same values.

Each framework runs in its own subprocess with the same thread count (``_util.worker_env``),
alternating over ``--rounds``.  Reported per T: median attack time, speedup (peer / refsnn),
the logits' max difference and the fraction of equal ``x_adv`` pixels between the two.

    python benchmarks/sharmin_pgd.py [--rounds 3] [--repeat 3] [--T 8,16,32]
    python benchmarks/sharmin_pgd.py --quick     # smoke: T = 2, batch 8, narrow net, one round

Writes benchmarks/results/sharmin_pgd.json (``--out DIR`` elsewhere) and prints a table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(__file__))
import numpy as np
from _util import emit, machine, run_workers, table, threads, timeit, tuning_env, worker_env, write

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "mnist-5k"))
LAM, EPS, ALPHA, STEPS, THETA_SCALE = 0.99, 8 / 255, 2 / 255, 7, 0.5


def make_model(T: int, batch: int, quick: bool, data: str | None, seed: int = 0):
    """refsnn SNN-BP VGG5 (direct input), its thresholds, the batch and labels."""
    from refsnn.models.convert import balance_thresholds, to_lif
    from refsnn.models.spiking import neurons, spiking_from_spec
    from refsnn.models.vgg import vgg_spec
    from refsnn.neurons import IF

    if data and os.path.isdir(data):
        from data_tools import load_mnist

        x, y = load_mnist(data, "test")
    else:
        from refsnn.datasets import load_sample

        x, y = load_sample("test")
    idx = np.random.default_rng(seed).choice(len(x), batch, replace=False)
    x, y = np.ascontiguousarray(x[idx]), y[idx].astype(np.int64)
    opts = dict(hidden=64, conv_widths=(8, 16, 16)) if quick else {}
    spec = vgg_spec("vgg5", (1, 28, 28), 10, **opts)
    snn = spiking_from_spec(spec, neurons(IF), T, encoder="direct", rng=seed)
    balance_thresholds(snn, x, batch_size=batch, silent="warn")
    for slot in snn.slots():
        slot.neuron.theta *= THETA_SCALE
    to_lif(snn, lam=LAM, surrogate="linear")
    return snn, x, y


def run_refsnn(T, batch, quick, data, repeat):
    import numba

    from refsnn.attacks import PGD
    from refsnn.autograd import no_grad

    numba.set_num_threads(threads())
    snn, x, y = make_model(T, batch, quick, data)
    snn.eval()
    atk = PGD(snn, eps=EPS, alpha=ALPHA, steps=STEPS)
    x_adv = atk(x, y)
    with no_grad():
        logits = snn(x).data
    return {"time": timeit(lambda: atk(x, y), repeat, warmup=1), "x_adv": x_adv, "logits": logits}


def spikingjelly_model(snn, T):
    """The same net in SpikingJelly (multi-step), weights and θ copied from ``snn``."""
    import torch
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    from refsnn.models.spiking import NeuronSlot, TimeDropout
    from refsnn.nn import AvgPool2d, Conv2d, Flatten, Linear, SeqToANN

    def convert(m):
        if isinstance(m, Conv2d):
            c = torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, bias=False)
            c.weight.data = torch.from_numpy(m.weight.data.copy())
            return c
        if isinstance(m, Linear):
            f = torch.nn.Linear(m.in_features, m.out_features, bias=False)
            f.weight.data = torch.from_numpy(m.weight.data.copy())
            return f
        if isinstance(m, AvgPool2d):
            return torch.nn.AvgPool2d(m.kernel_size)
        if isinstance(m, Flatten):
            return torch.nn.Flatten()
        raise TypeError(type(m).__name__)

    mods = []
    for node in snn.layers:
        if isinstance(node, SeqToANN):
            inner = list(node.module) if hasattr(node.module, "__iter__") else [node.module]
            mods.append(layer.SeqToANNContainer(*[convert(m) for m in inner]))
        elif isinstance(node, NeuronSlot):
            theta = float(node.neuron.theta)
            mods.append(neuron.LIFNode(
                tau=1.0 / (1.0 - LAM), decay_input=False, v_threshold=theta, v_reset=None, detach_reset=True,
                surrogate_function=surrogate.PiecewiseQuadratic(1 / theta), step_mode="m"))
        elif not isinstance(node, TimeDropout):  # dropout is off in evaluation
            raise TypeError(type(node).__name__)
    body = torch.nn.Sequential(*mods)

    class Wrapped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = body

        def forward(self, x):
            functional.reset_net(self.body)
            return self.body(x.unsqueeze(0).repeat(T, *([1] * x.dim()))).mean(0)

    return Wrapped().eval()


def run_spikingjelly(T, batch, quick, data, repeat):
    import torch
    import torchattacks

    torch.set_num_threads(threads())
    snn, x, y = make_model(T, batch, quick, data)
    net = spikingjelly_model(snn, T)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    atk = torchattacks.PGD(net, eps=EPS, alpha=ALPHA, steps=STEPS, random_start=False)
    x_adv = atk(xt, yt).numpy()
    with torch.no_grad():
        logits = net(xt).numpy()
    return {"time": timeit(lambda: atk(xt, yt), repeat, warmup=1), "x_adv": x_adv, "logits": logits}


WORKERS = {"refsnn": run_refsnn, "spikingjelly": run_spikingjelly}


def worker(name, T, batch, quick, data, repeat, out_dir):
    res = WORKERS[name](T, batch, quick, data, repeat)
    path = os.path.join(out_dir, f"_{name}_T{T}.npz")
    np.savez(path, x_adv=res.pop("x_adv"), logits=res.pop("logits"))
    emit({**res, "arrays": path})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--T", default="8,16,32")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="smoke run: T = 2, batch 8, narrow net, one round")
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--out", default=None, help="results directory (default benchmarks/results)")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--worker-T", type=int, help=argparse.SUPPRESS)
    p.add_argument("--scratch", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.T, args.batch, args.rounds, args.repeat = "2", 8, 1, 1
    if args.worker:
        return worker(args.worker, args.worker_T, args.batch, args.quick, args.data, args.repeat,
                      args.scratch)
    import tempfile

    rows, per_T = [], {}
    with tempfile.TemporaryDirectory() as scratch:
        for T in (int(v) for v in args.T.split(",")):
            extra = ["--worker-T", str(T), "--batch", str(args.batch), "--repeat", str(args.repeat),
                     "--data", args.data, "--scratch", scratch] + (["--quick"] if args.quick else [])
            times, errors, arrays = {"refsnn": [], "spikingjelly": []}, {}, {}
            for r in range(args.rounds):
                order = list(WORKERS) if r % 2 == 0 else list(WORKERS)[::-1]
                res = run_workers(__file__, order, extra, env=worker_env())
                for name, out in res.items():
                    if "error" in out:
                        errors[name] = out["error"]
                    else:
                        times[name].append(out["time"]["median_s"])
                        arrays[name] = dict(np.load(out["arrays"]))
            rec = {"T": T, "errors": errors}
            for name, ts in times.items():
                if ts:
                    rec[f"{name}_s"] = statistics.median(ts)
                    rec[f"{name}_rounds_s"] = ts
            if times["refsnn"] and times["spikingjelly"]:
                rec["speedup"] = rec["spikingjelly_s"] / rec["refsnn_s"]
                a, b = arrays["refsnn"], arrays["spikingjelly"]
                rec["logits_max_abs_diff"] = float(np.abs(a["logits"] - b["logits"]).max())
                rec["x_adv_equal_fraction"] = float(np.mean(a["x_adv"] == b["x_adv"]))
            per_T[T] = rec
            rows.append({k: rec.get(k, "") for k in ("T", "refsnn_s", "spikingjelly_s", "speedup",
                                                      "logits_max_abs_diff", "x_adv_equal_fraction")})
    results = {"benchmark": "sharmin_pgd", "batch": args.batch, "steps": STEPS, "quick": args.quick,
               "machine": machine(), "tuning_env": tuning_env(), "load_avg_1min": os.getloadavg()[0],
               "goal": "speedup >= 1.5 on 2 cores", "per_T": per_T}
    path = write("sharmin_pgd", results, args.out)
    print(table(rows, ["T", "refsnn_s", "spikingjelly_s", "speedup", "logits_max_abs_diff",
                       "x_adv_equal_fraction"]))
    for T, rec in per_T.items():
        for name, err in rec["errors"].items():
            print(f"T={T} {name} failed: {err}")
    print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
