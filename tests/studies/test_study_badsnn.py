"""The BadSNN study on tiny options: files, table shapes, metric ranges, resume, bad options."""

from __future__ import annotations

import json

import numpy as np
import pytest

from refsnn.studies import badsnn, run

TINY = ["--n-train", "120", "--n-test", "30", "--epochs", "1", "--nm-n-train", "40", "--nm-n-test", "20",
        "--nm-epochs", "1", "--to-n", "8", "--to-epochs", "1", "--deepfool-steps", "1", "--def-epochs", "1",
        "--widths", "2,2", "--fig3-vthr", "1.0,1.2", "--fig3-tau", "0.5,0.7", "--ratio", "0.2",
        "--baselines", "clean_label", "--fig4-ratios", "0.5", "--quiet"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("badsnn")
    return badsnn.main([*TINY, "--out", str(out)]), out


def _pcts(obj):
    if isinstance(obj, dict):
        return [v for k, x in obj.items() if k not in ("trigger_training", "data") for v in _pcts(x)]
    if isinstance(obj, list):
        return [v for x in obj for v in _pcts(x)]
    return [obj] if isinstance(obj, float) else []


def test_tiny_run_writes_tables_and_figures(tiny_run):
    summary, out = tiny_run
    saved = json.loads((out / "summary.json").read_text())
    assert saved["table1"]["attack"] == summary["table1"]["attack"]
    assert set(summary["table1"]["attack"]) == {"1.10", "1.15", "1.20"}
    assert set(summary["table2"]) == {"none", "finetune", "clp", "anp", "tsbd", "nad"}
    assert set(summary["table2"]["anp"]) == {"clean_label", "badsnn"}
    assert np.array(summary["fig3"]["ca"]).shape == (2, 2)
    assert set(summary["ablation"]["plif"]) == {"1.00", "1.10", "1.15", "1.20"}
    values = _pcts({k: summary[k] for k in ("table1", "nmnist", "table2", "fig3", "fig4", "ablation")})
    assert values and all(0.0 <= v <= 100.0 for v in values)
    assert (out / "fig3_heatmap.png").stat().st_size > 0 and (out / "triggers.png").stat().st_size > 0
    assert "on our small data" in summary["verdict"] and summary["missing"] == []
    assert set(summary["fig4"]) == {"0.5"} and set(summary["fig4"]["0.5"]) == {"1.10", "1.15", "1.20"}


def test_fig3_at_nominal_values_is_base_ca(tiny_run):
    summary, _ = tiny_run
    f = summary["fig3"]
    assert f["ca"][f["v_thr"].index(1.0)][f["tau"].index(0.5)] == summary["table1"]["base_ca"]


def test_rerun_resumes_from_checkpoints(tiny_run, capsys):
    _, out = tiny_run
    argv = [a for a in TINY if a != "--quiet"] + ["--skip-nmnist", "--baselines", "", "--fig4-ratios", "",
                                                  "--out", str(out)]
    again = badsnn.main(argv)
    assert "resumed from" in capsys.readouterr().out
    assert again["table1"]["clean_ca"] == tiny_run[0]["table1"]["clean_ca"]


@pytest.mark.parametrize("opt, msg", [
    (["--malicious", "0,0.5"], "V_thr must be > 0"),
    (["--malicious", "1.5,1.2"], r"tau must be in \(0.0, 1.0\]"),
    (["--attack-tau", "0"], r"tau must be in \(0.0, 1.0\]"),
    (["--ratio", "1.5"], "P must be in"),
    (["--nm-ratio", "-0.1"], "P must be in"),
])
def test_bad_options_are_refused_before_any_work(opt, msg, tmp_path):
    with pytest.raises(ValueError, match=msg):
        run("badsnn", [*TINY, *opt, "--out", str(tmp_path)])


def _write_nmnist(root, truncate=False):
    from data_tools.nmnist import EVENT_DTYPE, write_events

    g = np.random.default_rng(0)
    for split in ("Train", "Test"):
        for digit in range(10):
            (root / split / str(digit)).mkdir(parents=True)
            for k in range(3):
                ev = np.zeros(40, EVENT_DTYPE)
                ev["t"] = np.sort(g.integers(0, 300_000, 40))
                ev["x"], ev["y"] = g.integers(0, 34, 40), g.integers(0, 34, 40)
                ev["p"] = g.integers(0, 2, 40)
                write_events(root / split / str(digit) / f"{k:05d}.bin", ev)
    if truncate:
        bad = root / "Train" / "3" / "00001.bin"
        bad.write_bytes(bad.read_bytes()[:-2])


def test_recorded_nmnist_is_used_when_present_and_a_truncated_record_is_refused(tmp_path):
    from data_tools.errors import DataFormatError

    cfg = badsnn._settings(badsnn._parser().parse_args(TINY))
    cfg["verbose"] = False
    _write_nmnist(tmp_path / "good" / "nmnist")
    row = badsnn._nmnist(cfg, tmp_path / "good", tmp_path / "out", lambda *a: None)
    assert row["data"] == str(tmp_path / "good" / "nmnist")
    assert all(0 <= r["asr_s"] <= 100 for r in row["attack"].values())
    _write_nmnist(tmp_path / "bad" / "nmnist", truncate=True)
    with pytest.raises(DataFormatError, match=r"00001\.bin: event \d+ is truncated"):
        badsnn._nmnist(cfg, tmp_path / "bad", tmp_path / "out", lambda *a: None)
