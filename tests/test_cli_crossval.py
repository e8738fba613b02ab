"""``refsnn crossval``: argument checks and the missing-torch error run in the default suite; the end-to-end
runs (a user's model file, the shipped MNIST sample, JSON + report + PNG) are marked crossval."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from refsnn import cli
from refsnn.crossval.cli_crossval import fraction, write_png

ROOT = Path(__file__).resolve().parents[1]

MODEL_FILE = '''
import torch, snntorch as snn
from torch import nn

class Net(nn.Module):
    def __init__(self, T=5):
        super().__init__()
        torch.manual_seed(0)
        self.T = T
        self.flat, self.fc1, self.lif1 = nn.Flatten(), nn.Linear(784, 40), snn.Leaky(beta=0.9)
        self.fc2, self.lif2 = nn.Linear(40, 10), snn.Leaky(beta=0.9)
        with torch.no_grad():
            self.fc1.weight.mul_(8.0)
            self.fc2.weight.mul_(4.0)

    def forward(self, x):
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        out = []
        for _ in range(self.T):
            spk1, mem1 = self.lif1(self.fc1(self.flat(x)), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out).sum(0)
'''


def test_fraction_parses_eps_like_the_papers_write_it():
    assert fraction("8/255") == pytest.approx(8 / 255) and fraction("0.1") == 0.1
    import argparse

    for bad in ("a/b", "1/0", "-0.1"):
        with pytest.raises(argparse.ArgumentTypeError):
            fraction(bad)


def test_write_png_tiles_panels(tmp_path):
    from PIL import Image

    panels = [np.zeros((4, 4)), np.ones((4, 4)), np.full((3, 4), 0.5)]
    img = Image.open(write_png(tmp_path / "p.png", panels, scale=2))
    arr = np.asarray(img)
    assert arr.shape == (8, 3 * 8 + 2 * 2)          # three 8x8 tiles, two white 2-pixel gaps
    assert arr[0, 0] == 0 and arr[0, 10] == 255 and arr[0, 20] == 128 and arr[7, 20] == 0


def test_crossval_without_torch_says_what_to_install(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None
        from refsnn import cli
        sys.exit(cli.main(["crossval", "{tmp_path / 'm.py'}:Net"]))
    """)
    (tmp_path / "m.py").write_text("Net = None\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("refsnn: error: load_model needs torch") and "pip install -e .[crossval]" \
        in proc.stderr


@pytest.mark.crossval
def test_crossval_command_end_to_end(tmp_path, capsys):
    pytest.importorskip("snntorch")
    pytest.importorskip("torchattacks")
    (tmp_path / "net.py").write_text(MODEL_FILE)
    out = tmp_path / "out"
    rc = cli.main(["crossval", f"{tmp_path / 'net.py'}:Net", "--order", "flat,fc1,lif1,fc2,lif2", "--n", "40",
                   "--attack", "pgd", "--eps", "8/255", "--alpha", "2/255", "--steps", "3", "--attack-n", "6",
                   "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    report = (out / "crossval_report.txt").read_text()
    assert report.startswith("refsnn crossval check — PASS") and "attack pgd" in report
    data = json.loads((out / "crossval.json").read_text())
    assert data["check"]["verdict"]["pass"] and data["check"]["samples"] == 40
    assert data["attack"]["pass"] and data["attack"]["images"] == 6
    assert (out / "crossval_worst.png").stat().st_size > 0


@pytest.mark.crossval
def test_crossval_command_rate_encoding_and_weights(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    pytest.importorskip("snntorch")
    from refsnn.io import save_safetensors

    (tmp_path / "net.py").write_text(MODEL_FILE.replace("self.fc1(self.flat(x))", "self.fc1(self.flat(x[_]))")
                                     .replace("range(self.T)", "range(x.shape[0])"))
    sys.path.insert(0, str(tmp_path))
    try:
        import net as user
    finally:
        sys.path.remove(str(tmp_path))
    state = {k: v.numpy() * (1.5 if k == "fc1.weight" else 1.0) for k, v in user.Net().state_dict().items()}
    save_safetensors(tmp_path / "w.safetensors", state)
    rc = cli.main(["crossval", f"{tmp_path / 'net.py'}:Net", "--order", "flat,fc1,lif1,fc2,lif2", "--n", "20",
                   "--encoding", "rate", "--T", "4", "--weights", str(tmp_path / "w.safetensors"),
                   "--out", str(tmp_path / "o")])
    assert rc == 0, capsys.readouterr().out
    data = json.loads((tmp_path / "o" / "crossval.json").read_text())
    assert data["check"]["time_steps"] == 4 and data["check"]["input_relation"] == "sequence"
    assert torch is not None
    bad = dict(state)
    bad.pop("fc2.bias")
    save_safetensors(tmp_path / "bad.safetensors", bad)
    rc = cli.main(["crossval", f"{tmp_path / 'net.py'}:Net", "--order", "flat,fc1,lif1,fc2,lif2", "--n", "4",
                   "--encoding", "rate", "--T", "2", "--weights", str(tmp_path / "bad.safetensors"),
                   "--out", str(tmp_path / "o2")])
    err = capsys.readouterr().err
    assert rc == 2 and "fc2.bias" in err and err.startswith("refsnn: error:")
