"""The GAMIN-study target SNN (Poursiami et al., "Do Spikes Protect Privacy?", §IV-A).

Architecture, with ``T = 25`` steps, batch ``B`` and ``H = 3000`` hidden neurons::

    x [B, 784] in [0, 1]
      → rate coding          S0[t] = [u < x],  u ~ U(0, 1)            S0: [T, B, 784] uint8
      → fc1 (784 → H)        Z1[t] = S0[t] W1ᵀ + b1                   Z1: [T, B, H]
      → LIF, delayed reset   β = 0.7, θ = 1, subtract (DESIGN form 1)  S1: [T, B, H]
      → fc2 (H → 10)         Z2[t] = S1[t] W2ᵀ + b2                   Z2: [T, B, 10]
      → LIF, delayed reset   (same), membrane U2                       U2: [T, B, 10]
      → logits               Σ_t U2[t]                                 [B, 10]

Training: cross-entropy on the summed output membrane, BPTT with the fast-
sigmoid surrogate of slope 40, Adam.  The first layer sees binary spikes, so
it runs as a spike-gather (``spike_linear``) instead of a dense GEMM — same
numbers, a fraction of the work.  Parameter names ``fc1.weight`` ``[H, 784]``,
``fc1.bias``, ``fc2.weight`` ``[10, H]``, ``fc2.bias`` match the snnTorch
tutorial network, so its ``state_dict`` loads one to one.

The encoder draws from the model's own Generator (``encode_seed``), so two
models built with the same seeds train bit-identically.

>>> import numpy as np
>>> net = GaminSNN(hidden=16, num_steps=4, rng=0)
>>> net(np.full((2, 784), 0.5, np.float32)).shape
(2, 10)
"""

from __future__ import annotations

import numpy as np

from refsnn.autograd import Tensor
from refsnn.autograd.ops_spike import spike_linear
from refsnn.backend import xp_of
from refsnn.encoding import rate
from refsnn.neurons import lif_delayed
from refsnn.neurons.surrogate import FastSigmoid
from refsnn.nn import Linear, Module
from refsnn.nn.layers import linear


class GaminSNN(Module):
    """784-``hidden``-10 LIF network with rate-coded input (see module docstring).

    Parameters
    ----------
    hidden : hidden width (3000 in the study).
    num_steps : time steps ``T`` (25).
    beta, theta : LIF decay and threshold (0.7, 1.0).
    slope : fast-sigmoid surrogate slope ``k`` (40).
    rng : Generator or seed for the weight initialisation (PyTorch defaults).
    encode_seed : seed of the rate encoder's Generator (defaults to ``rng``'s next draw).
    """

    def __init__(self, hidden: int = 3000, num_steps: int = 25, beta: float = 0.7, theta: float = 1.0,
                 slope: float = 40.0, rng=None, encode_seed=None, dtype=np.float32):
        super().__init__()
        if num_steps < 1:
            raise ValueError(f"GaminSNN: num_steps must be >= 1, got {num_steps}")
        rng = np.random.default_rng(rng)
        self.fc1 = Linear(784, hidden, rng=rng, dtype=dtype)
        self.fc2 = Linear(hidden, 10, rng=rng, dtype=dtype)
        self.num_steps, self.beta, self.theta = int(num_steps), float(beta), float(theta)
        self.surrogate = FastSigmoid(k=slope)
        seed = encode_seed if encode_seed is not None else int(rng.integers(2**63))
        self.encoder_rng = np.random.default_rng(seed)

    def _on_weights_backend(self, a):
        """``a`` (array or Tensor) as an array where the weights live (NumPy, or CuPy on the GPU)."""
        return xp_of(self.fc1.weight.data).asarray(a.data if isinstance(a, Tensor) else a)

    def encode(self, x) -> np.ndarray:
        """Bernoulli rate coding of ``x`` ([B, 784] or [B, 1, 28, 28], in [0, 1]) → uint8 [T, B, 784]."""
        data = self._on_weights_backend(x)
        if data.size == 0 or data.reshape(len(data), -1).shape[1] != 784:
            raise ValueError(f"GaminSNN: expected inputs of 784 pixels per sample, got shape {data.shape}")
        return rate(data.reshape(len(data), 784), self.num_steps, self.encoder_rng, dtype=np.uint8)

    def forward(self, x) -> Tensor:
        """Logits ``[B, 10]`` = output membrane summed over T, for images ``x`` in [0, 1]."""
        return self.forward_spikes(self.encode(x))

    def forward_spikes(self, spikes) -> Tensor:
        """Logits for pre-encoded input spikes ``[T, B, 784]`` (binary, any integer/bool/float dtype)."""
        spikes = self._on_weights_backend(spikes)
        if spikes.ndim != 3 or spikes.shape[2] != 784:
            raise ValueError(f"GaminSNN.forward_spikes: expected [T, B, 784] spikes, got {spikes.shape}")
        return snn_logits(spikes, self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias,
                          beta=self.beta, theta=self.theta, surrogate=self.surrogate)


def snn_logits(spikes, fc1_weight, fc1_bias, fc2_weight, fc2_bias, beta=0.7, theta=1.0,
               surrogate=None) -> Tensor:
    """The GAMIN SNN as a function: spikes ``[T, B, n_in]`` and weights → logits ``Σ_t U2[t]`` ``[B, n_out]``.

    ``fc*_weight`` are ``[out, in]`` Tensors (PyTorch layout); ``surrogate`` defaults to fast sigmoid, k = 40.
    """
    surrogate = FastSigmoid(k=40.0) if surrogate is None else surrogate
    T, B, n_in = spikes.shape
    z1 = spike_linear(spikes.reshape(T * B, n_in), fc1_weight, fc1_bias)
    s1 = lif_delayed(z1.reshape(T, B, -1), beta=beta, theta=theta, reset="subtract", surrogate=surrogate)
    z2 = linear(s1.reshape(T * B, -1), fc2_weight, fc2_bias).reshape(T, B, -1)
    _, u2 = lif_delayed(z2, beta=beta, theta=theta, reset="subtract", surrogate=surrogate,
                        return_membrane=True)
    return u2.sum(axis=0)
