"""Small user-style torch SNNs for the import / check tests (built with seeded torch weights).

Each builder returns ``(model, kwargs for check, inputs, labels)``; the
weights are scaled so that every spiking layer fires on a fair fraction of
its steps (a check of silent layers would prove nothing).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

snn = __import__("pytest").importorskip("snntorch")
sj = __import__("pytest").importorskip("spikingjelly.activation_based")
from spikingjelly.activation_based import functional, layer, neuron, surrogate  # noqa: E402

T_STEPS = 6


def _scale(model, gain, seed):
    torch.manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.uniform_(m.weight, -gain / m.weight[0].numel() ** 0.5, gain / m.weight[0].numel() ** 0.5)
            if m.bias is not None:
                nn.init.uniform_(m.bias, -0.2, 0.2)
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(0.0, 0.5)
    return model


class TutorialNet(nn.Module):
    """snnTorch tutorial 5 style: a time loop over fc1 → lif1 → fc2 → lif2 (custom forward)."""

    def __init__(self, n_in=20, hidden=30, n_out=5, T=T_STEPS, time_first=False, **leaky):
        super().__init__()
        self.T, self.time_first = T, time_first
        self.fc1, self.lif1 = nn.Linear(n_in, hidden), snn.Leaky(**leaky)
        self.fc2, self.lif2 = nn.Linear(hidden, n_out), snn.Leaky(**leaky)

    def forward(self, x):
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        spk_rec, mem_rec = [], []
        for step in range(x.shape[0] if self.time_first else self.T):
            cur1 = self.fc1(x[step] if self.time_first else x)
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = self.fc2(spk1.to(cur1.dtype))   # snnTorch spikes are float32 even in float64 nets
            spk2, mem2 = self.lif2(cur2, mem2)
            spk_rec.append(spk2)
            mem_rec.append(mem2)
        return torch.stack(spk_rec), torch.stack(mem_rec)


ORDER = ["fc1", "lif1", "fc2", "lif2"]


def tutorial_direct():
    model = _scale(TutorialNet(beta=0.85, spike_grad=snn.surrogate.fast_sigmoid(slope=25)), 6.0, 0)
    x = np.random.default_rng(0).random((16, 20)).astype(np.float32)
    return model, {"order": ORDER}, x, np.arange(16) % 5


def tutorial_time_first_f64():
    model = TutorialNet(time_first=True, beta=torch.tensor(0.7, dtype=torch.float64),
                        threshold=torch.tensor(0.8, dtype=torch.float64), reset_mechanism="zero",
                        spike_grad=snn.surrogate.atan(alpha=3.0))
    model = _scale(model.double(), 5.0, 1)
    x = (np.random.default_rng(1).random((T_STEPS, 12, 20)) < 0.5).astype(np.float64)
    return model, {"order": ORDER, "batch_axis": 1}, x, np.arange(12) % 5


def snntorch_conv_sequential():
    lk = dict(beta=0.8, init_hidden=True, spike_grad=snn.surrogate.fast_sigmoid(slope=10))
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2), snn.Leaky(**lk), nn.Flatten(),
                          nn.Linear(4 * 4 * 4, 5), snn.Leaky(output=True, **lk))
    model = _scale(model, 5.0, 2)
    x = np.random.default_rng(2).random((T_STEPS, 10, 1, 8, 8)).astype(np.float32)
    return model, {}, x, np.arange(10) % 5


def snntorch_sequential_static():
    """Static images into a single-step Sequential: check repeats them over ``T`` (``T=`` given)."""
    lk = dict(beta=0.8, init_hidden=True, reset_mechanism="zero")
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 20), snn.Leaky(**lk), nn.Linear(20, 5),
                          snn.Leaky(output=True, **lk))
    model = _scale(model, 5.0, 7)
    x = np.random.default_rng(7).random((9, 1, 4, 4)).astype(np.float32)
    return model, {"T": T_STEPS}, x, np.arange(9) % 5


def sj_conv_bn_plif():
    model = nn.Sequential(
        layer.Conv2d(1, 4, 3, padding=1, step_mode="m"), layer.BatchNorm2d(4, step_mode="m"),
        neuron.LIFNode(tau=2.0, step_mode="m", surrogate_function=surrogate.ATan()),
        layer.SeqToANNContainer(nn.AvgPool2d(2), nn.Flatten()),
        layer.Linear(4 * 4 * 4, 5, step_mode="m"),
        neuron.ParametricLIFNode(init_tau=3.0, v_reset=None, step_mode="m"))
    model = _scale(model, 16.0, 3)
    x = np.random.default_rng(3).random((T_STEPS, 10, 1, 8, 8)).astype(np.float32)
    return model, {}, x, np.arange(10) % 5


def sj_conv_if_f64():
    model = nn.Sequential(
        layer.SeqToANNContainer(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4)),
        neuron.IFNode(v_threshold=1.0, v_reset=0.0, detach_reset=True, step_mode="m"),
        layer.MaxPool2d(2, step_mode="m"), layer.Flatten(step_mode="m"), layer.Dropout(0.3, step_mode="m"),
        layer.Linear(4 * 4 * 4, 5, step_mode="m"),
        neuron.IFNode(v_threshold=0.7, v_reset=None, step_mode="m"))
    model = _scale(model.double(), 4.0, 4)
    x = np.random.default_rng(4).random((10, 1, 8, 8))
    return model, {"T": T_STEPS}, x, np.arange(10) % 5


def sj_single_step_nested():
    model = nn.Sequential(
        nn.Sequential(nn.Linear(20, 30), nn.ReLU()),
        neuron.LIFNode(tau=4.0, v_reset=None, decay_input=False, step_mode="s"),
        nn.Sequential(nn.Dropout(0.2), nn.Linear(30, 5)),
        neuron.LIFNode(tau=1.5, step_mode="s", surrogate_function=surrogate.Sigmoid(alpha=2.0)))
    model = _scale(model, 4.0, 5)
    x = (np.random.default_rng(5).random((T_STEPS, 12, 20)) < 0.6).astype(np.float32)
    return model, {}, x, np.arange(12) % 5


class SJClassifier(nn.Module):
    """What a SpikingJelly user hands torchattacks: repeat x over T, run, mean over time."""

    def __init__(self, T=T_STEPS):
        super().__init__()
        self.T = T
        self.net = nn.Sequential(
            layer.Conv2d(1, 4, 3, padding=1, step_mode="m"),
            neuron.LIFNode(step_mode="m", surrogate_function=surrogate.ATan()),
            layer.Flatten(step_mode="m"), layer.Linear(4 * 8 * 8, 5, step_mode="m"),
            neuron.LIFNode(step_mode="m", surrogate_function=surrogate.ATan()))

    def forward(self, x):
        functional.reset_net(self)
        return self.net(x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)).mean(0)


def sj_classifier():
    model = _scale(SJClassifier(), 6.0, 6)
    x = np.random.default_rng(6).random((8, 1, 8, 8)).astype(np.float32)
    return model, {"order": ["net"]}, x, np.arange(8) % 5


ARCHITECTURES = {
    "snntorch-tutorial-direct-f32": tutorial_direct,
    "snntorch-tutorial-timefirst-f64": tutorial_time_first_f64,
    "snntorch-conv-sequential": snntorch_conv_sequential,
    "snntorch-sequential-static-T": snntorch_sequential_static,
    "sj-conv-bn-lif-plif": sj_conv_bn_plif,
    "sj-conv-bn-if-f64": sj_conv_if_f64,
    "sj-single-step-nested": sj_single_step_nested,
    "sj-classifier-custom-forward": sj_classifier,
}
