"""Verdict, explanations and the text report of a :func:`refsnn.crossval.check` result.

Pass criteria (DESIGN golden parity): every spike identical; membranes,
stage outputs and logits ``max_abs ≤ 1e-5·max(1, max|ref|)``; input and
parameter gradients the same with ``1e-4``; no NaN/inf on either side.

:func:`explain` turns recognised patterns into sentences, citing the
semantic differences documented in :mod:`refsnn.crossval` (items 1–5):

* the torch forward does not follow the declared order (a chain break);
* a stage whose *input* already differs inherits the difference;
* the membrane differs at the first step with equal input — the charge
  (weights, β, τ, θ) is not the same: a configuration difference;
* the membrane differs first right after a spike — the reset (mechanism,
  timing: item 2, which membrane: item 3);
* the first spike mismatch sits on the threshold — the fire condition
  (item 1, ``>`` vs ``≥``) or one-ulp rounding of the charge;
* forward identical but gradients differ — surrogate or ``detach_reset``
  (items 4, 5);
* NaN gradients on the torch side with snnTorch's sigmoid surrogate — its
  overflow (item 5).
"""

from __future__ import annotations

from refsnn.crossval.compare import within

MEM_TOL, GRAD_TOL = 1e-5, 1e-4


def _ok(stats, tol) -> bool:
    return stats is None or within(stats, tol)


def verdict(res: dict) -> dict:
    spikes = all(lay["spikes"]["mismatches"] == 0 for lay in res["layers"] if lay["kind"] == "neuron")
    mems = all(_ok(lay.get("membrane"), MEM_TOL) and _ok(lay.get("output"), MEM_TOL) for lay in res["layers"])
    mems = mems and _ok(res["logits"], MEM_TOL)
    grads = _ok(res["grad_input"], GRAD_TOL) and all(_ok(s, GRAD_TOL) for s in res["grad_params"].values())
    chain = all(lay["chain_break"] is None for lay in res["layers"])
    return {"spikes": spikes, "membranes": mems, "gradients": grads, "structure": chain,
            "pass": spikes and mems and grads and chain,
            "rounding_ties_only": chain and not spikes and ties_only(res["layers"])}


def ties_only(layers) -> bool:
    """Every neuron whose spikes differ first flipped on a threshold tie, or its layer's input differed."""
    prev = None
    for lay in layers:
        if lay["kind"] == "neuron" and lay["spikes"]["mismatches"]:
            sp = lay["spikes"]
            inherited = prev is not None and _differs(prev)
            if not inherited and sp["first_flips_at_threshold"] < sp["neurons_flipped"]:
                return False
        prev = lay
    return True


def _differs(lay: dict) -> bool:
    """Does this stage's output (spikes for a neuron) differ between the two sides?"""
    if lay["kind"] == "neuron":
        return lay["spikes"]["mismatches"] > 0
    return lay["output"] is not None and not within(lay["output"], MEM_TOL)


def _layer_explanation(lay: dict, prev: dict | None, upstream: str | None) -> str | None:
    name = f"{lay['type']} {lay['path']!r}"
    if lay["chain_break"]:
        return (f"{name}: {lay['chain_break']} — the forward computes something between the declared "
                f"layers (see the time-loop convention in refsnn.crossval.importer); results below this "
                f"layer are not comparable")
    if prev is not None and _differs(prev):
        return (f"{name}: its input already differs (from {upstream or 'the input'}); the difference "
                f"is inherited")
    if lay["kind"] != "neuron":
        if lay["output"] is not None and not within(lay["output"], MEM_TOL):
            return (f"{name}: same input, different output (max abs "
                    f"{lay['output']['max_abs']:.3g}): the layer's "
                    f"weights or settings differ between the two models")
        return None
    sp, t_mem, first = lay["spikes"], lay["first_membrane_diff_t"], lay["spikes"]["first"]
    t_spk = first["t"] if first else None
    if t_mem is not None and (t_spk is None or t_mem <= t_spk):
        if t_mem == 0:
            return (f"{name}: with the same input the membrane differs already at t = 0: the charge "
                    f"is not the "
                    f"same — β / τ / threshold / decay_input or the weights differ (a configuration "
                    f"difference, not rounding)")
        return (f"{name}: the membrane first differs at t = {t_mem}, with all spikes equal before "
                f"it: the leak (β, τ) or the reset (mechanism subtract/zero/hard/soft or its timing — "
                f"items 2 and 3) is not the same: a configuration difference, not rounding")
    if first is None:
        return None
    th, u = first["threshold"], first["mem_refsnn_prereset"]
    if abs(u - th) <= 1e-5 * max(1.0, abs(th)):
        return (f"{name}: first spike mismatch at (t={first['t']}, b={first['b']}, "
                f"i={first['index']}) with the "
                f"membrane on the threshold (refsnn {u!r}, θ = {th}): the fire condition (snnTorch fires on "
                f"U − θ > 0, SpikingJelly on ≥ 0 — item 1) or one-ulp rounding of the charge decided it; "
                f"{sp['mismatches']} spike(s) differ in {sp['neurons_flipped']} neuron(s), "
                f"{sp['first_flips_at_threshold']} of which first flipped on the threshold")
    return (f"{name}: first spike mismatch at (t={first['t']}, b={first['b']}, i={first['index']}): torch "
            f"{first['spike_torch']:g} with membrane {first['mem_torch']:.6g}, refsnn "
            f"{first['spike_refsnn']:g} "
            f"with {first['mem_refsnn']:.6g} (θ = {th}, fires on {first['fire']}); not a threshold tie")


def explain(res: dict) -> list[str]:
    """Sentences for the differences :func:`verdict` found (empty when everything agrees)."""
    out = []
    upstream = prev = None
    for lay in res["layers"]:
        sentence = _layer_explanation(lay, prev, upstream)
        prev = lay
        if sentence:
            out.append(sentence)
            upstream = upstream or f"{lay['type']} {lay['path']!r}"
            if lay["chain_break"]:
                break
    v = res["verdict"]
    if v["spikes"] and v["membranes"] and not v["gradients"]:
        grads = [res["grad_input"]] + list(res["grad_params"].values())
        if any(g and g["nonfinite_framework"] for g in grads) and any(
                lay.get("spec", {}).get("snntorch_sigmoid") for lay in res["layers"]):
            out.append("gradients: NaN on the torch side with snnTorch's sigmoid surrogate — it "
                       "overflows where "
                       "a membrane sits more than ~88.7/slope below θ in float32 (item 5); refsnn "
                       "stays finite")
        else:
            out.append("forward identical (spikes, membranes, outputs) but gradients differ: the surrogate "
                       "(its shape or parameter) or detach_reset is not the same on both sides (items 4, 5)")
    if v.get("rounding_ties_only"):
        out.append("every neuron whose spikes differ first flipped with its membrane on the threshold (or "
                   "inherited a difference from the layer before): float rounding — sums added in another "
                   "order — decided a tie; expected at this size in float32 (float64 makes ties ~1e9× "
                   "rarer); the differences after a flip are its consequences, not a semantic difference")
    if res.get("input_relation") == "transformed":
        out.append("the forward changes the input before the first declared layer: the input gradient is not "
                   "compared (the first layer's recorded input was fed to refsnn)")
    return out


def _fmt(stats) -> str:
    if stats is None:
        return "—"
    nf = stats["nonfinite_refsnn"] + stats["nonfinite_framework"]
    return f"{stats['max_abs']:.2e} / {stats['max_rel']:.2e}" + (f"  nan:{nf}" if nf else "")


def format_check(res: dict) -> str:
    """A human-readable report of a check result."""
    v = res["verdict"]
    head = "PASS" if v["pass"] else "FAIL (threshold ties from float rounding only)" if v.get(
        "rounding_ties_only") else "FAIL"
    lines = [f"refsnn crossval check — {head}  "
             f"(mode {res['mode']}, {res['dtype']}, T = {res['time_steps']}, {res['samples']} samples, "
             f"input {res['input_relation']}, readout {res['readout']}, loss {res['loss_kind']})",
             "", f"{'layer':<28} {'type':<18} {'spikes ≠ / total':>18}  {'membrane/out abs / rel':>24}"]
    for lay in res["layers"]:
        label = (lay["path"] or "<root>")[:28]
        if lay["kind"] == "neuron":
            sp = lay["spikes"]
            spk = f"{sp['mismatches']} / {sp['total']}"
            stats = lay["membrane"]
        else:
            spk, stats = "", lay["output"]
        lines.append(f"{label:<28} {lay['type'][:18]:<18} {spk:>18}  {_fmt(stats):>24}")
        if lay["kind"] == "neuron" and lay["spikes"]["mismatches"]:
            sp = lay["spikes"]
            lines.append(f"    {sp['neurons_flipped']} neuron(s) flipped, "
                         f"{sp['first_flips_at_threshold']} first on a threshold tie "
                         f"(|U − θ| ≤ 1e-5·max(1, θ))")
        first = lay.get("spikes", {}).get("first") if lay["kind"] == "neuron" else None
        if first:
            lines.append(f"    first spike mismatch t={first['t']} b={first['b']} index={first['index']}: "
                         f"torch {first['spike_torch']:g} (mem {first['mem_torch']:.7g}), refsnn "
                         f"{first['spike_refsnn']:g} (mem {first['mem_refsnn']:.7g}, pre-reset "
                         f"{first['mem_refsnn_prereset']:.7g}), θ = {first['threshold']}")
    loss = res["loss"]
    lines += ["", f"logits (abs / rel)      {_fmt(res['logits'])}",
              f"loss                    torch {loss['torch']:.8g}  refsnn {loss['refsnn']:.8g}  "
              f"rel {loss['rel']:.2e}",
              f"grad input (abs / rel)  {_fmt(res['grad_input'])}"]
    for name, st in res["grad_params"].items():
        lines.append(f"grad {name:<18} {_fmt(st)}")
    if "accuracy" in res:
        a = res["accuracy"]
        lines.append(f"accuracy                torch {100 * a['torch']:.2f}%  "
                     f"refsnn {100 * a['refsnn']:.2f}%  predictions differing: "
                     f"{a['prediction_disagreements']}")
    lines.append("")
    lines.append("verdict: " + ", ".join(f"{k} {'ok' if ok else 'DIFFER'}" for k, ok in v.items()
                                         if k not in ("pass", "rounding_ties_only")))
    for note in res.get("notes", []):
        lines.append(f"note: {note}")
    for sentence in res.get("explanations", []):
        lines.append(f"explanation: {sentence}")
    if res.get("params_not_imported"):
        lines.append(f"not compared (not in the declared layers): {res['params_not_imported']}")
    return "\n".join(lines)
