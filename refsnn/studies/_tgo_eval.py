"""The TGO study's evaluation: attack suite (EOT for noisy nets), anti-masking checks, |H − θ| figure.

White-box suite on a model ``f`` (all ℓ∞, inputs in [0, 1]):

* FGSM (ε); RFGSM (one random sign step of α = ε/2, then one step of ε/2 — the paper's
  single-step form); PGD-k, k ∈ ``pgd_steps``, α = ε/4 (torchattacks' 2/255 at 8/255; more steps
  never means smaller steps), random start, ``restarts``
  independent starts, a sample counts as robust only if it survives all of them; APGD-CE
  (``apgd_steps`` steps, ``restarts``).
* A stochastic net (noisy LIF with noise on at evaluation) is attacked through
  :class:`~refsnn.attacks.EOT` with ``eot`` samples and its accuracy is that of the
  mean logits over ``eot`` draws.

Checks, each a pass/fail flag in the JSON (tolerance ``tol`` = 2 test samples):
``monotone_eps`` (PGD accuracy non-increasing in ε), ``monotone_steps`` (PGD-10 ≥ 20 ≥ 40),
``iterative_not_weaker`` (PGD-10 ≤ FGSM), ``large_eps_zero`` (PGD at ``eps_big`` ≤ 10%),
``blackbox_not_stronger`` (transfer accuracy ≥ the strongest white-box accuracy).
"""

from __future__ import annotations

import numpy as np

from refsnn.attacks import APGD, EOT, FGSM, PGD, RFGSM
from refsnn.attacks.base import attack_mode
from refsnn.autograd import Tensor, no_grad
from refsnn.backend import to_backend, to_host
from refsnn.train import model_backend


def _logits(model, x, samples: int = 1) -> np.ndarray:
    """Host sum of ``samples`` forward draws' logits for host images ``x`` (model on any backend)."""
    xb = Tensor(to_backend(x, model_backend(model)))
    return sum(np.asarray(to_host(model(xb).data), np.float64) for _ in range(samples))


def _craft(attack, model, x, y) -> np.ndarray:
    dev = model_backend(model)
    return to_host(attack(to_backend(x, dev), to_backend(y, dev)))


def accuracy(model, x, y, samples: int = 1, bs: int = 128) -> float:
    """Accuracy of the mean logits over ``samples`` forward draws (1 for deterministic nets)."""
    correct = 0
    with no_grad(), attack_mode(model):
        for i in range(0, len(x), bs):
            correct += int((_logits(model, x[i:i + bs], samples).argmax(axis=1) == y[i:i + bs]).sum())
    return correct / len(x)


def _robust_mask(model, make, x, y, restarts, samples, bs=128):
    """Per-sample 'still correct after every restart' for attack factory ``make(target, r)``."""
    target = EOT(model, samples) if samples > 1 else model
    ok = np.ones(len(x), bool)
    for r in range(restarts):
        for i in range(0, len(x), bs):
            sl = slice(i, i + bs)
            live = np.flatnonzero(ok[sl]) + i
            if len(live) == 0:
                continue
            adv = _craft(make(target, r), model, x[live], y[live])
            with no_grad(), attack_mode(model):
                ok[live] = _logits(model, adv, samples).argmax(axis=1) == y[live]
    return ok


def white_box(model, x, y, eps, pgd_steps=(10, 20, 40), restarts=1, apgd_steps=20, samples=1,
              seed=0, attacks=("fgsm", "rfgsm", "pgd", "apgd")) -> dict:
    """Accuracies of the suite (module docstring) at one ``eps``; keys ``clean``, ``fgsm``, ``pgd10``, ..."""
    res = {"clean": accuracy(model, x, y, samples)}
    if "fgsm" in attacks:
        res["fgsm"] = float(_robust_mask(model, lambda m, r: FGSM(m, eps=eps), x, y, 1, samples).mean())
    if "rfgsm" in attacks:
        res["rfgsm"] = float(_robust_mask(
            model, lambda m, r: RFGSM(m, eps=eps, alpha=eps / 2, steps=1, rng=seed + r), x, y, restarts,
            samples).mean())
    if "pgd" in attacks:
        for k in pgd_steps:
            res[f"pgd{k}"] = float(_robust_mask(
                model, lambda m, r, k=k: PGD(m, eps=eps, alpha=eps / 4, steps=k,
                                             random_start=True, rng=seed + 97 * r),
                x, y, restarts, samples).mean())
    if "apgd" in attacks and apgd_steps > 0:
        res["apgd_ce"] = float(_robust_mask(
            model, lambda m, r: APGD(m, eps=eps, steps=apgd_steps, restarts=1, loss="ce", rng=seed + r),
            x, y, restarts, samples).mean())
    return res


def pgd_sweep(model, x, y, eps_list, steps=10, restarts=1, samples=1, seed=0) -> list[float]:
    """PGD-``steps`` accuracy at each ε (ε = 0 is the clean accuracy)."""
    out = []
    for eps in eps_list:
        if eps == 0:
            out.append(accuracy(model, x, y, samples))
            continue
        out.append(float(_robust_mask(
            model, lambda m, r, e=eps: PGD(m, eps=e, alpha=e / 4, steps=steps,
                                           random_start=True, rng=seed + r),
            x, y, restarts, samples).mean()))
    return out


def transfer_acc(source, target, x, y, eps, steps=10, samples=1, seed=0) -> float:
    """Black-box: PGD-``steps`` crafted on ``source``, accuracy of ``target`` (mean of ``samples`` draws)."""
    atk = PGD(source, eps=eps, alpha=eps / 4, steps=steps, random_start=True, rng=seed)
    adv = np.concatenate([_craft(atk, source, x[i:i + 128], y[i:i + 128]) for i in range(0, len(x), 128)])
    return accuracy(target, adv, y, samples)


def checks(wb: dict, sweep, eps_list, big, blackbox, n: int) -> dict:
    """The anti-masking flags (module docstring); ``None`` where the light suite did not measure it."""
    tol = 2.0 / n
    pgd = [wb[k] for k in sorted((k for k in wb if k.startswith("pgd")), key=lambda k: int(k[3:]))]
    white_min = min(v for k, v in wb.items() if k != "clean")
    return {
        "monotone_eps": None if sweep is None else bool(all(b <= a + tol for a, b in zip(sweep, sweep[1:]))),
        "monotone_steps": bool(all(b <= a + tol for a, b in zip(pgd, pgd[1:]))),
        "iterative_not_weaker": bool(not pgd or pgd[0] <= wb.get("fgsm", 1.0) + tol),
        "large_eps_zero": None if sweep is None else bool(sweep[list(eps_list).index(big)] <= 0.10),
        "blackbox_not_stronger": None if blackbox is None else
        bool(all(v >= white_min - tol for v in blackbox.values())),
        "tolerance": tol,
    }


def passed(flags: dict) -> bool:
    """No flag is False (``None``: not measured)."""
    return all(v is not False for k, v in flags.items() if k != "tolerance")


# ------------------------------------------------------------ |H − θ| distribution


def membrane_gaps(model, x, theta: float = 1.0, bs: int = 128) -> list[np.ndarray]:
    """``|H − θ|`` of every spiking layer (flattened over T, batch, neurons), evaluation mode."""
    per_layer = None
    with no_grad(), attack_mode(model):
        for i in range(0, len(x), bs):
            _, traces = model(Tensor(to_backend(x[i:i + bs], model_backend(model))), trace=True)
            gaps = [np.abs(np.asarray(to_host(t.membrane.data), np.float64) - theta).ravel()
                    for t in traces]
            per_layer = gaps if per_layer is None else [np.concatenate(p) for p in zip(per_layer, gaps)]
    return per_layer


def near_fraction(gaps: list[np.ndarray], delta: float) -> list[float]:
    """Per layer, the fraction of ``|H − θ| < δ`` (threshold-neighbouring neurons)."""
    return [float((g < delta).mean()) for g in gaps]


def histogram_png(before, after, delta, path, bins=24, top=2.0) -> None:
    """One panel per layer: |H − θ| histograms on [0, top) before (grey) and after (red) TGO; δ marked.

    Bars are fractions of all values of the layer; values ≥ ``top`` are left out (no overflow bar).
    """
    from PIL import Image, ImageDraw

    L = len(before)
    cols = min(L, 5)
    rows = (L + cols - 1) // cols
    pw, ph, m = 200, 140, 18
    img = Image.new("RGB", (cols * pw, rows * ph + 24), "white")
    d = ImageDraw.Draw(img)
    d.text((6, 4), f"|H - theta| per spiking layer: grey = before TGO, red = after; blue line = delta "
                   f"{delta:g} (x range 0..{top:g})", fill="black")
    edges = np.linspace(0, top, bins + 1)
    for li in range(L):
        x0, y0 = (li % cols) * pw + m, (li // cols) * ph + 24 + 4
        w, h = pw - 2 * m, ph - 2 * m
        hb = np.histogram(before[li], edges)[0] / max(len(before[li]), 1)
        ha = np.histogram(after[li], edges)[0] / max(len(after[li]), 1)
        peak = max(hb.max(), ha.max(), 1e-9)
        bw = w / bins
        for k in range(bins):
            for hist, colour, off in ((hb, "#999999", 0.0), (ha, "#d62728", bw / 2)):
                bh = hist[k] / peak * h
                d.rectangle((x0 + k * bw + off, y0 + h - bh, x0 + k * bw + off + bw / 2 - 1, y0 + h),
                            fill=colour)
        xd = x0 + delta / top * w
        d.line([(xd, y0), (xd, y0 + h)], fill="#1f77b4", width=1)
        d.line([(x0, y0 + h), (x0 + w, y0 + h)], fill="black")
        d.text((x0, y0 + h + 2), f"layer {li}", fill="black")
    img.save(path)
