"""Import a user's snnTorch / SpikingJelly network into refsnn: :func:`from_torch`.

``from_torch(module, order=None, state=None)`` walks the torch module, translates
every supported part into the refsnn layer with the same equations and copies
its weights (or loads them from ``state``: a ``.safetensors`` path or a
``{torch name: array}`` dict, no torch needed for those values).  The result is
an :class:`ImportedSNN`: a flat chain of *stages* (one per torch leaf or
SpikingJelly container) on time-first input ``[T, B, ...]``.

Supported parts (anything else raises ``NotImplementedError`` naming the type
and its dotted path in the module tree; nothing is approximated silently):

==============================================  ==============================================
torch                                           refsnn
==============================================  ==============================================
``nn.Sequential`` (nested)                      its children, flattened into the chain
``nn.Linear``, ``nn.Conv2d`` (groups = 1,       ``Linear``, ``Conv2d``, ``AvgPool2d``,
dilation 1, zero padding), ``nn.AvgPool2d`` /   ``MaxPool2d``, ``Flatten``, ``Dropout``,
``nn.MaxPool2d`` (no ceil_mode, ...),           ``BatchNorm2d`` (running statistics: the
``nn.Flatten``, ``nn.Dropout``, ``nn.ReLU``,    check runs in eval mode), ``ReLU``
``nn.BatchNorm2d``; SpikingJelly ``layer.*``
twins of these
SJ ``layer.SeqToANNContainer``                  ``SeqToANN`` of the translated children
snnTorch ``Leaky`` (reset subtract / zero,      ``LIFDelayed`` (form 1); β clamped to [0, 1]
any β, θ; surrogates fast_sigmoid, atan,        as snnTorch does; ``FastSigmoid(slope)``,
sigmoid)                                        ``ArcTan(alpha)``, ``Sigmoid(slope)``
SJ ``LIFNode`` / ``ParametricLIFNode``          ``LIFNodeSJ`` / ``PLIF`` (form 4)
SJ ``IFNode`` (soft, or hard with v_reset = 0)  ``IF`` (form 2, λ = 1, fires at ``≥``)
SJ surrogates ``Sigmoid``, ``ATan``             ``Sigmoid(alpha)``, ``ArcTan(alpha)``
==============================================  ==============================================

Time convention (``mode``):

* ``"single"`` — the torch layers see one step ``[B, ...]`` per call (snnTorch,
  SpikingJelly ``step_mode='s'``).  Stateless layers become ``SeqToANN(layer)``
  (the same numbers for every step at once).  A ``Sequential`` of this kind is
  run by calling it once per step, ``out[t] = model(x[t])``; its ``Leaky``
  layers need ``init_hidden=True`` (torch itself cannot pass ``(spk, mem)``
  on).
* ``"multi"`` — SpikingJelly ``step_mode='m'``: the torch model is called once
  on ``[T, B, ...]``.  SJ ``layer.*`` (``step_mode='m'``) and
  ``SeqToANNContainer`` become ``SeqToANN``; a plain ``nn.*`` layer is kept
  as it is, applied to ``[T, B, ...]`` exactly as torch applies it.
* ``order=[...]`` (a **custom forward**, e.g. the snnTorch tutorial's)::

      def forward(self, x):
          mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
          spk_rec, mem_rec = [], []
          for step in range(num_steps):
              cur1 = self.fc1(x)              # or x[step]: time-first input
              spk1, mem1 = self.lif1(cur1, mem1)
              cur2 = self.fc2(spk1)
              spk2, mem2 = self.lif2(cur2, mem2)
              spk_rec.append(spk2); mem_rec.append(mem2)
          return torch.stack(spk_rec), torch.stack(mem_rec)

  is imported with ``order=["fc1", "lif1", "fc2", "lif2"]`` (dotted paths of
  submodules; a listed ``Sequential`` / container expands).  Accepted: a
  forward that, at every step (or once, on ``[T, B, ...]``, for multi-step SJ
  layers), passes the data through exactly the listed modules in that order,
  each one's output — the spike of a ``(spk, mem)`` pair — being the next one's
  input, with the neurons starting from rest (zero membrane / ``v_reset``) on
  every call of the model.  The first module may receive the same ``x`` at
  every step (direct input) or ``x[t]``.  Anything computed between listed
  modules (a reshape, a scaling, a residual add) is not; ``check`` verifies
  this on the torch run (each recorded input equals the previous recorded
  output) and says where it breaks.  Put reshapes into ``nn.Flatten`` modules.

Parameter names: :attr:`ImportedSNN.names` maps every refsnn parameter or
buffer name to the torch ``state_dict`` name (``net.0.module.weight`` →
``fc1.weight``).

torch is imported inside the functions only (``import refsnn.crossval`` stays
torch-free); ``state`` given as arrays needs torch only for the architecture.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from refsnn.crossval._deps import require
from refsnn.crossval.import_neurons import (
    LEAKY_BUFFERS,
    Stage,
    framework_of,
    neuron_stage,
    type_name,
    unsupported,
)
from refsnn.nn import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    Module,
    ReLU,
    SeqToANN,
    Sequential,
)


class ImportedSNN(Module):
    """The refsnn translation of a torch SNN: ``forward(x [T, B, ...]) -> output [T, B, ...]``.

    Neuron stages return spikes (their membrane is kept for :meth:`run`).
    Attributes: ``stages`` (list of :class:`Stage`), ``mode`` (``single`` |
    ``multi``), ``order`` (the declared order or None), ``names`` (refsnn name →
    torch ``state_dict`` name), ``notes`` (translation remarks, e.g. a clamped β).
    """

    def __init__(self, stages, mode: str, order=None, notes=()):
        super().__init__()
        self.net = Sequential(OrderedDict((str(i), s.module) for i, s in enumerate(stages)))
        self.stages, self.mode = list(stages), mode
        self.order = None if order is None else list(order)
        self.notes = list(notes)
        self.names = {f"net.{i}.{mine}": (f"{s.path}.{theirs}" if s.path else theirs)
                      for i, s in enumerate(stages) for mine, theirs in s.names.items()}

    def run(self, x):
        """``[(output, membrane or None)]`` per stage (refsnn Tensors); spikes are the output of neurons."""
        records = []
        for stage in self.stages:
            if stage.kind == "neuron":
                x, mem = stage.module(x)
                records.append((x, mem))
            else:
                x = stage.module(x)
                records.append((x, None))
        return records

    def forward(self, x):
        return self.run(x)[-1][0]

    def torch_state_names(self) -> list[str]:
        return sorted(set(self.names.values()))

    def load_torch_state(self, state) -> None:
        """Load a torch-named state (``{name: array}`` or a ``.safetensors`` path) strictly.

        snnTorch ``Leaky`` buffers (``beta``, ``threshold``, ...) in ``state`` are
        checked against the imported neuron; a different value is a ValueError
        (torch would load it: import the module after loading those weights).
        """
        state = _as_state(state)
        inverse = {v: k for k, v in self.names.items()}
        mine, leaky_keys = {}, []
        for key, value in state.items():
            if key in inverse:
                mine[inverse[key]] = np.asarray(value)
            else:
                leaky_keys.append(key)
        unknown = [k for k in leaky_keys if not self._leaky_buffer_ok(k, state[k])]
        missing = sorted(set(self.names.values()) - set(state))
        if unknown or missing:
            raise KeyError(f"load_torch_state: state does not fit the imported model: "
                           f"unexpected {unknown[:6]}, missing {missing[:6]}")
        self.load_state_dict(mine, strict=True)

    def _leaky_buffer_ok(self, key: str, value) -> bool:
        prefix, _, name = key.rpartition(".")
        for stage in self.stages:
            if stage.torch_type == "Leaky" and stage.path == prefix and name in LEAKY_BUFFERS:
                want = stage.spec["buffers"][name]
                if not np.array_equal(np.asarray(value, dtype=np.float64), np.float64(want)):
                    raise ValueError(f"load_torch_state: {key} = {np.asarray(value)!r} but the imported "
                                     f"Leaky at {prefix!r} has {name} = {want!r}; import the module after "
                                     f"loading these weights into it")
                return True
        return False

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, stages={len(self.stages)}"


def _as_state(state) -> dict:
    if isinstance(state, dict):
        return {k: (v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v))
                for k, v in state.items()}
    from refsnn.io import load_safetensors

    arrays, _ = load_safetensors(state)
    return arrays


# ----------------------------------------------------------------------------- discovery
def _is_sj_container(m) -> bool:
    return framework_of(m) == "spikingjelly" and type_name(m) == "SeqToANNContainer"


def _is_neuron(m) -> bool:
    return type_name(m) in ("Leaky", "LIFNode", "ParametricLIFNode", "IFNode") and \
        framework_of(m) in ("snntorch", "spikingjelly")


def _leaves(module, path: str):
    """``[(path, module)]`` in execution order: Sequentials expand, SJ containers stay whole."""
    torch = require("torch", "from_torch")
    if _is_sj_container(module):
        return [(path, module)]
    if type(module) is torch.nn.Sequential:
        out = []
        for name, child in module.named_children():
            out += _leaves(child, f"{path}.{name}" if path else name)
        return out
    return [(path, module)]


def _resolve(module, dotted: str):
    obj = module
    for part in dotted.split("."):
        children = dict(obj.named_children())
        if part not in children:
            raise KeyError(f"from_torch: order names {dotted!r}, but {type(obj).__name__} has no "
                           f"submodule {part!r} (children: {sorted(children)})")
        obj = children[part]
    return obj


def _step_mode(m):
    return getattr(m, "step_mode", None)


def _decide_mode(leaves) -> str:
    modes = set()
    for path, m in leaves:
        inner = [m] + (list(m.modules())[1:] if _is_sj_container(m) else [])
        for sub in inner:
            if framework_of(sub) == "snntorch":
                modes.add(("single", path))
            elif framework_of(sub) == "spikingjelly" and not _is_sj_container(sub):
                modes.add(("single" if _step_mode(sub) == "s" else "multi", path))
            elif _is_sj_container(sub):
                modes.add(("multi", path))
    kinds = {k for k, _ in modes}
    if len(kinds) > 1:
        single = sorted(p for k, p in modes if k == "single")[:3]
        multi = sorted(p for k, p in modes if k == "multi")[:3]
        raise NotImplementedError(f"from_torch: mixes single-step layers ({single}) with multi-step ones "
                                  f"({multi}); use one step mode throughout")
    return kinds.pop() if kinds else "single"


# ----------------------------------------------------------------------------- translation
def from_torch(module, order=None, state=None) -> ImportedSNN:
    """Translate ``module`` into an :class:`ImportedSNN` with its weights (see the module docstring).

    ``order``: dotted submodule paths in data-flow order, for a module with a
    custom ``forward`` (required unless ``module`` is a ``Sequential`` /
    ``SeqToANNContainer``).  ``state``: weights to load instead of the module's
    own (torch ``state_dict`` names; a dict of arrays/tensors or a
    ``.safetensors`` path).
    """
    torch = require("torch", "from_torch")
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    if order is None:
        if not (type(module) is torch.nn.Sequential or _is_sj_container(module)):
            raise ValueError(f"from_torch: {type(module).__name__} has a custom forward; declare its layer "
                             f"order, e.g. from_torch(model, order=['fc1', 'lif1', 'fc2', 'lif2'])")
        leaves = _leaves(module, "")
    else:
        if isinstance(order, str) or not order:
            raise ValueError(f"from_torch: order must be a non-empty list of submodule paths, got {order!r}")
        leaves = []
        for dotted in order:
            leaves += _leaves(_resolve(module, dotted), dotted)
    mode = _decide_mode(leaves)
    dtype = _param_dtype(module)
    notes, stages = [], []
    for path, m in leaves:
        stages.append(_translate(path, m, mode, dtype, notes))
    if not any(s.kind == "neuron" for s in stages):
        raise NotImplementedError("from_torch: no spiking layer (snnTorch Leaky, SpikingJelly LIFNode / "
                                  "ParametricLIFNode / IFNode) found in the translated layers")
    imported = ImportedSNN(stages, mode, order, notes)
    imported.load_torch_state(state if state is not None else {
        k: v.detach().cpu().numpy() for k, v in module.state_dict().items()})
    imported.eval()
    return imported


def _param_dtype(module):
    dts = {str(p.dtype).replace("torch.", "") for p in module.parameters()}
    if not dts <= {"float32", "float64"} or len(dts) > 1:
        raise NotImplementedError(f"from_torch: parameter dtypes {sorted(dts)}; cast the model to one of "
                                  f"float32 / float64 (.float() or .double())")
    return np.dtype(dts.pop() if dts else "float32")


def _translate(path: str, m, mode: str, dtype, notes) -> Stage:
    name, fw = type_name(m), framework_of(m)
    if _is_neuron(m):
        return neuron_stage(path, m, notes)
    if _is_sj_container(m):
        kids = list(m.named_children())
        if not kids:
            raise NotImplementedError(f"from_torch: empty SeqToANNContainer at {path!r}")
        inner = [_layer(f"{path}.{k}" if path else k, c, dtype) for k, c in kids]
        body = SeqToANN(*[mod for mod, _ in inner])
        names = {}
        for (k, _), (_, local) in zip(kids, inner):
            rprefix = "module" if len(kids) == 1 else f"module.{k}"
            names.update({f"{rprefix}.{a}": f"{k}.{b}" for a, b in local.items()})
        return Stage(path, name, "layer", fw, body, names)
    layer, local = _layer(path, m, dtype)
    sj_multi = fw == "spikingjelly" and _step_mode(m) == "m"
    if mode == "single" or sj_multi:
        return Stage(path, name, "layer", fw, SeqToANN(layer), {f"module.{a}": b for a, b in local.items()})
    return Stage(path, name, "layer", fw, layer, dict(local))


def _layer(path: str, m, dtype):
    """``(refsnn layer, {refsnn local name: torch local name})`` for one stateless torch layer."""
    torch = require("torch", "from_torch")
    nn = torch.nn
    if _is_neuron(m) or _is_sj_container(m):
        raise unsupported(path, m, "a neuron or container cannot sit inside a SeqToANNContainer")
    if framework_of(m) == "spikingjelly" and _step_mode(m) is None:
        raise unsupported(path, m)
    if isinstance(m, nn.Linear) and type(m).__name__ in ("Linear",):
        return Linear(m.in_features, m.out_features, bias=m.bias is not None, rng=0, dtype=dtype), \
            _pnames(m)
    if isinstance(m, nn.Conv2d) and type(m).__name__ == "Conv2d":
        if (m.groups != 1 or tuple(m.dilation) != (1, 1) or m.padding_mode != "zeros"
                or isinstance(m.padding, str)):
            raise unsupported(path, m, f"groups={m.groups}, dilation={m.dilation}, padding={m.padding!r}, "
                               f"padding_mode={m.padding_mode!r}; only groups=1, dilation=1, numeric zero "
                               f"padding are translated")
        return Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                      bias=m.bias is not None, rng=0, dtype=dtype), _pnames(m)
    if isinstance(m, nn.AvgPool2d) and type(m).__name__ == "AvgPool2d":
        if m.ceil_mode or not m.count_include_pad or m.divisor_override is not None:
            raise unsupported(path, m, "ceil_mode / count_include_pad=False / divisor_override")
        return AvgPool2d(m.kernel_size, m.stride, m.padding), {}
    if isinstance(m, nn.MaxPool2d) and type(m).__name__ == "MaxPool2d":
        if m.ceil_mode or m.return_indices or m.dilation not in (1, (1, 1)):
            raise unsupported(path, m, "ceil_mode / return_indices / dilation")
        return MaxPool2d(m.kernel_size, m.stride, m.padding), {}
    if isinstance(m, nn.Flatten) and type(m).__name__ == "Flatten":
        return Flatten(m.start_dim, m.end_dim), {}
    if type(m) is nn.Dropout or (framework_of(m) == "spikingjelly" and type(m).__name__ == "Dropout"):
        return Dropout(m.p, rng=0), {}  # identity in eval mode, the mode check() runs in
    if type(m) is nn.ReLU:
        return ReLU(), {}
    if isinstance(m, nn.BatchNorm2d) and type(m).__name__ == "BatchNorm2d":
        bn = BatchNorm2d(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine,
                         track_running_stats=m.track_running_stats, dtype=dtype)
        if not m.track_running_stats:
            raise unsupported(path, m, "track_running_stats=False: no running statistics for eval mode")
        return bn, _pnames(m)
    raise unsupported(path, m)


def _pnames(m) -> dict:
    return {k: k for k in m.state_dict()}
