"""RBM of Siegert units trained by persistent contrastive divergence with fast weights (SDBN).

O'Connor et al. (2013) train each layer of their spiking DBN as an RBM whose
units are Siegert neurons (:func:`refsnn.neurons.siegert.siegert`: input rates →
LIF output rate·t_ref), by persistent CD with fast weights (Tieleman & Hinton
2009), sparsity and selectivity targets (Goh et al. 2010), momentum and weight
decay.  Weights ``W [n_v, n_h]`` (RBM layout: ``v @ W`` is the upward pass),
biases ``b_v [n_v]``, ``b_h [n_h]``; fast copies ``F, f_v, f_h`` drive only
the persistent negative chain.  One update on a batch ``v⁺ [B, n_v]``::

    S(x, W, b) = siegert(x, W, b, τ_m, τ_s, t_ref, V_th; noise → x ← max(x + temp·N(0,1), 0))
    h⁺ = S(v⁺, W, b_h)            (clamped label units instead: h⁺ = label_rate·onehot(y), no bias below)
    h⁺ ← clip(h⁺ + φ_sp·(p − mean_units h⁺) + φ_sel·(p − q), 0, 1)    (sparsity / selectivity bias)
    q  ← λ_q·q + (1 − λ_q)·mean_batch h⁺(before bias)                (per-unit running activity)
    chain (persistent, B rows):  h⁻ = S(v⁻, W+F, b_h+f_h);  v⁻ ← S(h⁻, (W+F)ᵀ, b_v+f_v);
                                 h⁻ = S(v⁻, W+F, b_h+f_h)
    G_W = (v⁺ᵀh⁺ − v⁻ᵀh⁻)/B,  G_bv = mean(v⁺ − v⁻),  G_bh = mean(h⁺ − h⁻)
    I_W ← m·I_W + α·(G_W − wd·W);  W ← W + I_W          (I_b likewise, no decay on biases)
    F   ← (19/20)·F + α_f·G_W                            (fast weights, no momentum/decay)
    m = momentum[0] for the first momentum_switch epochs, momentum[1] afterwards

Constants and their sources (``RBMConfig``; all overridable):

==================  ==========  ==============================================================
batch_size          50          the issue / DESIGN (O'Connor's setting)
sparsity p          0.1         the issue / DESIGN
temp                0.005       O'Connor's Siegert input noise (DESIGN form 6)
τ_m / τ_s           5 / 0.001   DESIGN form 6 (O'Connor)
t_ref / V_th        0.002/0.005 DESIGN form 6 (O'Connor); V_reset = V_rest = 0
fast decay          19/20       Tieleman & Hinton (2009)
α, α_f              1.0         not given by the sources: our default (α_f = α as in Tieleman &
                                Hinton); gradients are small (rates ≤ 0.2 times rate·t_ref ≤ 1);
                                SDBN 784-100-100-10, 2,000 MNIST-5k images, 5 epochs:
                                α = 1 → 70 % test accuracy, α = 5 → 31 %
momentum            0.5 → 0.9   Hinton's practical guide (2010, §9): 0.5 first, then 0.9;
momentum_switch     5 epochs    switch epoch not given: default
weight_decay        1e-4        guide (§10: 1e-2 … 1e-5); not given by O'Connor: default
φ_sp, φ_sel, λ_q    0.1, 0.1,   Goh et al. bias the positive-phase hidden activity toward the
                    0.9         targets; the linear form and these weights are our defaults
label_rate          1.0         clamped label units in rate·t_ref units: default
init_std            0.01        N(0, 0.01²) weights, zero biases (guide §8)
==================  ==========  ==============================================================

``fit(data, epochs, rng, checkpoint=path)`` shuffles with ``rng`` each epoch,
draws all noise from it, and after every epoch writes ``path`` (HDF5 through
:func:`refsnn.io.save_checkpoint`: parameters, fast weights, momentum buffers,
chain, running activity, epoch and the Generator's state).  If ``path``
exists, ``fit`` resumes from it — restoring ``rng``'s state — so 1 epoch +
resume + 1 epoch equals 2 epochs straight, bit for bit.

>>> import numpy as np
>>> rbm = SiegertRBM(6, 3, rng=0)
>>> data = np.random.default_rng(1).random((100, 6)) * 0.2
>>> rbm.fit(data, epochs=1, rng=np.random.default_rng(2)).transform(data).shape
(100, 3)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from refsnn.io import load_checkpoint, save_checkpoint
from refsnn.neurons.siegert import siegert
from refsnn.nn.init import as_generator
from refsnn.validation import check_finite


@dataclass(frozen=True)
class RBMConfig:
    """Training constants (module docstring table)."""

    batch_size: int = 50
    lr: float = 1.0
    fast_lr: float = 1.0
    fast_decay: float = 19 / 20
    momentum: tuple = (0.5, 0.9)
    momentum_switch: int = 5
    weight_decay: float = 1e-4
    sparsity: float = 0.1
    sparsity_cost: float = 0.1
    selectivity_cost: float = 0.1
    activity_decay: float = 0.9
    temp: float = 0.005
    noise: bool = True
    label_rate: float = 1.0
    init_std: float = 0.01
    tau_m: float = 5.0
    tau_s: float = 0.001
    t_ref: float = 0.002
    v_th: float = 0.005

    def neuron(self) -> dict:
        return dict(tau_m=self.tau_m, tau_s=self.tau_s, t_ref=self.t_ref, v_th=self.v_th)


def check_rates(x, n: int, where: str) -> np.ndarray:
    """``x`` as float64 ``[B, n]`` of finite rates ≥ 0, else a ValueError naming ``where``."""
    x = np.asarray(x.data if hasattr(x, "requires_grad") else x)
    if x.ndim != 2 or x.shape[1] != n:
        raise ValueError(f"{where}: expected rates of shape [B, {n}], got {x.shape}")
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{where}: rates must be numeric, got dtype {x.dtype}")
    x = x.astype(np.float64)
    check_finite(where, "rates", x)
    if (x < 0).any():
        raise ValueError(f"{where}: negative rates (min {x.min():.4g}); rates must be >= 0")
    return x


class SiegertRBM:
    """RBM of ``n_visible`` × ``n_hidden`` Siegert units (module docstring); ``rng`` draws W."""

    _STATE = ("W", "b_v", "b_h", "F", "f_v", "f_h", "I_W", "I_v", "I_h", "chain", "q")

    def __init__(self, n_visible: int, n_hidden: int, rng, config: RBMConfig | None = None, **overrides):
        if int(n_visible) < 1 or int(n_hidden) < 1:
            raise ValueError(f"SiegertRBM: sizes must be >= 1, got {n_visible} x {n_hidden}")
        cfg = config or RBMConfig()
        self.config = dataclasses.replace(cfg, **overrides) if overrides else cfg
        if int(self.config.batch_size) < 1:
            raise ValueError(f"SiegertRBM: batch_size must be >= 1, got {self.config.batch_size}")
        self.n_visible, self.n_hidden = int(n_visible), int(n_hidden)
        gen = as_generator(rng, "SiegertRBM")
        nv, nh = self.n_visible, self.n_hidden
        self.W = gen.normal(0.0, self.config.init_std, (nv, nh))
        self.b_v, self.b_h = np.zeros(nv), np.zeros(nh)
        self.F, self.f_v, self.f_h = np.zeros((nv, nh)), np.zeros(nv), np.zeros(nh)
        self.I_W, self.I_v, self.I_h = np.zeros((nv, nh)), np.zeros(nv), np.zeros(nh)
        self.chain = None  # [batch_size, n_v], started from the first batch
        self.q = np.full(nh, self.config.sparsity)
        self.epoch = 0

    # ------------------------------------------------------------------ inference
    def _up(self, v, W, b, noise, rng):
        return siegert(v, W, b, noise=noise, temp=self.config.temp, rng=rng, **self.config.neuron()).data

    def transform(self, v, noise: bool = False, rng=None) -> np.ndarray:
        """Hidden rates ``S(v, W, b_h)`` ``[B, n_h]``; ``noise=True`` adds O'Connor's input noise."""
        v = check_rates(v, self.n_visible, "SiegertRBM.transform")
        return self._up(v, self.W, self.b_h, noise, rng)

    def reconstruct(self, h, noise: bool = False, rng=None) -> np.ndarray:
        """Visible rates ``S(h, Wᵀ, b_v)`` ``[B, n_v]``."""
        h = check_rates(h, self.n_hidden, "SiegertRBM.reconstruct")
        return self._up(h, self.W.T, self.b_v, noise, rng)

    # ------------------------------------------------------------------ training
    def _step(self, v_pos, h_pos, momentum, gen):
        c = self.config
        noise = c.noise
        if h_pos is None:  # free hidden units: biased toward the sparsity / selectivity targets
            h_pos = self._up(v_pos, self.W, self.b_h, noise, gen)
            batch_mean = h_pos.mean(axis=0)
            h_pos = np.clip(h_pos + c.sparsity_cost * (c.sparsity - h_pos.mean(axis=1, keepdims=True))
                            + c.selectivity_cost * (c.sparsity - self.q), 0.0, 1.0)
            self.q = c.activity_decay * self.q + (1 - c.activity_decay) * batch_mean
        if self.chain is None or len(self.chain) != len(v_pos):
            self.chain = v_pos.copy()
        Wn, bh, bv = self.W + self.F, self.b_h + self.f_h, self.b_v + self.f_v
        h_neg = self._up(self.chain, Wn, bh, noise, gen)
        self.chain = self._up(h_neg, Wn.T, bv, noise, gen)
        h_neg = self._up(self.chain, Wn, bh, noise, gen)
        B = len(v_pos)
        G_W = (v_pos.T @ h_pos - self.chain.T @ h_neg) / B
        G_v = (v_pos - self.chain).mean(axis=0)
        G_h = (h_pos - h_neg).mean(axis=0)
        self.I_W = momentum * self.I_W + c.lr * (G_W - c.weight_decay * self.W)
        self.I_v = momentum * self.I_v + c.lr * G_v
        self.I_h = momentum * self.I_h + c.lr * G_h
        self.W = self.W + self.I_W
        self.b_v = self.b_v + self.I_v
        self.b_h = self.b_h + self.I_h
        self.F = c.fast_decay * self.F + c.fast_lr * G_W
        self.f_v = c.fast_decay * self.f_v + c.fast_lr * G_v
        self.f_h = c.fast_decay * self.f_h + c.fast_lr * G_h
        return float(np.mean((v_pos - self.chain) ** 2))

    def fit(self, data, epochs: int, rng, labels=None, checkpoint=None, max_batches=None) -> SiegertRBM:
        """Train until ``self.epoch == epochs`` (resuming from ``checkpoint`` when it exists).

        ``data`` ``[n, n_visible]`` rates ≥ 0; ``labels`` (ints in ``[0, n_hidden)``)
        clamp the hidden units in the positive phase (the SDBN's top layer);
        ``max_batches`` caps the batches per epoch (quick runs).  Returns self.
        """
        c = self.config
        x = check_rates(data, self.n_visible, "SiegertRBM.fit")
        gen = as_generator(rng, "SiegertRBM.fit")
        targets = None if labels is None else self._label_targets(labels, len(x))
        if len(x) < c.batch_size:
            raise ValueError(f"SiegertRBM.fit: {len(x)} samples is fewer than one batch ({c.batch_size})")
        if checkpoint is not None and Path(checkpoint).exists():
            self.load(checkpoint, rng=gen)
        n_batches = len(x) // c.batch_size
        if max_batches is not None:
            n_batches = min(n_batches, int(max_batches))
        self.history = getattr(self, "history", [])
        while self.epoch < int(epochs):
            m = c.momentum[0] if self.epoch < c.momentum_switch else c.momentum[1]
            order = gen.permutation(len(x))
            err = 0.0
            for i in range(n_batches):
                idx = order[i * c.batch_size:(i + 1) * c.batch_size]
                err += self._step(x[idx], None if targets is None else targets[idx], m, gen)
            self.epoch += 1
            self.history.append(err / n_batches)
            if checkpoint is not None:
                self.save(checkpoint, rng=gen)
        return self

    def _label_targets(self, labels, n: int) -> np.ndarray:
        y = np.asarray(labels)
        if y.shape != (n,) or y.dtype.kind not in "iu":
            raise ValueError(f"SiegertRBM.fit: labels must be {n} integers, got shape {y.shape} "
                             f"dtype {y.dtype}")
        if n and (y.min() < 0 or y.max() >= self.n_hidden):
            raise ValueError(f"SiegertRBM.fit: labels must lie in [0, {self.n_hidden}), "
                             f"got [{y.min()}, {y.max()}]")
        return np.eye(self.n_hidden)[y] * self.config.label_rate

    # ------------------------------------------------------------------ checkpoints
    def _config_dict(self) -> dict:
        d = dataclasses.asdict(self.config)
        d["momentum"] = list(d["momentum"])
        return dict(n_visible=self.n_visible, n_hidden=self.n_hidden, rbm=d)

    def save(self, path, rng=None) -> None:
        """Write the full training state (and ``rng``'s state, if given) to the HDF5 file ``path``."""
        state = {k: getattr(self, k) for k in self._STATE if getattr(self, k) is not None}
        extra = {"rng": None if rng is None else rng.bit_generator.state,
                 "history": list(getattr(self, "history", []))}
        save_checkpoint(path, state, config=self._config_dict(), step=self.epoch, extra=extra)

    def load(self, path, rng=None) -> SiegertRBM:
        """Restore the state written by :meth:`save`; shapes must match (clear error otherwise).

        With ``rng`` (a Generator) its state is set to the saved one.
        """
        ck = load_checkpoint(path)
        cfg = ck.config or {}
        got = (cfg.get("n_visible"), cfg.get("n_hidden"))
        if got != (self.n_visible, self.n_hidden):
            raise ValueError(f"{path}: checkpoint is an RBM of {got[0]} x {got[1]} units, this RBM is "
                             f"{self.n_visible} x {self.n_hidden}")
        shapes = dict(W=(self.n_visible, self.n_hidden), F=(self.n_visible, self.n_hidden),
                      I_W=(self.n_visible, self.n_hidden), b_v=(self.n_visible,), f_v=(self.n_visible,),
                      I_v=(self.n_visible,), b_h=(self.n_hidden,), f_h=(self.n_hidden,),
                      I_h=(self.n_hidden,), q=(self.n_hidden,))
        for name, shape in shapes.items():
            arr = ck.state.get(name)
            if arr is None or arr.shape != shape:
                raise ValueError(f"{path}: entry {name!r} has shape "
                                 f"{None if arr is None else arr.shape}, expected {shape}")
        chain = ck.state.get("chain")
        if chain is not None and (chain.ndim != 2 or chain.shape[1] != self.n_visible):
            raise ValueError(f"{path}: chain has shape {chain.shape}, expected [B, {self.n_visible}]")
        for name in self._STATE:
            setattr(self, name, None if name not in ck.state else np.array(ck.state[name], np.float64))
        self.epoch = int(ck.step or 0)
        self.history = list((ck.extra or {}).get("history") or [])
        saved_rng = (ck.extra or {}).get("rng")
        if rng is not None and saved_rng is not None:
            rng.bit_generator.state = saved_rng
        return self
