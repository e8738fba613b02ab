"""Generic supervised training and evaluation loops with progress output.

``fit`` runs mini-batch epochs of ``loss_fn(model(x), y)`` with any refsnn
optimizer, printing one progress line per epoch (and optionally every
``log_every`` steps); ``evaluate`` returns accuracy in ``[0, 1]``.  All
shuffling comes from an explicit Generator, so the same seed gives the same
bits.

Device placement: the data stay on the host; each batch (inputs and labels)
is moved to the model's backend (``Module.backend``, set by ``model.to``) by
``refsnn.backend.to_backend``, and everything returned (history, predictions)
is host data.

>>> import numpy as np
>>> from refsnn.models import mlp
>>> from refsnn.nn import Adam
>>> x = np.random.default_rng(0).random((64, 4), dtype=np.float32); y = (x[:, 0] > .5).astype(int)
>>> net = mlp([4, 16, 2], rng=0)
>>> hist = fit(net, Adam(net.parameters(), lr=1e-2), x, y, epochs=2, batch_size=16, rng=0, verbose=False)
>>> len(hist)
2
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np

from data_tools.batches import as_generator, batch_iterator
from refsnn.autograd import Tensor, cross_entropy, no_grad
from refsnn.backend import active_backend, to_backend, to_host


def model_backend(model) -> str:
    """Where ``model``'s parameters live (``Module.backend``); ``"numpy"`` for a plain callable."""
    return getattr(model, "backend", "numpy")


def _check_xy(x, y, where: str):
    if len(x) != len(y):
        raise ValueError(f"{where}: {len(x)} inputs but {len(y)} labels")
    if len(x) == 0:
        raise ValueError(f"{where}: empty data set")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise ValueError(f"{where}: inputs contain NaN or inf")


def fit(
    model,
    optimizer,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    rng=None,
    loss_fn: Callable = cross_entropy,
    x_val=None,
    y_val=None,
    verbose: bool = True,
    log_every: int = 0,
    scheduler=None,
    out=None,
) -> list[dict]:
    """Train ``model`` in place; returns one dict per epoch (loss, train acc, val acc, seconds)."""
    _check_xy(x, y, "fit")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"fit: epochs ({epochs}) and batch_size ({batch_size}) must be >= 1")
    rng = as_generator(rng, "fit (the batch order)")
    out = sys.stdout if out is None else out  # looked up per call, so redirection works
    history, device = [], model_backend(model)
    if verbose:
        note = ""
        if device != active_backend():
            note = f" (the default backend is {active_backend()}: model.to({active_backend()!r}) moves it)"
        print(f"fit: {len(x)} samples, {epochs} epochs of batch {batch_size} on backend {device}{note}",
              file=out, flush=True)
    for epoch in range(1, epochs + 1):
        model.train()
        start, total_loss, correct, seen = time.perf_counter(), 0.0, 0, 0
        for step, (xb, yb) in enumerate(batch_iterator(x, y, batch_size, rng=rng), 1):
            out_t = model(Tensor(to_backend(xb, device)))
            loss = loss_fn(out_t, to_backend(yb, device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += float(loss.item()) * len(yb)
            correct += int((to_host(out_t.data).argmax(axis=1) == yb).sum())  # counted on the host
            seen += len(yb)
            if log_every and step % log_every == 0 and verbose:
                print(f"  epoch {epoch} step {step}: loss {total_loss / seen:.4f}", file=out, flush=True)
        if scheduler is not None:
            scheduler.step()
        record = {"epoch": epoch, "loss": total_loss / seen, "train_acc": correct / seen,
                  "seconds": time.perf_counter() - start}
        if x_val is not None:
            record["val_acc"] = evaluate(model, x_val, y_val, batch_size=max(batch_size, 256))
        history.append(record)
        if verbose:
            val = f", val acc {record['val_acc']:.4f}" if "val_acc" in record else ""
            print(f"epoch {epoch}/{epochs}: loss {record['loss']:.4f}, "
                  f"train acc {record['train_acc']:.4f}{val} ({record['seconds']:.1f} s)",
                  file=out, flush=True)
    return history


def predict(model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Model outputs for ``x`` in evaluation mode, batched, without a graph, as a host array."""
    model.eval()
    outs, device = [], model_backend(model)
    with no_grad():
        for i in range(0, len(x), batch_size):
            outs.append(to_host(model(Tensor(to_backend(x[i:i + batch_size], device))).data))
    return np.concatenate(outs)


def evaluate(model, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``model`` on ``(x, y)`` in ``[0, 1]``."""
    _check_xy(x, y, "evaluate")
    return float((predict(model, x, batch_size).argmax(axis=1) == np.asarray(y)).mean())
