"""``check_attack``: recompute a torchattacks FGSM / PGD on the imported model and diff it image by image.

The torch model is the one torchattacks attacked: ``model(x [B, ...]) ->
logits [B, K]``, usually a custom forward that repeats ``x`` over ``T`` steps
(or feeds a time-first sequence), runs the SNN and reads the output out over
time.  :func:`check_attack` imports it (``order`` as for
:func:`refsnn.crossval.from_torch`), probes one forward under hooks to learn
``T``, how the input reaches the first layer (``direct``: the same ``x`` at
every step; ``sequence``: ``x`` is ``[T, B, ...]``) and the readout — the
logits must equal ``mean``, ``sum`` or ``last`` over time of the last layer's
output or of its membrane, else a ValueError says so — then runs refsnn's
:class:`~refsnn.attacks.FGSM` / :class:`~refsnn.attacks.PGD` with the same
parameters (torchattacks' update rule; ``random_start`` must be False: the
peer's random draw cannot be recovered) and compares with ``x_adv_peer``::

    per image:  max |x_adv_refsnn − x_adv_peer|,  pixels differing by > atol (1e-6),
                of those, pixels whose clean-input gradient is ~0 (|g| ≤ 1e-5·max|g|):
                a sign flip of a rounding-level gradient, not a semantic difference

plus the accuracy of both models on both adversarial batches.
"""

from __future__ import annotations

import numpy as np

from refsnn.crossval._deps import require, torch_dtype
from refsnn.crossval.check import imported_dtype, readout
from refsnn.crossval.importer import ImportedSNN, from_torch
from refsnn.crossval.torch_run import reset_state, run_torch, to_numpy
from refsnn.nn import Module, repeat_time

ATTACKS = ("fgsm", "pgd")
ATOL = 1e-6


class ImportedClassifier(Module):
    """``x [B, ...] -> logits [B, K]``: input over ``T`` steps, the imported SNN, a readout over time."""

    def __init__(self, imported: ImportedSNN, T: int, relation: str, how: str, source: str = "output"):
        super().__init__()
        self.snn = imported
        self.T, self.relation, self.how, self.source = int(T), relation, how, source

    def forward(self, x):
        from refsnn.nn.layers import as_input

        x = as_input(x, "ImportedClassifier", imported_dtype(self.snn))
        seq = repeat_time(x, self.T) if self.relation == "direct" else x
        records = self.snn.run(seq)
        out, mem = records[-1]
        return readout(mem if self.source == "membrane" else out, self.how)


def probe(model, imported: ImportedSNN, x: np.ndarray) -> dict:
    """One torch forward on ``x`` under hooks: ``T``, the input relation and the readout it matches."""
    torch = require("torch", "probe")
    tdt = torch_dtype(imported_dtype(imported).name)
    mode = "multi" if imported.mode == "multi" else "single"
    with torch.no_grad():
        rec, output = run_torch(model, imported, torch.tensor(x, dtype=tdt), T=None, sequential_call=False)
        try:
            first = to_numpy(rec.stacked(mode, 0, "inputs"))
            last = len(imported.stages) - 1
            candidates = {"output": rec.stacked(mode, last, "outputs").to(tdt)}
            mem = rec.membrane(mode, last)
            if mem is not None:
                candidates["membrane"] = mem.to(tdt)
            logits = output[0] if isinstance(output, tuple) else output
            tried = []
            for source, o in candidates.items():
                for how in ("mean", "sum", "last"):
                    r = readout(o, how)
                    if tuple(r.shape) == tuple(logits.shape):
                        err = float((r - logits).abs().max())
                        tried.append(f"{how}({source}) max|Δ| {err:.3g}")
                        if err <= 1e-5 * max(1.0, float(logits.abs().max())):
                            return {"T": int(first.shape[0]), "relation": _relation(first, x),
                                    "readout": how, "source": source}
        finally:
            rec.close()
            reset_state(model)
    raise ValueError(f"check_attack: the model's output {tuple(logits.shape)} is none of mean / sum / last "
                     f"over time of the last declared layer's output or membrane "
                     f"({'; '.join(tried) or 'no shape fits'})")


def _relation(first: np.ndarray, x: np.ndarray) -> str:
    if first.shape == x.shape and np.array_equal(first, x):
        return "sequence"
    if first.shape[1:] == x.shape and all(np.array_equal(f, x) for f in first):
        return "direct"
    raise ValueError("check_attack: the forward transforms the input before the first declared layer (an "
                     "encoder, a scaling); declare the layers from the one that receives x, or x repeated "
                     "over time, unchanged")


def run_torchattacks(model, attack_name: str, params: dict, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x_adv`` from torchattacks FGSM / PGD (``random_start`` off): the peer result for the CLI."""
    torch = require("torch", "run_torchattacks")
    try:
        import torchattacks
    except ImportError as exc:
        raise ImportError("run_torchattacks needs torchattacks: pip install torchattacks") from exc
    name, kw = _attack_args(attack_name, params)
    model.eval()
    atk = torchattacks.FGSM(model, eps=kw["eps"]) if name == "fgsm" else torchattacks.PGD(
        model, eps=kw["eps"], alpha=kw["alpha"], steps=kw["steps"], random_start=False)
    if kw["targeted"]:
        atk.set_mode_targeted_by_label(quiet=True)
    out = atk(torch.from_numpy(np.ascontiguousarray(x, np.float32)), torch.from_numpy(np.asarray(y)))
    reset_state(model)
    return out.detach().numpy()


def _attack_args(attack_name: str, params: dict):
    name = str(attack_name).lower()
    if name not in ATTACKS:
        raise ValueError(f"check_attack: attack must be one of {ATTACKS}, got {attack_name!r}")
    params = dict(params or {})
    if params.pop("random_start", False):
        raise ValueError("check_attack: random_start=True cannot be compared (the peer's random start is not "
                         "recoverable from x_adv); rerun the peer with random_start=False")
    kw = {"eps": float(params.pop("eps", 8 / 255)), "targeted": bool(params.pop("targeted", False))}
    if name == "pgd":
        kw.update(alpha=float(params.pop("alpha", 2 / 255)), steps=int(params.pop("steps", 10)))
    if params:
        raise ValueError(f"check_attack: unknown {name} parameters {sorted(params)}")
    return name, kw


def check_attack(torch_model, attack_name: str, params: dict, x, y, x_adv_peer, *, order=None,
                 imported=None) -> dict:
    """Recompute the attack in refsnn and compare with the peer's ``x_adv`` (see the module docstring)."""
    torch = require("torch", "check_attack")
    from refsnn.attacks import FGSM, PGD

    name, kw = _attack_args(attack_name, params)
    if imported is None:
        imported = from_torch(torch_model, order=order)
    torch_model.eval()
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.asarray(y).astype(np.int64)
    peer = np.asarray(x_adv_peer, dtype=np.float32)
    if peer.shape != x.shape:
        raise ValueError(f"check_attack: x_adv_peer shape {peer.shape} != x shape {x.shape}")
    info = probe(torch_model, imported, x)
    clf = ImportedClassifier(imported, info["T"], info["relation"], info["readout"], info["source"])
    clf.eval()
    if name == "fgsm":
        ours = FGSM(clf, eps=kw["eps"], targeted=kw["targeted"])(x, y)
    else:
        ours = PGD(clf, eps=kw["eps"], alpha=kw["alpha"], steps=kw["steps"], targeted=kw["targeted"])(x, y)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(torch_model(xt), torch.from_numpy(y))
    (-loss if kw["targeted"] else loss).backward()
    grad = to_numpy(xt.grad)
    reset_state(torch_model)
    diff = np.abs(ours.astype(np.float64) - peer)
    tiny = np.abs(grad) <= 1e-5 * max(float(np.abs(grad).max()), 1e-30)
    bad = diff > ATOL
    per_image = []
    for i in range(len(x)):
        per_image.append({"max_abs": float(diff[i].max()), "pixels_differing": int(bad[i].sum()),
                          "at_zero_gradient": int((bad[i] & tiny[i]).sum())})

    def acc_torch(a):
        with torch.no_grad():
            pred = torch_model(torch.from_numpy(a)).argmax(1).numpy()
        reset_state(torch_model)
        return float((pred == y).mean())

    def acc_ours(a):
        return float((np.asarray(clf(a).data).argmax(1) == y).mean())

    n_bad, n_tiny = int(bad.sum()), int((bad & tiny).sum())
    res = {"attack": name, "params": kw, "probe": info, "images": len(x), "max_abs": float(diff.max()),
           "pixels_differing": n_bad, "pixels_differing_at_zero_gradient": n_tiny,
           "images_differing": int(sum(p["pixels_differing"] > 0 for p in per_image)),
           "worst_image": int(np.argmax(diff.reshape(len(x), -1).max(1))), "per_image": per_image,
           "accuracy": {"torch_on_peer": acc_torch(peer), "torch_on_refsnn": acc_torch(ours),
                        "refsnn_on_peer": acc_ours(peer), "refsnn_on_refsnn": acc_ours(ours),
                        "clean_torch": acc_torch(x), "clean_refsnn": acc_ours(x)},
           "pass": n_bad == n_tiny}
    if n_bad == 0:
        res["explanation"] = "identical to the peer's adversarial examples (to 1e-6)"
    elif n_bad == n_tiny:
        res["explanation"] = (f"{n_bad} pixel(s) differ, all where the clean-input gradient is ~0: the "
                              f"sign of a rounding-level gradient flipped (not a semantic difference)")
    else:
        res["explanation"] = (f"{n_bad - n_tiny} pixel(s) differ where the gradient is not ~0: the two "
                              f"models' gradients differ — run refsnn.crossval.check to find the layer")
    res["x_adv_refsnn"] = ours
    return res


def format_attack(res: dict) -> str:
    a = res["accuracy"]
    p = res["probe"]
    return "\n".join([
        f"attack {res['attack']} {res['params']} on {res['images']} images "
        f"(T = {p['T']}, input {p['relation']}, logits = {p['readout']}({p['source']}))",
        f"max |x_adv_refsnn − x_adv_peer| = {res['max_abs']:.3g}; pixels differing > {ATOL:g}: "
        f"{res['pixels_differing']} ({res['pixels_differing_at_zero_gradient']} at ~0 gradient) in "
        f"{res['images_differing']} image(s); worst image {res['worst_image']}",
        f"accuracy clean: torch {100 * a['clean_torch']:.1f}%, refsnn {100 * a['clean_refsnn']:.1f}%; "
        f"on peer x_adv: torch {100 * a['torch_on_peer']:.1f}%, refsnn {100 * a['refsnn_on_peer']:.1f}%; "
        f"on refsnn x_adv: torch {100 * a['torch_on_refsnn']:.1f}%, "
        f"refsnn {100 * a['refsnn_on_refsnn']:.1f}%",
        f"{'PASS' if res['pass'] else 'FAIL'}: {res['explanation']}",
    ])
