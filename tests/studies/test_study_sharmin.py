"""The Sharmin study on tiny options: files, table shapes, Eq. 7 against a simulated neuron, quantiser."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from refsnn.studies import sharmin

TINY = ["--n-train", "32", "--n-test", "8", "--ann-epochs", "1", "--bp-epochs", "1", "--T-conv", "3",
        "--T-bp", "2", "--fig2-T-bp", "1,2", "--fig2-T-conv", "3", "--widths", "2,4,4", "--hidden", "8",
        "--quiet"]


def test_eq7_by_hand():
    # λ = 0.5, V_mem/V_th = 0.6 (r = 5/3): log 0.5 / log(5/6 − 2/3) = log 0.5 / log(1/6)
    assert math.isclose(sharmin.eq7_rate(0.5, 5 / 3), math.log(0.5) / math.log(1 / 6))
    assert sharmin.eq7_rate(0.75, 10.0) == 0.0  # rλ − (r − 1) = −1.5: the neuron never fires


def test_quantise_by_hand():
    x = np.array([0.0, 0.1, 0.2, 0.5, 0.9, 1.0], np.float32)
    np.testing.assert_allclose(sharmin.quantise(x, 2), [0, 0, 1 / 3, 2 / 3, 1, 1], rtol=1e-6)
    assert sharmin.quantise(x, None) is x


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sharmin")
    return sharmin.main([*TINY, "--out", str(out)]), out


def test_tiny_run_writes_tables_and_figures(tiny_run):
    summary, out = tiny_run
    saved = json.loads((out / "summary.json").read_text())
    assert saved["table1"] == summary["table1"]
    for row in ("clean", "fgsm_wb", "pgd_wb", "fgsm_bb", "pgd_bb"):
        assert set(summary["table1"][row]) == {"ann", "snn_conv", "snn_bp"}
        assert all(0.0 <= v <= 1.0 for v in summary["table1"][row].values())
    for attack in ("fgsm", "pgd"):
        assert all(len(summary["table2"][attack][k]) == 3 for k in sharmin.KINDS)
        for k in sharmin.KINDS:  # Table 1's black-box column is Table 2's ANN-I column
            assert summary["table2"][attack][k][0] == summary["table1"][f"{attack}_bb"][k]
    assert np.array(summary["fig2"]["snn_bp"]["fgsm_bb"]).shape == (3, 2)
    for name in ("fig2_quantisation.png", "fig4_perturbation.png", "fig6_leak.png"):
        assert (out / name).stat().st_size > 500
    assert "on our data" in summary["verdict"]


def test_fig6_simulated_neuron_matches_eq7_on_whole_steps(tiny_run):
    fig6 = tiny_run[0]["fig6"]
    measured, whole = np.array(fig6["measured"]), np.array(fig6["predicted_whole_steps"])
    np.testing.assert_allclose(measured, whole, atol=1e-3)
    assert np.all(np.diff(measured, axis=1) <= 1e-6)  # more leak (smaller λ), never more spikes
    assert measured[1][0] > measured[1][4] > 0  # V_mem/V_th = 0.1: 1/11 at λ = 0.9999, 1/14 at λ = 0.95


def test_paper_flag_restores_the_papers_settings():
    cfg = sharmin._settings(sharmin._parser().parse_args(["--paper"]))
    ann = (cfg["ann_optimizer"], cfg["ann_lr"], cfg["ann_epochs"], cfg["milestones"])
    assert ann == ("sgd", 0.1, 200, "100,150")
    assert (cfg["bp_epochs"], cfg["bp_lr"], cfg["T_bp"], cfg["T_conv"]) == (15, 1e-4, 100, 2500)
    net = (cfg["widths"], cfg["hidden"], cfg["percentile"], cfg["eps"])
    assert net == ("64,128,128", 1024, 100.0, 8 / 255)
    assert (cfg["conv_dropout"], cfg["fc_dropout"], cfg["augment"], cfg["flip"]) == (0.2, 0.5, 1, 0.5)
    small = sharmin._settings(sharmin._parser().parse_args(["--eps", "0.2"]))
    assert small["eps"] == 0.2 and small["ann_optimizer"] == "adam"
