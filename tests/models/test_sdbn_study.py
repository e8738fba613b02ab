"""The SDBN study end to end with tiny options (JSON, PNG, table sizes, query accounting), and its noise."""

from __future__ import annotations

import json

import numpy as np
import pytest

from refsnn.studies import _sdbn_parts as parts


def test_add_noise_is_clipped_and_windowed():
    g = np.random.default_rng(0)
    x = g.random((3, 28, 28))
    for kind in ("normal", "uniform"):
        y = parts.add_noise(x, kind, 0.3, np.random.default_rng(1))
        assert y.min() >= 0 and y.max() <= 1 and not np.array_equal(x, y)
    u = parts.add_noise(x, "uniform", 0.05, np.random.default_rng(1))
    assert np.abs(u - x).max() <= 0.05  # |δ·U(-1, 1)| <= δ, clipping only shrinks it
    w = parts.add_noise(x, "normal", 0.3, np.random.default_rng(1), window=parts.WINDOWS["centre"])
    changed = np.argwhere((w != x).any(0))
    assert len(changed) == 20
    assert set(changed[:, 0]) == set(range(9, 14)) and set(changed[:, 1]) == {13, 14, 15, 16}
    with pytest.raises(ValueError, match="normal' or 'uniform"):
        parts.add_noise(x, "laplace", 0.1, np.random.default_rng(0))


def test_study_runs_tiny_and_writes_json_and_png(tmp_path, capsys):
    from refsnn.studies.sdbn import PAPER_TABLE_I, main

    out = tmp_path / "sdbn"
    s = main(["--n-train", "100", "--n-test", "80", "--hidden", "16", "--epochs", "1", "--dnn-iters", "3",
              "--deltas", "0.15", "--train-deltas", "0.02", "--pairs", "2", "--sim-images", "4",
              "--sim-time", "0.05", "--out", str(out)])
    saved = json.loads((out / "summary.json").read_text())
    assert saved["accuracy"] == s["accuracy"] and set(s["accuracy"]) == {"SDBN", "SDBN_temp_noise", "DNN"}
    assert len(s["table_I"]) == 2 * (1 + 2)  # per law: test δ=0.15, train and both at δ=0.02
    test_normal = [r for r in s["table_I"] if (r["dist"], r["where"]) == ("normal", "test")][0]
    assert test_normal["paper_SDBN"] == PAPER_TABLE_I[("normal", "test")][4] == 48.23
    assert all(0 <= r[k] <= 100 for r in s["table_I"] + s["fig3"] for k in ("SDBN", "DNN"))
    assert {r["window"] for r in s["fig3"]} == {"top_left", "centre"}
    for runs in s["sweep"]["runs"].values():
        for r in runs:  # Oracle accounting: 1 + (2·25 + 1) per iteration for N = 5, plus the Gap±
            # batch of the update that was refused (D_MAX) or impossible (stalled)
            extra = 50 if r["stopped"] in ("d_max", "stalled") else 0
            assert r["queries"] == 1 + 51 * r["iterations"] + extra and r["target"] != r["source"]
            assert r["success"] or r["distance"] <= 22.0
    assert set(s["cases"]) == {"DNN I", "DNN II", "SDBN I", "SDBN II"}
    for c in s["cases"].values():
        extra = 2 * c["n"] ** 2 if c["stopped"] in ("d_max", "stalled") else 0
        assert c["queries"] == 1 + (2 * c["n"] ** 2 + 1) * c["iterations"] + extra
    from PIL import Image

    img = Image.open(out / "attack_cases.png")
    assert img.size == (6 * (3 * 28 + 4), 6 * (4 * 28 + 6))
    assert len(s["spiking"]["accuracy"]) == len(s["spiking"]["times"]) == 10
    text = capsys.readouterr().out
    assert "Table I" in text and "Honest summary" in text and "paper" in text
