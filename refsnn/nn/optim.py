"""Optimizers with PyTorch's exact update rules: SGD, Adam, AdamW.

An optimizer holds a list of parameters and a learning rate ``lr`` (a plain
attribute that schedulers rewrite).  ``step()`` updates each parameter whose
``grad`` is not None **in place** on ``param.data`` — plain array arithmetic,
no graph — using in-place ufuncs (``out=``) and at most two persistent scratch
arrays per parameter, so a step allocates nothing after the first.  Large
parameters (``≥ 2¹⁸`` elements, NumPy) are cut into contiguous chunks updated by
a small thread pool (NumPy ufuncs release the GIL); the arithmetic per element
is the same, so the result does not depend on the thread count.  Threads:
``REFSNN_NUM_THREADS``, else ``OMP_NUM_THREADS``, else the usable cores.

``state_dict()`` is a flat ``{name: ndarray}`` (hyperparameters such as
``"lr"``, and per-parameter state ``"<i>.<name>"`` with ``i`` the parameter's
position) that an HDF5 checkpoint stores as is; ``load_state_dict`` restores it
for a bit-exact resume.

>>> import numpy as np
>>> from refsnn.autograd import Tensor
>>> w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
>>> opt = SGD([w], lr=0.1)
>>> (w * w).sum().backward(); opt.step()
>>> w.data          # w − 0.1 · 2w
array([ 0.8, -1.6])
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from refsnn.autograd import Tensor
from refsnn.backend import BackendError, backend_of, to_backend, to_host, xp_of

PARALLEL_MIN = 1 << 18  # elements; smaller parameters are updated in the calling thread
_POOL: list = [None, 0]  # (executor, workers), created on first use, dropped in forked children


def default_threads() -> int:
    """Worker threads for large updates: REFSNN_NUM_THREADS, else OMP_NUM_THREADS, else usable cores."""
    for var in ("REFSNN_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return min(int(value), 16)
    try:
        return max(1, min(len(os.sched_getaffinity(0)), 16))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, min(os.cpu_count() or 1, 16))


def _pool(workers: int) -> ThreadPoolExecutor:
    if _POOL[0] is None or _POOL[1] != workers:
        if _POOL[0] is not None:
            _POOL[0].shutdown(wait=True)
        _POOL[0] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refsnn-optim")
        _POOL[1] = workers
    return _POOL[0]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _POOL.__setitem__(slice(None), [None, 0]))


def _same_backend(where: str, i: int, param, grad, state: dict) -> None:
    """Parameter ``i``, its gradient and its optimizer state on one backend, or a clear error."""
    arrays = {"parameter": param, "grad": grad, **{k: v for k, v in state.items() if hasattr(v, "shape")}}
    names = {k: backend_of(v) for k, v in arrays.items()}
    if len(set(names.values())) > 1:
        raise BackendError(f"{where}.step: parameter {i} mixes backends ({names}); move the model with "
                           f"Module.to before building the optimizer, or move its state with {where}.to")


def _check(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise ValueError(f"{where}: {message}")


class Optimizer:
    """Base class: a parameter list, ``lr``, per-parameter ``state`` dicts, ``zero_grad``, ``step``.

    Subclasses set ``hyper`` (names of hyperparameter attributes saved in the
    state dict) and implement ``_update(i, param_array, grad_array)``.
    """

    hyper: tuple = ("lr",)
    num_threads: int | None = None  # None: default_threads()

    def __init__(self, params, lr: float):
        where = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{where}: params must be an iterable of Tensors (e.g. model.parameters()), "
                            f"got a single Tensor")
        unique, seen = [], set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{where}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if p.dtype.kind != "f":
                raise TypeError(f"{where}: parameter {i} has non-floating dtype {p.dtype}")
            if id(p) not in seen:
                seen.add(id(p))
                unique.append(p)
        if not unique:
            raise ValueError(f"{where}: got an empty parameter list")
        self.params = unique
        self.lr = lr
        self.state: list[dict] = [{} for _ in unique]
        self._scratch: list[list] = [[None, None] for _ in unique]

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        _check(isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
               and math.isfinite(value) and value >= 0,
               type(self).__name__, f"lr must be a finite number >= 0, got {value!r}")
        self._lr = float(value)

    def zero_grad(self) -> None:
        """Drop every parameter's gradient (``grad = None``)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient (see the subclass formula)."""
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            if p.grad.shape != p.data.shape:
                raise ValueError(f"{type(self).__name__}.step: parameter {i} has shape {p.data.shape} "
                                 f"but its grad has shape {p.grad.shape}")
            if type(p.data) is not np.ndarray or self.state[i]:  # device parameters: one backend
                _same_backend(type(self).__name__, i, p.data, p.grad, self.state[i])
            self._update(i, p.data, p.grad)

    def to(self, backend: str):
        """Move the per-parameter state to ``backend`` (after ``model.to`` moved the parameters)."""
        for st in self.state:
            for name, value in st.items():
                if hasattr(value, "shape"):
                    st[name] = to_backend(value, backend)
        self._scratch = [[None, None] for _ in self.params]
        return self

    def _update(self, i: int, p, g) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _run(self, chunk_fn, arrays, *extra) -> None:
        """``chunk_fn(*arrays, *extra)``, over contiguous chunks in parallel when that pays.

        ``arrays`` (same shape, or None) are split into matching flat slices; the
        update is elementwise, so chunking changes no value.
        """
        n = arrays[0].size
        workers = self.num_threads or default_threads()
        workers = min(workers, n // (PARALLEL_MIN // 2))
        if workers <= 1 or not all(a is None or (isinstance(a, np.ndarray) and a.flags.c_contiguous)
                                   for a in arrays):
            chunk_fn(*arrays, *extra)
            return
        flat = [None if a is None else a.reshape(-1) for a in arrays]
        edges = [(n * k // workers) & ~1023 for k in range(workers)] + [n]
        jobs = [_pool(workers).submit(chunk_fn, *[None if a is None else a[lo:hi] for a in flat], *extra)
                for lo, hi in zip(edges[:-1], edges[1:])]
        for job in jobs:
            job.result()

    def _buf(self, i: int, k: int, like):
        """Persistent scratch array ``k`` (0 or 1) of parameter ``i``."""
        s = self._scratch[i][k]
        if s is None or s.shape != like.shape or s.dtype != like.dtype:
            s = self._scratch[i][k] = xp_of(like).empty_like(like)
        return s

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """``{hyperparameter: 0-d/1-d array} ∪ {"<i>.<state name>": array copy}`` (host NumPy)."""
        out = {name: np.asarray(getattr(self, name)) for name in self.hyper}
        for i, st in enumerate(self.state):
            for name, value in st.items():
                out[f"{i}.{name}"] = np.array(to_host(value), copy=True)
        return out

    def load_state_dict(self, state) -> None:
        """Restore hyperparameters and per-parameter state; checks every key and shape first."""
        where = f"{type(self).__name__}.load_state_dict"
        missing = [h for h in self.hyper if h not in state]
        unexpected, shape_errors, per_param = [], [], [{} for _ in self.params]
        for key, value in state.items():
            if key in self.hyper:
                continue
            index, _, name = str(key).partition(".")
            if not index.isdigit() or int(index) >= len(self.params) or name not in self.state_names:
                unexpected.append(key)
                continue
            value = np.asarray(value)
            want = () if name == "step" else self.params[int(index)].shape
            if value.shape != want:
                shape_errors.append(f"{key}: saved shape {value.shape} vs expected {want}")
            per_param[int(index)][name] = value
        if missing or unexpected:
            raise KeyError(f"{where}: missing keys {missing}, unexpected keys {unexpected}")
        if shape_errors:
            raise ValueError(f"{where}: shape mismatch for " + "; ".join(shape_errors))
        for name in self.hyper:
            value = np.asarray(state[name])
            setattr(self, name, value.item() if value.ndim == 0 else tuple(value.tolist()))
        self._validate()
        for i, (p, saved) in enumerate(zip(self.params, per_param)):
            xp = xp_of(p.data)
            self.state[i] = {name: int(v) if name == "step" else xp.asarray(v.astype(p.dtype))
                             for name, v in saved.items()}

    state_names: tuple = ()

    def _validate(self) -> None:
        self.lr = self.lr

    def __repr__(self) -> str:
        args = ", ".join(f"{h}={getattr(self, h)!r}" for h in self.hyper)
        return f"{type(self).__name__}({len(self.params)} parameters, {args})"


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay.

    PyTorch's rule, for gradient ``g`` of parameter ``p`` at step ``t``::

        g ← g + weight_decay · p                                  (if weight_decay ≠ 0)
        b ← g                               at the first step      (if momentum ≠ 0)
        b ← momentum · b + (1 − dampening) · g   afterwards
        g ← g + momentum · b   (nesterov)    or    g ← b   (otherwise)
        p ← p − lr · g

    State: ``momentum_buffer`` (``b``).  Nesterov needs momentum > 0 and dampening = 0.
    """

    hyper = ("lr", "momentum", "dampening", "nesterov", "weight_decay")
    state_names = ("momentum_buffer",)

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.momentum, self.dampening = float(momentum), float(dampening)
        self.nesterov, self.weight_decay = bool(nesterov), float(weight_decay)
        self._validate()

    def _validate(self) -> None:
        super()._validate()
        _check(math.isfinite(self.momentum) and self.momentum >= 0, "SGD",
               f"momentum must be a finite number >= 0, got {self.momentum}")
        _check(math.isfinite(self.dampening), "SGD", f"dampening must be finite, got {self.dampening}")
        _check(math.isfinite(self.weight_decay) and self.weight_decay >= 0, "SGD",
               f"weight_decay must be a finite number >= 0, got {self.weight_decay}")
        _check(not self.nesterov or (self.momentum > 0 and self.dampening == 0), "SGD",
               f"nesterov needs momentum > 0 and dampening = 0 (momentum={self.momentum}, "
               f"dampening={self.dampening})")

    def _update(self, i, p, g):
        buf, first = None, False
        if self.momentum != 0:
            buf = self.state[i].get("momentum_buffer")
            if buf is None:
                buf = self.state[i]["momentum_buffer"] = xp_of(p).empty_like(p)
                first = True
        s1 = self._buf(i, 1, p) if self.momentum != 0 and (self.nesterov or self.dampening) else None
        self._run(self._chunk, (p, g, buf, self._buf(i, 0, p), s1), first)

    def _chunk(self, p, g, b, s0, s1, first: bool) -> None:
        xp = xp_of(p)
        d = g
        if self.weight_decay != 0:  # d = g + wd·p
            xp.multiply(p, self.weight_decay, out=s0)
            s0 += g
            d = s0
        if self.momentum != 0:
            if first:  # b = d
                b[...] = d
            else:  # b = momentum·b + (1 − dampening)·d
                b *= self.momentum
                if self.dampening == 0:
                    b += d
                else:
                    xp.multiply(d, 1.0 - self.dampening, out=s1)
                    b += s1
            if self.nesterov:  # d = d + momentum·b
                xp.multiply(b, self.momentum, out=s1)
                if d is s0:
                    s0 += s1
                else:
                    xp.add(d, s1, out=s0)
                    d = s0
            else:
                d = b
        if d is s0:  # p = p − lr·d
            s0 *= self.lr
        else:
            xp.multiply(d, self.lr, out=s0)
        p -= s0


class Adam(Optimizer):
    """Adam (Kingma & Ba) with PyTorch's rule; L2 ``weight_decay`` added to the gradient.

    For gradient ``g`` of parameter ``p`` at step ``t = 1, 2, ...``::

        g ← g + weight_decay · p                       (Adam; AdamW decays p instead, below)
        m ← m + (1 − β₁) · (g − m)                     (= β₁ m + (1 − β₁) g, PyTorch's lerp)
        v ← β₂ · v + (1 − β₂) · g · g
        v̂ ← max(v̂, v)                                 (amsgrad; v̂ replaces v below)
        denom = √v / √(1 − β₂ᵗ) + eps
        p ← p − (lr / (1 − β₁ᵗ)) · m / denom

    State: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v), ``max_exp_avg_sq`` (v̂, amsgrad only).
    """

    hyper = ("lr", "betas", "eps", "weight_decay", "amsgrad")
    state_names = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False):
        super().__init__(params, lr)
        self.betas, self.eps = tuple(float(b) for b in betas), float(eps)
        self.weight_decay, self.amsgrad = float(weight_decay), bool(amsgrad)
        self._validate()

    def _validate(self) -> None:
        super()._validate()
        where = type(self).__name__
        _check(len(self.betas) == 2 and all(0.0 <= b < 1.0 for b in self.betas), where,
               f"betas must be two numbers in [0, 1), got {self.betas}")
        _check(math.isfinite(self.eps) and self.eps > 0, where,
               f"eps must be a finite number > 0, got {self.eps}")
        _check(math.isfinite(self.weight_decay) and self.weight_decay >= 0, where,
               f"weight_decay must be a finite number >= 0, got {self.weight_decay}")

    def _update(self, i, p, g):
        xp = xp_of(p)
        st = self.state[i]
        if not st:
            st.update(step=0, exp_avg=xp.zeros_like(p), exp_avg_sq=xp.zeros_like(p))
        if self.amsgrad and "max_exp_avg_sq" not in st:
            st["max_exp_avg_sq"] = xp.zeros_like(p)
        st["step"] += 1
        s1 = self._buf(i, 1, p) if self.weight_decay != 0 and not self.decoupled else None
        arrays = (p, g, st["exp_avg"], st["exp_avg_sq"], st.get("max_exp_avg_sq") if self.amsgrad else None,
                  self._buf(i, 0, p), s1)
        self._run(self._chunk, arrays, st["step"])

    def _chunk(self, p, g, m, v, vmax, s0, s1, t: int) -> None:
        xp = xp_of(p)
        (b1, b2), lr = self.betas, self.lr
        if self.weight_decay != 0:
            if self.decoupled:  # AdamW: p ← p·(1 − lr·wd)
                p *= 1.0 - lr * self.weight_decay
            else:  # Adam: g ← g + wd·p
                xp.multiply(p, self.weight_decay, out=s1)
                s1 += g
                g = s1
        xp.subtract(g, m, out=s0)  # m ← m + (1 − β₁)(g − m)
        s0 *= 1.0 - b1
        m += s0
        v *= b2  # v ← β₂ v + (1 − β₂) g g
        xp.multiply(g, 1.0 - b2, out=s0)
        s0 *= g
        v += s0
        if vmax is not None:  # amsgrad: v̂ ← max(v̂, v)
            v = xp.maximum(vmax, v, out=vmax)
        xp.sqrt(v, out=s0)  # denom = √v / √(1 − β₂ᵗ) + eps
        s0 /= math.sqrt(1.0 - b2**t)
        s0 += self.eps
        xp.divide(m, s0, out=s0)  # p ← p − lr/(1 − β₁ᵗ) · m / denom
        s0 *= -(lr / (1.0 - b1**t))
        p += s0


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's rule.

    Before the Adam update of step ``t``: ``p ← p · (1 − lr · weight_decay)``; the
    gradient itself is not changed.  Then m, v, denom and the step as in :class:`Adam`.
    Default ``weight_decay = 1e-2``.
    """

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
