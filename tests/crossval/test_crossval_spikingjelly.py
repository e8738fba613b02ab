"""refsnn form 4 (LIFNodeSJ / PLIF) against SpikingJelly 2.0 ``LIFNode`` / ``ParametricLIFNode``."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytestmark = pytest.mark.crossval

torch = pytest.importorskip("torch")
pytest.importorskip("spikingjelly")

from refsnn.crossval import CrossvalConfig, compare, compare_neuron, within  # noqa: E402
from refsnn.crossval.compare import diff_all  # noqa: E402
from refsnn.crossval.refsnn_nets import build_refsnn, run_refsnn  # noqa: E402
from refsnn.crossval.spec import make_data  # noqa: E402
from refsnn.crossval.spikingjelly_nets import build_spikingjelly, run_spikingjelly  # noqa: E402
from refsnn.crossval.torch_common import torch_state_dict  # noqa: E402

TOL = {"float32": (1e-5, 1e-4), "float64": (1e-12, 1e-10)}  # (membranes, gradients)


def assert_agree(res: dict, dtype: str = "float32"):
    mem_tol, g_tol = TOL[dtype]
    for name, st in res["quantities"].items():
        if name.startswith("spk"):
            assert st["mismatches"] == 0, f"{res['label']}: {name} differs in {st['mismatches']} entries"
        else:
            tol = g_tol if name.startswith("grad.") else mem_tol
            assert within(st, tol), f"{res['label']}: {name} {st}"


def gain(decay_input: bool, threshold: float) -> float:
    """Weight scale giving both layers some spikes (decay_input divides the input by τ)."""
    return (8.0 if decay_input else 4.0) * threshold


GRID = list(itertools.product(
    ("lif", "plif"), (1.5, 2.0, 3.0), ("hard", "soft"), (True, False), (False, True), ("sigmoid", "atan")))


@pytest.mark.parametrize("neuron, tau, reset, decay_input, detach, sg", GRID,
                         ids=lambda v: str(v))
def test_sj_network_float32_T5(neuron, tau, reset, decay_input, detach, sg):
    cfg = CrossvalConfig(neuron=neuron, T=5, tau=tau, reset=reset, decay_input=decay_input,
                         detach_reset=detach, surrogate=sg, weight_gain=gain(decay_input, 1.0), seed=int(tau))
    res = compare("spikingjelly", cfg)
    assert_agree(res)
    assert res["spike_rate"]["spk1"] > 0
    if neuron == "plif":  # PLIF's w gradient is part of the check
        assert {"grad.1.w", "grad.3.w"} <= set(res["quantities"])


@pytest.mark.parametrize("T", [1, 25])
@pytest.mark.parametrize("neuron", ["lif", "plif"])
@pytest.mark.parametrize("threshold, v_reset, sg, alpha",
                         [(1.0, 0.0, "sigmoid", 4.0), (0.5, -0.2, "atan", 3.0), (2.0, 0.3, "sigmoid", 2.0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sj_network_T_thresholds_dtypes(T, neuron, threshold, v_reset, sg, alpha, dtype):
    """float32 runs SpikingJelly's fused CPU operator, float64 its torch reference loop."""
    for reset, di in (("hard", True), ("soft", False)):
        cfg = CrossvalConfig(neuron=neuron, T=T, tau=2.5, threshold=threshold, v_reset=v_reset, reset=reset,
                             decay_input=di, surrogate=sg, surrogate_param=alpha, dtype=dtype,
                             weight_gain=gain(di, threshold), seed=T)
        assert_agree(compare("spikingjelly", cfg), dtype)


def test_sj_wide_network_and_steps_path():
    cfg = CrossvalConfig(neuron="plif", T=25, sizes=(64, 48, 10), batch=4, tau=2.0)
    for path, transfer in (("fused", "safetensors"), ("steps", "state_dict")):
        res = compare("spikingjelly", cfg, path=path, transfer=transfer)
        assert 0 < res["spike_rate"]["spk2"] < 1
        assert_agree(res)


def test_plif_w_gradient_matches_at_float64_and_rounds_alike_in_float32():
    """float64: ∂L/∂w equal to 1e-10 relative.  float32: both sides are equally close to float64."""
    cfg = CrossvalConfig(neuron="plif", T=25, tau=3.0, reset="soft", seed=5)
    r64 = compare("spikingjelly", cfg.replace(dtype="float64"), keep_arrays=True)
    r32 = compare("spikingjelly", cfg, keep_arrays=True)
    for k in ("grad.1.w", "grad.3.w"):
        assert r64["quantities"][k]["max_rel"] < 1e-10
        assert r64["quantities"][k]["ref_max"] > 1e-3  # a real gradient, not zero
        truth = r64["arrays"]["spikingjelly"][k]
        err_ours = abs(float(r32["arrays"]["refsnn"][k]) - float(truth))
        err_sj = abs(float(r32["arrays"]["spikingjelly"][k]) - float(truth))
        assert err_ours < 1e-4 * max(1.0, abs(float(truth))) and err_sj < 1e-4 * max(1.0, abs(float(truth)))


def test_detach_reset_changes_gradients_and_harness_sees_it():
    """Negative control: refsnn with the other detach_reset gives the same spikes, other gradients."""
    cfg = CrossvalConfig(neuron="lif", T=25, reset="soft", detach_reset=False)
    x, cot = make_data(cfg)
    net = build_spikingjelly(cfg)
    theirs = run_spikingjelly(net, x, cot, cfg)
    state = torch_state_dict(net)
    other = cfg.replace(detach_reset=True)
    diffs = diff_all(run_refsnn(build_refsnn(other, state), x, cot, other), theirs)
    assert diffs["spk1"]["mismatches"] == 0 and diffs["spk2"]["mismatches"] == 0
    assert diffs["grad.input"]["max_rel"] > 1e-3


def test_reruns_are_isolated_from_node_memory():
    cfg = CrossvalConfig(neuron="lif", T=5)
    net = build_spikingjelly(cfg)
    x, cot = make_data(cfg)
    a = run_spikingjelly(net, x, cot, cfg)
    b = run_spikingjelly(net, x, cot, cfg)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


# ------------------------------------------------------------------ single-layer edge cases
@pytest.mark.parametrize("neuron", ["lif", "plif"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_exact_threshold_fires_in_both(neuron, dtype):
    """τ = 2, V = 0, X = 2 → H = 1 = V_th exactly: SpikingJelly and refsnn form 4 fire (≥)."""
    cfg = CrossvalConfig(neuron=neuron, tau=2.0, dtype=dtype, count_weight=0.5)
    X = np.array([[[2.0, 2.0 - 2**-20, 0.0]], [[0.0, 0.0, 2.0]]])
    res = compare_neuron(cfg, X)
    sj = res["arrays"]["spikingjelly"]
    np.testing.assert_array_equal(sj["spk"][:, 0, :], [[1, 0, 0], [0, 0, 1]])
    assert_agree(res, dtype)


@pytest.mark.parametrize("neuron", ["lif", "plif"])
@pytest.mark.parametrize("reset, v_reset", [("hard", 0.0), ("hard", -0.5), ("hard", 0.3), ("soft", 0.0)])
@pytest.mark.parametrize("detach", [False, True])
def test_sj_layer_random_currents(neuron, reset, v_reset, detach):
    """Initial V = v_reset for the hard reset (also nonzero), 0 for the soft one."""
    rng = np.random.default_rng(11)
    X = rng.normal(0.5, 1.5, size=(25, 4, 7))
    cot = rng.normal(size=X.shape)
    cfg = CrossvalConfig(neuron=neuron, tau=3.0, reset=reset, v_reset=v_reset, detach_reset=detach)
    res = compare_neuron(cfg, X, cot)
    sj = res["arrays"]["spikingjelly"]
    assert 0 < sj["spk"].mean() < 1
    assert_agree(res)
    if reset == "hard":  # post-reset membrane sits exactly on v_reset after every spike
        np.testing.assert_array_equal(res["arrays"]["refsnn"]["mem"][sj["spk"] == 1], np.float32(v_reset))


def test_sj_tau_must_be_float_and_greater_than_one():
    from spikingjelly.activation_based import neuron

    with pytest.raises(AssertionError):
        neuron.LIFNode(tau=2)  # an int is refused by SpikingJelly; the builders pass float(tau)
    with pytest.raises(ValueError, match="tau must be > 1"):
        CrossvalConfig(neuron="lif", tau=1.0)
