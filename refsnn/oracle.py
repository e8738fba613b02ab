"""Black-box query interface with a hard query budget (DESIGN "Black-box oracle").

An :class:`Oracle` stands between an attack (GAMIN, the greedy SD attack) and
a target model.  The attack sees only answers::

    answers = oracle(x)        x: [B, ...] host (NumPy) or device (CuPy) array, or a Tensor
                               answers: NumPy, one row per sample
        output="probs"   [B, C] float   softmax(f(x)) along the classes
        output="logits"  [B, C] float   f(x), the model's raw output
        output="labels"  [B]    int64   argmax_c f(x)

For the GAMIN SNN, ``f(x)`` is the summed output membrane ``Σ_t U2[t]``, so
``"probs"`` answers ``softmax(Σ_t U2[t])`` — a documented choice: the paper
(§III) lists spike count, rate and membrane as possible decodings.

Budget rules
------------
* Every answered **sample** counts one query (a batch of 64 costs 64).
* The batch that would take ``queries_used`` past ``budget`` is refused with
  :class:`QueryBudgetExceeded` *before* the model runs: nothing of it is
  answered (not even the part that would still fit) and the count does not move.
* Bad input (empty batch, NaN/inf — e.g. a generator that diverged — or a
  non-numeric array) is a ``ValueError``/``TypeError``, not counted.
* **Choice:** an error raised by the model, or an answer that is not a finite
  ``[B, C]`` array of the configured width, is not counted either.  The
  budget meters what the attacker learns, and a batch that raised released no
  answer.  Big batches are evaluated in chunks of ``chunk_size``; a failure in
  any chunk discards the whole batch (all or nothing).
* The count survives a resume: :meth:`Oracle.state_dict` /
  :meth:`Oracle.load_state_dict` carry it with a fingerprint of the
  configuration (budget, output, classes, the model's class, architecture
  ``repr`` and a SHA-256 of its parameters, plus an optional ``tag``).  Loading
  a state of another configuration is a ``ValueError`` and changes nothing.
  Inside a refsnn HDF5 checkpoint::

      save_checkpoint(path, model_state, extra={"oracle": oracle.state_dict()})
      oracle.load_state_dict(load_checkpoint(path).extra["oracle"])

  Besides the count, the state carries the service side's randomness: when
  the model draws from its own Generator ``model.encoder_rng`` (the SNN's rate
  encoder), its bit-generator state is saved as ``model_rng`` and restored, so a
  resumed attack sees the very answers an uninterrupted one would have seen.

The model is kept in a name-mangled private attribute and is neither an
argument of any method nor part of ``repr`` or the state.  Python cannot truly
hide it (``vars(oracle)`` reaches it); the oracle is an honest-use interface
that keeps attack code from touching the target by accident, not a sandbox.
Calls are serialised by a lock, so the budget also holds across threads.  A
Module target is queried in eval mode under ``no_grad`` (its training mode is
restored afterwards); inputs move to the model's backend and answers come back
as host NumPy arrays.

>>> import numpy as np
>>> oracle = Oracle(lambda x: 2 * x, budget=5, output="labels", classes=3)
>>> oracle(np.array([[0., 1., 0.], [3., 1., 2.]]))
array([1, 0])
>>> oracle.queries_used, oracle.remaining
(2, 3)
>>> oracle(np.zeros((4, 3)))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
refsnn.oracle.QueryBudgetExceeded: oracle: a batch of 4 queries would exceed the budget (2 used of 5, ...
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping

import numpy as np

from refsnn.autograd import Tensor, no_grad
from refsnn.backend import to_backend, to_host, xp_of

OUTPUTS = ("probs", "logits", "labels")
STATE_FORMAT = "refsnn-oracle"
STATE_VERSION = 1


class QueryBudgetExceeded(RuntimeError):
    """A query batch would cross the oracle's budget; nothing of it was answered.

    Attributes: ``requested`` (the batch size), ``used`` and ``budget`` at refusal.
    """

    def __init__(self, requested: int, used: int, budget: int):
        self.requested, self.used, self.budget = requested, used, budget
        super().__init__(f"oracle: a batch of {requested} queries would exceed the budget "
                         f"({used} used of {budget}, {budget - used} left); nothing was answered")


def _positive_int(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"Oracle: {name} must be a positive int, got {value!r} ({type(value).__name__})")
    if value <= 0:
        raise ValueError(f"Oracle: {name} must be a positive int, got {value}")
    return int(value)


def model_fingerprint(model, tag: str = "") -> str:
    """SHA-256 (hex) of a model's identity: class, ``repr`` (architecture) and parameter bytes.

    Models without ``state_dict`` (plain callables) are identified by their
    module-qualified name only — pass a ``tag`` to tell such models apart.
    """
    h = hashlib.sha256()
    kind = type(model)
    h.update(f"{kind.__module__}.{kind.__qualname__}|{tag}".encode())
    if hasattr(model, "state_dict"):
        h.update(repr(model).encode())
        for name, value in model.state_dict().items():
            arr = np.ascontiguousarray(to_host(value.data if isinstance(value, Tensor) else value))
            h.update(f"|{name}|{arr.dtype.str}|{arr.shape}|".encode())
            h.update(arr.tobytes())
    else:
        h.update(getattr(model, "__qualname__", kind.__qualname__).encode())
    return h.hexdigest()


def _softmax(z: np.ndarray) -> np.ndarray:
    """``softmax(z)`` along the last axis, computed as ``exp(z − max z) / Σ exp(z − max z)``."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Oracle:
    """Query-budgeted black-box access to ``model`` (see the module docstring).

    Parameters
    ----------
    model : callable ``x [b, ...] → [b, C]`` (a refsnn Module or any function of arrays/Tensors).
    budget : the most samples ever answered, a positive int.
    output : ``"probs"`` | ``"logits"`` | ``"labels"``.
    classes : expected output width ``C``; ``None`` takes the model's ``num_classes`` attribute
        when it has one, else the width of the first answer, and then holds it.
    chunk_size : the most samples passed to the model at once (memory bound), a positive int.
    tag : extra text for the configuration fingerprint (e.g. a run name).
    """

    def __init__(self, model, budget: int, output: str = "probs", classes: int | None = None,
                 chunk_size: int = 256, tag: str = ""):
        if not callable(model):
            raise TypeError(f"Oracle: model must be callable, got {type(model).__name__}")
        self._budget = _positive_int(budget, "budget")
        if output not in OUTPUTS:
            raise ValueError(f"Oracle: unknown output {output!r}; choose from {OUTPUTS}")
        self._output = output
        if classes is not None and _positive_int(classes, "classes") < 2:
            raise ValueError(f"Oracle: classes must be >= 2, got {classes}")
        declared = getattr(model, "num_classes", None)  # e.g. GaminSNN's class count
        if isinstance(declared, int) and not isinstance(declared, bool):
            if classes is not None and classes != declared:
                raise ValueError(f"Oracle: classes={classes} but the model has num_classes={declared}")
            classes = declared
        self._classes = None if classes is None else int(classes)
        self._width = self._classes  # the output width in force (learned from the first answer if None)
        self._chunk = _positive_int(chunk_size, "chunk_size")
        self.__model = model
        self._fingerprint = model_fingerprint(model, str(tag))
        self._used = 0
        self._batches = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ read-only view
    budget = property(lambda self: self._budget, doc="The query budget (samples).")
    queries_used = property(lambda self: self._used, doc="Samples answered so far.")
    remaining = property(lambda self: self._budget - self._used, doc="``budget − queries_used``.")
    answered_batches = property(lambda self: self._batches, doc="Calls that returned answers.")
    output = property(lambda self: self._output, doc="The answer kind.")
    classes = property(lambda self: self._width, doc="Output width ``C`` (None until known).")
    fingerprint = property(lambda self: self._fingerprint, doc="SHA-256 of the configuration.")

    def __repr__(self) -> str:
        return (f"Oracle(output={self._output!r}, classes={self._width}, "
                f"queries_used={self._used}, budget={self._budget})")

    # ------------------------------------------------------------------ queries
    def __call__(self, x) -> np.ndarray:
        """Answers for the batch ``x [B, ...]`` (host, device or Tensor), counted as ``B`` queries."""
        data = x.data if isinstance(x, Tensor) else x
        if not hasattr(data, "shape"):
            data = np.asarray(data)
        if data.ndim < 1 or data.shape[0] == 0:
            raise ValueError(f"oracle: expected a non-empty batch [B, ...], got shape {tuple(data.shape)}")
        if data.dtype.kind not in "biuf":
            raise TypeError(f"oracle: inputs must be numeric, got dtype {data.dtype}")
        n = int(data.shape[0])
        if data.dtype.kind == "f":
            finite = xp_of(data).isfinite(data).reshape(n, -1).all(axis=1)
            bad = n - int(finite.sum())
            if bad:
                raise ValueError(f"oracle: {bad} of {n} input samples contain NaN or inf "
                                 "(a diverged generator?); nothing was counted")
        with self._lock:
            if n > self._budget - self._used:
                raise QueryBudgetExceeded(n, self._used, self._budget)
            raw = self._evaluate(data)
            self._used += n
            self._batches += 1
        if self._output == "logits":
            return raw
        if self._output == "labels":
            return raw.argmax(axis=1).astype(np.int64)
        return _softmax(raw)

    def _evaluate(self, data) -> np.ndarray:
        """The model's outputs for all of ``data`` as a host ``[B, C]`` array; raises on any fault."""
        model = self.__model
        device = getattr(model, "backend", "numpy")
        was_training = getattr(model, "training", None)
        if was_training:
            model.eval()
        try:
            with no_grad():
                parts = []
                for i in range(0, len(data), self._chunk):
                    chunk = to_backend(data[i:i + self._chunk], device)
                    out = model(Tensor(chunk) if hasattr(model, "parameters") else chunk)
                    parts.append(np.asarray(to_host(out.data if isinstance(out, Tensor) else out)))
        finally:
            if was_training:
                model.train()
        raw = np.concatenate(parts)
        if raw.ndim != 2 or raw.shape[0] != len(data):
            raise ValueError(f"oracle: the model answered shape {raw.shape} for {len(data)} samples; "
                             "expected [batch, classes]; nothing was counted")
        if raw.dtype.kind not in "iuf":
            raise TypeError(f"oracle: the model answered dtype {raw.dtype}; expected numbers")
        if self._width is not None and raw.shape[1] != self._width:
            raise ValueError(f"oracle: the model's output width {raw.shape[1]} does not match "
                             f"classes={self._width}; nothing was counted")
        if raw.shape[1] < 2:
            raise ValueError(f"oracle: the model answered {raw.shape[1]} class(es); need >= 2")
        if not np.isfinite(raw).all():
            raise ValueError("oracle: the model answered NaN or inf; nothing was counted")
        self._width = int(raw.shape[1])
        return raw.astype(np.float64) if raw.dtype.kind != "f" else raw

    # ------------------------------------------------------------------ resume
    def state_dict(self) -> dict:
        """The count and the configuration it belongs to, as plain Python values (checkpoint-ready)."""
        with self._lock:
            return {"format": STATE_FORMAT, "version": STATE_VERSION, "queries_used": self._used,
                    "answered_batches": self._batches, "budget": self._budget, "output": self._output,
                    "classes": self._classes, "width": self._width, "fingerprint": self._fingerprint,
                    "model_rng": self._model_rng_state()}

    def _model_rng_state(self):
        """``model.encoder_rng``'s bit-generator state (a dict), or None when the model has none."""
        rng = getattr(self.__model, "encoder_rng", None)
        return rng.bit_generator.state if isinstance(rng, np.random.Generator) else None

    def load_state_dict(self, state) -> None:
        """Restore the count from :meth:`state_dict`; another configuration: ValueError, nothing changes."""
        if not isinstance(state, Mapping):
            raise TypeError(f"Oracle.load_state_dict: expected a mapping, got {type(state).__name__}")
        if state.get("format") != STATE_FORMAT or state.get("version") != STATE_VERSION:
            raise ValueError(f"Oracle.load_state_dict: not an oracle state (format={state.get('format')!r}, "
                             f"version={state.get('version')!r}; expected {STATE_FORMAT!r} v{STATE_VERSION})")
        missing = [k for k in ("queries_used", "answered_batches", "budget", "output", "classes", "width",
                               "fingerprint") if k not in state]
        if missing:
            raise ValueError(f"Oracle.load_state_dict: state lacks {missing}")
        mine = {"budget": self._budget, "output": self._output, "classes": self._classes,
                "fingerprint": self._fingerprint}
        diff = [f"{k}: checkpoint {state[k]!r}, this oracle {v!r}" for k, v in mine.items() if state[k] != v]
        if diff:
            raise ValueError("Oracle.load_state_dict: the state belongs to another configuration ("
                             + "; ".join(diff) + "); refusing to resume")
        used, batches, width = state["queries_used"], state["answered_batches"], state["width"]
        for name, v in (("queries_used", used), ("answered_batches", batches)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v <= self._budget:
                raise ValueError(f"Oracle.load_state_dict: {name} must be an int in [0, {self._budget}], "
                                 f"got {v!r}")
        if width is not None and (self._classes not in (None, width) or isinstance(width, bool)
                                  or not isinstance(width, (int, np.integer)) or width < 2):
            raise ValueError(f"Oracle.load_state_dict: width {width!r} is not a valid class count here")
        model_rng, mine_rng = state.get("model_rng"), self._model_rng_state()
        if (model_rng is None) != (mine_rng is None) or (
                model_rng is not None and (not isinstance(model_rng, Mapping)
                                           or model_rng.get("bit_generator") != mine_rng["bit_generator"])):
            raise ValueError("Oracle.load_state_dict: the saved model_rng does not fit this model's "
                             "encoder_rng "
                             f"({None if model_rng is None else model_rng.get('bit_generator')!r} vs "
                             f"{None if mine_rng is None else mine_rng['bit_generator']!r})")
        with self._lock:
            if model_rng is not None:
                self.__model.encoder_rng.bit_generator.state = dict(model_rng)
            self._used, self._batches = int(used), int(batches)
            self._width = None if width is None else int(width)
