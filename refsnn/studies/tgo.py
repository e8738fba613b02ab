"""TGO study (Wang, Zhang et al., ICLR 2026): threshold guarding + noisy neurons, checked against masking.

``refsnn reproduce tgo`` (or ``python examples/tgo.py``).  Small default: Fashion-MNIST
(``../shared/data/fashion-mnist``; the shipped MNIST sample when absent), spiking VGG-11 at
1/16 width, T = 4, 768 training images, four epochs — about 20 minutes on 2 busy cores.
``--paper``: full width, more data and epochs, ε = 8/255 (the source's CIFAR settings are
mostly "not found", see ``003-tgo-details.md``; CIFAR loaders are not part of refsnn, so
``--paper`` still trains on the chosen MNIST-style data — meant for a GPU).

Models (each trained by :func:`refsnn.defenses.adversarial.train_robust`):

* ablation under plain BPTT: ``bptt`` (LIF), ``mc`` (LIF + membrane constraint),
  ``nlif`` (Gaussian noisy LIF), ``tgo`` (both); ``tgo_sq`` (squared hinge);
* strategies (``--strategies``, default ``rat``): ``at`` / ``rat`` and ``at+tgo`` / ``rat+tgo``;
* transfer sources: an ANN of the same spec and an independently seeded BPTT SNN;
* δ and σ sweeps of ``tgo`` (clean, FGSM, PGD-10).

Noisy nets are evaluated twice: noise off (deterministic threshold) and noise on
(EOT with ``--eot`` samples, accuracy of the mean logits).  Outputs under ``--out``
(default ``results/tgo``): ``summary.json``, ``membrane_hist.png``, ``eps_sweep.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from refsnn.backend import active_backend
from refsnn.defenses.adversarial import RobustConfig, TGOConfig, train_robust
from refsnn.models.tgo_nets import data_init, tgo_neuron, tgo_vgg11, wrn16
from refsnn.models.vgg import build_ann, vgg_spec
from refsnn.studies import _tgo_eval as ev
from refsnn.studies._data import load_subsets

ROOT = Path(__file__).resolve().parents[2]
PAPER_ABLATION = {  # CIFAR-100, VGG-11, BPTT (%), from the [P] reading note
    "bptt": {"clean": 71.4, "fgsm": 5.9}, "mc": {"clean": 64.3, "fgsm": 17.1},
    "nlif": {"clean": 70.6, "fgsm": 8.1}, "tgo": {"clean": 66.9, "fgsm": 21.5},
}
PAPER_WRN16 = {  # WRN-16, "CIFAR-10" per [P] (reviewers: the submission had no CIFAR-10) (%)
    "bptt": {"clean": 93.32, "fgsm": 14.05, "pgd10": 0.00},
    "tgo": {"clean": 88.79, "fgsm": 51.40, "pgd10": 6.14},
    "rat": {"clean": 91.44, "fgsm": 42.02, "pgd10": 19.81},
    "rat+tgo": {"clean": 87.33, "fgsm": 69.16, "pgd10": 47.69},
}
PAPER_NEAR_REDUCTION = 0.40
SMALL = dict(dataset="fashion-mnist", arch="vgg11", width=1 / 16, n_train=768, n_test=64, epochs=4,
             batch_size=64, lr=5e-3, eps=0.05, train_eps=0.03, eps_sweep="0,0.02,0.05,0.1,0.3",
             eps_big=0.3, pgd_steps="10,20,40", apgd_steps=20, restarts=1, eot=4, sigma=0.2, delta=0.2,
             lam_max=0.6, power=1, strategies="rat", delta_sweep="0.1,0.4", sigma_sweep="0.1,0.4",
             T=4)
PAPER = dict(SMALL, width=1.0, n_train=60000, n_test=1000, epochs=60, batch_size=64, lr=1e-3,
             eps=8 / 255, train_eps=2 / 255, eps_sweep="0,0.0157,0.0314,0.0627,0.25", eps_big=0.25,
             restarts=3, eot=16, strategies="at,rat", delta_sweep="0.1,0.3,0.5", sigma_sweep="0.1,0.3,0.5")


def _parser():
    p = argparse.ArgumentParser(prog="refsnn reproduce tgo", description=__doc__.splitlines()[0])
    p.add_argument("--paper", action="store_true", help="paper-scale widths and schedule (GPU)")
    p.add_argument("--dataset", choices=("fashion-mnist", "mnist-5k"), default=None)
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--arch", choices=("vgg11", "wrn16"), default=None)
    p.add_argument("--width", type=float, default=None, help="channel multiplier (paper 1)")
    p.add_argument("--T", type=int, default=None, help="time steps (paper 4)")
    for name, kind in (("n-train", int), ("n-test", int), ("epochs", int), ("batch-size", int),
                       ("lr", float), ("eps", float), ("train-eps", float), ("eps-big", float),
                       ("apgd-steps", int), ("restarts", int), ("eot", int), ("sigma", float),
                       ("delta", float), ("lam-max", float), ("power", int)):
        p.add_argument(f"--{name}", type=kind, default=None)
    for name in ("eps-sweep", "pgd-steps", "strategies", "delta-sweep", "sigma-sweep"):
        p.add_argument(f"--{name}", default=None, help="comma-separated ('' for none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/tgo")
    p.add_argument("--quiet", action="store_true")
    return p


def _settings(args) -> dict:
    base = PAPER if args.paper else SMALL
    cfg = {k: (getattr(args, k) if getattr(args, k, None) is not None else v) for k, v in base.items()}
    for k in ("eps_sweep", "pgd_steps", "delta_sweep", "sigma_sweep"):
        cfg[k] = [float(v) for v in str(cfg[k]).split(",") if v.strip()]
    cfg["pgd_steps"] = [int(v) for v in cfg["pgd_steps"]]
    cfg["strategies"] = [s for s in str(cfg["strategies"]).split(",") if s.strip()]
    for s in cfg["strategies"]:
        if s not in ("at", "rat"):
            raise ValueError(f"tgo: --strategies takes 'at' and/or 'rat', got {s!r}")
    if cfg["eot"] < 1:
        raise ValueError(f"tgo: --eot (EOT samples) must be >= 1, got {cfg['eot']}")
    if cfg["sigma"] < 0 or any(v < 0 for v in cfg["sigma_sweep"]):
        raise ValueError(f"tgo: --sigma / --sigma-sweep must be >= 0, got {cfg['sigma']}, "
                         f"{cfg['sigma_sweep']}")
    TGOConfig(lam_max=cfg["lam_max"], delta=cfg["delta"], power=cfg["power"])  # δ < 0, λ_max < 0 raise
    for d in cfg["delta_sweep"]:
        TGOConfig(lam_max=cfg["lam_max"], delta=d)
    if cfg["eps_big"] not in cfg["eps_sweep"]:
        cfg["eps_sweep"] = sorted(cfg["eps_sweep"] + [cfg["eps_big"]])
    return cfg


def _load(cfg, data_dir, seed, say):
    x, y, xt, yt, source = load_subsets(Path(data_dir) / cfg["dataset"], cfg["n_train"], cfg["n_test"],
                                        seed, say)
    f32 = lambda a: np.asarray(a, np.float32).reshape(len(a), 1, 28, 28)  # noqa: E731
    return f32(x), np.asarray(y), f32(xt), np.asarray(yt), source


def _net(cfg, noisy, seed, x_init, sigma=None):
    neuron = tgo_neuron(noisy=noisy, sigma=cfg["sigma"] if sigma is None else sigma, rng=seed + 1000)
    build = tgo_vgg11 if cfg["arch"] == "vgg11" else wrn16
    model = build(width=cfg["width"], in_shape=(1, 28, 28), num_classes=10, T=cfg["T"], neuron=neuron,
                  rng=seed).to(active_backend())
    data_init(model, x_init)
    return model


def _set_noise(model, on: bool) -> None:
    for slot in model.slots():
        if hasattr(slot.neuron, "stochastic_eval"):
            slot.neuron.stochastic_eval = on


def _train(name, cfg, x, y, seed, say, out_dir, *, noisy, mc, strategy="bptt", delta=None, sigma=None,
           power=None):
    model = _net(cfg, noisy, seed, x[:64], sigma)
    rc = RobustConfig(strategy=strategy, epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=cfg["lr"],
                      eps=cfg["train_eps"])
    tgo = TGOConfig(lam_max=cfg["lam_max"], delta=cfg["delta"] if delta is None else delta,
                    power=cfg["power"] if power is None else power) if mc else None
    say(f"training {name} ({strategy}, {'noisy LIF' if noisy else 'LIF'}, "
        f"{'constraint' if mc else 'no constraint'})")
    t0 = time.perf_counter()
    hist = train_robust(model, x, y, rc, tgo, rng=seed, verbose=cfg["verbose"],
                        checkpoint=out_dir / f"{name.replace('+', '_')}.h5")
    return model, dict(history=hist, seconds=time.perf_counter() - t0, noisy=noisy, mc=mc,
                       strategy=strategy)


def _train_ann(cfg, x, y, seed, say):
    from refsnn.nn import Adam
    from refsnn.train import fit

    widths = [max(1, round(w * cfg["width"])) for w in (64, 128, 256, 256, 512, 512, 512, 512)]
    spec = vgg_spec("vgg11", (1, 28, 28), 10, hidden=max(1, round(4096 * cfg["width"])), conv_dropout=0.0,
                    fc_dropout=0.0, conv_widths=widths)
    ann = build_ann(spec, rng=seed).to(active_backend())
    say("training the transfer-source ANN (VGG-11, ReLU)")
    fit(ann, Adam(list(ann.parameters()), lr=cfg["lr"]), x, y, cfg["epochs"], cfg["batch_size"], rng=seed,
        verbose=False)
    ann.eval()
    return ann


def _evaluate(model, cfg, x, y, samples, seed, thorough, ann, indep):
    """White-box suite (full: all attacks, ε sweep, transfer; light: FGSM + first PGD) and its checks."""
    if not thorough:
        wb = ev.white_box(model, x, y, cfg["eps"], cfg["pgd_steps"][:1], cfg["restarts"], 0, samples, seed,
                          attacks=("fgsm", "pgd"))
        return dict(white_box=wb, eps_sweep=None, black_box=None), ev.checks(wb, None, None, None, None,
                                                                              len(x))
    wb = ev.white_box(model, x, y, cfg["eps"], cfg["pgd_steps"], cfg["restarts"], cfg["apgd_steps"],
                      samples, seed)
    known = {0.0: wb["clean"]}
    if cfg["pgd_steps"] and cfg["pgd_steps"][0] == 10:
        known[cfg["eps"]] = wb["pgd10"]  # the same attack and seed: not run twice
    todo = [e for e in cfg["eps_sweep"] if e not in known]
    known.update(zip(todo, ev.pgd_sweep(model, x, y, todo, 10, cfg["restarts"], samples, seed)))
    sweep = [known[e] for e in cfg["eps_sweep"]]
    bb = {"ann": ev.transfer_acc(ann, model, x, y, cfg["eps"], samples=samples, seed=seed),
          "snn": ev.transfer_acc(indep, model, x, y, cfg["eps"], samples=samples, seed=seed)}
    res = dict(white_box=wb, eps_sweep=sweep, black_box=bb)
    return res, ev.checks(wb, sweep, cfg["eps_sweep"], cfg["eps_big"], bb, len(x))


def main(argv=None) -> dict:
    args = _parser().parse_args(argv)
    cfg = _settings(args)
    cfg["verbose"] = not args.quiet
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    start, seed = time.perf_counter(), args.seed
    x, y, xt, yt, source = _load(cfg, args.data_dir, seed, say)
    say(f"tgo: {cfg['arch']} width {cfg['width']:g}, T {cfg['T']}, on {source} ({len(x)} train / "
        f"{len(xt)} test), ε {cfg['eps']:g}, σ {cfg['sigma']:g}, δ {cfg['delta']:g}, "
        f"λ_max {cfg['lam_max']:g}")
    models, info = {}, {}
    plan = [("bptt", False, False, "bptt"), ("mc", False, True, "bptt"), ("nlif", True, False, "bptt"),
            ("tgo", True, True, "bptt")]
    for s in cfg["strategies"]:
        plan += [(s, False, False, s), (f"{s}+tgo", True, True, s)]
    for name, noisy, mc, strategy in plan:
        models[name], info[name] = _train(name, cfg, x, y, seed, say, out_dir, noisy=noisy, mc=mc,
                                          strategy=strategy)
    models["tgo_sq"], info["tgo_sq"] = _train("tgo_sq", cfg, x, y, seed, say, out_dir, noisy=True, mc=True,
                                              power=2 if cfg["power"] == 1 else 1)
    indep, _ = _train("bptt_indep", cfg, x, y, seed + 100, say, out_dir, noisy=False, mc=False)
    ann = _train_ann(cfg, x, y, seed + 200, say)

    results, flags = {}, {}
    full = {"bptt", "tgo", *cfg["strategies"], *(f"{s}+tgo" for s in cfg["strategies"])}
    for name, model in models.items():
        runs = [(name, 1, name in full)]
        if info[name]["noisy"] and name != "tgo_sq":
            runs.append((f"{name}@noise", cfg["eot"], name in full))
        for key, samples, thorough in runs:
            _set_noise(model, key.endswith("@noise"))
            how = f"EOT, {samples} samples" if samples > 1 else "deterministic"
            say(f"evaluating {key} ({how}, {'full suite' if thorough else 'FGSM + PGD'})")
            results[key], flags[key] = _evaluate(model, cfg, xt, yt, samples, seed + 7, thorough, ann,
                                                 indep)
            r, f = results[key], flags[key]
            say(f"  {key}: " + ", ".join(f"{k} {100 * v:.1f}" for k, v in r["white_box"].items())
                + ("" if r["black_box"] is None else
                   f" | transfer ANN {100 * r['black_box']['ann']:.1f} SNN {100 * r['black_box']['snn']:.1f}")
                + " | checks " + ("pass" if ev.passed(f) else "FAIL"))
            _set_noise(model, False)

    gaps_b, gaps_t = ev.membrane_gaps(models["bptt"], xt), ev.membrane_gaps(models["tgo"], xt)
    near_b, near_t = ev.near_fraction(gaps_b, cfg["delta"]), ev.near_fraction(gaps_t, cfg["delta"])
    tot_b = float(np.mean(np.concatenate(gaps_b) < cfg["delta"]))
    tot_t = float(np.mean(np.concatenate(gaps_t) < cfg["delta"]))
    reduction = 1 - tot_t / tot_b if tot_b > 0 else float("nan")
    ev.histogram_png(gaps_b, gaps_t, cfg["delta"], out_dir / "membrane_hist.png")
    _sweep_png(results, cfg["eps_sweep"], out_dir / "eps_sweep.png")

    sweeps = _sweeps(cfg, x, y, xt, yt, seed, say, out_dir)
    ablation = {k: {m: results[k]["white_box"][m] for m in ("clean", "fgsm")} for k in PAPER_ABLATION}
    summary = dict(settings=cfg, data=source, backend=active_backend(), seconds=None, training=info,
                   results=results, checks=flags,
                   all_checks_pass=bool(all(ev.passed(f) for f in flags.values())),
                   ablation=dict(ours=ablation, paper_cifar100_vgg11=PAPER_ABLATION),
                   wrn16_rows=dict(paper_wrn16=PAPER_WRN16,
                                   ours={k: {m: results[k]["white_box"].get(m)
                                             for m in ("clean", "fgsm", f"pgd{cfg['pgd_steps'][0]}")}
                                         for k in PAPER_WRN16 if k in results}),
                   near_threshold=dict(delta=cfg["delta"], bptt_per_layer=near_b, tgo_per_layer=near_t,
                                       bptt_total=tot_b, tgo_total=tot_t, reduction=reduction,
                                       paper_reduction=PAPER_NEAR_REDUCTION),
                   sweeps=sweeps)
    summary["verdict"] = _report(summary, cfg, say)
    summary["seconds"] = time.perf_counter() - start
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    say(f"wrote {out_dir / 'summary.json'} ({summary['seconds']:.0f} s)")
    return summary


def _sweeps(cfg, x, y, xt, yt, seed, say, out_dir) -> dict:
    """δ and σ sweeps of the BPTT+TGO net: clean, FGSM, PGD-10 (noise off)."""
    out = {"delta": {}, "sigma": {}}
    for kind, values in (("delta", cfg["delta_sweep"]), ("sigma", cfg["sigma_sweep"])):
        for v in values:
            if kind == "sigma" and v == 0:
                raise ValueError("tgo: a σ of 0 is a deterministic LIF; use the 'mc' row instead")
            kw = {kind: v}
            model, _ = _train(f"tgo_{kind}{v:g}", cfg, x, y, seed, say, out_dir, noisy=True, mc=True, **kw)
            wb = ev.white_box(model, xt, yt, cfg["eps"], [10], 1, cfg["apgd_steps"], 1, seed,
                              attacks=("fgsm", "pgd"))
            out[kind][f"{v:g}"] = wb
    return out


def _sweep_png(results, eps_list, path):
    from refsnn.studies.sharmin import _lines

    series = [(k, v["eps_sweep"], "@noise" in k) for k, v in results.items() if v["eps_sweep"]]
    _lines(series, eps_list, path, "PGD-10 accuracy vs eps (dots: noise on, EOT)", "eps", "accuracy")


def _report(s, cfg, say) -> str:
    pk = f"pgd{cfg['pgd_steps'][0]}" if cfg["pgd_steps"] else "fgsm"
    pct = lambda v: "  n/a" if v is None else f"{100 * v:5.1f}"  # noqa: E731
    say("\nAblation (BPTT): ours on Fashion-MNIST reduced VGG-11 vs paper CIFAR-100 VGG-11 (%)")
    say("  model   ours clean  ours FGSM | paper clean  paper FGSM")
    for k, p in PAPER_ABLATION.items():
        o = s["ablation"]["ours"][k]
        say(f"  {k:6s}  {pct(o['clean'])}      {pct(o['fgsm'])}    | {p['clean']:5.1f}        "
            f"{p['fgsm']:5.1f}")
    say(f"WRN-16 rows clean / FGSM / PGD-10: paper (CIFAR-10 per [P]) vs ours (Fashion-MNIST, reduced "
        f"{cfg['arch']}; our PGD column is {pk}) (%)")
    for k, p in PAPER_WRN16.items():
        o = s["wrn16_rows"]["ours"].get(k)
        ours = "not run" if o is None else " / ".join(pct(o[m]) for m in ("clean", "fgsm", pk))
        say(f"  {k:8s} paper {p['clean']:.2f} / {p['fgsm']:.2f} / {p['pgd10']:.2f}   ours {ours}")
    nt = s["near_threshold"]
    say(f"threshold-neighbouring (|H − θ| < δ = {nt['delta']:g}): BPTT {pct(nt['bptt_total'])}%, TGO "
        f"{pct(nt['tgo_total'])}% (reduction {100 * nt['reduction']:.0f}%, paper ~40%)")
    base, tgo = s["ablation"]["ours"]["bptt"], s["ablation"]["ours"]["tgo"]
    gain = tgo["fgsm"] - base["fgsm"]
    pgd_gain = s["results"]["tgo"]["white_box"][pk] - s["results"]["bptt"]["white_box"][pk]
    n = cfg["n_test"]
    se = 50 / math.sqrt(n)
    verdict = (f"The paper's finding (TGO raises FGSM accuracy under BPTT) "
               f"{'shows' if gain > 2 * se / 100 else 'does not clearly show'} on our data: FGSM "
               f"{100 * base['fgsm']:.1f} → {100 * tgo['fgsm']:.1f}% ({pk} {pgd_gain * 100:+.1f} "
               f"points) at "
               f"clean {100 * base['clean']:.1f} → {100 * tgo['clean']:.1f}%, with {n} test images (one "
               f"standard error ≤ {se:.1f} points); anti-masking checks "
               f"{'all pass' if s['all_checks_pass'] else 'do NOT all pass (see checks)'}.")
    say("\n" + verdict)
    return verdict
