"""GAMIN study: black-box model inversion of an ANN and an SNN target (Poursiami et al., Tables I and II).

For each data set (MNIST-5k for MNIST; Fashion-MNIST stands in for the AT&T
faces, which are not reachable offline) the study trains both targets of
§IV-A — ANN ``N-H-C`` ReLU, and SNN ``N-H-C`` LIF (β = 0.7, rate coding over
25 steps, fast sigmoid k = 40, trained on ``Σ_t CE(U2[t])``) — then runs
GAMIN (:mod:`refsnn.attacks.gamin`) once per label through a fresh
query-budgeted :class:`~refsnn.oracle.Oracle` that answers
``softmax(Σ_t U2[t])`` (SNN) or ``softmax(logits)`` (ANN).

The five metrics (§IV-B) are measured by the experimenter, who may query the
target directly (these queries are not the attacker's and are not counted):
``M_global`` of the kept pair (Eq. 7 as printed, and BEGAN's), ``F_S = 1 −
MAE`` between target and surrogate probabilities on ``--n-random`` uniform
random inputs, ``A_S`` (surrogate on the real test set), ``A_S∘G`` and
``A_T`` (surrogate and target on ``--n-eval`` generated samples of the label).

Defaults are small (hidden 128, 100 steps of batch 32 per label = 6,400
queries, training subsets of 4,000) so the whole study runs in minutes on two
cores; ``--paper`` sets the paper's sizes: hidden 3000, 1,280,000 queries per
label (10,000 steps of 2 × 64), GAMIN/BEGAN's attack defaults (lr 1e-4, G
256-256, S 256), full training sets.  Writes ``summary.json`` and one
``<data>_<target>_inverted.png`` per target (labels × samples) under ``--out``.

    python examples/gamin.py                          # small run, a few minutes
    python examples/gamin.py --paper                  # the paper's budget (hours; see benchmarks/gamin.py)
    refsnn reproduce gamin --datasets mnist --labels 0,1 --steps 20
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np

import refsnn
from refsnn import blas
from refsnn.attacks.gamin import Gamin, GaminConfig
from refsnn.backend import active_backend
from refsnn.datasets import load_idx_dataset, load_sample
from refsnn.metrics import a_s, a_sog, a_t, fidelity_fs
from refsnn.models import GaminSNN, gamin_ann, gamin_loss
from refsnn.nn import Adam
from refsnn.oracle import Oracle
from refsnn.studies._gamin_report import PAPER_TABLE_I, finding, mean_std, save_grid, table
from refsnn.train import evaluate, fit, predict

DATASETS = {"mnist": ("mnist-5k", "MNIST", "MNIST-5k"), "fashion": ("fashion-mnist", "AT&T", "Fashion-MNIST")}
SHARED = [Path(refsnn.__file__).resolve().parents[1] / ".." / "shared" / "data", Path("../shared/data")]


def parse(argv):
    p = argparse.ArgumentParser(prog="refsnn reproduce gamin", description=__doc__.splitlines()[0])
    p.add_argument("--paper", action="store_true", help="the paper's sizes and budget (hours on 2 cores)")
    p.add_argument("--data", help="folder holding mnist-5k/ and fashion-mnist/ (default ../shared/data)")
    p.add_argument("--datasets", default="mnist,fashion", help="comma list of: " + ", ".join(DATASETS))
    p.add_argument("--targets", default="ann,snn", help="comma list of: ann, snn")
    p.add_argument("--labels", default="all", help="'all' or a comma list of labels to invert")
    p.add_argument("--hidden", type=int, help="target hidden width (default 128; paper 3000)")
    p.add_argument("--num-steps", type=int, default=25, help="SNN time steps T (25)")
    p.add_argument("--epochs", type=int, help="target training epochs (default 5 ANN / 3 SNN; paper 10)")
    p.add_argument("--train-limit", type=int, help="training samples per data set (default 4000; paper all)")
    p.add_argument("--steps", type=int, help="GAMIN steps per label (2 × batch queries each; default 100)")
    p.add_argument("--batch-size", type=int, help="GAMIN batch (default 32; paper 64)")
    p.add_argument("--lr", type=float, help="Adam lr of G and S (default 1e-3; paper/BEGAN 1e-4)")
    p.add_argument("--gen-hidden", help="G widths, comma list (default 128; paper 256,256)")
    p.add_argument("--sur-hidden", help="S widths, comma list (default 128; paper 256)")
    p.add_argument("--lambda-k", type=float, help="k_t learning rate λ_k (default 0.01; paper/BEGAN 0.001)")
    p.add_argument("--select-by", default="m_global", choices=("m_global", "m_global_began"))
    p.add_argument("--n-eval", type=int, default=64, help="generated samples for A_SoG and A_T")
    p.add_argument("--n-random", type=int, default=256, help="uniform random inputs for F_S")
    p.add_argument("--grid", type=int, default=8, help="samples per label in the PNG grid")
    p.add_argument("--checkpoint-every", type=int, default=0, help="GAMIN checkpoint period (0: none)")
    p.add_argument("--resume", action="store_true", help="resume each attack from its checkpoint")
    p.add_argument("--log-every", type=int, help="progress line period in steps (default steps/4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/gamin")
    args = p.parse_args(argv)
    small = dict(hidden=128, epochs=None, train_limit=4000, steps=100, batch_size=32, lr=1e-3,
                 gen_hidden="128", sur_hidden="128", lambda_k=0.01)
    paper = dict(hidden=3000, epochs=10, train_limit=0, steps=10_000, batch_size=64, lr=1e-4,
                 gen_hidden="256,256", sur_hidden="256", lambda_k=0.001)
    for key, value in (paper if args.paper else small).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for name in ("hidden", "steps", "batch_size", "n_eval", "n_random", "grid", "num_steps"):
        if getattr(args, name) < 1:
            raise SystemExit(f"refsnn reproduce gamin: --{name.replace('_', '-')} must be >= 1")
    return args


def _widths(text: str) -> tuple:
    try:
        widths = tuple(int(w) for w in str(text).split(",") if w.strip())
    except ValueError:
        raise SystemExit(f"refsnn reproduce gamin: widths must be a comma list of ints, got {text!r}") \
            from None
    if not widths or min(widths) < 1:
        raise SystemExit(f"refsnn reproduce gamin: widths must be positive, got {text!r}")
    return widths


def load_data(key: str, args) -> tuple:
    """``((x, y), (xt, yt), source note)`` with images flattened to ``[n, 784]`` in ``[0, 1]``."""
    folder = DATASETS[key][0]
    roots = [Path(args.data)] if args.data else SHARED
    found = next((r / folder for r in roots if (r / folder).is_dir()), None)
    if found is None:
        (x, y), (xt, yt) = load_sample("train"), load_sample("test")
        note = (f"{folder} not found under {', '.join(str(r) for r in roots)}: "
                "FELL BACK to the shipped MNIST sample (2,000 / 500)")
    else:
        (x, y), (xt, yt) = load_idx_dataset(found, "train"), load_idx_dataset(found, "test")
        note = f"{DATASETS[key][2]} from {found}"
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(x))  # files are sorted by class: shuffle, then take the subset
    if args.train_limit:
        order = order[:args.train_limit]
    x, y = x[order], y[order]
    if args.train_limit and len(xt) > args.train_limit // 4:
        keep = rng.permutation(len(xt))[:max(args.train_limit // 4, 500)]
        xt, yt = xt[keep], yt[keep]
    flat = (lambda a: a.reshape(len(a), -1).astype(np.float32))  # noqa: E731
    return (flat(x), y), (flat(xt), yt), f"{note}; {len(x)} train / {len(xt)} test used"


def train_target(kind: str, data, args, device: str, classes: int):
    """Train the ANN or the SNN target of §IV-A; returns ``(model, test accuracy, seconds)``."""
    (x, y), (xt, yt) = data
    rng = np.random.default_rng(args.seed + (0 if kind == "ann" else 1))
    start = time.perf_counter()
    if kind == "ann":
        model = gamin_ann(rng=rng, hidden=args.hidden, in_features=x.shape[1], num_classes=classes).to(device)
        epochs, lr, loss = args.epochs or 5, 1e-3, None
    else:
        model = GaminSNN(hidden=args.hidden, num_steps=args.num_steps, rng=rng, in_features=x.shape[1],
                         num_classes=classes).to(device)
        epochs, lr, loss = args.epochs or 3, 5e-4, gamin_loss("sum_ce")
    kwargs = {} if loss is None else {"loss_fn": loss}
    # small GEMMs: one BLAS thread (a spinning pool costs more than it gives); --paper leaves BLAS alone
    with contextlib.nullcontext() if args.paper else blas.threads(1):
        fit(model, Adam(model.parameters(), lr=lr), x, y, epochs=epochs, batch_size=128, rng=rng,
            verbose=False, **kwargs)
    return model, evaluate(model, xt, yt), time.perf_counter() - start


def _probs(model, x) -> np.ndarray:
    z = predict(model, x).astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def attack_label(target, label: int, name: str, data, args, device: str, classes: int, out: Path) -> tuple:
    """One GAMIN run for ``label``; returns ``(metrics dict, grid samples)``."""
    (_, _), (xt, yt) = data
    budget = args.steps * 2 * args.batch_size
    oracle = Oracle(target, budget=budget, output="probs", classes=classes, tag=name)
    cfg = GaminConfig(target_label=label, steps=args.steps, batch_size=args.batch_size, lr_g=args.lr,
                      lr_s=args.lr, gen_hidden=_widths(args.gen_hidden), sur_hidden=_widths(args.sur_hidden),
                      lambda_k=args.lambda_k, select_by=args.select_by, seed=args.seed * 1000 + label,
                      checkpoint_every=args.checkpoint_every, blas_threads=None if args.paper else 1,
                      log_every=args.log_every or max(args.steps // 4, 1))
    ck = (out / "checkpoints" / f"{name}_label{label}.h5") if (args.checkpoint_every or args.resume) else None
    if ck is not None:
        ck.parent.mkdir(parents=True, exist_ok=True)
    res = Gamin(oracle, xt.shape[1], classes, cfg, checkpoint=ck, device=device).run(resume=args.resume)
    eval_rng = np.random.default_rng(10_000 + args.seed * 1000 + label)
    gen = res.samples(args.n_eval, rng=eval_rng)
    last = type(res)(**{**vars(res), "generator": res.last_generator, "surrogate": res.last_surrogate})
    gen_last = last.samples(args.n_eval, rng=np.random.default_rng(20_000 + args.seed * 1000 + label))
    rand = eval_rng.random((args.n_random, xt.shape[1]), dtype=np.float32)
    metrics = {"label": label, "m_global": res.m_global, "m_global_began": res.m_global_began,
               "f_s": fidelity_fs(_probs(target, rand), _probs(res.surrogate, rand)),
               "a_s": 100 * a_s(predict(res.surrogate, xt), yt, classes),
               "a_sog": 100 * a_sog(predict(res.surrogate, gen), label, classes),
               "a_t": 100 * a_t(predict(target, gen), label, classes),
               "best_step": res.best_step, "queries": res.queries_used, "budget": budget,
               # the same two accuracies for the last pair, to show what the selection by M_global did
               "a_sog_last": 100 * a_sog(predict(res.last_surrogate, gen_last), label, classes),
               "a_t_last": 100 * a_t(predict(target, gen_last), label, classes)}
    return metrics, gen[:args.grid]


def main(argv=None) -> dict:
    args = parse(argv)
    device = active_backend()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keys = [k.strip() for k in args.datasets.split(",") if k.strip()]
    kinds = [k.strip() for k in args.targets.split(",") if k.strip()]
    bad = [k for k in keys if k not in DATASETS] + [k for k in kinds if k not in ("ann", "snn")]
    if bad or not keys or not kinds:
        raise SystemExit(f"refsnn reproduce gamin: unknown data set or target {bad}; "
                         f"data sets {list(DATASETS)}, targets ['ann', 'snn']")
    print(f"refsnn {refsnn.__version__} GAMIN study ({'paper' if args.paper else 'small'} settings), backend "
          f"{device}: targets hidden {args.hidden}, {args.steps} steps × 2 × {args.batch_size} = "
          f"{args.steps * 2 * args.batch_size:,} queries per label", flush=True)
    results, start = {}, time.perf_counter()
    for key in keys:
        train, test, note = load_data(key, args)
        classes = int(max(train[1].max(), test[1].max())) + 1
        labels = list(range(classes)) if args.labels == "all" else [int(v) for v in args.labels.split(",")]
        print(f"[{DATASETS[key][2]}] {note}", flush=True)
        entry = {"data": note, "paper_dataset": DATASETS[key][1], "targets": {}}
        for kind in kinds:
            target, acc, secs = train_target(kind, (train, test), args, device, classes)
            print(f"[{DATASETS[key][2]} {kind.upper()}] test accuracy {100 * acc:.2f}% (paper Table I "
                  f"{DATASETS[key][1]} {kind.upper()}: {PAPER_TABLE_I[(DATASETS[key][1], kind)]:.2f}%), "
                  f"trained in {secs:.0f} s", flush=True)
            name = f"{key}_{kind}"
            per_label, grid = [], []
            for label in labels:
                metrics, samples = attack_label(target, label, name, (train, test), args, device, classes,
                                                out)
                per_label.append(metrics)
                grid.append(samples)
                print(f"[{DATASETS[key][2]} {kind.upper()} label {label}] M_global {metrics['m_global']:.4f} "
                      f"(BEGAN {metrics['m_global_began']:.4f})  F_S {metrics['f_s']:.4f}  A_S "
                      f"{metrics['a_s']:.1f}%  A_SoG {metrics['a_sog']:.1f}%  A_T {metrics['a_t']:.1f}%  "
                      f"[{time.perf_counter() - start:.0f} s]", flush=True)
            side = int(round(np.sqrt(train[0].shape[1])))
            png = out / f"{name}_inverted.png"
            save_grid(png, grid, (side, train[0].shape[1] // side))
            summary = {m: mean_std([r[m] for r in per_label])
                       for m in ("m_global", "m_global_began", "f_s", "a_s", "a_sog", "a_t")}
            entry["targets"][kind] = {"test_accuracy": acc, "train_seconds": secs, "per_label": per_label,
                                      "summary": summary, "png": str(png),
                                      "last_pair": {m: mean_std([r[m] for r in per_label])
                                                    for m in ("a_sog_last", "a_t_last")}}
        entry["finding"] = finding({k: v["summary"] for k, v in entry["targets"].items()}, DATASETS[key][2])
        results[DATASETS[key][2]] = entry
    print("\nGAMIN (mean ± std over labels; paper rows: Poursiami et al. Tables I–II; Fashion-MNIST "
          "stands in for AT&T faces)")
    print(table(results))
    for entry in results.values():
        print(entry["finding"])
    summary = {"settings": {k: v for k, v in vars(args).items()}, "backend": device, "results": results,
               "seconds": time.perf_counter() - start,
               "paper": "Poursiami, Moshruba, Parsa: Do Spikes Protect Privacy? Tables I and II"}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    print(f"wrote {out / 'summary.json'} and {len(keys) * len(kinds)} PNG grid(s) "
          f"({summary['seconds']:.0f} s)", file=sys.stdout, flush=True)
    return summary
