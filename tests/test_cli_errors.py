"""The `refsnn` command on bad arguments and hostile checkpoints: checks come before any work,
errors are one line with exit status 2 (a traceback only with --debug), `python -m refsnn` works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refsnn import cli
from refsnn.io import save_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def _run(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "refsnn", *args], capture_output=True, text=True,
                          env=env, cwd=cwd or ROOT, timeout=120)


def _one_error_line(capsys, *needles):
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("refsnn: error: "), out.err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in out.err
    return out


def test_python_dash_m_refsnn_runs_info():
    proc = _run("info")
    assert proc.returncode == 0 and '"refsnn"' in proc.stdout


@pytest.mark.parametrize("option, value", [
    ("--seed", "-1"), ("--seed", "x"), ("--epochs", "0"), ("--batch-size", "-5"),
    ("--hidden", "1500000"), ("--lr", "inf"), ("--lr", "nan"), ("--lr", "0"),
])
def test_bad_numbers_name_the_option(capsys, option, value):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", option, value])
    assert info.value.code == 2
    assert f"argument {option}:" in capsys.readouterr().err


@pytest.mark.parametrize("out, needle", [
    ("/nonexistent/run.h5", "directory /nonexistent does not exist"),
    ("run.pt", "unsupported extension '.pt'"),
])
def test_train_checks_the_output_before_training(tmp_path, capsys, out, needle):
    assert cli.main(["train", "--epochs", "1", "--hidden", "8", "--out", out]) == 2
    captured = _one_error_line(capsys, needle)
    assert "epoch" not in captured.out and "accuracy" not in captured.out  # nothing was trained


def _ckpt(path, config, hidden=8):
    """A small ANN checkpoint (784-hidden-10, the layout `refsnn train --model ann` writes)."""
    shapes = {"1.weight": (hidden, 784), "1.bias": (hidden,), "3.weight": (10, hidden), "3.bias": (10,)}
    save_checkpoint(path, {k: np.zeros(s, np.float32) for k, s in shapes.items()}, config=config)
    return path


@pytest.mark.parametrize("config, needle", [
    ([1, 2], "config must be a JSON object"),
    ({"model": "ann", "hidden": 1_500_000}, "'hidden' must be an integer in [1, 100000]"),
    ({"model": "ann", "hidden": "8"}, "'hidden' must be an integer"),
    ({"model": "ann", "hidden": 99}, "parameters do not match a ann model with hidden=99"),
    ({"model": "snn", "hidden": 8}, "parameters do not match a snn model"),
    ({"model": "rbm"}, "config names model 'rbm'"),
])
def test_evaluate_checks_config_and_shapes_before_building(tmp_path, capsys, config, needle):
    p = _ckpt(tmp_path / "c.h5", config)
    assert p.stat().st_size < 100_000
    assert cli.main(["evaluate", "--checkpoint", str(p)]) == 2
    _one_error_line(capsys, str(p), needle)


def test_evaluate_on_a_hostile_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "passwd.h5"
    bad.write_text("root:x:0:0:root:/root:/bin/bash\n")
    assert cli.main(["evaluate", "--checkpoint", str(bad)]) == 2
    _one_error_line(capsys, str(bad), "not an HDF5 file")
    assert cli.main(["evaluate", "--checkpoint", str(tmp_path / "missing.h5")]) == 2
    _one_error_line(capsys, "missing.h5")


def test_debug_shows_the_traceback(tmp_path):
    p = _ckpt(tmp_path / "c.h5", [1, 2])
    plain = _run("evaluate", "--checkpoint", str(p))
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    assert plain.stderr.strip().count("\n") == 0
    debug = _run("--debug", "evaluate", "--checkpoint", str(p))
    assert debug.returncode == 2 and "Traceback" in debug.stderr and "config must be" in debug.stderr
    debug2 = _run("evaluate", "--checkpoint", str(p), "--debug")
    assert debug2.returncode == 2 and "Traceback" in debug2.stderr


def test_reproduce_unknown_study_names_the_known_ones(capsys):
    from refsnn import cli, studies

    assert cli.main(["reproduce", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "unknown study 'nosuch'" in err and "available:" in err
    assert all(name in err for name in studies.available())
