"""The GAMIN study end to end with tiny options in a tmp dir: files, table, paper numbers, finding,
progress lines, the shipped-sample fallback, and option errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from refsnn.studies import gamin as study

TINY = ["--datasets", "mnist", "--labels", "0,1", "--steps", "4", "--batch-size", "8", "--hidden", "16",
        "--num-steps", "4", "--epochs", "1", "--train-limit", "400", "--n-eval", "8", "--n-random", "16",
        "--grid", "3", "--gen-hidden", "16", "--sur-hidden", "16", "--log-every", "2"]


def test_tiny_study_on_the_shipped_sample_fallback(tmp_path, capsys):
    out = tmp_path / "res"
    summary = study.main([*TINY, "--data", str(tmp_path / "nothing-here"), "--out", str(out)])
    text = capsys.readouterr().out
    assert "FELL BACK to the shipped MNIST sample" in text
    assert "queries 32/64  M_global" in text  # progress: queries used / budget and the current M_global
    for paper in ("paper MNIST ANN", "1.0371 ± 0.12", "97.67", "19.88 ± 4.70"):
        assert paper in text
    assert "MNIST-5k: the paper's finding" in text
    saved = json.loads((out / "summary.json").read_text())
    entry = saved["results"]["MNIST-5k"]
    assert entry["finding"] == summary["results"]["MNIST-5k"]["finding"]
    for kind in ("ann", "snn"):
        t = entry["targets"][kind]
        assert [r["label"] for r in t["per_label"]] == [0, 1]
        for r in t["per_label"]:
            assert r["queries"] == r["budget"] == 4 * 2 * 8
            assert 0 <= r["f_s"] <= 1 and all(0 <= r[m] <= 100 for m in ("a_s", "a_sog", "a_t"))
        vals = [r["a_t"] for r in t["per_label"]]
        assert t["summary"]["a_t"]["mean"] == pytest.approx(np.mean(vals))
        assert t["summary"]["a_t"]["std"] == pytest.approx(np.std(vals))
        png = Image.open(out / f"mnist_{kind}_inverted.png")
        assert png.size == (2 * (3 * 30 + 2), 2 * (2 * 30 + 2))  # 3 samples × 2 labels, 28 px + 2 px gaps, ×2


def test_bad_options_are_clear(tmp_path):
    with pytest.raises(SystemExit, match="unknown data set or target"):
        study.main([*TINY, "--datasets", "cifar", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="--steps must be >= 1"):
        study.main([*TINY, "--steps", "0", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="widths"):
        study.main([*TINY, "--gen-hidden", "a,b", "--out", str(tmp_path)])
