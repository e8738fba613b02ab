"""The TGO study: anti-masking checks by hand, |H − θ| helpers, the PNG, bad input through the entry
points, and (slow) a tiny end-to-end run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from refsnn import cli
from refsnn.studies import _tgo_eval as ev
from refsnn.studies import tgo

TINY = ["--n-train", "24", "--n-test", "8", "--epochs", "1", "--width", "0.03", "--batch-size", "12",
        "--pgd-steps", "2,3", "--apgd-steps", "2", "--eps-sweep", "0,0.1", "--eps-big", "0.5", "--eot", "2",
        "--delta-sweep", "0.1", "--sigma-sweep", "0.3", "--strategies", "rat", "--quiet"]


def test_checks_by_hand():
    wb = {"clean": 0.9, "fgsm": 0.5, "pgd10": 0.3, "pgd20": 0.2, "pgd40": 0.2}
    sweep, eps = [0.9, 0.3, 0.05], [0.0, 0.05, 0.3]
    ok = ev.checks(wb, sweep, eps, 0.3, {"ann": 0.6, "snn": 0.25}, n=100)
    assert ok["tolerance"] == 0.02 and ev.passed(ok)
    assert all(ok[k] for k in ("monotone_eps", "monotone_steps", "iterative_not_weaker", "large_eps_zero",
                               "blackbox_not_stronger"))
    bad = ev.checks({**wb, "pgd40": 0.35}, [0.9, 0.3, 0.4], eps, 0.3, {"ann": 0.1}, n=100)
    assert not any(bad[k] for k in ("monotone_eps", "monotone_steps", "large_eps_zero",
                                    "blackbox_not_stronger"))
    assert not ev.passed(bad)
    light = ev.checks({"clean": 0.9, "fgsm": 0.2, "pgd10": 0.5}, None, None, None, None, n=100)
    assert light["monotone_eps"] is None and light["iterative_not_weaker"] is False


def test_near_fraction_and_histogram(tmp_path):
    from PIL import Image

    gaps = [np.array([0.05, 0.1, 0.3, 0.5]), np.array([0.01, 0.9])]
    assert ev.near_fraction(gaps, 0.2) == [0.5, 0.5]
    ev.histogram_png(gaps, [g + 0.2 for g in gaps], 0.2, tmp_path / "h.png")
    img = Image.open(tmp_path / "h.png")
    assert img.size[0] == 400 and len(np.unique(np.asarray(img).reshape(-1, 3), axis=0)) > 3


@pytest.mark.parametrize("flag, value, match", [
    ("--delta", "-0.1", "delta"), ("--lam-max", "-0.5", "lam_max"), ("--sigma", "-1", "sigma"),
    ("--eot", "0", "EOT"), ("--delta-sweep", "0.1,-2", "delta"), ("--strategies", "trades", "strategies"),
])
def test_bad_input_is_a_clear_error(flag, value, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        tgo.main([flag, value, "--out", str(tmp_path), "--quiet"])


def test_bad_input_through_the_cli(tmp_path, capsys):
    code = cli.main(["reproduce", "tgo", "--eot", "0", "--out", str(tmp_path), "--quiet"])
    assert code != 0 and "EOT" in capsys.readouterr().err


def test_paper_settings():
    args = tgo._parser().parse_args(["--paper"])
    cfg = tgo._settings(args)
    assert cfg["width"] == 1.0 and cfg["T"] == 4 and cfg["lam_max"] == 0.6 and cfg["eps"] == 8 / 255
    assert cfg["pgd_steps"] == [10, 20, 40] and cfg["strategies"] == ["at", "rat"]


@pytest.mark.slow
def test_tiny_run_writes_everything(tmp_path):
    summary = tgo.main([*TINY, "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "summary.json").read_text())
    for key in ("bptt", "mc", "nlif", "nlif@noise", "tgo", "tgo@noise", "rat", "rat+tgo", "tgo_sq"):
        assert key in saved["results"] and key in saved["checks"]
    full = saved["results"]["tgo@noise"]
    assert set(full["white_box"]) == {"clean", "fgsm", "rfgsm", "pgd2", "pgd3", "apgd_ce"}
    assert len(full["eps_sweep"]) == 3 and set(full["black_box"]) == {"ann", "snn"}
    assert saved["ablation"]["paper_cifar100_vgg11"]["tgo"]["fgsm"] == 21.5
    assert set(saved["sweeps"]["delta"]) == {"0.1"} and set(saved["sweeps"]["sigma"]) == {"0.3"}
    assert 0 <= saved["near_threshold"]["tgo_total"] <= 1
    assert (tmp_path / "membrane_hist.png").stat().st_size > 0 and (tmp_path / "eps_sweep.png").exists()
    assert summary["verdict"] == saved["verdict"] and "anti-masking checks" in summary["verdict"]


def test_restarts_keep_a_sample_only_if_it_survives_every_start():
    from refsnn.nn import Linear, Sequential

    net = Sequential(Linear(2, 2, bias=False, rng=0))
    net[0].weight.data[...] = np.eye(2, dtype=np.float32)  # predicts argmax(x)
    x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], np.float32)
    y = np.array([0, 0, 1])

    class Flip:  # restart r flips sample r's features (an attack that succeeds only there)
        def __init__(self, r):
            self.r = r

        def __call__(self, xs, ys):
            out = xs.copy()
            hit = [i for i, row in enumerate(xs) if row.tolist() == x[self.r].tolist()][:1]
            out[hit] = out[hit][:, ::-1]
            return out

    ok = ev._robust_mask(net, lambda m, r: Flip(r), x, y, restarts=2, samples=1)
    assert ok.tolist() == [False, False, True]  # restart 0 breaks sample 0, restart 1 sample 1
