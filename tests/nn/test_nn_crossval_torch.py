"""Cross-validation against PyTorch: layer outputs from copied state_dicts, optimizer
trajectories, and LR schedules.  Run with ``pytest -m crossval`` (needs torch)."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.autograd import Tensor, cross_entropy
from refsnn.nn import (
    SGD,
    Adam,
    AdamW,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    CosineAnnealingLR,
    Flatten,
    Linear,
    MaxPool2d,
    MultiStepLR,
    ReLU,
    Sequential,
    StepLR,
)

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.crossval


def from_torch(module):
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def test_sequential_cnn_outputs_and_names_match_torch():
    torch.manual_seed(0)
    tnet = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, stride=2, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 5, (2, 3), padding=(1, 0)), torch.nn.AvgPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(5 * 2 * 1, 6), torch.nn.BatchNorm1d(6),
    )
    net = Sequential(
        Conv2d(3, 4, 3, stride=2, padding=1, rng=0), BatchNorm2d(4), ReLU(), MaxPool2d(2),
        Conv2d(4, 5, (2, 3), padding=(1, 0), rng=0), AvgPool2d(2), Flatten(), Linear(10, 6, rng=0),
        BatchNorm1d(6),
    )
    assert list(net.state_dict()) == list(tnet.state_dict())
    for key, value in net.state_dict().items():
        assert value.shape == tuple(tnet.state_dict()[key].shape), key
    net.load_state_dict(from_torch(tnet))
    x = np.random.default_rng(0).standard_normal((4, 3, 16, 20)).astype(np.float32)
    for mode in ("train", "eval"):
        getattr(net, mode)(), getattr(tnet, mode)()
        expected = tnet(torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(net(x).data, expected, rtol=1e-4, atol=1e-5)
    for key, value in net.state_dict().items():  # running statistics updated identically
        np.testing.assert_allclose(value, tnet.state_dict()[key].numpy(), rtol=1e-5, atol=1e-6, err_msg=key)


def test_linear_and_conv_gradients_match_torch():
    torch.manual_seed(1)
    tfc, tconv = torch.nn.Linear(7, 3), torch.nn.Conv2d(2, 3, 3, padding=1)
    fc, conv = Linear(7, 3, rng=0), Conv2d(2, 3, 3, padding=1, rng=0)
    fc.load_state_dict(from_torch(tfc)), conv.load_state_dict(from_torch(tconv))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 7)).astype(np.float32)
    img = rng.standard_normal((2, 2, 4, 4)).astype(np.float32)
    labels = np.array([0, 2, 1, 1, 0])
    cross_entropy(fc(x), labels).backward()
    torch.nn.functional.cross_entropy(tfc(torch.from_numpy(x)), torch.from_numpy(labels)).backward()
    (conv(img) * conv(img)).sum().backward()
    (tconv(torch.from_numpy(img)) ** 2).sum().backward()
    for mine, theirs in [(fc, tfc), (conv, tconv)]:
        np.testing.assert_allclose(mine.weight.grad, theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(mine.bias.grad, theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-5)


A = np.array([[3.0, 0.5, 0.0], [0.5, 1.0, -0.2], [0.0, -0.2, 2.0]])
B = np.array([1.0, -2.0, 0.5])


@pytest.mark.parametrize("name, kw", [
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.2, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("Adam", dict(lr=0.1, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.2)),
    ("Adam", dict(lr=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.1, weight_decay=0.3)),
    ("AdamW", dict(lr=0.1, weight_decay=0.1, amsgrad=True)),
])
def test_optimizer_trajectories_match_torch(name, kw):
    ours_cls = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW}[name]
    w0 = np.array([0.7, -1.3, 2.1])
    w = Tensor(w0.copy(), requires_grad=True)
    tw = torch.tensor(w0.copy(), requires_grad=True)
    opt, topt = ours_cls([w], **kw), getattr(torch.optim, name)([tw], **kw)
    ta, tb = torch.from_numpy(A), torch.from_numpy(B)
    for _ in range(10):
        opt.zero_grad(), topt.zero_grad()
        (0.5 * (w * (w @ Tensor(A))).sum() + (w * Tensor(B)).sum()).backward()
        (0.5 * tw @ ta @ tw + tb @ tw).backward()
        opt.step(), topt.step()
        np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_adam_mlp_training_matches_torch_float32():
    torch.manual_seed(2)
    tnet = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(20, 16), torch.nn.ReLU(),
                               torch.nn.Linear(16, 4))
    net = Sequential(Flatten(), Linear(20, 16, rng=0), ReLU(), Linear(16, 4, rng=0))
    net.load_state_dict(from_torch(tnet))
    opt, topt = Adam(net.parameters(), lr=1e-2), torch.optim.Adam(tnet.parameters(), lr=1e-2)
    rng = np.random.default_rng(2)
    for _ in range(5):
        x = rng.standard_normal((8, 4, 5)).astype(np.float32)
        y = rng.integers(0, 4, 8)
        opt.zero_grad(), topt.zero_grad()
        cross_entropy(net(x), y).backward()
        torch.nn.functional.cross_entropy(tnet(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        opt.step(), topt.step()
    for key, value in net.state_dict().items():
        np.testing.assert_allclose(value, tnet.state_dict()[key].numpy(), rtol=1e-4, atol=1e-5, err_msg=key)


@pytest.mark.parametrize("make, tname, args", [
    (lambda o: StepLR(o, 3, gamma=0.5), "StepLR", (3, 0.5)),
    (lambda o: MultiStepLR(o, [2, 3, 7], 0.3), "MultiStepLR", ([2, 3, 7], 0.3)),
    (lambda o: CosineAnnealingLR(o, 5, 0.01), "CosineAnnealingLR", (5, 0.01)),
])
def test_schedules_match_torch(make, tname, args):
    tmake = lambda o: getattr(torch.optim.lr_scheduler, tname)(o, *args)  # noqa: E731
    opt = SGD([Tensor(np.zeros(1), requires_grad=True)], lr=0.2)
    tp = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=0.2)
    sched, tsched = make(opt), tmake(topt)
    for _ in range(12):
        assert sched.get_last_lr()[0] == pytest.approx(tsched.get_last_lr()[0], rel=1e-9, abs=1e-12)
        tp.grad = torch.zeros(1)
        topt.step()
        sched.step(), tsched.step()
