"""BadSNN's training loops: dual-spike learning (Eq. 2), clean training, and the trigger generator T_o.

* :func:`train_dual_spike` — mini-batch epochs of
  :func:`~refsnn.attacks.badsnn.dual_spike_loss`; a boolean ``poisoned`` mask
  over the training set marks ``D_t^p`` (those samples also train under the
  malicious ``S_t``).  An all-false mask is clean training (the Clean CA
  model).  One progress line per epoch; with ``checkpoint_dir`` a checkpoint
  (model, optimizer, epoch) after every epoch, and a later call resumes from
  the newest one.  Epoch ``e`` shuffles with ``default_rng([seed, e])``, so a
  resumed run draws the same batches as an uninterrupted one.
* :class:`AtHyper` — ``model`` fixed at one ``(V_thr, τ)``: a plain
  ``x -> logits`` model for DeepFool, :func:`~refsnn.train.predict` and the
  attacks.
* :func:`train_trigger` — T_o (§3.3.2): DeepFool on the backdoored model under
  the attack values, ``α`` per image by grid search, ``Δx`` of Eq. 4, then the
  U-Net trained on ``L`` of Eq. 5–6; :func:`optimized_trigger` applies it,
  ``T_o(x) = clip(x + g(x, y_t), 0, 1)``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from refsnn import autograd as ag
from refsnn.attacks.backdoor import apply_trigger, power_trigger
from refsnn.attacks.badsnn import blend_target, check_hyper, choose_alpha, dual_spike_loss, trigger_loss
from refsnn.attacks.deepfool import DeepFool
from refsnn.autograd import Tensor, no_grad
from refsnn.backend import to_backend, to_host
from refsnn.io import latest_checkpoint, load_checkpoint, save_module
from refsnn.nn import Adam, Module
from refsnn.train import model_backend

__all__ = ["AtHyper", "train_dual_spike", "predict_at", "accuracy_at", "train_trigger",
           "optimized_trigger"]


class AtHyper(Module):
    """``model`` run at fixed neuron values: ``forward(x) = model(x, v_thr=V_thr, tau=τ)``."""

    def __init__(self, model, hyper):
        super().__init__()
        self.model = model
        self.v_thr, self.tau = check_hyper("AtHyper", hyper)

    def forward(self, x):
        return self.model(x, v_thr=self.v_thr, tau=self.tau)


def predict_at(model, x, hyper, batch_size=128) -> np.ndarray:
    """Predicted labels ``[N]`` of ``model`` under ``hyper = (V_thr, τ)`` in evaluation mode."""
    v, t = check_hyper("predict_at", hyper)
    model.eval()
    out, device = [], model_backend(model)
    with no_grad():
        for i in range(0, len(x), batch_size):
            xb = Tensor(to_backend(np.asarray(x[i:i + batch_size]), device))
            out.append(to_host(model(xb, v_thr=v, tau=t).data).argmax(1))
    return np.concatenate(out) if out else np.zeros(0, int)


def accuracy_at(model, x, y, hyper, batch_size=128) -> float:
    """Top-1 accuracy under ``hyper``."""
    return float(np.mean(predict_at(model, x, hyper, batch_size) == np.asarray(y)))


def _check_mask(poisoned, n):
    mask = np.zeros(n, bool) if poisoned is None else np.asarray(poisoned, bool)
    if mask.shape != (n,):
        raise ValueError(f"train_dual_spike: poisoned mask of shape {mask.shape} for {n} samples")
    return mask


def train_dual_spike(model, x, y, poisoned=None, *, epochs=1, batch_size=64, lr=1e-3, seed=0,
                     nominal=(1.0, 0.5), malicious=(1.5, 0.5), checkpoint_dir=None, optimizer=None,
                     verbose=True, out=None) -> list[dict]:
    """Train ``model`` in place by Eq. 2 (see the module doc); returns one record per epoch run."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"train_dual_spike: {len(x)} inputs and {len(y)} labels (must match, non-empty)")
    if int(epochs) != epochs or epochs < 1 or batch_size < 1:
        raise ValueError(f"train_dual_spike: epochs ({epochs}) and batch_size ({batch_size}) must be >= 1")
    check_hyper("train_dual_spike (nominal)", nominal)
    check_hyper("train_dual_spike (malicious)", malicious)
    mask = _check_mask(poisoned, len(y))
    out = sys.stdout if out is None else out
    opt = optimizer or Adam(model.parameters(), lr=lr)
    start = 0
    if checkpoint_dir is not None:
        Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
        last = latest_checkpoint(checkpoint_dir)
        if last is not None:
            ck = load_checkpoint(last)
            model.load_state_dict(ck.state)
            if ck.optimizer is not None:
                opt.load_state_dict(ck.optimizer)
            start = int(ck.step)
            if verbose:
                print(f"  resumed from {last} (epoch {start})", file=out, flush=True)
    history, device = [], model_backend(model)
    for epoch in range(start + 1, int(epochs) + 1):
        model.train()
        order = np.random.default_rng([seed, epoch]).permutation(len(y))
        total, seen = 0.0, 0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            xb = Tensor(to_backend(x[idx], device))
            loss = dual_spike_loss(model, xb, y[idx], mask[idx], nominal, malicious)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, seen = total + float(loss.item()) * len(idx), seen + len(idx)
        rec = {"epoch": epoch, "loss": total / seen}
        history.append(rec)
        if verbose:
            print(f"  epoch {epoch}/{epochs}: loss {rec['loss']:.4f} ({int(mask.sum())} poisoned of "
                  f"{len(y)})", file=out, flush=True)
        if checkpoint_dir is not None:
            save_module(Path(checkpoint_dir) / f"epoch{epoch:04d}.h5", model, step=epoch,
                        optimizer=opt.state_dict(), config={"nominal": list(nominal),
                                                            "malicious": list(malicious)})
    return history


def optimized_trigger(unet, x, target: int, batch_size=128) -> np.ndarray:
    """``T_o(x) = clip(x + g(x, y_t), 0, 1)`` with the trained generator (checked in range)."""
    def run(xs):
        unet.eval()
        parts, device = [], model_backend(unet)
        with no_grad():
            for i in range(0, len(xs), batch_size):
                xb = xs[i:i + batch_size]
                g = to_host(unet(Tensor(to_backend(xb, device)), np.full(len(xb), target)).data)
                parts.append(np.clip(xb + g, 0, 1).astype(xs.dtype))
        return np.concatenate(parts)
    return apply_trigger(run, np.asarray(x), "optimized_trigger")


def train_trigger(model, unet, x, target: int, hyper, *, epochs=2, batch_size=32, lr=1e-3, q=2.0,
                  deepfool_steps=10, alpha_candidates=None, lambdas=(1.0, 0.1, 1.0), seed=0,
                  verbose=True, out=None) -> dict:
    """Train the U-Net ``unet`` as T_o for ``model`` under ``hyper`` (module doc); returns a record.

    Documented choices: DeepFool with ``deepfool_steps`` (default 10, overshoot 0.02) on the
    model under ``hyper``; ``α`` candidates ``0, 0.1, …, 1``; ``T_p`` with ``q``; the model stays
    frozen in evaluation mode, the generator's perturbation is added and clipped to ``[0, 1]``.
    """
    out = sys.stdout if out is None else out
    x = np.asarray(x, np.float32)
    frozen = AtHyper(model, hyper)
    x_p = power_trigger(x, q)
    y_pred = predict_at(model, x, hyper)
    fool = DeepFool(frozen, steps=deepfool_steps, overshoot=0.02)
    device = model_backend(model)
    x_df = np.concatenate([to_host(fool(to_backend(x[i:i + 64], device), y_pred[i:i + 64]))
                           for i in range(0, len(x), 64)])
    alpha = choose_alpha(lambda xb: predict_at(model, xb.astype(np.float32), hyper), x, x_p, x_df, target,
                         alpha_candidates)
    _, delta = blend_target(x, x_p, x_df, alpha)
    delta = delta.astype(np.float32)
    params = [p for p in unet.parameters() if p.requires_grad]
    opt = Adam(params, lr=lr)
    history = []
    model.eval()
    for p in model.parameters():
        p.requires_grad = False
    try:
        for epoch in range(1, int(epochs) + 1):
            unet.train()
            order = np.random.default_rng([seed, epoch]).permutation(len(x))
            sums, seen = {"loss": 0.0, "sim": 0.0, "adv": 0.0, "wmse": 0.0}, 0
            for i in range(0, len(order), batch_size):
                idx = order[i:i + batch_size]
                xb = Tensor(to_backend(x[idx], device))
                g = unet(xb, np.full(len(idx), target))
                logits = frozen(ag.clip(xb + g, 0.0, 1.0))
                loss, parts = trigger_loss(g, to_backend(delta[idx], device), logits, target, lambdas)
                opt.zero_grad()
                loss.backward()
                opt.step()
                seen += len(idx)
                for k, v in {"loss": float(loss.item()), **parts}.items():
                    sums[k] += v * len(idx)
            rec = {"epoch": epoch, **{k: v / seen for k, v in sums.items()}}
            history.append(rec)
            if verbose:
                print(f"  T_o epoch {epoch}/{epochs}: L {rec['loss']:.4f} (sim {rec['sim']:.3f}, "
                      f"adv {rec['adv']:.3f}, wmse {rec['wmse']:.4f})", file=out, flush=True)
    finally:
        for p in model.parameters():
            p.requires_grad = True
    return {"history": history, "alpha_mean": float(np.mean(alpha)),
            "deepfool_fooled": float(np.mean(predict_at(model, x_df, hyper) != y_pred))}
