"""Study: "Is Spiking Secure?" — noise robustness and the greedy black-box attack, SDBN vs DNN.

Mirrors the paper's Table I (noise on the training / test / both sets), Fig. 3
(noise in a 4×5 window, top left vs centre) and Tables II/III (Algorithm 1,
a "5" pushed to "3", cases N=5/M=10 and N=7/M=10), plus a sweep of the attack
over many (image, target) pairs and the event-driven spiking run of the SDBN.
The paper trains on full MNIST (60k); here: MNIST-5k (or Fashion-MNIST with
``--dataset fashion``), so absolute accuracies differ — the paper's numbers are
printed beside ours.

    python examples/sdbn.py                 # small defaults: test-set noise only (timing in the README)
    python examples/sdbn.py --train-deltas 0.1  # also retrain both nets on noisy data (Table I 'train' and
                                                # 'both' rows; three times the training)
    python examples/sdbn.py --paper         # all of the data set, 30 epochs, all δ, 90 pairs
    refsnn reproduce sdbn --dataset fashion

Networks (:mod:`refsnn.studies._sdbn_parts`): the SDBN 784-500-500-10 of
Siegert RBMs (persistent CD, O'Connor's constants; the answer is the label
units' rate shares ``r/Σr``) and a DNN 784-500-500-10 (tanh, softmax) trained
full-batch by scaled conjugate gradient.  The SDBN is evaluated with
O'Connor's ``temp·N(0,1)`` Siegert input noise off (deterministic, used
everywhere else) and on.  The attack's case studies run Algorithm 1 to
``D_MAX`` (as the paper's tables do); the sweep stops at success.  Both stop
after 100 iterations (``max_iter``): pixels pushed back and forth can keep
``D`` below ``D_MAX`` for ever.

Writes ``summary.json`` and ``attack_cases.png`` (rows DNN I, DNN II, SDBN I,
SDBN II; columns original | adversarial | difference, grey = 0) under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from refsnn.backend import active_backend
from refsnn.studies import _sdbn_parts as parts

PAPER_DELTAS = (0.02, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.4)
PAPER_TABLE_I = {  # SDBN accuracy %, rows δ = PAPER_DELTAS
    ("normal", "train"): (96.65, 95.19, 92.99, 76.01, 24.61, 10.26, 10.31, 10.27),
    ("normal", "test"): (94.73, 94.42, 82.73, 77.07, 48.23, 33.34, 21.52, 17.05),
    ("normal", "both"): (96.54, 94.99, 73.64, 10.39, 10.32, 10.05, 9.88, 10.34),
    ("uniform", "train"): (96.8, 96.7, 95.89, 94.34, 47.03, 14.64, 9.59, 9.98),
    ("uniform", "test"): (96.02, 95.64, 94.64, 93.36, 82.76, 60.79, 34.9, 23.16),
    ("uniform", "both"): (96.81, 96.72, 95.56, 92.8, 10.51, 10.16, 10.16, 10.03),
}
PAPER_CASES = {  # (iteration, P max other class %, P target %, D)
    "DNN": {"I": [(0, 98.79, 0.89, 0.0), (14, 44.16, 55.74, 20.18), (15, 36.25, 63.67, 21.77)],
            "II": [(0, 98.79, 0.89, 0.0), (10, 57.53, 42.01, 16.29), (11, 49.45, 50.32, 21.19)]},
    "SDBN": {"I": [(0, 82.69, 7.64, 0.0), (20, 60.29, 31.08, 7.79), (21, 66.21, 11.80, 8.15)],
             "II": [(0, 82.69, 7.64, 0.0), (9, 0.0, 50.60, 10.91), (10, 64.94, 12.03, 11.76)]},
}
PAPER_ACCURACY = {"SDBN": 96.2, "DNN": 97.13}
CASES = {"I": (5, 10), "II": (7, 10)}


def _floats(text):
    return tuple(float(v) for v in text.split(",") if v.strip())


def parse(argv):
    p = argparse.ArgumentParser(prog="refsnn reproduce sdbn", description=__doc__.splitlines()[0])
    p.add_argument("--data", help="IDX folder (default ../shared/data/mnist-5k or fashion-mnist)")
    p.add_argument("--dataset", choices=("mnist", "fashion"), default="mnist")
    p.add_argument("--paper", action="store_true", help="the paper's settings (slow)")
    p.add_argument("--n-train", type=int)
    p.add_argument("--n-test", type=int)
    p.add_argument("--hidden", type=int, default=500)
    p.add_argument("--epochs", type=int, help="PCD epochs per stage (default 5; --paper 30)")
    p.add_argument("--top", choices=("joint", "clamped"), default="joint",
                   help="SDBN top rule (refsnn.models.sdbn): O'Connor's joint [h1, labels] <-> h2 or clamped")
    p.add_argument("--dnn-iters", type=int, help="SCG iterations (default 40; --paper 1000, trainscg)")
    p.add_argument("--deltas", type=_floats, help="test-noise δ list (default 0.02,0.1,0.15,0.2,0.4)")
    p.add_argument("--train-deltas", type=_floats,
                   help="δ for retraining on noisy data (default none; --paper all)")
    p.add_argument("--pairs", type=int, help="(image, target) pairs in the attack sweep (default 6)")
    p.add_argument("--d-max", type=float, default=22.0)
    p.add_argument("--sim-images", type=int, help="test images for the spiking run (default 50)")
    p.add_argument("--sim-time", type=float, default=1.0, help="simulated time (units of τ_m = 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/sdbn")
    a = p.parse_args(argv)
    small = dict(n_train=4000, n_test=1000, epochs=5, dnn_iters=40, deltas=(0.02, 0.1, 0.15, 0.2, 0.4),
                 train_deltas=(), pairs=6, sim_images=50)
    paper = dict(n_train=None, n_test=None, epochs=30, dnn_iters=1000, deltas=PAPER_DELTAS,
                 train_deltas=PAPER_DELTAS, pairs=90, sim_images=1000)
    for k, v in (paper if a.paper else small).items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    return a


def _paper_value(dist, where, delta):
    row = PAPER_TABLE_I[(dist, where)]
    return row[PAPER_DELTAS.index(delta)] if delta in PAPER_DELTAS else None


def _accs(fns, xe, ye) -> dict:
    return {k: 100 * parts.accuracy(f, xe, ye) for k, f in fns.items()}


def noise_table(args, nets, x, y, xt, yt, rng, log):
    """Table I rows: {dist, where, delta, SDBN, DNN, paper_SDBN} (accuracy %)."""
    rows = []
    for dist in ("normal", "uniform"):
        for d in args.deltas:
            xn = parts.add_noise(xt, dist, d, rng)
            rows.append(dict(dist=dist, where="test", delta=d, **_accs(nets, xn, yt)))
        for d in args.train_deltas:
            log(f"  retraining both networks on {dist} noise δ={d} ...")
            xtr = parts.add_noise(x, dist, d, rng)
            sd = parts.train_sdbn(xtr, y, [args.hidden] * 2, args.epochs, args.seed, top=args.top, log=log)
            dn = parts.train_dnn(xtr, y, [args.hidden] * 2, args.dnn_iters, args.seed, log=log)
            fns = {"SDBN": lambda a, s=sd: s.predict_proba(a), "DNN": lambda a, n=dn: parts.dnn_proba(n, a)}
            xn = parts.add_noise(xt, dist, d, rng)
            for where, xe in (("train", xt), ("both", xn)):
                rows.append(dict(dist=dist, where=where, delta=d, **_accs(fns, xe, yt)))
    for r in rows:
        r["paper_SDBN"] = _paper_value(r["dist"], r["where"], r["delta"])
    return rows


def window_noise(args, nets, xt, yt, rng):
    """Fig. 3: normal noise in the 4×5 window, top left vs centre."""
    rows = []
    for d in args.deltas:
        for name, win in parts.WINDOWS.items():
            xn = parts.add_noise(xt, "normal", d, rng, window=win)
            rows.append(dict(window=name, delta=d, **_accs(nets, xn, yt)))
    return rows


def attack_studies(args, sdbn, dnn, xt, yt, rng, out, log):
    probs = {"SDBN": sdbn.predict_proba(xt), "DNN": parts.dnn_proba(dnn, xt)}
    both_right = (probs["SDBN"].argmax(1) == yt) & (probs["DNN"].argmax(1) == yt)
    fives = np.flatnonzero(both_right & (yt == 5))
    if not len(fives):
        fives = np.flatnonzero(yt == 5)
        log("  no test '5' is classified correctly by both networks: the case studies use the first '5'")
    cases, panels = {}, []
    if len(fives):
        i = int(fives[0])
        for net in ("DNN", "SDBN"):
            for case, (n, m) in CASES.items():
                oracle = parts.oracles(sdbn, dnn, 10**6)[net]
                res = parts.attack(oracle, xt[i], 3, n, m, args.d_max, stop_at_success=False)
                cases[f"{net} {case}"] = dict(
                    image=i, n=n, m=m, success_any=any(h["label"] == 3 for h in res.history),
                    final_label=res.history[-1]["label"], iterations=res.iterations, queries=res.queries,
                    stopped=res.stopped, rows=parts.case_rows(res, 3))
                panels.append((xt[i], res.x_adv))
                log(f"  {net} case {case} (N={n}, M={m}): {res.iterations} iterations, "
                    f"{res.queries} queries, final label {res.history[-1]['label']}, D {res.distance:.2f}, "
                    f"stop: {res.stopped}")
        parts.save_png(out / "attack_cases.png", panels)
    else:
        log("  no '5' among the test images: case studies skipped")
    # sweep: images classified correctly by both, a random other target each
    pool = np.flatnonzero(both_right)
    picks = rng.choice(pool, size=min(args.pairs, len(pool)), replace=False) if len(pool) else []
    sweep = {"SDBN": [], "DNN": []}
    for i in picks:
        target = int((yt[i] + rng.integers(1, 10)) % 10)
        for net in sweep:
            res = parts.attack(parts.oracles(sdbn, dnn, 10**6)[net], xt[i], target, 5, 10, args.d_max)
            sweep[net].append(dict(image=int(i), source=int(yt[i]), target=target, success=res.success,
                                   queries=res.queries, distance=res.distance, iterations=res.iterations,
                                   stopped=res.stopped))
    summary = {}
    for net, runs in sweep.items():
        ok = [r for r in runs if r["success"]]
        summary[net] = dict(pairs=len(runs), success_rate=len(ok) / max(len(runs), 1),
                            stopped={k: sum(r["stopped"] == k for r in runs)
                                     for k in ("success", "d_max", "stalled", "max_iter")},
                            mean_queries=float(np.mean([r["queries"] for r in runs])) if runs else None,
                            mean_queries_success=float(np.mean([r["queries"] for r in ok])) if ok else None,
                            mean_distance_success=float(np.mean([r["distance"] for r in ok])) if ok else None)
    return cases, dict(summary=summary, runs=sweep)


def spiking_run(args, sdbn, xt, yt, rng):
    """Accuracy of the event-driven simulation vs simulated time, beside the rate network's."""
    sub = np.arange(min(args.sim_images, len(xt)))
    res = sdbn.simulate(xt[sub], args.sim_time, 0.0005, rng)
    acc_t = (res.trace.argmax(2) == yt[sub][:, None]).mean(0)
    return dict(images=len(sub), times=res.times.tolist(), accuracy=(100 * acc_t).tolist(),
                rate_network=100 * sdbn.accuracy(xt[sub], yt[sub]),
                synaptic_ops_per_image=float(res.synaptic_ops.mean()))


def main(argv=None) -> dict:
    args = parse(argv)
    log = lambda s: print(s, flush=True)  # noqa: E731
    device = active_backend()  # recorded; the study itself runs on the host (NumPy/Numba)
    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x, y, xt, yt, source = parts.load_data(args.data, args.dataset, rng)
    x, y, xt, yt = x[:args.n_train], y[:args.n_train], xt[:args.n_test], yt[:args.n_test]
    log(f"SDBN study on {source} (backend {device}; the study runs on the host)")
    log(f"  {len(x)} train / {len(xt)} test; SDBN 784-{args.hidden}-{args.hidden}-10 "
        f"({args.epochs} epochs/stage, top {args.top}), DNN by SCG ({args.dnn_iters} iterations)")
    log("training the clean networks ...")
    ckdir = out / "checkpoints" / f"{args.dataset}-n{len(x)}-h{args.hidden}-{args.top}-seed{args.seed}"
    sdbn = parts.train_sdbn(x, y, [args.hidden] * 2, args.epochs, args.seed, args.top, ckdir, log)
    dnn = parts.train_dnn(x, y, [args.hidden] * 2, args.dnn_iters, args.seed, log)
    nets = {"SDBN": lambda a: sdbn.predict_proba(a), "DNN": lambda a: parts.dnn_proba(dnn, a)}
    acc = {"SDBN": 100 * sdbn.accuracy(xt, yt),
           "SDBN_temp_noise": 100 * sdbn.accuracy(xt, yt, noise=True, rng=np.random.default_rng(args.seed)),
           "DNN": 100 * parts.accuracy(nets["DNN"], xt, yt)}
    log(f"clean accuracy: SDBN {acc['SDBN']:.2f}% (with O'Connor's temp noise {acc['SDBN_temp_noise']:.2f}%; "
        f"paper 96.2), DNN {acc['DNN']:.2f}% (paper 97.13)")
    log("event-driven spiking run ...")
    spk = spiking_run(args, sdbn, xt, yt, rng)
    log("  accuracy vs simulated time: " + ", ".join(f"{t:.1f}:{a:.1f}%" for t, a in
                                                     zip(spk["times"], spk["accuracy"]))
        + f"  (rate network {spk['rate_network']:.1f}% on the same {spk['images']} images)")
    log("Table I: noise ...")
    table = [{k: v for k, v in r.items()} for r in noise_table(args, nets, x, y, xt, yt, rng, log)]
    log("Fig. 3: window noise ...")
    fig3 = window_noise(args, nets, xt, yt, rng)
    log("greedy attack (Algorithm 1) ...")
    cases, sweep = attack_studies(args, sdbn, dnn, xt, yt, rng, out, log)
    summary = dict(data=source, dataset=args.dataset, backend=device, n_train=len(x), n_test=len(xt),
                   seed=args.seed,
                   settings={k: getattr(args, k) for k in ("hidden", "epochs", "top", "dnn_iters", "deltas",
                                                           "train_deltas", "pairs", "d_max", "paper")},
                   accuracy=acc, paper_accuracy=PAPER_ACCURACY, spiking=spk, table_I=table, fig3=fig3,
                   cases=cases, paper_cases=PAPER_CASES, sweep=sweep, seconds=time.perf_counter() - t0)
    report(summary, log)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    log(f"wrote {out / 'summary.json'}" + (f" and {out / 'attack_cases.png'}" if cases else ""))
    return summary


def report(s, log):
    log("\nTable I (accuracy %; paper: SDBN on full MNIST)")
    log(f"{'noise':8} {'set':6} {'δ':>5} {'SDBN':>7} {'DNN':>7} {'paper':>7}")
    for r in s["table_I"]:
        paper = "" if r["paper_SDBN"] is None else f"{r['paper_SDBN']:7.2f}"
        log(f"{r['dist']:8} {r['where']:6} {r['delta']:5.2f} {r['SDBN']:7.2f} {r['DNN']:7.2f} {paper:>7}")
    log("\nFig. 3 (normal noise in a 4x5 window; accuracy %)")
    for r in s["fig3"]:
        log(f"  {r['window']:9} δ={r['delta']:.2f}  SDBN {r['SDBN']:6.2f}  DNN {r['DNN']:6.2f}")
    log("\nTables II/III (iteration, P max other %, P target %, D): ours | paper")
    for key, c in s["cases"].items():
        net, case = key.split()
        ours = "; ".join(f"{r['iteration']}: {r['p_max_other']:.2f}/{r['p_target']:.2f} D {r['distance']:.2f}"
                         for r in c["rows"])
        paper = "; ".join(f"{i}: {a:.2f}/{b:.2f} D {d:.2f}" for i, a, b, d in PAPER_CASES[net][case])
        log(f"  {key:8} {ours}\n  {'paper':8} {paper}")
    log("\nAttack sweep (N=5, M=10, stop at success or D_MAX)")
    for net, r in s["sweep"]["summary"].items():
        log(f"  {net:5} pairs {r['pairs']:3}  success {100 * r['success_rate']:5.1f}%  mean queries "
            f"{r['mean_queries']}  mean D of successes {r['mean_distance_success']}  stops {r['stopped']}")
    sw = s["sweep"]["summary"]
    more = sw["DNN"]["success_rate"] > sw["SDBN"]["success_rate"]
    drop = [r for r in s["table_I"] if r["where"] == "test" and r["delta"] == 0.15]
    log("\nHonest summary: " + (
        f"the paper's finding that the DNN falls to the greedy attack more easily than the SDBN "
        f"{'shows' if more else 'does not show'} here (success {100 * sw['DNN']['success_rate']:.0f}% vs "
        f"{100 * sw['SDBN']['success_rate']:.0f}% over {sw['DNN']['pairs']} pairs); "
        + (f"test noise δ=0.15 costs the SDBN {s['accuracy']['SDBN'] - drop[0]['SDBN']:.1f} points "
           f"(normal; paper 48.23% from 96.2%); " if drop else "")
        + f"our SDBN reaches {s['accuracy']['SDBN']:.1f}% on {s['n_train']} training images against the "
          f"paper's 96.2% on 60,000, so absolute numbers are not comparable."))
