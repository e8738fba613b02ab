"""Every registered neuron form gets the generic checks; so does a throwaway form made here.

The registry (``refsnn.neurons.forms.FORMS``) is what the checks of ``form_checks`` are
parametrised over: a form's ``examples`` are its only test parameters.  The second half
writes a tiny form — a leaky integrator with a learnable input gain, ``H = λ·V + a·X`` — as
one module in a temporary directory, imports it (which registers it), and runs every generic
check on it: kernel == twin, gradcheck (to ``x`` and to ``a``), step == fused, the CUDA
template under host emulation, and golden cases recorded by ``tests/golden/make_golden.py``'s
recorder and replayed by the golden runner.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import form_checks as fc
import numpy as np
import pytest

from refsnn import backend
from refsnn.neurons.forms import FORMS, unregister_form

TESTS = Path(__file__).resolve().parents[1]
SHIPPED = ("lif_delayed", "lif_immediate", "lif_decay", "lif_sj")
EXAMPLES = [(name, i) for name in SHIPPED for i in range(len(FORMS[name].examples))]


def _ids(case):
    return f"{case[0]}-{case[1]}"


def test_registry_holds_the_shipped_forms():
    assert set(SHIPPED) <= set(FORMS)
    for name in SHIPPED:
        form = FORMS[name]
        assert form.examples and form.layer is not None
        assert backend.kernel(f"{name}_forward") is form.forward
        assert backend.kernel(f"{name}_backward") is form.backward


@pytest.mark.parametrize("case", EXAMPLES, ids=_ids)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sg", fc.SURROGATES, ids=lambda s: f"sg{s[0]}")
def test_kernel_equals_twin(case, dtype, sg, rng):
    form = FORMS[case[0]]
    fc.check_kernel_equals_twin(form, form.examples[case[1]], dtype, sg, rng)


@pytest.mark.parametrize("case", EXAMPLES, ids=_ids)
def test_gradcheck(case):
    """One smooth surrogate per example (cycled), ``detach_reset`` alternating over examples."""
    form, i = FORMS[case[0]], EXAMPLES.index(case)
    fc.check_gradcheck(form, form.examples[case[1]], fc.SMOOTH[i % len(fc.SMOOTH)],
                       case[1] % 2 == 0, 3, seed=i)


@pytest.mark.parametrize("case", EXAMPLES, ids=_ids)
@pytest.mark.parametrize("sg,detach", [("fast_sigmoid", True), ("spike_time", False)])
def test_step_equals_fused(case, sg, detach, rng):
    form = FORMS[case[0]]
    fc.check_step_equals_fused(form, form.examples[case[1]], sg, detach, rng)


@pytest.mark.parametrize("name", SHIPPED)
def test_golden_cases_reproduce(name):
    fc.check_golden(FORMS[name], TESTS / "golden", fc.ReferenceDevice)


# ------------------------------------------------------------------ a throwaway form

THROWAWAY = '''"""Throwaway form: leaky integrator with a learnable input gain a.

    H[t] = λ·V[t-1] + a·X[t],   S[t] = [H[t] ≥ θ],   soft: V = H − θ·S;  hard: V = (1 − S)·H
    BPTT: leak λ, soft (1, −θ) / hard (1 − S, −H);  dX = a·δ;  dL/da = Σ δ·X
"""

import sys

from numba import njit

from refsnn.kernels import _fused
from refsnn.kernels._common import SOFT
from refsnn.neurons.base import FormNeuron
from refsnn.neurons.forms import Form, register_form

STRICT = False
IMMEDIATE = True
PARAMS = ("theta", "v_reset", "lam", "a")


@njit(inline="always")
def charge(v, r, x, p, mode, one):
    return p[2] * v + p[3] * x


@njit(inline="always")
def partials(h, s, p, mode, one):
    if mode == SOFT:
        return p[2], one, -p[0]
    return p[2], one - s, p[1] - h


@njit(inline="always")
def gain(p, one):
    return p[3]


@njit(inline="always")
def dcharge(v, r, x, p, mode, one):
    return x


CUDA = {"charge": "lam * v + a * x", "gain": "a", "dcharge": "x",
        "partials": "leak = lam; if (reset == RS_RESET_SOFT) { cu = one; cs = -theta; } "
                    "else { cu = one - s; cs = v_reset - h; }"}


@njit  # not parallel, not cached: compiles quickly for a test
def _forward_nb(X, p, v0, mode, one, zero, S, M, bad):
    _fused.fused_forward(charge, STRICT, IMMEDIATE, X, p, v0, mode, one, zero, S, M, bad)


@njit
def _backward_nb(gS, has_gS, gM, has_gM, S, M, X, p, v0, mode, kind, c0, c1, table, detach,
                 grad_k, one, zero, dX, partial):
    _fused.fused_backward(partials, gain, dcharge, STRICT, IMMEDIATE, gS, has_gS, gM, has_gM, S,
                          M, X, p, v0, mode, kind, c0, c1, table, detach, grad_k, one, zero, dX,
                          partial)


def bind(where, a, lam, theta, reset):
    return (theta, 0.0, lam, a), reset, 0.0


class GainLIF(FormNeuron):
    form_name = "leaky_gain"

    def __init__(self, a=1.5, lam=0.8, theta=1.0, reset=0, surrogate="fast_sigmoid",
                 detach_reset=True, return_membrane=False):
        super().__init__(surrogate, detach_reset, return_membrane)
        self.a, self.lam, self.theta, self.reset_code = a, lam, theta, reset

    def kernel_args(self):
        return self.a, self.lam, self.theta, self.reset_code


FORM = register_form(Form("leaky_gain", sys.modules[__name__], bind, membrane="H",
                          learnable="a", layer=GainLIF,
                          examples=(dict(a=1.5, lam=0.8, reset=0),
                                    dict(a=0.7, lam=0.9, theta=0.6, reset=1))))
'''


@pytest.fixture(scope="module")
def throwaway(tmp_path_factory):
    """The throwaway form, registered for this module's tests and removed after."""
    root = tmp_path_factory.mktemp("forms")
    (root / "leaky_gain.py").write_text(THROWAWAY)
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module("leaky_gain")
        yield module.FORM
    finally:
        unregister_form("leaky_gain")
        sys.modules.pop("leaky_gain", None)
        sys.path.remove(str(root))
        from accel.cupy import _core, _fused

        _core._ALL.pop("leaky_gain", None)
        _fused._SOURCES.pop(module.FORM.equations, None)
    assert "leaky_gain_forward" not in backend.registered_kernels("numpy")


def test_throwaway_form_is_registered(throwaway):
    assert FORMS["leaky_gain"] is throwaway
    assert backend.kernel("leaky_gain_forward") is throwaway.forward
    # its equations by hand: a = 1.5, λ = 0.8, θ = 1, soft; x = 0.4: H = 0.6, 1.08 (fires) → V = 0.08
    s, h = throwaway.layer(a=1.5, lam=0.8, return_membrane=True)(np.full((2, 1), 0.4))
    assert s.data.ravel().tolist() == [0.0, 1.0]
    np.testing.assert_allclose(h.data.ravel(), [0.6, 1.08], rtol=1e-12)


@pytest.mark.parametrize("example", [0, 1])
def test_throwaway_kernel_equals_twin(throwaway, example, rng):
    for sg in fc.SURROGATES:
        fc.check_kernel_equals_twin(throwaway, throwaway.examples[example], np.float64, sg, rng)


@pytest.mark.parametrize("example", [0, 1])
def test_throwaway_gradcheck(throwaway, example):
    fc.check_gradcheck(throwaway, throwaway.examples[example], "arctan", example == 0, 4,
                       5 + example)


@pytest.mark.parametrize("example", [0, 1])
def test_throwaway_step_equals_fused(throwaway, example, rng):
    for sg, detach in (("fast_sigmoid", True), ("triangle", False), ("spike_time", False)):
        fc.check_step_equals_fused(throwaway, throwaway.examples[example], sg, detach, rng)


def test_throwaway_cuda_template_under_host_emulation(throwaway, rng, monkeypatch):
    sys.path.insert(0, str(TESTS / "accel"))
    import cuda_host_emulation as emu
    from accel_devices import Device

    if emu.compiler() is None:
        pytest.skip("g++ not found: cannot emulate the CUDA kernels on the host")
    fake = emu.fake_cupy()
    monkeypatch.setitem(sys.modules, "cupy", fake)
    for example in throwaway.examples:
        fc.check_cuda_matches_reference(throwaway, example, Device("emu", fake), rng, np.float64)
    # the check can fail: a CUDA snippet that forgets the gain a is caught
    from accel.cupy import _fused

    equations = throwaway.equations
    monkeypatch.setitem(equations.CUDA, "charge", "lam * v + x")
    _fused._SOURCES.pop(equations)
    try:
        with pytest.raises(AssertionError):
            fc.check_cuda_matches_reference(throwaway, throwaway.examples[0], Device("emu", fake),
                                            rng, np.float64)
    finally:
        _fused._SOURCES.pop(equations, None)


def test_throwaway_golden_cases_record_and_replay(throwaway, tmp_path, rng):
    sys.path.insert(0, str(TESTS / "golden"))
    import make_golden

    from refsnn.autograd import Tensor

    table = dict(backend._KERNELS["numpy"])  # the recorder wraps the registered kernels
    try:
        rec = make_golden.Recorder()
        x = fc.inputs(throwaway, rng, (6, 2, 5), np.float64)[0]
        layer = fc.make_layer(throwaway, throwaway.examples[1], "sigmoid", False)
        rec.capture("gain", lambda: make_golden._run(layer, Tensor(x, requires_grad=True),
                                                     *rng.standard_normal((2, 6, 2, 5))))
        make_golden.save(tmp_path / "gain.npz", rec.cases, rec.arrays)
    finally:
        backend._KERNELS["numpy"].clear()
        backend._KERNELS["numpy"].update(table)
    fc.check_golden(throwaway, tmp_path, fc.ReferenceDevice)
