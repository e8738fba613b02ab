"""``Module``: the container of parameters, buffers and submodules (PyTorch-style).

Assigning an attribute registers it, exactly as in PyTorch:

* a :class:`~refsnn.autograd.Tensor` with ``requires_grad=True`` becomes a **parameter**;
* a :class:`Module` becomes a **submodule** (its names get a dotted prefix);
* ``register_buffer(name, array)`` declares a **buffer**: a plain array that is
  part of the state but is not trained (BatchNorm's ``running_mean``).

Names follow PyTorch, so a PyTorch ``state_dict`` maps one to one::

    >>> import numpy as np
    >>> from refsnn.nn import Linear, ReLU, Sequential
    >>> net = Sequential(Linear(4, 8, rng=0), ReLU(), Linear(8, 3, rng=0))
    >>> [name for name, _ in net.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    >>> net.state_dict()["2.weight"].shape
    (3, 8)

``to(backend)`` moves every parameter and buffer to an array backend
(``"numpy"``, ``"cupy"``; see :mod:`refsnn.backend`) in place, keeping the
parameter objects, so optimizers built before or after stay valid (their
state follows with ``Optimizer.to``, or is created on the new backend).
``state_dict()`` returns host NumPy copies of every parameter and buffer;
``load_state_dict(state)`` checks the whole dictionary first (missing and
unexpected keys, shapes, finiteness) and only then copies the values in place,
so a failed load leaves the module untouched and optimizers holding the
parameters stay valid.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Iterator

import numpy as np

from refsnn.autograd import Tensor
from refsnn.backend import backend_of, to_backend, to_host, xp_of

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A Tensor that is a trainable parameter: ``requires_grad`` defaults to True.

    Any Tensor with ``requires_grad=True`` assigned to a Module attribute is
    registered as a parameter; this class only spells the intent.
    """

    def __init__(self, data, requires_grad: bool = True, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)


def _host(array) -> np.ndarray:
    """A host (NumPy) copy of ``array`` (NumPy, any refsnn backend's array, or a CPU torch tensor)."""
    if hasattr(array, "detach") and hasattr(array, "cpu"):  # a torch tensor
        array = array.detach().cpu().numpy()
    host = to_host(array)
    return np.array(host, copy=host is array)


class Module:
    """Base class of every layer and model: subclass it and define ``forward``.

    Attributes
    ----------
    training : bool
        True in training mode (``train()``), False after ``eval()``; layers
        such as Dropout and BatchNorm read it.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attribute {name!r}"
            )
        params, buffers, modules = self._parameters, self._buffers, self._modules
        kind = type(self).__name__
        if isinstance(value, Parameter) or (isinstance(value, Tensor) and value.requires_grad):
            buffers.pop(name, None)
            modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in buffers:
            if value is not None and not hasattr(value, "shape"):
                raise TypeError(f"{kind}: buffer {name!r} must be an array or None, "
                                f"got {type(value).__name__}")
            buffers[name] = value
        elif name in params or name in modules:
            if value is not None:
                what = "parameter" if name in params else "submodule"
                need = "a Tensor with requires_grad=True" if name in params else "a Module"
                raise TypeError(
                    f"{kind}: cannot assign {type(value).__name__} to {what} {name!r}; expected {need} "
                    f"or None (to freeze a parameter set its requires_grad = False)"
                )
            (params if name in params else modules)[name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, array) -> None:
        """Declare ``name`` a buffer: state saved in ``state_dict`` but not trained.

        ``array`` is an ndarray (updated in place by the layer) or None (absent).
        """
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"register_buffer: name must be a non-empty string without '.', got {name!r}")
        if array is not None and not hasattr(array, "shape"):
            raise TypeError(f"register_buffer({name!r}): expected an array or None, "
                            f"got {type(array).__name__}")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers[name] = array
        object.__setattr__(self, name, array)

    def add_module(self, name: str, module: Module) -> None:
        """Register ``module`` under ``name`` (any string without '.', e.g. ``"0"``)."""
        if not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}): expected a Module, got {type(module).__name__}")
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"add_module: name must be a non-empty string without '.', got {name!r}")
        setattr(self, name, module)

    # ----------------------------------------------------------------- forward
    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --------------------------------------------------------------- traversal
    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from self._modules.items()

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Every module in the tree (this one first, name ``prefix``), each once."""
        seen, stack = set(), [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            kids = [(f"{name}.{k}" if name else k, m) for k, m in module._modules.items()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def _named_members(self, kind: str, remove_duplicate: bool = True):
        seen = set()
        for prefix, module in self._walk(""):
            for name, value in getattr(module, kind).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{prefix}.{name}" if prefix else name), value

    def _walk(self, prefix: str):
        """(prefix, module) in PyTorch's state_dict order, repeating shared modules."""
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            yield name, module
            kids = [(f"{name}.{k}" if name else k, m) for k, m in module._modules.items() if m is not None]
            stack.extend(reversed(kids))

    def named_parameters(self) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, Tensor)`` for every parameter, each shared one once."""
        return self._named_members("_parameters")

    def parameters(self) -> list[Tensor]:
        """All parameters (a list, each shared Tensor once) — pass it to an optimizer."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> Iterator[tuple[str, object]]:
        return self._named_members("_buffers")

    def buffers(self) -> list:
        return [b for _, b in self.named_buffers()]

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Total number of parameter elements (shared parameters counted once)."""
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # ------------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every submodule; returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """``train(False)``: BatchNorm uses running statistics, Dropout is the identity."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Drop every parameter's gradient (``grad = None``, as PyTorch's default)."""
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, flag: bool = True) -> Module:
        """Freeze (False) or unfreeze (True) every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad = bool(flag)
        return self

    def apply(self, fn) -> Module:
        """Call ``fn(module)`` on every submodule (children first, PyTorch order) and self."""
        for m in reversed(list(self.modules())):
            fn(m)
        return self

    def to_dtype(self, dtype) -> Module:
        """Cast every floating parameter and buffer to ``dtype`` in place (``float64`` for gradchecks).

        Parameter Tensors keep their identity (only ``.data`` changes) and lose their ``.grad``.
        """
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"to_dtype: expected a floating dtype, got {dtype}")
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None and p.data.dtype != dtype:
                    p.data = p.data.astype(dtype)
                    p.grad = None
            for name, b in list(m._buffers.items()):
                if b is not None and b.dtype.kind == "f" and b.dtype != dtype:
                    m.register_buffer(name, b.astype(dtype))
            if "dtype" in m.__dict__:
                object.__setattr__(m, "dtype", dtype)
        return self

    def to(self, backend: str) -> Module:
        """Move every parameter, gradient and buffer to ``backend`` in place; returns self.

        Parameter Tensors keep their identity (only ``.data`` and ``.grad``
        change), so ``model.to("cupy")`` before or after building an optimizer
        both work (move existing optimizer state with ``optimizer.to``).
        Unknown or unavailable backends raise ``refsnn.backend.BackendError``.

        >>> from refsnn.nn import Linear
        >>> Linear(2, 3, rng=0).to("numpy").weight.shape
        (3, 2)
        """
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    p.data = to_backend(p.data, backend)
                    p.grad = to_backend(p.grad, backend)
            for name, b in list(m._buffers.items()):
                if b is not None:
                    m.register_buffer(name, to_backend(b, backend))
        return self

    @property
    def backend(self) -> str:
        """The backend of the parameters and buffers (``"numpy"`` when there are none).

        Parameters on two backends are a ``BackendError`` naming both.
        """
        arrays = [p.data for p in self.parameters()] + [b for b in self.buffers()]
        xp_of(*arrays)
        return backend_of(arrays[0]) if arrays else "numpy"

    # -------------------------------------------------------------- state dict
    def state_dict(self) -> OrderedDict:
        """``{PyTorch name: host ndarray copy}`` of every parameter, then buffer, module by module."""
        out = OrderedDict()
        for prefix, module in self._walk(""):
            for kind in ("_parameters", "_buffers"):
                for name, value in getattr(module, kind).items():
                    if value is not None:
                        data = value.data if isinstance(value, Tensor) else value
                        out[f"{prefix}.{name}" if prefix else name] = _host(data)
        return out

    def _state_targets(self) -> OrderedDict:
        """name -> (module, kind, attribute name) for every entry of ``state_dict``."""
        targets = OrderedDict()
        for prefix, module in self._walk(""):
            for kind in ("_parameters", "_buffers"):
                for name, value in getattr(module, kind).items():
                    if value is not None:
                        targets[f"{prefix}.{name}" if prefix else name] = (module, kind, name)
        return targets

    def load_state_dict(self, state, strict: bool = True) -> IncompatibleKeys:
        """Copy ``state`` (name -> array) into the parameters and buffers, in place.

        Values are cast to each parameter's dtype.  Checks everything before
        changing anything:

        * ``strict`` and a missing or unexpected key -> ``KeyError`` listing every such key;
        * a shape mismatch -> ``ValueError`` listing every key with both shapes;
        * NaN or inf in a floating value -> ``ValueError`` listing the keys.

        Returns ``IncompatibleKeys(missing_keys, unexpected_keys)`` (useful with ``strict=False``).
        """
        if not hasattr(state, "items"):
            raise TypeError(f"load_state_dict: expected a mapping name -> array, got {type(state).__name__}")
        targets = self._state_targets()
        values = {str(k): _host(v) for k, v in state.items()}
        missing = [k for k in targets if k not in values]
        unexpected = [k for k in values if k not in targets]
        where = f"{type(self).__name__}.load_state_dict"
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise KeyError(f"{where}: " + "; ".join(parts))
        shape_errors, nonfinite = [], []
        for key, value in values.items():
            if key not in targets:
                continue
            module, kind, name = targets[key]
            current = getattr(module, kind)[name]
            cur_shape = tuple(current.shape)
            if tuple(value.shape) != cur_shape:
                shape_errors.append(f"{key}: checkpoint shape {tuple(value.shape)} vs model shape "
                                    f"{cur_shape}")
            if value.dtype.kind not in "biufc" or (value.dtype.kind == "c" and current.dtype.kind != "c"):
                raise TypeError(f"{where}: {key} has dtype {value.dtype}, which cannot be stored in "
                                f"a {current.dtype} parameter")
            with np.errstate(over="ignore", invalid="ignore"):  # checked after the cast: 1e300 -> inf
                cast = value.astype(current.dtype, copy=False)
            if any(a.dtype.kind in "fc" and not np.isfinite(a).all() for a in (value, cast)):
                nonfinite.append(key)
        if shape_errors:
            raise ValueError(f"{where}: shape mismatch for " + "; ".join(shape_errors))
        if nonfinite:
            raise ValueError(f"{where}: non-finite (NaN/inf) values, in the file or after the cast to "
                             f"the parameter's dtype, in {nonfinite}")
        for key, value in values.items():
            if key not in targets:
                continue
            module, kind, name = targets[key]
            current = getattr(module, kind)[name]
            dest = current.data if isinstance(current, Tensor) else current
            xp = xp_of(dest)
            dest[...] = xp.asarray(value.astype(dest.dtype, copy=False))
        return IncompatibleKeys(missing, unexpected)

    # -------------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied in order; children are named ``"0"``, ``"1"``, ... (or by an OrderedDict).

    ``Sequential(a, b)(x) == b(a(x))``.  Supports ``len``, iteration, ``seq[i]``
    (negative too) and ``seq[i:j]`` (a new Sequential sharing the modules and
    keeping their names), and ``append``.

    >>> from refsnn.nn import Linear, ReLU
    >>> net = Sequential(Linear(2, 3, rng=0), ReLU())
    >>> len(net), type(net[-1]).__name__
    (2, 'ReLU')
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, module in modules[0].items():
                self.add_module(str(name), module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"Sequential indices must be ints or slices, got {type(index).__name__}")
        if not -len(items) <= index < len(items):
            raise IndexError(f"Sequential index {index} out of range for length {len(items)}")
        return items[index][1]

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of submodules named ``"0"``, ``"1"``, ... (no ``forward``: the owner decides the order)."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __getitem__(self, index):
        values = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(values[index])
        if not -len(values) <= index < len(values):
            raise IndexError(f"ModuleList index {index} out of range for length {len(values)}")
        return values[index]
