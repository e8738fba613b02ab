"""Run one config in a torch framework and in refsnn, and measure how far apart they are.

:func:`compare` builds the network of :mod:`refsnn.crossval.spec` in
snnTorch or SpikingJelly from a seed, moves its weights into refsnn (torch
``state_dict`` → NumPy → refsnn ``load_state_dict``, or through a
``.safetensors`` file written by :func:`refsnn.io.save_safetensors`), drives
both with the same input spikes and cotangent, and returns per quantity::

    max_abs = max |a − b|                       (a: refsnn, b: torch)
    max_rel = max_abs / max(max |b|, tiny)      (normwise: relative to the largest entry)
    ref_max = max |b|,  mismatches = #{a ≠ b}   (spikes)

>>> from refsnn.crossval import CrossvalConfig, compare, report   # doctest: +SKIP
>>> res = compare("snntorch", CrossvalConfig(neuron="leaky", T=25))  # doctest: +SKIP
>>> q = res["quantities"]                                            # doctest: +SKIP
>>> q["spk2"]["mismatches"], q["grad.input"]["max_rel"] < 1e-5      # doctest: +SKIP
(0, True)
>>> print(report([res]))                                            # doctest: +SKIP

:func:`compare_neuron` does the same for one neuron layer driven by given
currents (no Linear), for hand-built edge cases such as a membrane landing
exactly on the threshold.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from refsnn.crossval._deps import require
from refsnn.crossval.spec import FRAMEWORK_OF, CrossvalConfig, make_data

SPIKES = ("spk1", "spk2")
TINY = 1e-30


def _check_framework(framework, config, where: str) -> None:
    if not isinstance(config, CrossvalConfig):
        raise TypeError(f"{where}: config must be a CrossvalConfig, got {type(config).__name__}")
    if framework not in set(FRAMEWORK_OF.values()):
        raise ValueError(f"{where}: framework must be 'snntorch' or 'spikingjelly', got {framework!r}")
    if config.framework != framework:
        raise ValueError(f"{where}: config.neuron={config.neuron!r} belongs to {config.framework}, "
                         f"not {framework!r}")


def diff_stats(a: np.ndarray, b: np.ndarray, name: str = "?") -> dict:
    """Differences of ``a`` (refsnn) against the reference ``b`` (the framework).

    ``max_abs`` and ``ref_max`` are taken over the entries finite in both;
    ``nonfinite_refsnn`` / ``nonfinite_framework`` count NaN/inf entries
    (snnTorch's sigmoid surrogate, for one, returns NaN far below threshold);
    ``mismatches`` counts entries not exactly equal (meaningful for spikes).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"diff_stats: {name} has shape {a.shape} in refsnn but {b.shape} in the framework")
    fin_a, fin_b = np.isfinite(a), np.isfinite(b)
    both = fin_a & fin_b
    delta = np.abs(a - b)[both]
    max_abs = float(delta.max()) if delta.size else 0.0
    ref_max = float(np.abs(b[both]).max()) if delta.size else 0.0
    return {
        "max_abs": max_abs,
        "max_rel": max_abs / max(ref_max, TINY),
        "ref_max": ref_max,
        "mismatches": int(np.count_nonzero(a != b)),
        "nonfinite_refsnn": int(a.size - np.count_nonzero(fin_a)),
        "nonfinite_framework": int(b.size - np.count_nonzero(fin_b)),
        "shape": list(a.shape),
    }


def within(stats: dict, tol: float) -> bool:
    """``max_abs ≤ tol·max(1, ref_max)`` and no non-finite entries on either side."""
    return (stats["nonfinite_refsnn"] == 0 and stats["nonfinite_framework"] == 0
            and stats["max_abs"] <= tol * max(1.0, stats["ref_max"]))


def diff_all(mine: dict, theirs: dict) -> dict:
    """:func:`diff_stats` for every key the framework recorded (refsnn must have them all)."""
    missing = sorted(set(theirs) - set(mine))
    if missing:
        raise KeyError(f"diff_all: refsnn run lacks quantities {missing}")
    return {k: diff_stats(mine[k], theirs[k], k) for k in theirs}


def _run_torch(framework: str, config: CrossvalConfig, x, cot):
    """``(torch net, results)`` of the framework run."""
    if framework == "snntorch":
        from refsnn.crossval.snntorch_nets import build_snntorch, run_snntorch

        net = build_snntorch(config)
        return net, run_snntorch(net, x, cot, config)
    from refsnn.crossval.spikingjelly_nets import build_spikingjelly, run_spikingjelly

    net = build_spikingjelly(config)
    return net, run_spikingjelly(net, x, cot, config)


def transfer_state(torch_state: dict, transfer: str, directory=None) -> dict:
    """The state refsnn loads: the torch arrays themselves, or read back from a safetensors file."""
    if transfer == "state_dict":
        return torch_state
    if transfer != "safetensors":
        raise ValueError(f"transfer must be 'state_dict' or 'safetensors', got {transfer!r}")
    from refsnn.io import load_safetensors, save_safetensors

    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        path = Path(tmp) / "crossval.safetensors"
        save_safetensors(path, torch_state, metadata={"source": "refsnn.crossval"})
        state, _ = load_safetensors(path)
    return state


def versions() -> dict:
    """Installed versions of refsnn, numpy and the torch frameworks (``None`` if absent); imports nothing."""
    from importlib.metadata import PackageNotFoundError, version

    import refsnn

    out = {"refsnn": refsnn.__version__, "numpy": np.__version__}
    for dist in ("torch", "snntorch", "spikingjelly"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def compare(framework: str, config: CrossvalConfig, *, transfer: str = "state_dict",
            path: str = "fused", keep_arrays: bool = False) -> dict:
    """Cross-validate ``config`` between ``framework`` and refsnn; see the module docstring.

    ``transfer``: ``"state_dict"`` (arrays handed over) or ``"safetensors"``
    (written and read back through a file); ``path``: ``"fused"`` (refsnn's
    multi-step kernels) or ``"steps"`` (its single-step autograd reference).
    Returns ``{"framework", "label", "config", "transfer", "path", "spike_rate",
    "quantities": {name: diff_stats}, "versions"}`` (plus ``"arrays":
    {"refsnn": ..., framework: ...}`` with ``keep_arrays``).
    """
    _check_framework(framework, config, "compare")
    require("torch", "compare")
    from refsnn.crossval.refsnn_nets import build_refsnn, run_refsnn
    from refsnn.crossval.torch_common import torch_state_dict

    x, cot = make_data(config)
    net, theirs = _run_torch(framework, config, x, cot)
    state = transfer_state(torch_state_dict(net), transfer)
    mine = run_refsnn(build_refsnn(config, state), x, cot, config, path=path)
    result = {
        "framework": framework,
        "label": config.label() + ("" if path == "fused" else " [steps]"),
        "config": config.to_dict(),
        "transfer": transfer,
        "path": path,
        "spike_rate": {k: float(np.mean(theirs[k])) for k in SPIKES},
        "quantities": diff_all(mine, theirs),
        "versions": versions(),
    }
    if keep_arrays:
        result["arrays"] = {"refsnn": mine, framework: theirs}
    return result


def compare_neuron(config: CrossvalConfig, currents, cot=None, *, path: str = "fused",
                   keep_arrays: bool = True) -> dict:
    """One neuron layer of ``config`` driven by ``currents [T, B, N]`` in the framework and in refsnn.

    The loss is ``Σ cot ⊙ U + λ·Σ S`` (``cot`` defaults to ones).  Quantities:
    ``spk``, ``mem``, ``loss``, ``grad.input`` (and ``grad.w`` for PLIF).
    """
    if not isinstance(config, CrossvalConfig):
        raise TypeError(f"compare_neuron: config must be a CrossvalConfig, got {type(config).__name__}")
    currents = np.ascontiguousarray(currents, dtype=config.np_dtype)
    if currents.ndim != 3:
        raise ValueError(f"compare_neuron: currents must be [T, B, N], got shape {currents.shape}")
    cot = np.ones_like(currents) if cot is None else np.ascontiguousarray(cot, dtype=config.np_dtype)
    if cot.shape != currents.shape:
        raise ValueError(f"compare_neuron: cot shape {cot.shape} != currents shape {currents.shape}")
    from refsnn.crossval.refsnn_nets import run_neuron_refsnn

    if config.framework == "snntorch":
        from refsnn.crossval.snntorch_nets import run_neuron_snntorch as run_theirs
    else:
        from refsnn.crossval.spikingjelly_nets import run_neuron_spikingjelly as run_theirs
    theirs, state = run_theirs(config, currents, cot)
    mine = run_neuron_refsnn(config, currents, cot, state, path=path)
    result = {"framework": config.framework, "label": config.label(), "config": config.to_dict(),
              "quantities": diff_all(mine, theirs)}
    if keep_arrays:
        result["arrays"] = {"refsnn": mine, config.framework: theirs}
    return result


# ---------------------------------------------------------------------------- reporting
def _group_max(quantities: dict, keys, field: str) -> float:
    values = [quantities[k][field] for k in keys if k in quantities]
    return max(values) if values else float("nan")


def summarize(result: dict) -> dict:
    """Worst values per group: spike mismatches, membranes, output, input and parameter gradients."""
    q = result["quantities"]
    grads = [k for k in q if k.startswith("grad.") and k != "grad.input"]
    mems = [k for k in q if k.startswith("mem")]
    return {
        "spike_mismatches": int(sum(q[k]["mismatches"] for k in q if k.startswith("spk"))),
        "nonfinite": int(sum(q[k]["nonfinite_refsnn"] + q[k]["nonfinite_framework"] for k in q)),
        "mem_abs": _group_max(q, mems, "max_abs"),
        "out_abs": _group_max(q, ["out"], "max_abs"),
        "loss_rel": _group_max(q, ["loss"], "max_rel"),
        "grad_input_abs": _group_max(q, ["grad.input"], "max_abs"),
        "grad_input_rel": _group_max(q, ["grad.input"], "max_rel"),
        "grad_param_abs": _group_max(q, grads, "max_abs"),
        "grad_param_rel": _group_max(q, grads, "max_rel"),
    }


def report(results, *, verbose: bool = False) -> str:
    """A text table, one row per result (``verbose``: one row per quantity as well)."""
    if isinstance(results, dict):
        results = [results]
    cols = ("spike_mismatches", "nonfinite", "mem_abs", "out_abs", "loss_rel", "grad_input_abs",
            "grad_input_rel", "grad_param_abs", "grad_param_rel")
    heads = ("spk≠", "nan", "mem abs", "out abs", "loss rel", "dx abs", "dx rel", "dθ abs", "dθ rel")
    width = max([len("config")] + [len(r["label"]) for r in results])
    lines = [f"{'config':<{width}}  " + "  ".join(f"{h:>9}" for h in heads)]
    lines.append("-" * len(lines[0]))
    for r in results:
        s = summarize(r)
        cells = [f"{s[c]:>9d}" if isinstance(s[c], int) else f"{s[c]:>9.2e}" for c in cols]
        lines.append(f"{r['label']:<{width}}  " + "  ".join(cells))
        if verbose:
            for name, st in r["quantities"].items():
                lines.append(f"    {name:<16} max_abs={st['max_abs']:.3e}  max_rel={st['max_rel']:.3e}  "
                             f"ref_max={st['ref_max']:.3e}  mismatches={st['mismatches']}  nonfinite="
                             f"{st['nonfinite_refsnn']}/{st['nonfinite_framework']}")
    return "\n".join(lines)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj


def write_json(results, path) -> Path:
    """Write ``results`` (list of :func:`compare` dicts, arrays dropped) as JSON, atomically."""
    if isinstance(results, dict):
        results = [results]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = [{k: v for k, v in r.items() if k != "arrays"} for r in results]
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump({"results": _jsonable(clean), "summary": [_jsonable(summarize(r)) for r in clean]},
                  fh, indent=2)
    os.replace(tmp, path)
    return path
