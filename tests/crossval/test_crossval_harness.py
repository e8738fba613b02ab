"""Default-run tests of refsnn.crossval that need no torch: imports, config checks, metrics, reports."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from refsnn.crossval import CrossvalConfig, diff_stats, make_data, report, summarize, within, write_json


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


def test_import_does_not_import_torch():
    proc = _run_python("""
        import sys
        import refsnn, refsnn.crossval
        from refsnn.crossval import spec, compare, snntorch_nets, spikingjelly_nets, torch_common
        bad = [m for m in ("torch", "snntorch", "spikingjelly") if m in sys.modules]
        print("LOADED", bad)
    """)
    assert proc.returncode == 0, proc.stderr
    assert "LOADED []" in proc.stdout


@pytest.mark.parametrize("call", [
    "from refsnn.crossval.snntorch_nets import build_snntorch as f; f(CrossvalConfig())",
    "from refsnn.crossval.spikingjelly_nets import build_spikingjelly as f; f(CrossvalConfig(neuron='lif'))",
    "from refsnn.crossval import compare; compare('spikingjelly', CrossvalConfig(neuron='plif'))",
])
def test_builders_without_torch_say_what_to_install(call):
    proc = _run_python(f"""
        import sys
        sys.modules["torch"] = None          # simulate an install without torch
        from refsnn.crossval import CrossvalConfig
        try:
            {call}
        except ImportError as exc:
            print("IMPORTERROR:", exc)
        else:
            print("NO ERROR")
    """)
    assert proc.returncode == 0, proc.stderr
    assert "IMPORTERROR:" in proc.stdout
    assert "pip install -e .[crossval]" in proc.stdout
    assert "torch" in proc.stdout


def test_missing_framework_named_in_error():
    proc = _run_python("""
        import sys
        sys.modules["snntorch"] = None
        from refsnn.crossval import require
        try:
            require("snntorch", "build_snntorch")
        except ImportError as exc:
            print("IMPORTERROR:", exc)
    """)
    assert "IMPORTERROR: build_snntorch needs snntorch" in proc.stdout
    assert "pip install -e .[crossval]" in proc.stdout


def test_require_rejects_unknown_name():
    from refsnn.crossval import require

    with pytest.raises(ValueError, match="unknown optional dependency 'tensorflow'"):
        require("tensorflow")


# ------------------------------------------------------------------------ config
def test_config_defaults_follow_each_framework():
    leaky = CrossvalConfig(neuron="leaky")
    assert (leaky.framework, leaky.reset, leaky.surrogate_spec(), leaky.resolved_detach_reset()) == (
        "snntorch", "subtract", ("atan", 2.0), True)
    lif = CrossvalConfig(neuron="lif")
    assert (lif.framework, lif.reset, lif.surrogate_spec(), lif.resolved_detach_reset()) == (
        "spikingjelly", "hard", ("sigmoid", 4.0), False)
    assert lif.sj_v_reset() == 0.0 and lif.replace(reset="soft").sj_v_reset() is None
    assert CrossvalConfig(surrogate="fast_sigmoid").surrogate_spec() == ("fast_sigmoid", 25.0)
    assert CrossvalConfig(surrogate="sigmoid").surrogate_spec() == ("sigmoid", 25.0)  # snnTorch default slope


@pytest.mark.parametrize("kwargs, match", [
    (dict(neuron="izhikevich"), "neuron must be one of"),
    (dict(sizes=(3, 4)), "sizes must be three positive ints"),
    (dict(sizes=(3, 0, 2)), "sizes must be three positive ints"),
    (dict(T=0), "T must be a positive int"),
    (dict(batch=1.5), "batch must be a positive int"),
    (dict(beta=1.2), "beta must lie in"),
    (dict(neuron="lif", tau=1.0), "tau must be > 1"),
    (dict(threshold=0.0), "threshold must be > 0"),
    (dict(reset="hard"), "reset for snntorch must be one of"),
    (dict(neuron="plif", reset="subtract"), "reset for spikingjelly must be one of"),
    (dict(detach_reset=False), "detach_reset=False is impossible with snnTorch"),
    (dict(neuron="lif", surrogate="fast_sigmoid"), "surrogate for spikingjelly must be one of"),
    (dict(surrogate_param=-1.0), "surrogate_param must be > 0"),
    (dict(dtype="float16"), "dtype must be one of"),
    (dict(input_rate=1.5), "input_rate must lie in"),
    (dict(weight_gain=math.inf), "weight_gain must be finite"),
])
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CrossvalConfig(**kwargs)


def test_make_data_is_seeded_and_binary():
    cfg = CrossvalConfig(T=7, batch=2, sizes=(5, 4, 3), input_rate=0.5, seed=3)
    x, cot = make_data(cfg)
    x2, cot2 = make_data(cfg)
    assert x.shape == (7, 2, 5) and cot.shape == (7, 2, 3)
    assert x.dtype == np.float32 and cot.dtype == np.float32
    assert set(np.unique(x)) <= {0.0, 1.0} and 0 < x.mean() < 1
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(cot, cot2)
    x3, _ = make_data(cfg.replace(seed=4))
    assert not np.array_equal(x, x3)
    x64, _ = make_data(cfg.replace(dtype="float64"))
    assert x64.dtype == np.float64 and np.array_equal(x64, x)
    with pytest.raises(TypeError, match="expected a CrossvalConfig"):
        make_data({"T": 3})


# ----------------------------------------------------------------------- metrics
def test_diff_stats_hand_computed():
    a = np.array([[1.0, 2.0], [3.0, 4.5]])
    b = np.array([[1.0, 2.5], [3.0, 4.0]])
    st = diff_stats(a, b, "x")
    assert st["max_abs"] == 0.5 and st["ref_max"] == 4.0 and st["max_rel"] == 0.125
    assert st["mismatches"] == 2 and st["nonfinite_refsnn"] == 0 and st["nonfinite_framework"] == 0
    assert within(st, 0.125) and not within(st, 0.12)


def test_diff_stats_counts_nonfinite_and_ignores_them_in_max():
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, np.nan, 3.5])
    st = diff_stats(a, b, "g")
    assert st["nonfinite_framework"] == 1 and st["nonfinite_refsnn"] == 0
    assert st["max_abs"] == 0.5 and st["ref_max"] == 3.5
    assert not within(st, 1.0)  # a NaN on either side always fails


def test_diff_stats_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="mem1 has shape"):
        diff_stats(np.zeros((2, 3)), np.zeros((3, 2)), "mem1")


def _fake_result(label="leaky test", spike_err=0, g=1e-6):
    def st(max_abs, ref_max=1.0, mism=0):
        return {"max_abs": max_abs, "max_rel": max_abs / ref_max, "ref_max": ref_max, "mismatches": mism,
                "nonfinite_refsnn": 0, "nonfinite_framework": 0, "shape": [1]}

    q = {"spk1": st(float(spike_err > 0), 1.0, spike_err), "spk2": st(0.0), "mem1": st(2e-7, 3.0),
         "mem2": st(1e-7), "out": st(4e-7), "loss": st(0.0), "grad.input": st(g, 2.0),
         "grad.0.weight": st(3 * g, 4.0)}
    return {"framework": "snntorch", "label": label, "config": {}, "quantities": q}


def test_summarize_and_report():
    res = _fake_result(spike_err=2)
    s = summarize(res)
    assert s["spike_mismatches"] == 2 and s["nonfinite"] == 0
    assert s["mem_abs"] == 2e-7 and s["grad_input_rel"] == 5e-7 and s["grad_param_abs"] == 3e-6
    text = report([res, _fake_result("lif other")], verbose=True)
    lines = text.splitlines()
    assert lines[0].startswith("config") and "spk≠" in lines[0]
    assert any(line.startswith("leaky test") and " 2 " in line for line in lines)
    assert "grad.0.weight" in text and "mismatches=2" in text


def test_write_json_round_trip(tmp_path):
    res = _fake_result()
    res["arrays"] = {"refsnn": {"x": np.zeros(3)}}
    path = write_json([res], tmp_path / "sub" / "crossval.json")
    data = json.loads(path.read_text())
    assert data["results"][0]["label"] == "leaky test"
    assert "arrays" not in data["results"][0]
    assert data["summary"][0]["grad_param_abs"] == pytest.approx(3e-6)
