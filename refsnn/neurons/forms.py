"""The neuron-form registry: a form is one file; its kernels, twins and tests are derived.

A form file (:mod:`refsnn.neurons.lif_delayed` is the smallest complete one) holds, in order:
its docstring (equations with shapes), its constants and defaults, its equations as
plain-arithmetic ``@njit(inline="always")`` functions (``charge``, ``partials``, optionally
``gain`` / ``dcharge`` for a learnable constant), ``STRICT`` / ``IMMEDIATE`` / ``PARAMS``, the
same equations as CUDA snippets (``CUDA``), two three-line cached Numba kernels binding them
to the shared loop, its validation, ``bind``, its functional entry point and layer class,
and finally::

    FORM = register_form(Form("lif_delayed", sys.modules[__name__], bind, membrane="U",
                              layer=LIFDelayed, examples=(dict(beta=0.8, reset="soft"), ...)))

``bind(where, *args) -> (p, reset, v0)`` maps the form's public kernel arguments to the
shared loop's ``p = (θ, V_reset, *PARAMS[2:])``, a :class:`~refsnn.kernels.codes.Reset`
code and the starting membrane.  From it :class:`Form` builds the public kernels (same
signatures as before: ``<name>_forward(X, *args) -> (S, M)`` and
``<name>_backward(gS, gM, S, M, *args, sg_kind, sg_a, sg_b, detach_reset) -> dX``; with a
learnable constant ``<name>_backward(gS, gM, S, M, X, *args, ..., detach_reset, grad_k)
-> (dX, dL/dk)``, the constant being the first argument), their NumPy twins, and registers
the kernels for the ``numpy`` backend; ``accel.cupy.forms`` builds the CUDA pair from the
same ``CUDA`` snippets.  Fire, reset and the BPTT recurrence are said once per language:
:mod:`refsnn.kernels._fused` (Numba and NumPy), ``accel.cupy._fused`` (CUDA),
:meth:`refsnn.neurons.base.SpikingNeuron._form_step` (autograd single step).

``examples`` are the test parameters: keyword arguments of ``layer`` (surrogate,
``detach_reset`` and ``return_membrane`` are added by the tests).  Every registered form gets
the generic checks of ``tests/neurons/form_checks.py``: kernel == twin, finite-difference
gradcheck of the smooth twin, single step == fused, CUDA (host-emulated) == reference, and
its golden cases (recorded by ``tests/golden/make_golden.py``) reproduce.

>>> sorted(FORMS)
['lif_decay', 'lif_delayed', 'lif_immediate', 'lif_sj']
>>> FORMS["lif_decay"].equations is FORMS["lif_immediate"].equations   # form 3 is form 2's loop
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from refsnn import backend
from refsnn.kernels import _fused

FORMS: dict[str, Form] = {}
SURROGATE_TAIL = 4  # sg_kind, sg_a, sg_b, detach_reset


@dataclass(eq=False)
class Form:
    """One registered neuron form (see the module docstring); builds its kernels and twins."""

    name: str  # kernel prefix: <name>_forward / <name>_backward
    equations: ModuleType  # charge, partials (gain, dcharge), STRICT, IMMEDIATE, _forward_nb, ...
    bind: Callable  # bind(where, *args) -> (p, reset code, v0)
    membrane: str = "U"  # the name of M in error messages ("U" or "H")
    learnable: str | None = None  # name of the first kernel argument when its gradient is returned
    layer: type | None = None  # the layer class (tests build it from ``examples``)
    examples: tuple = ()  # layer keyword arguments: the form's test parameters
    drive: float = 1.0  # the tests' input scale (x ~ drive·(0.6·N(0, 1) + 0.4)) that makes it fire

    def __post_init__(self):
        self.forward = self._forward()
        self.backward = self._backward(twin=False)
        self.backward_twin = self._backward(twin=True)

    @property
    def names(self) -> tuple[str, str, str]:
        """Names of ``(gS, gM, k)`` for error messages."""
        return "gS", f"g{self.membrane}", self.learnable or "k"

    def _forward(self):
        where, nb = f"{self.name}_forward", self.equations._forward_nb

        def forward(X, *args):
            p, reset, v0 = self.bind(where, *args)
            return _fused.run_forward(where, nb, X, p, reset, v0)

        forward.__name__ = forward.__qualname__ = where
        forward.__doc__ = f"Fused forward of form {self.name!r}: ``(S [T,N], {self.membrane} [T,N])``."
        return forward

    def split_backward_args(self, rest):
        """``(X, args, surrogate + detach, grad_k)`` from a backward's arguments after ``M``."""
        if self.learnable:
            return rest[0], rest[1:-SURROGATE_TAIL - 1], rest[-SURROGATE_TAIL - 1:-1], rest[-1]
        return None, rest[:-SURROGATE_TAIL], rest[-SURROGATE_TAIL:], False

    def _backward(self, twin: bool):
        where = f"{self.name}_backward"

        def backward(gS, gM, S, M, *rest):
            X, args, (kind, a, b, detach), grad_k = self.split_backward_args(rest)
            p, reset, v0 = self.bind(where, *args)
            if twin:
                dX, dk = _fused.backward_twin(self.equations, gS, gM, S, M, X, p, reset, kind, a,
                                              b, detach, grad_k, v0)
            else:
                dX, dk = _fused.run_backward(where, self.equations._backward_nb, self.names, gS,
                                             gM, S, M, X, p, reset, v0, kind, a, b, detach, grad_k)
            return (dX, dk if grad_k else 0.0) if self.learnable else dX

        backward.__name__ = backward.__qualname__ = where + ("_twin" if twin else "")
        backward.__doc__ = f"BPTT of form {self.name!r}" + (" (NumPy twin)." if twin else ".")
        return backward

    def forward_twin(self, X, *args, smooth=False, surrogate=None, detach_reset=True):
        """Readable forward: ``(S, M)``, or ``(S, M, R)`` when ``smooth`` (float spikes).

        ``R`` is what the reset used — the hard ``Θ`` when ``detach_reset``, the smooth
        spikes otherwise; pass it as ``S`` to :attr:`backward_twin` to gradcheck BPTT.
        """
        p, reset, v0 = self.bind(f"{self.name}_forward_twin", *args)
        return _fused.forward_twin(self.equations, X, p, reset, smooth, surrogate, detach_reset,
                                   v0)


def register_form(form: Form) -> Form:
    """Add ``form`` to :data:`FORMS` and register its two kernels for the ``numpy`` backend."""
    if form.name in FORMS and FORMS[form.name].equations is not form.equations:
        raise ValueError(f"register_form: a different form {form.name!r} is already registered")
    FORMS[form.name] = form
    backend.register_kernel("numpy", f"{form.name}_forward", form.forward)
    backend.register_kernel("numpy", f"{form.name}_backward", form.backward)
    return form


def unregister_form(name: str) -> None:
    """Remove a form and its ``numpy`` kernels (for throwaway forms in tests)."""
    FORMS.pop(name, None)
    for suffix in ("_forward", "_backward"):
        backend._KERNELS["numpy"].pop(f"{name}{suffix}", None)
