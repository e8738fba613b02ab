"""``check``: run a user's torch SNN and its refsnn import side by side, layer by layer.

>>> from refsnn.crossval import check, format_check          # doctest: +SKIP
>>> res = check(my_snntorch_net, x_seq, labels=y)            # doctest: +SKIP
>>> print(format_check(res))                                 # doctest: +SKIP

Both sides get the same input and the same loss.  The loss reads the last
stage's output ``O [T, B, K]`` through a readout over time (``mean`` — the
default — ``sum`` or ``last``)::

    logits = readout_t O[t]                     [B, K]
    loss   = CE(logits, labels)   (mean over all N samples; labels given)
    loss   = Σ_{b,k} C[b,k]·logits[b,k] / N     (no labels; C ~ N(0, 1), seed 0)

Recorded per stage: the input it received, its output (spikes for neurons:
mismatch count, first mismatch ``(t, b, index)`` with both membranes) and for
neurons the membrane as the framework exposes it (snnTorch ``U[t]``,
SpikingJelly the post-reset ``V[t]``, refsnn's recomputed from ``(H, S)``);
then the final output, the loss, ``∂loss/∂x`` and ``∂loss/∂θ`` for every
imported parameter, and with ``labels`` both accuracies.  Pass criteria (DESIGN
golden parity): spikes identical; membranes and outputs
``max_abs ≤ 1e-5·max(1, max|ref|)``; gradients the same with 1e-4.  Inputs are
processed in batches of ``batch_size``; statistics and parameter gradients
are accumulated over all of them.  :mod:`refsnn.crossval.check_report`
explains the mismatches it recognises and formats the result.
"""

from __future__ import annotations

import time

import numpy as np

from refsnn.autograd import Tensor, cross_entropy
from refsnn.backend import active_backend, to_backend, to_host
from refsnn.crossval._deps import require, torch_dtype
from refsnn.crossval.compare import diff_stats, versions, within
from refsnn.crossval.importer import ImportedSNN, from_torch
from refsnn.crossval.torch_run import reset_state, run_torch, to_numpy
from refsnn.nn import repeat_time

MEM_TOL, GRAD_TOL = 1e-5, 1e-4
TIE_TOL = 1e-5  # a spike mismatch with |U − θ| ≤ TIE_TOL·max(1, |θ|) is a threshold tie
READOUTS = ("mean", "sum", "last")


def lean_stats(a, b, name: str = "?"):
    """:func:`~refsnn.crossval.compare.diff_stats` in native-dtype passes, plus ``max |a − b|`` per step.

    ``a − b`` is formed once in the wider dtype of the two (exactly zero iff
    ``a == b``), so ``mismatches`` is exact; entries not finite on either side
    fall back to ``diff_stats`` (float64, finite entries only).
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"check: {name} has shape {a.shape} in refsnn but {b.shape} in torch")
    d = np.subtract(a, b, dtype=np.result_type(a, b, np.float32))
    np.abs(d, out=d)
    per_t = d.reshape(d.shape[0], -1).max(axis=1) if d.ndim and d.size else np.zeros(1)
    if not np.isfinite(per_t).all():
        fin = np.where(np.isfinite(d), d, 0)
        return diff_stats(a, b, name), fin.reshape(len(per_t), -1).max(axis=1)
    ref = max(float(b.max()), -float(b.min())) if b.size else 0.0
    max_abs = float(per_t.max())
    return {"max_abs": max_abs, "max_rel": max_abs / max(ref, 1e-30), "ref_max": ref,
            "mismatches": int(np.count_nonzero(d)), "nonfinite_refsnn": 0, "nonfinite_framework": 0,
            "shape": list(a.shape)}, per_t


class Acc:
    """Merge :func:`lean_stats` over batches (max of maxima, sums of counts), and the first step over tol."""

    def __init__(self, tol: float = MEM_TOL):
        self.s, self.tol, self.first_t = None, tol, None

    def add(self, a, b, name="?"):
        st, per_t = lean_stats(a, b, name)
        over = per_t > self.tol * max(1.0, st["ref_max"])
        if over.any():
            t = int(np.argmax(over))
            self.first_t = t if self.first_t is None else min(self.first_t, t)
        if self.s is None:
            self.s = st
            return st
        s = self.s
        for k in ("max_abs", "ref_max"):
            s[k] = max(s[k], st[k])
        for k in ("mismatches", "nonfinite_refsnn", "nonfinite_framework"):
            s[k] += st[k]
        s["max_rel"] = s["max_abs"] / max(s["ref_max"], 1e-30)
        return st

    def result(self):
        return self.s


def readout(o, how: str):
    """``mean`` / ``sum`` / ``last`` over axis 0 of ``O [T, B, ...]``, as ``[B, K]`` (torch or refsnn)."""
    r = o.mean(0) if how == "mean" else o.sum(0) if how == "sum" else o[-1]
    return r.reshape(r.shape[0], -1) if len(r.shape) != 2 else r


def post_reset(h: np.ndarray, s: np.ndarray, spec: dict) -> np.ndarray:
    """The membrane a framework exposes, from refsnn's (H or U, S) (snnTorch: U itself)."""
    if spec["membrane"] == "U":
        return h
    if spec["reset"] == "hard":
        return (1 - s) * h + s * spec["v_reset"]
    return h - s * spec["threshold"]


def _relation(first_in: np.ndarray, x: np.ndarray) -> str:
    if first_in.shape == x.shape and np.array_equal(first_in, x):
        return "sequence"
    if first_in.shape[1:] == x.shape and all(np.array_equal(f, x) for f in first_in):
        return "direct"
    return "transformed"


def _first_spike_mismatch(a, b, offset):
    idx = np.argwhere(a != b)
    if not len(idx):
        return None
    t, bb = int(idx[0][0]), int(idx[0][1])
    return (t, bb + offset, [int(i) for i in idx[0][2:]])


class _Layer:
    """Accumulated comparison of one stage."""

    def __init__(self, stage):
        self.stage = stage
        self.out, self.mem = Acc(), Acc()
        self.spikes = {"mismatches": 0, "total": 0, "count_torch": 0.0, "count_refsnn": 0.0,
                       "neurons_flipped": 0, "first_flips_at_threshold": 0, "first": None}
        self.chain_break = None

    def add(self, tout, rout, tmem, rmem_h, offset):
        st = self.stage
        if st.kind != "neuron":
            self.out.add(rout, tout, "output")
            return
        sp = self.spikes
        differ = rout != tout
        n = int(np.count_nonzero(differ))
        sp["mismatches"] += n
        sp["total"] += int(rout.size)
        sp["count_torch"] += float(tout.sum(dtype=np.float64))
        sp["count_refsnn"] += float(rout.sum(dtype=np.float64))
        rmem = post_reset(rmem_h, rout, st.spec)
        self.mem.add(rmem, tmem, "membrane")
        if not n:
            return
        th = st.spec["threshold"]
        flat = differ.reshape(differ.shape[0], -1)
        cols = np.flatnonzero(flat.any(axis=0))           # neurons (b, i) whose spike train differs
        t_first = flat[:, cols].argmax(axis=0)            # ... and the step of their first flip
        h_first = np.asarray(rmem_h).reshape(flat.shape)[t_first, cols]
        sp["neurons_flipped"] += int(len(cols))
        sp["first_flips_at_threshold"] += int(np.count_nonzero(np.abs(h_first - th)
                                                               <= TIE_TOL * max(1.0, abs(th))))
        first = _first_spike_mismatch(rout, tout, offset)
        if first and (sp["first"] is None or first[:2] < (sp["first"]["t"], sp["first"]["b"])):
            t, b, ix = first
            loc = (t, b - offset) + tuple(ix)
            sp["first"] = {"t": t, "b": b, "index": ix, "spike_torch": float(tout[loc]),
                           "spike_refsnn": float(rout[loc]), "mem_torch": float(tmem[loc]),
                           "mem_refsnn": float(rmem[loc]), "mem_refsnn_prereset": float(rmem_h[loc]),
                           "threshold": st.spec["threshold"], "fire": st.spec["fire"]}

    def result(self) -> dict:
        st = self.stage
        out = {"path": st.path, "type": st.torch_type, "framework": st.framework, "kind": st.kind,
               "chain_break": self.chain_break}
        if st.kind == "neuron":
            out.update(spikes=self.spikes, membrane=self.mem.result(), first_membrane_diff_t=self.mem.first_t,
                       spec={k: v for k, v in st.spec.items() if k != "buffers"})
        else:
            out["output"] = self.out.result()
        return out


def _torch_batch(model, imported, xb, yb, cot_seed, *, T, seq_call, how, n_total, tdt, all_inputs):
    torch = require("torch", "check")
    x_t = torch.tensor(xb, dtype=tdt, requires_grad=True)
    rec, output = run_torch(model, imported, x_t, T=T, sequential_call=seq_call)
    try:
        mode = "multi" if imported.mode == "multi" else "single"
        outs = [rec.stacked(mode, i, "outputs") for i in range(len(imported.stages))]
        n_in = len(imported.stages) if all_inputs else 1
        ins = [to_numpy(rec.stacked(mode, i, "inputs")) for i in range(n_in)]
        mems = [rec.membrane(mode, i) for i in range(len(imported.stages))]
        mems = [None if m is None else to_numpy(m) for m in mems]
        logits = readout(outs[-1].to(tdt), how)
        cot = None
        if yb is not None:
            loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(yb), reduction="sum") / n_total
        else:
            cot = np.random.default_rng(cot_seed).standard_normal(tuple(logits.shape))
            loss = (logits * torch.from_numpy(cot).to(tdt)).sum() / n_total
            cot = cot.astype(to_numpy(logits).dtype)
        model.zero_grad(set_to_none=True)
        loss.backward()
        res = {"cot": cot, "ins": ins, "outs": [to_numpy(o) for o in outs], "mems": mems,
               "logits": to_numpy(logits),
               "loss": float(loss.item()), "grad.input": to_numpy(x_t.grad),
               "output": output, "params": {n: (None if p.grad is None else to_numpy(p.grad).copy())
                                            for n, p in model.named_parameters()}}
    finally:
        rec.close()
        reset_state(model)
    return res


def _host(a):
    return None if a is None else np.asarray(to_host(a))


def _refsnn_batch(imported, x_in, x_leaf, yb, cb, how, n_total):
    """One batch on the active backend (``REFSNN_BACKEND``); every result comes back as host arrays."""
    records = imported.run(x_in)
    logits = readout(records[-1][0], how)
    if yb is not None:
        loss = cross_entropy(logits, to_backend(yb.astype(np.int64)), reduction="sum") * (1.0 / n_total)
    else:
        loss = (logits * Tensor(to_backend(cb))).sum() * (1.0 / n_total)
    imported.zero_grad()
    loss.backward()
    params = {imported.names[n]: _host(p.grad) for n, p in imported.named_parameters() if n in imported.names}
    return {"outs": [_host(o.data) for o, _ in records],
            "mems": [None if m is None else _host(m.data) for _, m in records],
            "logits": _host(logits.data), "loss": float(_host(loss.data)), "params": params,
            "grad.input": _host(x_leaf.grad)}


def check(model_or_path, inputs, labels=None, *, order=None, weights=None, imported=None, T=None,
          readout_how: str = "mean", batch_size: int = 250, batch_axis: int | None = None,
          seed: int = 0) -> dict:
    """Compare a torch SNN with its refsnn import on ``inputs`` (see the module docstring).

    model_or_path: a torch module or ``"file.py:ATTR"``; order: the declared
    layer order of a custom forward; weights: a ``.safetensors`` path or a
    state dict loaded into the torch model first (strict); imported: a ready
    :class:`ImportedSNN` to compare instead of ``from_torch(model)``; T: for a
    single-step ``Sequential`` given static inputs ``[B, ...]``, the number of
    steps (``None``: ``inputs`` are time-first ``[T, B, ...]``); batch_axis:
    the samples' axis of ``inputs`` (default 1 for time-first inputs of a
    ``Sequential``, else 0 — a custom forward taking ``[T, B, ...]`` needs
    ``batch_axis=1``); seed: of the no-label loss's random ``C``.  Returns a
    JSON-able dict (see :func:`refsnn.crossval.check_report.format_check`).
    """
    torch = require("torch", "check")
    if isinstance(model_or_path, str):
        from refsnn.crossval.torch_run import load_model

        model = load_model(model_or_path)
    else:
        model = model_or_path
    if weights is not None:
        from refsnn.crossval.importer import _as_state

        state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in _as_state(weights).items()}
        model.load_state_dict(state, strict=True)
    if readout_how not in READOUTS:
        raise ValueError(f"check: readout_how must be one of {READOUTS}, got {readout_how!r}")
    if imported is None:
        imported = from_torch(model, order=order)
    if imported.order is not None and T is not None:
        raise ValueError("check: T is decided by the model's custom forward; pass T only for a Sequential")
    if not isinstance(imported, ImportedSNN):
        raise TypeError(f"check: imported must be an ImportedSNN, got {type(imported).__name__}")
    was_training = model.training
    model.eval()
    imported.to(active_backend())
    imported.eval()
    dtype = imported_dtype(imported)
    tdt = torch_dtype(dtype.name)
    x = np.ascontiguousarray(inputs, dtype=dtype)
    seq_call = imported.order is None and imported.mode == "single"
    if batch_axis is None:
        batch_axis = 1 if imported.order is None and T is None else 0
    if batch_axis not in (0, 1):
        raise ValueError(f"check: batch_axis must be 0 or 1, got {batch_axis!r}")
    n_total = x.shape[batch_axis]
    y = None if labels is None else np.asarray(labels).astype(np.int64)
    if y is not None and y.shape != (n_total,):
        raise ValueError(f"check: labels must have shape ({n_total},) for inputs {x.shape}, got {y.shape}")
    layers = [_Layer(s) for s in imported.stages]
    acc = {"logits": Acc(), "grad.input": Acc(GRAD_TOL)}
    pt, pr = {}, {}
    loss_t = loss_r = 0.0
    correct_t = correct_r = disagree = 0
    relation = None
    timing = {"torch_s": 0.0, "refsnn_s": 0.0, "compare_s": 0.0}
    try:
        for start in range(0, n_total, batch_size):
            sl = slice(start, min(start + batch_size, n_total))
            xb = x[:, sl] if batch_axis == 1 else x[sl]
            yb = None if y is None else y[sl]
            t0 = time.perf_counter()
            tb = _torch_batch(model, imported, xb, yb, seed + start, T=T, seq_call=seq_call,
                              how=readout_how, n_total=n_total, tdt=tdt, all_inputs=start == 0)
            t1 = time.perf_counter()
            rel = _relation(tb["ins"][0], xb)
            relation = rel if relation in (None, rel) else "mixed"
            x_leaf = Tensor(to_backend(np.ascontiguousarray(xb if rel != "transformed" else tb["ins"][0])),
                            requires_grad=True)
            x_in = repeat_time(x_leaf, tb["ins"][0].shape[0]) if rel == "direct" else x_leaf
            rb = _refsnn_batch(imported, x_in, x_leaf, yb, tb["cot"], readout_how, n_total)
            t2 = time.perf_counter()
            timing["torch_s"] += t1 - t0
            timing["refsnn_s"] += t2 - t1
            for i, lay in enumerate(layers):
                if 0 < i < len(tb["ins"]):  # the first batch: does the forward follow the declared order?
                    prev = tb["outs"][i - 1]
                    if tb["ins"][i].shape != prev.shape or not np.array_equal(tb["ins"][i], prev):
                        lay.chain_break = (f"in torch, the input of {lay.stage.path!r} "
                                           f"{list(tb['ins'][i].shape)} is not the output of "
                                           f"{imported.stages[i - 1].path!r} {list(prev.shape)}")
                lay.add(tb["outs"][i], rb["outs"][i], tb["mems"][i], rb["mems"][i], start)
            acc["logits"].add(rb["logits"], tb["logits"], "logits")
            if rel != "transformed":
                acc["grad.input"].add(rb["grad.input"], tb["grad.input"], "grad.input")
            for name, g in tb["params"].items():
                if g is not None and name in rb["params"]:
                    pt[name] = pt.get(name, 0) + g.astype(np.float64)
                    pr[name] = pr.get(name, 0) + np.asarray(rb["params"][name], np.float64)
            timing["compare_s"] += time.perf_counter() - t2
            loss_t += tb["loss"]
            loss_r += rb["loss"]
            if y is not None:
                p_t, p_r = tb["logits"].argmax(1), rb["logits"].argmax(1)
                correct_t += int((p_t == yb).sum())
                correct_r += int((p_r == yb).sum())
                disagree += int((p_t != p_r).sum())
    finally:
        model.train(was_training)
    from refsnn.crossval.check_report import explain, verdict

    result = {
        "mode": imported.mode, "order": imported.order, "dtype": dtype.name, "samples": n_total,
        "time_steps": int(tb["outs"][-1].shape[0]), "input_relation": relation, "readout": readout_how,
        "loss_kind": "cross_entropy" if y is not None else "random_linear",
        "layers": [lay.result() for lay in layers],
        "logits": acc["logits"].result(),
        "loss": {"torch": loss_t, "refsnn": loss_r, "abs": abs(loss_t - loss_r),
                 "rel": abs(loss_t - loss_r) / max(abs(loss_t), 1e-30)},
        "grad_input": acc["grad.input"].result(),
        "grad_params": {k: diff_stats(pr[k], pt[k], k) for k in sorted(pt)},
        "params_not_imported": sorted({n for n, _ in model.named_parameters()}
                                      - set(imported.names.values())),
        "notes": list(imported.notes), "versions": versions(), "timing": timing,
    }
    if y is not None:
        result["accuracy"] = {"torch": correct_t / n_total, "refsnn": correct_r / n_total,
                              "prediction_disagreements": disagree}
    result["verdict"] = verdict(result)
    result["explanations"] = explain(result)
    return result


def imported_dtype(imported) -> np.dtype:
    dts = {np.dtype(p.dtype) for p in imported.parameters()}
    return dts.pop() if len(dts) == 1 else np.dtype(np.float32)


__all__ = ["check", "readout", "post_reset", "MEM_TOL", "GRAD_TOL", "within"]
