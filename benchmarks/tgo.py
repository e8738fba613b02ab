"""Benchmark: TGO's training overhead and one EOT-PGD batch, refsnn vs SpikingJelly + torchattacks.

1. **Training overhead** (refsnn only): one epoch of the reduced spiking VGG-11 (1/16 width,
   T = 4, direct input, Fashion-MNIST-shaped 1×28×28 data, batch 64) with plain BPTT (form-2
   LIF, cross-entropy) vs TGO (Gaussian noisy LIF σ = 0.2 + the membrane constraint, δ = 0.2,
   λ = 0.6) — ``overhead = TGO / BPTT``.
2. **EOT-PGD batch**: the same VGG-11 with the Gaussian noisy LIF *on at evaluation*, EOT-PGD
   (ε = 0.05, α = 0.0125, 10 steps, 4 EOT samples, no random start) on a batch of 64:
   refsnn ``PGD(EOT(net, 4))`` vs torchattacks 3.5 ``EOTPGD(eot_iter=4)`` on the same weights
   in SpikingJelly (``SeqToANNContainer`` for the stateless layers).  SpikingJelly has no
   Gaussian noisy neuron, so the torch side uses a 15-line multi-step module with the same
   equations (``H = λV + X``, ``S ~ Bernoulli(Φ((H − θ)/σ))``, gradient ``φ((H − θ)/σ)/σ``,
   soft reset detached).  Draws differ between frameworks, so only the time is compared
   (and the clean logits with the noise off, as a check that the nets are the same).

Each framework runs in its own subprocess with the same thread count (``_util.worker_env``).

    python benchmarks/tgo.py [--rounds 3] [--repeat 3]
    python benchmarks/tgo.py --quick     # smoke: batch 8, 2 PGD steps, 2 EOT samples, 64 images

Writes benchmarks/results/tgo.json (``--out DIR`` elsewhere) and prints a table.
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
sys.path.insert(0, os.path.dirname(HERE))
LAM, THETA, SIGMA, DELTA, LAMBDA, EPS = 0.5, 1.0, 0.2, 0.2, 0.6, 0.05


def make(noisy: bool, batch: int, n: int, seed: int = 0):
    from refsnn.models.tgo_nets import data_init, tgo_neuron, tgo_vgg11

    g = np.random.default_rng(seed)
    x = g.random((n, 1, 28, 28), dtype=np.float32)
    y = g.integers(0, 10, n).astype(np.int64)
    net = tgo_vgg11(width=1 / 16, in_shape=(1, 28, 28), num_classes=10, T=4,
                    neuron=tgo_neuron(noisy=noisy, sigma=SIGMA, rng=seed, lam=LAM, theta=THETA), rng=seed)
    data_init(net, x[:batch])
    return net, x, y


def run_train(batch, n, repeat, steps, samples):
    import numba

    from refsnn.defenses.adversarial import RobustConfig, TGOConfig, train_robust

    numba.set_num_threads(threads())
    out = {}
    for name, noisy, tgo in (("bptt", False, None), ("tgo", True, TGOConfig(lam_max=LAMBDA, lam_min=LAMBDA,
                                                                           delta=DELTA))):
        net, x, y = make(noisy, batch, n)
        cfg = RobustConfig(epochs=1, batch_size=batch)
        run = lambda net=net, x=x, y=y, cfg=cfg, tgo=tgo: train_robust(  # noqa: E731
            net, x, y, cfg, tgo, rng=0, verbose=False)
        out[name] = timeit(run, repeat, warmup=1)
    return {"time": out}


def run_refsnn(batch, n, repeat, steps, samples):
    import numba

    from refsnn.attacks import EOT, PGD
    from refsnn.autograd import no_grad

    numba.set_num_threads(threads())
    net, x, y = make(True, batch, batch)
    net.eval()
    with no_grad():
        logits = net(x).data
    for slot in net.slots():
        slot.neuron.stochastic_eval = True
    atk = PGD(EOT(net, samples), eps=EPS, alpha=EPS / 4, steps=steps)
    return {"time": timeit(lambda: atk(x, y), repeat, warmup=1), "logits": logits.tolist()}


def torch_model(net):
    """The refsnn net in SpikingJelly containers with a Gaussian noisy LIF module (module doc)."""
    import torch
    from spikingjelly.activation_based import layer

    from refsnn.models.spiking import NeuronSlot, TimeDropout
    from refsnn.nn import AvgPool2d, Conv2d, Flatten, Linear, SeqToANN

    class Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z, noisy):
            ctx.save_for_backward(z)
            if not noisy:
                return (z > 0).to(z.dtype)
            p = 0.5 * torch.erfc(-z / SIGMA / 2 ** 0.5)
            return (torch.rand_like(z) < p).to(z.dtype)

        @staticmethod
        def backward(ctx, g):
            (z,) = ctx.saved_tensors
            return g * torch.exp(-0.5 * (z / SIGMA) ** 2) / (SIGMA * (2 * torch.pi) ** 0.5), None

    class NoisyLIF(torch.nn.Module):
        noisy = False

        def forward(self, x):  # [T, B, ...]
            v, out = torch.zeros_like(x[0]), []
            for t in range(x.shape[0]):
                h = LAM * v + x[t]
                s = Spike.apply(h - THETA, self.noisy)
                v = h - THETA * s.detach()
                out.append(s)
            return torch.stack(out)

    def convert(m):
        if isinstance(m, Conv2d):
            c = torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                                bias=m.bias is not None)
        elif isinstance(m, Linear):
            c = torch.nn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
        elif isinstance(m, AvgPool2d):
            return torch.nn.AvgPool2d(m.kernel_size)
        elif isinstance(m, Flatten):
            return torch.nn.Flatten()
        else:
            raise TypeError(type(m).__name__)
        c.weight.data = torch.from_numpy(m.weight.data.copy())
        if m.bias is not None:
            c.bias.data = torch.from_numpy(m.bias.data.copy())
        return c

    mods = []
    for node in net.layers:
        if isinstance(node, SeqToANN):
            inner = list(node.module) if hasattr(node.module, "__iter__") else [node.module]
            mods.append(layer.SeqToANNContainer(*[convert(m) for m in inner]))
        elif isinstance(node, NeuronSlot):
            mods.append(NoisyLIF())
        elif not isinstance(node, TimeDropout):
            raise TypeError(type(node).__name__)
    body = torch.nn.Sequential(*mods)

    class Wrapped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = body

        def set_noise(self, on):
            for m in self.body:
                if isinstance(m, NoisyLIF):
                    m.noisy = on

        def forward(self, x):
            return self.body(x.unsqueeze(0).repeat(4, *([1] * x.dim()))).mean(0)

    return Wrapped().eval()


def run_spikingjelly(batch, n, repeat, steps, samples):
    import torch
    import torchattacks

    torch.set_num_threads(threads())
    net, x, y = make(True, batch, batch)
    model = torch_model(net)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    with torch.no_grad():
        logits = model(xt).numpy()
    model.set_noise(True)
    atk = torchattacks.EOTPGD(model, eps=EPS, alpha=EPS / 4, steps=steps, eot_iter=samples,
                              random_start=False)
    return {"time": timeit(lambda: atk(xt, yt), repeat, warmup=1), "logits": logits.tolist()}


WORKERS = {"train": run_train, "refsnn": run_refsnn, "spikingjelly": run_spikingjelly}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--n-train", type=int, default=1024, help="images in the timed training epoch")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--eot", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="smoke run (see the module doc)")
    p.add_argument("--out", default=None, help="results directory (default benchmarks/results)")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.eot < 1:
        p.error(f"--eot (EOT samples) must be >= 1, got {args.eot}")
    if args.quick:
        args.batch, args.n_train, args.steps, args.eot, args.rounds, args.repeat = 8, 64, 2, 2, 1, 1
    if args.worker:
        emit(WORKERS[args.worker](args.batch, args.n_train, args.repeat, args.steps, args.eot))
        return None
    extra = ["--batch", str(args.batch), "--n-train", str(args.n_train), "--steps", str(args.steps),
             "--eot", str(args.eot), "--repeat", str(args.repeat)]
    times = {"bptt": [], "tgo": [], "refsnn": [], "spikingjelly": []}
    errors, logits = {}, {}
    for r in range(args.rounds):
        order = list(WORKERS) if r % 2 == 0 else list(WORKERS)[::-1]
        for name, out in run_workers(__file__, order, extra, env=worker_env()).items():
            if "error" in out:
                errors[name] = out["error"]
            elif name == "train":
                for k in ("bptt", "tgo"):
                    times[k].append(out["time"][k]["median_s"])
            else:
                times[name].append(out["time"]["median_s"])
                logits[name] = np.asarray(out["logits"])
    med = {k: statistics.median(v) for k, v in times.items() if v}
    res = {"benchmark": "tgo", "batch": args.batch, "n_train": args.n_train, "pgd_steps": args.steps,
           "eot_samples": args.eot, "quick": args.quick, "machine": machine(), "tuning_env": tuning_env(),
           "load_avg_1min": os.getloadavg()[0], "median_s": med, "rounds_s": times, "errors": errors}
    if "bptt" in med and "tgo" in med:
        res["tgo_training_overhead"] = med["tgo"] / med["bptt"]
    if "refsnn" in med and "spikingjelly" in med:
        res["eot_pgd_speedup"] = med["spikingjelly"] / med["refsnn"]
        res["clean_logits_max_abs_diff"] = float(np.abs(logits["refsnn"] - logits["spikingjelly"]).max())
    path = write("tgo", res, args.out)
    rows = [{"measure": "train epoch BPTT (s)", "value": med.get("bptt", "")},
            {"measure": "train epoch TGO (s)", "value": med.get("tgo", "")},
            {"measure": "TGO overhead (x)", "value": res.get("tgo_training_overhead", "")},
            {"measure": "EOT-PGD refsnn (s)", "value": med.get("refsnn", "")},
            {"measure": "EOT-PGD SJ+torchattacks (s)", "value": med.get("spikingjelly", "")},
            {"measure": "speedup (SJ / refsnn)", "value": res.get("eot_pgd_speedup", "")},
            {"measure": "clean logits max |diff|", "value": res.get("clean_logits_max_abs_diff", "")}]
    print(table(rows, ["measure", "value"]))
    for name, err in errors.items():
        print(f"{name} failed: {err}")
    print(f"wrote {path}")
    return res


if __name__ == "__main__":
    main()
