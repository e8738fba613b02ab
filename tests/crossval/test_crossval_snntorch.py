"""refsnn form 1 (LIFDelayed / lif_delayed) against snnTorch 1.0 ``Leaky``: network and single-layer runs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytestmark = pytest.mark.crossval

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")

from refsnn.crossval import CrossvalConfig, compare, compare_neuron, within  # noqa: E402
from refsnn.crossval.compare import diff_all  # noqa: E402
from refsnn.crossval.refsnn_nets import build_refsnn, run_refsnn, split_state  # noqa: E402
from refsnn.crossval.snntorch_nets import build_snntorch, run_snntorch  # noqa: E402
from refsnn.crossval.spec import make_data  # noqa: E402
from refsnn.crossval.torch_common import torch_state_dict  # noqa: E402

TOL = {"float32": (1e-5, 1e-4), "float64": (1e-12, 1e-6)}  # (membranes, gradients); see below


def assert_agree(res: dict, dtype: str = "float32", grad_tol: float | None = None):
    """Spikes identical; membranes/output/loss and gradients within tolerance (scaled by max(1, |ref|))."""
    mem_tol, g_tol = TOL[dtype]
    g_tol = grad_tol if grad_tol is not None else g_tol
    q = res["quantities"]
    for name, st in q.items():
        if name.startswith("spk"):
            assert st["mismatches"] == 0, f"{res['label']}: {name} differs in {st['mismatches']} entries"
            assert st["ref_max"] in (0.0, 1.0)
        else:
            tol = g_tol if name.startswith("grad.") else mem_tol
            assert within(st, tol), f"{res['label']}: {name} {st}"


def assert_spiking(res: dict):
    """The run exercised spikes and silence in both layers (otherwise the check is weak)."""
    for k in ("spk1", "spk2"):
        assert 0.0 < res["spike_rate"][k] < 1.0, f"{res['label']}: {k} rate {res['spike_rate'][k]}"


# snnTorch's sigmoid surrogate overflows to NaN for U − θ < −88.7/slope in float32 (and the NaN
# then spreads through BPTT), so it is swept with slope 1: these membranes stay above θ − 39.
GRID = [
    dict(beta=b, threshold=th, reset=r, surrogate=sg, surrogate_param=p)
    for (b, th, r, (sg, p)) in itertools.product(
        (0.5, 0.9), (0.5, 1.0), ("subtract", "zero"),
        (("fast_sigmoid", 25.0), ("atan", 2.0), ("sigmoid", 1.0)))
]


@pytest.mark.parametrize("T", [1, 5, 25])
@pytest.mark.parametrize("params", GRID, ids=lambda p: "-".join(str(v) for v in p.values()))
def test_leaky_network_float32(T, params):
    cfg = CrossvalConfig(neuron="leaky", T=T, seed=T, weight_gain=8.0 * params["threshold"], **params)
    res = compare("snntorch", cfg)
    assert_agree(res)
    if T > 1:
        assert_spiking(res)


@pytest.mark.parametrize("cfg", [
    CrossvalConfig(neuron="leaky", beta=0.7, surrogate="fast_sigmoid", surrogate_param=40.0, T=25,
                   sizes=(64, 48, 10), batch=4),                      # the GAMIN study's LIF, wider
    CrossvalConfig(neuron="leaky", beta=0.0, reset="zero", T=5, sizes=(3, 2, 1)),
    CrossvalConfig(neuron="leaky", beta=1.0, threshold=2.0, reset="subtract", T=25, weight_gain=4.0),
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_leaky_network_sizes_and_extremes(cfg, dtype):
    res = compare("snntorch", cfg.replace(dtype=dtype))
    # float64: snnTorch's spikes are float32, so every gradient through a surrogate is rounded to
    # float32 in snnTorch (documented difference 8); membranes still agree to 1e-12.
    assert_agree(res, dtype)


def test_float64_gradient_gap_is_snntorch_float32_spikes():
    cfg = CrossvalConfig(neuron="leaky", T=5, dtype="float64", surrogate="fast_sigmoid")
    net = build_snntorch(cfg)
    spk, _ = net[1](torch.ones(2, cfg.sizes[1], dtype=torch.float64),
                    torch.zeros(2, cfg.sizes[1], dtype=torch.float64))
    assert spk.dtype == torch.float32  # the cause
    res = compare("snntorch", cfg)
    q = res["quantities"]
    assert q["mem2"]["max_rel"] < 1e-14  # forward is exact to float64 rounding
    assert 1e-12 < q["grad.input"]["max_rel"] < 1e-6  # gradients only to float32 rounding


def test_paths_and_transfers_agree():
    cfg = CrossvalConfig(neuron="leaky", T=5, reset="zero", surrogate="fast_sigmoid")
    for transfer, path in [("safetensors", "fused"), ("state_dict", "steps")]:
        res = compare("snntorch", cfg, transfer=transfer, path=path)
        assert res["transfer"] == transfer and res["path"] == path
        assert_agree(res)


def test_harness_detects_a_wrong_beta():
    """Negative control: refsnn built with another β disagrees, and split_state refuses the checkpoint."""
    cfg = CrossvalConfig(neuron="leaky", T=5)
    x, cot = make_data(cfg)
    net = build_snntorch(cfg)
    theirs = run_snntorch(net, x, cot, cfg)
    state = torch_state_dict(net)
    with pytest.raises(ValueError, match=r"snnTorch buffer 1\.beta"):
        split_state(cfg.replace(beta=0.75), state)
    other = cfg.replace(beta=0.75)
    weights_only = {k: v for k, v in state.items() if k.endswith(("weight", "bias"))}
    mine = run_refsnn(build_refsnn(other, weights_only), x, cot, other)
    diffs = diff_all(mine, theirs)
    assert diffs["mem1"]["max_abs"] > 1e-3
    assert not within(diffs["grad.input"], 1e-4)


def test_runs_are_isolated_from_leaky_hidden_state():
    """snnTorch keeps ``mem`` between calls; the harness passes zeros, so reruns are identical."""
    cfg = CrossvalConfig(neuron="leaky", T=5)
    net = build_snntorch(cfg)
    x, cot = make_data(cfg)
    first = run_snntorch(net, x, cot, cfg)
    second = run_snntorch(net, x, cot, cfg)
    for k in first:
        np.testing.assert_array_equal(first[k], second[k])
    # ... whereas Leaky called with mem=None continues from its stored membrane
    lif = snn.Leaky(beta=0.5)
    xin = torch.tensor([0.6])
    _, m1 = lif(xin)
    _, m2 = lif(xin)
    assert m1.item() == pytest.approx(0.6) and m2.item() == pytest.approx(0.9)


# ------------------------------------------------------------------ single-layer edge cases
def test_exact_threshold_does_not_fire_in_either():
    """β = 0.5, X = 1 → U = 1 = θ exactly: Θ is strict in snnTorch and in refsnn form 1."""
    cfg = CrossvalConfig(neuron="leaky", beta=0.5, threshold=1.0, count_weight=0.3)
    X = np.array([[[1.0, 1.0 + 2**-20]], [[0.5, 0.0]], [[0.0, 0.0]]], np.float32)
    res = compare_neuron(cfg, X)
    ours = res["arrays"]["refsnn"]
    np.testing.assert_array_equal(ours["mem"][:2, 0, 0], [1.0, 1.0])  # on the threshold twice
    np.testing.assert_array_equal(ours["spk"][:, 0, :], [[0, 1], [0, 0], [0, 0]])
    assert_agree(res)


def test_beta_outside_unit_interval_is_clamped_by_snntorch_but_refused_here():
    lif = snn.Leaky(beta=1.5)
    mem = torch.zeros(1)
    for _ in range(2):
        _, mem = lif(torch.tensor([0.4]), mem)
    assert mem.item() == pytest.approx(0.8)  # β clamped to 1: 0.4 + 0.4, not 1.5·0.4 + 0.4
    with pytest.raises(ValueError, match="beta must lie in"):
        CrossvalConfig(neuron="leaky", beta=1.5)


def test_snntorch_sigmoid_surrogate_overflows_where_refsnn_stays_finite():
    """U − θ = −4 with slope 25: e^100 overflows float32 → NaN in snnTorch; refsnn is finite (~0)."""
    cfg = CrossvalConfig(neuron="leaky", beta=0.5, surrogate="sigmoid", surrogate_param=25.0,
                         count_weight=1.0)
    X = np.array([[[-3.0, 0.8, 1.2]], [[0.0, 0.5, 0.0]]], np.float32)
    res = compare_neuron(cfg, X)
    g = res["quantities"]["grad.input"]
    assert g["nonfinite_framework"] >= 1 and g["nonfinite_refsnn"] == 0
    assert g["max_abs"] < 1e-6  # the finite entries agree
    assert np.isfinite(res["arrays"]["refsnn"]["grad.input"]).all()


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("sg", [("fast_sigmoid", 40.0), ("atan", 2.0)])
def test_leaky_layer_random_currents(reset, sg):
    rng = np.random.default_rng(7)
    X = rng.normal(0.4, 0.8, size=(25, 3, 9))
    cot = rng.normal(size=X.shape)
    cfg = CrossvalConfig(neuron="leaky", beta=0.8, reset=reset, surrogate=sg[0], surrogate_param=sg[1])
    for path in ("fused", "steps"):
        res = compare_neuron(cfg, X, cot, path=path)
        assert 0 < res["arrays"]["snntorch"]["spk"].mean() < 1
        assert_agree(res)


def test_leaky_init_hidden_and_output_flags():
    """init_hidden=True: state kept in the layer, ``mem`` refused, ``spk`` alone unless output=True."""
    x = torch.tensor([0.6, 1.5])
    hidden = snn.Leaky(beta=0.5, init_hidden=True)
    out = hidden(x)
    assert isinstance(out, torch.Tensor) and out.tolist() == [0.0, 1.0]
    assert hidden(x).tolist() == [0.0, 1.0] and hidden.mem.tolist() == pytest.approx([0.9, 1.25])
    with pytest.raises(TypeError):
        hidden(x, torch.zeros(2))
    spk, mem = snn.Leaky(beta=0.5, init_hidden=True, output=True)(x)
    assert spk.tolist() == [0.0, 1.0] and mem.tolist() == pytest.approx([0.6, 1.5])
