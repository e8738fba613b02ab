"""Run a user's torch SNN and record every imported stage with forward hooks.

:func:`run_torch` calls the model the way its time convention says
(:mod:`refsnn.crossval.importer`): a single-step ``Sequential`` once per step
(``out[t] = model(x[t])``, or ``model(x)`` at every step for direct input
with ``T`` given), a multi-step model or a custom ``forward`` once.  Hooks on
the stage modules record each call's input and output; neuron membranes are
read from the module (snnTorch ``Leaky.mem`` after each call, SpikingJelly
``v_seq`` with ``store_v_seq`` switched on for the run).  Records are stacked
over calls into ``[T, B, ...]``.  The state of every neuron is reset before
and after the run (``reset_mem`` / ``functional.reset_net``), the model runs in
eval mode and is put back into its former mode afterwards.

:func:`load_model` reads ``"path/to/file.py:ATTR"`` (ATTR a module, or a class
or function called without arguments).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from refsnn.crossval._deps import require


def load_model(spec: str):
    """The torch module named by ``"file.py:ATTR"`` (an instance, or a zero-argument class/factory)."""
    torch = require("torch", "load_model")
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"load_model: expected 'file.py:ATTR', got {spec!r}")
    file, _, attr = spec.rpartition(":")
    path = Path(file)
    if not path.is_file():
        raise FileNotFoundError(f"load_model: no such file {file!r}")
    mod_spec = importlib.util.spec_from_file_location(f"_refsnn_user_{path.stem}", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    if not hasattr(module, attr):
        raise AttributeError(f"load_model: {file} defines no {attr!r}")
    obj = getattr(module, attr)
    if not isinstance(obj, torch.nn.Module) and callable(obj):
        obj = obj()
    if not isinstance(obj, torch.nn.Module):
        raise TypeError(f"load_model: {spec} is a {type(obj).__name__}, not a torch.nn.Module")
    return obj


def stage_module(model, path: str):
    obj = model
    for part in filter(None, path.split(".")):
        obj = dict(obj.named_children())[part]
    return obj


def reset_state(model) -> None:
    """Zero every snnTorch ``Leaky`` membrane and SpikingJelly node state in ``model``."""
    for m in model.modules():
        if type(m).__module__.startswith("snntorch") and hasattr(m, "reset_mem"):
            m.reset_mem()
    if any(type(m).__module__.startswith("spikingjelly") for m in model.modules()):
        require("spikingjelly", "reset_state").functional.reset_net(model)


class Recorder:
    """Forward hooks on the stage modules: per call input, output (spike) and membrane."""

    def __init__(self, model, imported):
        self.stages = imported.stages
        self.modules = [stage_module(model, s.path) for s in self.stages]
        self.inputs = [[] for _ in self.stages]
        self.outputs = [[] for _ in self.stages]
        self.mems = [[] for _ in self.stages]
        self.handles, self.saved_v_seq = [], []
        for i, (stage, m) in enumerate(zip(self.stages, self.modules)):
            self.handles.append(m.register_forward_pre_hook(self._pre(i)))
            self.handles.append(m.register_forward_hook(self._post(i)))
            if stage.framework == "spikingjelly" and stage.kind == "neuron":
                self.saved_v_seq.append((m, m.store_v_seq))
                m.store_v_seq = True

    def _pre(self, i):
        def hook(module, args):
            self.inputs[i].append(args[0])
        return hook

    def _post(self, i):
        def hook(module, args, out):
            spk = out[0] if isinstance(out, tuple) else out
            self.outputs[i].append(spk)
            if self.stages[i].framework == "snntorch":
                self.mems[i].append(module.mem)
        return hook

    def close(self) -> None:
        for h in self.handles:
            h.remove()
        for m, flag in self.saved_v_seq:
            m.store_v_seq = flag

    def stacked(self, mode: str, i: int, which: str):
        torch = require("torch", "Recorder")
        calls = getattr(self, which)[i]
        path = self.stages[i].path
        if not calls:
            raise RuntimeError(f"check: the torch forward never called the declared layer {path!r}; "
                               f"the declared order does not describe this model's forward")
        if mode == "multi":
            if len(calls) != 1:
                raise RuntimeError(f"check: multi-step layer {path!r} was called {len(calls)} times in one "
                                   f"forward; expected once on [T, B, ...]")
            return calls[0]
        return torch.stack(list(calls), 0)

    def membrane(self, mode: str, i: int):
        stage = self.stages[i]
        if stage.kind != "neuron":
            return None
        if stage.framework == "snntorch":
            return self.stacked(mode, i, "mems")
        return self.modules[i].v_seq


def run_torch(model, imported, x, *, T=None, sequential_call: bool):
    """Run ``model`` on ``x`` (torch leaf, ``requires_grad``) under hooks; returns ``(recorder, output)``.

    ``sequential_call``: the model is a ``Sequential`` in single-step mode and is
    called once per step (``x[t]`` when ``T`` is None, else ``x`` at each of the
    ``T`` steps); otherwise it is called once with ``x`` (repeated ``T`` times
    along a new time axis first when ``T`` is given).
    """
    torch = require("torch", "run_torch")
    reset_state(model)
    rec = Recorder(model, imported)
    try:
        if sequential_call:
            steps = x.shape[0] if T is None else int(T)
            outs = [model(x[t] if T is None else x) for t in range(steps)]
            first = outs[0]
            if isinstance(first, tuple):
                output = tuple(torch.stack([o[j] for o in outs], 0) for j in range(len(first)))
            else:
                output = torch.stack(outs, 0)
        elif T is not None:  # a multi-step model given static input: the same x at every step
            output = model(x.unsqueeze(0).expand((int(T),) + tuple(x.shape)))
        else:
            output = model(x)
    except Exception:
        rec.close()
        reset_state(model)
        raise
    return rec, output


def to_numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy()
