"""Peer-framework models shared by the CPU and GPU benchmarks (torch imported on call only)."""

from __future__ import annotations

import numpy as np


def snntorch_gamin_net(state: dict, n_in: int = 784, hidden: int = 3000, n_out: int = 10):
    """The GAMIN SNN in snnTorch (Leaky β=0.7, fast sigmoid k=40), weights copied from ``state``.

    ``state`` holds refsnn's ``fc1.weight [hidden, n_in]``, ``fc1.bias``, ``fc2.weight``,
    ``fc2.bias``; the net's forward returns the output membrane summed over T.  The four
    parameters are copied one by one: ``Leaky`` registers buffers of its own, so a strict
    ``load_state_dict`` would fail.
    """
    import snntorch
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            grad = snntorch.surrogate.fast_sigmoid(slope=40)
            self.fc1, self.fc2 = torch.nn.Linear(n_in, hidden), torch.nn.Linear(hidden, n_out)
            self.lif1 = snntorch.Leaky(beta=0.7, spike_grad=grad)
            self.lif2 = snntorch.Leaky(beta=0.7, spike_grad=grad)

        def forward(self, s):
            mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
            total = 0
            for t in range(s.shape[0]):
                spk1, mem1 = self.lif1(self.fc1(s[t]), mem1)
                _, mem2 = self.lif2(self.fc2(spk1), mem2)
                total = total + mem2
            return total

    net = Net()
    with torch.no_grad():
        for name, value in state.items():
            net.get_parameter(name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return net
