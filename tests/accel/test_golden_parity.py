"""Golden-output parity: the CuPy backend must reproduce ``tests/golden/*.npz`` written by the reference.

File format (what the writer of the golden files must put in each ``.npz``)
--------------------------------------------------------------------------
* Arrays named ``<case>__<field>`` (``case`` and ``field`` without ``__``),
  saved with ``numpy.savez`` / ``savez_compressed``; no object arrays (the
  files are read with ``allow_pickle=False``).
* ``__meta__``: a NumPy *unicode* string array (0-d or 1 element) holding JSON::

    {"format": 1,
     "cases": {
       "<case>": {
         "kernel": "lif_delayed_forward",          # a name in refsnn.backend.registered_kernels()
         "args": [{"array": "X"}, 0.7, 1.0, 0],      # positional args of the kernel, in order:
                                                     #   {"array": f} -> the array <case>__<f>
                                                     #   null -> None; numbers/bools/strings as is
         "outputs": ["S", "U"],                      # expected results, in return order: a field
                                                     #   name, null to skip one, or an object
                                                     #   {"field": "dX", "check": "grad",
                                                     #    "rtol": 1e-4, "atol": 1e-6}
         "seed": 0, "note": "free text"              # optional, ignored here
       },
       "<case2>": {"callable": "refsnn.neurons:lif_delayed",     # instead of "kernel": a
                   "args": [{"array": "x", "tensor": true}],     # function run with the cupy
                   "kwargs": {"beta": 0.7, "theta": 1.0},        # backend active (GPU only)
                   "outputs": ["s"]}
     }}

Checks (the DESIGN's golden tolerances): ``"exact"`` — equal (the default for
uint8/bool results: spikes); ``"value"`` — ``rtol = 1e-5`` (default for
forward results); ``"grad"`` — ``rtol = 1e-4`` (default for kernels named
``*_backward`` and ``spike_matmul_t``).  ``atol`` defaults to ``rtol ×
max|expected|`` so values near zero are judged on the array's scale; a
scalar result (``lif_sj_backward``'s ``d_inv_tau``) is compared the same way.

Where they run: every kernel case on the host emulator of the CUDA sources
(default run) and on a real GPU (``-m gpu``, skipped with "no CUDA GPU /
CuPy" without one); ``callable`` cases only on the GPU.  With no golden
files present a single test is skipped saying so.  The metadata of every
file is validated in the default run, so a malformed file fails early.
``REFSNN_GOLDEN_DIR`` points the tests at another directory of golden files.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.backend import registered_kernels

GOLDEN = Path(os.environ.get("REFSNN_GOLDEN_DIR", Path(__file__).resolve().parents[1] / "golden"))
CHECKS = {"exact": 0.0, "value": 1e-5, "grad": 1e-4}


def load_meta(path: Path) -> dict:
    """The ``__meta__`` JSON of a golden file; ``ValueError`` naming the file if malformed."""
    with np.load(path, allow_pickle=False) as z:
        if "__meta__" not in z.files:
            raise ValueError(f"{path.name}: no __meta__ array (see tests/accel/test_golden_parity.py)")
        raw = z["__meta__"]
        fields = set(z.files)
    if raw.dtype.kind != "U" or raw.size != 1:
        raise ValueError(f"{path.name}: __meta__ must be a unicode string array of one element, "
                         f"got dtype {raw.dtype} size {raw.size}")
    meta = json.loads(str(raw.reshape(())))
    if meta.get("format") != 1 or not isinstance(meta.get("cases"), dict):
        raise ValueError(f"{path.name}: __meta__ needs format 1 and a 'cases' object")
    for case, spec in meta["cases"].items():
        where = f"{path.name}: case {case!r}"
        if ("kernel" in spec) == ("callable" in spec):
            raise ValueError(f"{where}: give exactly one of 'kernel' and 'callable'")
        if "kernel" in spec and spec["kernel"] not in registered_kernels("numpy"):
            raise ValueError(f"{where}: unknown kernel {spec['kernel']!r}")
        for arg in [*spec.get("args", []), *spec.get("kwargs", {}).values()]:
            if isinstance(arg, dict) and f"{case}__{arg['array']}" not in fields:
                raise ValueError(f"{where}: missing array {case}__{arg['array']}")
        for out in spec.get("outputs", []):
            name = out["field"] if isinstance(out, dict) else out
            if name is not None and f"{case}__{name}" not in fields:
                raise ValueError(f"{where}: missing expected output {case}__{name}")
            if isinstance(out, dict) and out.get("check", "value") not in CHECKS:
                raise ValueError(f"{where}: unknown check {out.get('check')!r}; use {sorted(CHECKS)}")
        if not spec.get("outputs"):
            raise ValueError(f"{where}: no outputs to compare")
    return meta


def golden_cases(directory: Path = GOLDEN, strict: bool = True) -> list:
    """``[(file, case), ...]`` over every golden file; malformed files raise (or, not strict, drop out)."""
    files = sorted(directory.glob("*.npz")) if directory.is_dir() else []
    cases = []
    for f in files:
        try:
            cases += [(f, case) for case in load_meta(f)["cases"]]
        except ValueError:
            if strict:
                raise
    return cases


def default_check(spec: dict, expected) -> str:
    if np.asarray(expected).dtype.kind in "bu":
        return "exact"
    name = spec.get("kernel", "")
    return "grad" if name.endswith("_backward") or name == "spike_matmul_t" else "value"


def compare(where: str, got, expected, check: str, rtol=None, atol=None) -> None:
    got = np.asarray(got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"{where}: shape {got.shape} != golden {expected.shape}"
    if check == "exact":
        np.testing.assert_array_equal(got, expected, err_msg=where)
        return
    rtol = CHECKS[check] if rtol is None else rtol
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    atol = rtol * scale if atol is None else atol
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=where)


def run_case(path: Path, case: str, device) -> int:
    """Run one golden case on ``device`` and compare every output; returns how many were compared."""
    spec = load_meta(path)["cases"][case]
    with np.load(path, allow_pickle=False) as z:
        data = {k.split("__", 1)[1]: z[k] for k in z.files if k.startswith(f"{case}__")}

    def arg(a):
        if isinstance(a, dict):
            arr = device.put(data[a["array"]])
            return Tensor(arr, requires_grad=bool(a.get("requires_grad"))) if a.get("tensor") else arr
        return a

    args = [arg(a) for a in spec.get("args", [])]
    kwargs = {k: arg(v) for k, v in spec.get("kwargs", {}).items()}
    if "kernel" in spec:
        result = device.kernel(spec["kernel"])(*args, **kwargs)
    else:
        module, name = spec["callable"].split(":")
        result = getattr(importlib.import_module(module), name)(*args, **kwargs)
    results = result if isinstance(result, tuple) else (result,)
    outputs = spec["outputs"]
    assert len(results) >= len(outputs), f"{case}: {len(results)} results for {len(outputs)} outputs"
    compared = 0
    for out, got in zip(outputs, results):
        if out is None:
            continue
        out = out if isinstance(out, dict) else {"field": out}
        expected = data[out["field"]]
        got = got.data if isinstance(got, Tensor) else got
        got = got if np.isscalar(got) else device.get(got)
        check = out.get("check") or default_check(spec, expected)
        compare(f"{path.name}:{case}:{out['field']}", got, expected, check, out.get("rtol"),
                out.get("atol"))
        compared += 1
    return compared


CASES = golden_cases(strict=False)  # a malformed file fails test_golden_files_are_well_formed


@pytest.mark.parametrize("path,case", CASES or [pytest.param(None, None, marks=pytest.mark.skip(
    reason=f"no golden files in {GOLDEN} yet"))], ids=[f"{p.stem}:{c}" for p, c in CASES] or ["none"])
def test_golden_case(device, path, case):
    spec = load_meta(path)["cases"][case]
    if "callable" in spec:
        if device.kind != "gpu":
            pytest.skip("callable golden cases run only with the real cupy backend")
        import refsnn.backend as rb

        previous = rb.active_backend()
        rb.set_backend("cupy")
        try:
            assert run_case(path, case, device) > 0
        finally:
            rb.set_backend(previous)
    else:
        assert run_case(path, case, device) > 0


def test_golden_files_are_well_formed():
    assert GOLDEN.is_dir(), f"golden directory {GOLDEN} is missing (tests/golden/make_golden.py writes it)"
    files = sorted(GOLDEN.glob("*.npz"))
    assert files, f"no golden .npz files in {GOLDEN}"
    for f in files:
        assert load_meta(f)["cases"], f"{f.name}: __meta__ lists no cases"  # load_meta raises if malformed


# ------------------------------------------ the runner itself, on a file written here


def write_golden(path: Path, cases: dict, arrays: dict) -> None:
    np.savez(path, __meta__=np.array(json.dumps({"format": 1, "cases": cases})), **arrays)


def test_runner_on_a_reference_written_file(tmp_path, emulated_cupy, rng):
    from accel_devices import Device

    from refsnn.backend import kernel

    X = (0.8 * rng.standard_normal((12, 40)) + 0.4).astype(np.float32)
    gS = rng.standard_normal((12, 40)).astype(np.float32)
    S, U = kernel("lif_delayed_forward", "numpy")(X, 0.7, 1.0, 0)
    dX = kernel("lif_delayed_backward", "numpy")(gS, None, S, U, 0.7, 1.0, 0, 0, 40.0, 0.0, True)
    cases = {
        "fwd": {"kernel": "lif_delayed_forward", "args": [{"array": "X"}, 0.7, 1.0, 0],
                "outputs": ["S", "U"]},
        "bwd": {"kernel": "lif_delayed_backward",
                "args": [{"array": "gS"}, None, {"array": "S"}, {"array": "U"}, 0.7, 1.0, 0, 0, 40.0,
                         0.0, True], "outputs": [{"field": "dX", "check": "grad"}]},
    }
    arrays = {"fwd__X": X, "fwd__S": S, "fwd__U": U, "bwd__gS": gS, "bwd__S": S, "bwd__U": U,
              "bwd__dX": dX}
    good = tmp_path / "lif.npz"
    write_golden(good, cases, arrays)
    dev = Device("emu", emulated_cupy)
    assert [c for _, c in golden_cases(tmp_path)] == ["fwd", "bwd"]
    assert run_case(good, "fwd", dev) == 2 and run_case(good, "bwd", dev) == 1
    # a golden value that the kernel does not reproduce must fail
    bad = tmp_path / "bad.npz"
    write_golden(bad, cases, {**arrays, "bwd__dX": dX * np.float32(1.001)})
    with pytest.raises(AssertionError, match="bad.npz:bwd:dX"):
        run_case(bad, "bwd", dev)


@pytest.mark.parametrize("cases,arrays,message", [
    ({"c": {"kernel": "nope", "outputs": ["y"]}}, {"c__y": np.zeros(1)}, "unknown kernel"),
    ({"c": {"kernel": "spike_matmul", "args": [{"array": "S"}], "outputs": ["y"]}},
     {"c__y": np.zeros(1)}, "missing array c__S"),
    ({"c": {"kernel": "spike_matmul", "outputs": ["Z"]}}, {}, "missing expected output c__Z"),
    ({"c": {"kernel": "spike_matmul", "outputs": []}}, {}, "no outputs"),
])
def test_malformed_metadata_is_reported(tmp_path, cases, arrays, message):
    path = tmp_path / "g.npz"
    write_golden(path, cases, arrays)
    with pytest.raises(ValueError, match=message):
        load_meta(path)
    np.savez(tmp_path / "nometa.npz", a=np.zeros(1))
    with pytest.raises(ValueError, match="no __meta__"):
        load_meta(tmp_path / "nometa.npz")
