"""Device placement end to end, on any machine, through the ``fakedev`` test backend (tests/fakedev.py).

``fakedev`` arrays live in host memory but refuse to meet plain host arrays,
as CuPy arrays do; every kernel is the reference kernel behind that check.
So a run on ``fakedev`` must (1) never mix backends and (2) give exactly the
numbers of the same run on ``numpy`` — the second implementation every
result here is compared with.  The last test runs the quickstart on a real GPU.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refsnn import backend, cli
from refsnn.autograd import Tensor, cross_entropy
from refsnn.io import load_checkpoint
from refsnn.models import GaminSNN, mlp
from refsnn.nn import (
    SGD,
    Adam,
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    Upsample,
)
from refsnn.train import fit, predict

ROOT = Path(__file__).resolve().parents[1]


def _is_host(a) -> bool:
    return type(a) is np.ndarray


# ------------------------------------------------------------------ the double itself


def test_fakedev_refuses_host_arrays_in_every_kind_of_op(fakedev):
    d, h = fakedev.module.asarray(np.ones(3)), np.ones(3)
    assert isinstance(d, fakedev.FakeDev) and backend.backend_of(d) == "fakedev"
    for op in (lambda: d + h, lambda: h * d, lambda: np.concatenate([d, h]), lambda: fakedev.module.exp(h),
               lambda: fakedev.module.add.at(d, [0], h[:1]), lambda: d @ h):
        with pytest.raises(backend.BackendError, match="two backends in one op: fakedev and numpy"):
            op()
    s = (d * 2).sum()  # reductions stay on the device (0-d), as on CuPy
    assert isinstance(s, fakedev.FakeDev) and s.ndim == 0 and float(s) == 6.0
    assert _is_host(d.get()) and backend.xp_of(d) is fakedev.module


def test_to_backend_round_trip_and_clear_errors(fakedev):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    d = backend.to_backend(x)  # default backend = fakedev here
    assert isinstance(d, fakedev.FakeDev) and backend.to_backend(d, "fakedev") is d
    back = backend.to_host(d)
    assert _is_host(back) and np.array_equal(back, x)
    t = backend.to_backend(Tensor(x, requires_grad=True))
    assert isinstance(t.data, fakedev.FakeDev) and t.requires_grad and t.is_leaf
    assert backend.to_backend(None) is None
    with pytest.raises(backend.BackendError, match="unknown backend 'tpu'.*known: numpy, cupy, fakedev"):
        backend.to_backend(x, "tpu")
    with pytest.raises(backend.BackendError, match="two backends in one op: numpy and fakedev"):
        backend.xp_of(x, d)


# ------------------------------------------------------------------- modules, optimizers


def test_module_to_moves_parameters_grads_and_buffers_in_place(fakedev):
    net = Sequential(Conv2d(1, 2, 3, rng=0), BatchNorm2d(2))
    w = net[0].weight
    w.grad = np.ones_like(w.data)
    assert net.to("fakedev") is net and net[0].weight is w  # identity kept: optimizers stay valid
    assert net.backend == "fakedev" and isinstance(w.grad, fakedev.FakeDev)
    assert all(isinstance(b, fakedev.FakeDev) for b in net.buffers())
    state = net.state_dict()  # checkpoints: always host arrays
    assert all(_is_host(v) for v in state.values())
    net.load_state_dict({k: v + 1 for k, v in state.items()})
    assert isinstance(w.data, fakedev.FakeDev) and np.array_equal(w.data.get(), state["0.weight"] + 1)
    net.to("numpy")
    assert net.backend == "numpy" and _is_host(w.data)


def test_optimizer_state_follows_the_parameters(fakedev):
    net = Linear(3, 2, rng=0).to("fakedev")
    opt = Adam(net.parameters(), lr=0.1)
    x = Tensor(backend.to_backend(np.ones((4, 3), np.float32)))
    net(x).sum().backward()
    opt.step()
    assert all(isinstance(v, fakedev.FakeDev) for st in opt.state for k, v in st.items() if k != "step")
    assert all(_is_host(v) for v in opt.state_dict().values())


def test_optimizer_state_left_behind_is_a_clear_error(fakedev):
    net = Linear(3, 2, rng=0)
    opt = SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(Tensor(np.ones((4, 3), np.float32))).sum().backward()
    opt.step()  # momentum buffers created on the host
    net.to("fakedev")
    net(Tensor(backend.to_backend(np.ones((4, 3), np.float32)))).sum().backward()
    with pytest.raises(backend.BackendError, match="SGD.step: parameter 0 mixes backends"):
        opt.step()
    opt.to("fakedev").step()
    assert isinstance(opt.state[0]["momentum_buffer"], fakedev.FakeDev)


def test_host_batch_into_a_device_model_names_both_backends(fakedev):
    net = mlp([4, 3, 2], rng=0).to("fakedev")
    with pytest.raises(backend.BackendError, match="two backends in one op: numpy and fakedev"):
        net(Tensor(np.ones((2, 4), np.float32)))


def _conv_net():
    return Sequential(Conv2d(1, 4, 3, padding=1, rng=0), BatchNorm2d(4), ReLU(), MaxPool2d(2), Upsample(2),
                      AvgPool2d(2), Dropout(0.5, rng=0), Flatten(), Linear(4 * 4 * 4, 3, rng=0))


def test_layers_forward_backward_on_fakedev_equal_numpy(fakedev):
    x = np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32)
    y = np.array([0, 2])
    runs = []
    for where in ("numpy", "fakedev"):
        net = _conv_net().to(where)
        loss = cross_entropy(net(Tensor(backend.to_backend(x, where))), backend.to_backend(y, where))
        loss.backward()
        assert net.backend == where
        runs.append([backend.to_host(loss.data)] + [backend.to_host(p.grad) for p in net.parameters()]
                    + [backend.to_host(b) for b in net.buffers()])
    for a, b in zip(*runs):
        assert _is_host(a) and np.array_equal(a, b)


# ---------------------------------------------------------- fit, models, CLI, examples


def _train(make, x, y, epochs=2):
    net = make()
    opt = Adam(net.parameters(), lr=1e-2)
    hist = fit(net, opt, x, y, epochs=epochs, batch_size=16, rng=0, x_val=x[:32], y_val=y[:32], verbose=False)
    return net, hist, predict(net, x[:20])


@pytest.mark.parametrize("model", ["mlp", "snn"])
def test_fit_on_fakedev_equals_fit_on_numpy(fakedev, model):
    rng = np.random.default_rng(0)
    if model == "mlp":
        x = rng.random((96, 6), dtype=np.float32)
        y = (x[:, 0] > 0.5).astype(np.int64)
        make = lambda: mlp([6, 16, 2], rng=0)  # noqa: E731
    else:
        x = rng.random((48, 784), dtype=np.float32)
        y = rng.integers(0, 10, 48)
        make = lambda: GaminSNN(hidden=32, num_steps=4, rng=0)  # noqa: E731
    host_net, host_hist, host_pred = _train(make, x, y)
    dev_net, dev_hist, dev_pred = _train(lambda: make().to("fakedev"), x, y)
    assert dev_net.backend == "fakedev" and _is_host(dev_pred)
    strip = [[{k: v for k, v in rec.items() if k != "seconds"} for rec in h] for h in (host_hist, dev_hist)]
    assert strip[0] == strip[1] and all(type(v) in (int, float) for rec in strip[1] for v in rec.values())
    assert np.array_equal(host_pred, dev_pred)
    for (k, a), b in zip(host_net.state_dict().items(), dev_net.state_dict().values()):
        assert np.array_equal(a, b), k


def test_fit_says_where_it_trains(fakedev, capsys):
    x, y = np.ones((8, 4), np.float32), np.zeros(8, np.int64)
    for net, expect in ((mlp([4, 2], rng=0).to("fakedev"), "on backend fakedev\n"),
                        (mlp([4, 2], rng=0), "on backend numpy (the default backend is fakedev: "
                                             "model.to('fakedev') moves it)")):
        fit(net, SGD(net.parameters(), lr=0.1), x, y, epochs=1, batch_size=4, rng=0)
        assert expect in capsys.readouterr().out


def test_cli_train_on_fakedev_writes_a_host_checkpoint(fakedev, tmp_path, capsys):
    ckpt = tmp_path / "ann.h5"
    assert cli.main(["train", "--epochs", "1", "--hidden", "32", "--out", str(ckpt)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert all(_is_host(v) for v in load_checkpoint(ckpt).state.values())
    assert cli.main(["evaluate", "--checkpoint", str(ckpt)]) == 0


def _run_example(name: str, args: list[str]):
    argv = sys.argv
    sys.argv = [name, *args]
    try:
        return runpy.run_path(str(ROOT / "examples" / name), run_name="example")["main"](args)
    finally:
        sys.argv = argv


def test_quickstart_on_fakedev_equals_numpy(fakedev, tmp_path):
    args = ["--epochs", "1", "--hidden", "32"]
    on_dev = _run_example("quickstart.py", [*args, "--out", str(tmp_path / "dev")])
    backend.set_backend("numpy")
    on_host = _run_example("quickstart.py", [*args, "--out", str(tmp_path / "host")])
    assert (on_dev["backend"], on_host["backend"]) == ("fakedev", "numpy")
    assert on_dev["test_accuracy"] == on_host["test_accuracy"] > 0.5
    saved = json.loads((tmp_path / "dev" / "summary.json").read_text())
    assert saved["test_accuracy"] == on_dev["test_accuracy"]
    a, b = (load_checkpoint(tmp_path / d / "ann.h5").state for d in ("dev", "host"))
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_gamin_example_on_fakedev_equals_numpy(fakedev, tmp_path):
    args = ["--datasets", "mnist", "--labels", "1", "--steps", "3", "--batch-size", "8", "--hidden", "16",
            "--num-steps", "3", "--epochs", "1", "--train-limit", "300", "--n-eval", "8", "--n-random", "8",
            "--grid", "2", "--gen-hidden", "8", "--sur-hidden", "8", "--data", str(tmp_path / "none")]
    on_dev = _run_example("gamin.py", [*args, "--out", str(tmp_path / "dev")])
    backend.set_backend("numpy")
    on_host = _run_example("gamin.py", [*args, "--out", str(tmp_path / "host")])
    assert (on_dev["backend"], on_host["backend"]) == ("fakedev", "numpy")
    dev, host = (r["results"]["MNIST-5k"]["targets"] for r in (on_dev, on_host))
    for kind in ("ann", "snn"):
        for d, h in zip(dev[kind]["per_label"], host[kind]["per_label"]):  # F_S sums in another order there
            assert d.keys() == h.keys() and all(d[k] == pytest.approx(h[k], rel=1e-6) for k in d)
        assert dev[kind]["test_accuracy"] == host[kind]["test_accuracy"]


@pytest.mark.crossval
def test_crossval_example_on_fakedev(fakedev, tmp_path, capsys):
    pytest.importorskip("snntorch")
    pytest.importorskip("spikingjelly")
    assert _run_example("crossval.py", ["--T", "5", "--out", str(tmp_path)]) == 0
    assert "(backend fakedev)" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore:balance_thresholds:RuntimeWarning")  # a 2-channel net has silent layers
def test_sharmin_on_fakedev_equals_numpy(fakedev, tmp_path):
    args = ["--n-train", "24", "--n-test", "6", "--ann-epochs", "1", "--bp-epochs", "1", "--T-conv", "2",
            "--T-bp", "2", "--fig2-T-bp", "2", "--fig2-T-conv", "2", "--widths", "2,2,2", "--hidden", "4",
            "--quiet"]
    on_dev = _run_example("sharmin.py", [*args, "--out", str(tmp_path / "dev")])
    backend.set_backend("numpy")
    on_host = _run_example("sharmin.py", [*args, "--out", str(tmp_path / "host")])
    assert (on_dev["backend"], on_host["backend"]) == ("fakedev", "numpy")
    for key in ("table1", "table2", "fig2", "fig6"):
        assert on_dev[key] == on_host[key], key
    assert on_dev["fig4"]["per_layer_relative_l2"] == on_host["fig4"]["per_layer_relative_l2"]
    assert json.loads((tmp_path / "dev" / "summary.json").read_text())["table1"] == on_dev["table1"]


def test_sdbn_example_on_fakedev_runs_on_the_host_and_equals_numpy(fakedev, tmp_path):
    # the SDBN study is host-only (Siegert RBMs, SCG): under a device backend it must still run,
    # say so, and give the numpy run's numbers bit for bit
    args = ["--n-train", "100", "--n-test", "60", "--hidden", "16", "--epochs", "1", "--dnn-iters", "2",
            "--deltas", "0.2", "--train-deltas", "", "--pairs", "1", "--sim-images", "4",
            "--sim-time", "0.05"]
    on_dev = _run_example("sdbn.py", [*args, "--out", str(tmp_path / "dev")])
    backend.set_backend("numpy")
    on_host = _run_example("sdbn.py", [*args, "--out", str(tmp_path / "host")])
    assert (on_dev["backend"], on_host["backend"]) == ("fakedev", "numpy")
    for key in ("accuracy", "table_I", "fig3", "sweep", "spiking"):
        assert on_dev[key] == on_host[key], key


def test_badsnn_on_fakedev_equals_numpy(fakedev, tmp_path):
    args = ["--n-train", "60", "--n-test", "20", "--epochs", "1", "--nm-n-train", "30", "--nm-n-test", "10",
            "--nm-epochs", "1", "--to-n", "4", "--to-epochs", "1", "--deepfool-steps", "1",
            "--def-epochs", "1", "--widths", "2,2", "--fig3-vthr", "1.0,1.2", "--fig3-tau", "0.5",
            "--ratio", "0.3",
            "--baselines", "badnet,clean_label", "--ablation", "0", "--quiet"]
    on_dev = _run_example("badsnn.py", [*args, "--out", str(tmp_path / "dev")])
    backend.set_backend("numpy")
    on_host = _run_example("badsnn.py", [*args, "--out", str(tmp_path / "host")])
    for key in ("table1", "nmnist", "table2", "fig3"):
        assert on_dev[key] == on_host[key], key
    assert json.loads((tmp_path / "dev" / "summary.json").read_text())["table2"] == on_dev["table2"]


@pytest.mark.slow
def test_tgo_on_fakedev_equals_numpy(fakedev, tmp_path):
    args = ["--n-train", "16", "--n-test", "4", "--epochs", "1", "--width", "0.02", "--batch-size", "8",
            "--pgd-steps", "2", "--apgd-steps", "2", "--eps-sweep", "0,0.5", "--eps-big", "0.5", "--eot", "2",
            "--delta-sweep", "", "--sigma-sweep", "", "--strategies", "", "--quiet"]
    on_dev = _run_example("tgo.py", [*args, "--out", str(tmp_path / "dev")])
    backend.set_backend("numpy")
    on_host = _run_example("tgo.py", [*args, "--out", str(tmp_path / "host")])
    assert (on_dev["backend"], on_host["backend"]) == ("fakedev", "numpy")
    assert on_dev["results"] == on_host["results"] and on_dev["near_threshold"] == on_host["near_threshold"]
    assert json.loads((tmp_path / "dev" / "summary.json").read_text())["checks"] == on_dev["checks"]


def test_every_example_is_covered_here():
    covered = {"quickstart.py", "crossval.py", "sharmin.py", "sdbn.py", "gamin.py", "badsnn.py", "tgo.py"}
    assert {p.name for p in (ROOT / "examples").glob("*.py")} == covered, "add the new example to this file"


# ------------------------------------------------------------- REFSNN_BACKEND from outside


def _example_env(value: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFSNN_")}
    return {**env, "REFSNN_BACKEND": value, "PYTHONPATH": str(ROOT)}


@pytest.mark.parametrize("value, message", [
    ("bogus", "unknown backend 'bogus'; known: numpy, cupy; installed here: numpy"),
    ("cupy", "pip install -e .[cupy]"),
])
def test_refsnn_backend_variable_is_never_ignored(value, message, tmp_path):
    if value == "cupy" and "cupy" in backend.installed_backends():
        pytest.skip("CuPy works here: the GPU test below covers REFSNN_BACKEND=cupy")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py"), "--out", str(tmp_path)],
                          env=_example_env(value), capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert f"REFSNN_BACKEND={value}" in proc.stderr and "Traceback" not in proc.stderr


def test_import_refsnn_with_cupy_asked_still_does_not_import_cupy():
    code = "import refsnn, refsnn.train, refsnn.models, refsnn.cli, sys; print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=_example_env("cupy"), capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.gpu
def test_quickstart_on_a_real_gpu_matches_numpy(tmp_path):
    if "cupy" not in backend.installed_backends():
        pytest.skip("no CUDA GPU / CuPy")
    results = {}
    for name in ("numpy", "cupy"):
        proc = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py"), "--epochs", "3",
                               "--out", str(tmp_path / name)], env=_example_env(name), capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        results[name] = json.loads((tmp_path / name / "summary.json").read_text())
    assert results["cupy"]["backend"] == "cupy"
    # float32 sums differ in order on the GPU, so the accuracies agree closely, not bit for bit
    assert abs(results["cupy"]["test_accuracy"] - results["numpy"]["test_accuracy"]) <= 0.02
