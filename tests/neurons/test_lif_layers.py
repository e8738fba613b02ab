"""LIF forms 1–4 as functions and layers: hand traces, single step == multi-step, errors."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.neurons.lif import (
    IF,
    PLIF,
    LIFDecay,
    LIFDelayed,
    LIFImmediate,
    LIFNodeSJ,
    lif_decay,
    lif_delayed,
    lif_immediate,
    lif_sj,
    plif,
)
from refsnn.neurons.noisy import noisy_lif
from refsnn.neurons.surrogate import FastSigmoid


def _run(fn, x, **kw):
    s, u = fn(np.asarray(x, np.float64).reshape(-1, 1), return_membrane=True, **kw)
    return s.data.ravel().tolist(), u.data.ravel()


# ------------------------------------------------------------ hand traces (T = 4, one neuron)


def test_form1_subtract_hand_trace():
    # U = 0.6; 0.7·0.6+0.6 = 1.02 (fires); 0.7·1.02+0.6−1 = 0.314; 0.7·0.314+0.6 = 0.8198
    s, u = _run(lif_delayed, [0.6] * 4, beta=0.7, theta=1.0, reset="subtract")
    assert s == [0, 1, 0, 0]
    np.testing.assert_allclose(u, [0.6, 1.02, 0.314, 0.8198], rtol=1e-12)


def test_form1_zero_hand_trace():
    # U = 0.6; 1.02 (fires); the next step forgets: 0 + 0.6; 1.02 (fires)
    s, u = _run(lif_delayed, [0.6] * 4, beta=0.7, theta=1.0, reset="zero")
    assert s == [0, 1, 0, 1]
    np.testing.assert_allclose(u, [0.6, 1.02, 0.6, 1.02], rtol=1e-12)


def test_form1_threshold_is_strict():
    s, _ = _run(lif_delayed, [1.0, 0.0], beta=0.5, theta=1.0)
    assert s == [0, 0]


def test_form2_if_soft_and_lif_hard_hand_traces():
    s, h = _run(lif_immediate, [0.6] * 4, lam=1.0, theta=1.0, reset="soft")
    assert s == [0, 1, 0, 1]  # H = 0.6, 1.2 (→ 0.2), 0.8, 1.4
    np.testing.assert_allclose(h, [0.6, 1.2, 0.8, 1.4], rtol=1e-12)
    # λ = 0.5, V_reset = −0.5: H = 0.8; 1.2 (→ −0.5); −0.25+0.8 = 0.55; 0.275+0.8 = 1.075
    s, h = _run(lif_immediate, [0.8] * 4, lam=0.5, theta=1.0, reset="hard", v_reset=-0.5)
    assert s == [0, 1, 0, 1]
    np.testing.assert_allclose(h, [0.8, 1.2, 0.55, 1.075], rtol=1e-12)


def test_form3_hand_trace_and_run_time_parameters():
    s, u = _run(lif_decay, [0.8] * 4, v_thr=1.0, tau=0.5)
    assert s == [0, 1, 0, 1]  # U = 0.8, 0.4+0.8 = 1.2, gate closed: 0.8, 1.2
    np.testing.assert_allclose(u, [0.8, 1.2, 0.8, 1.2], rtol=1e-12)
    # τ = 0.25: U = 0.8; 0.2+0.8 = 1.0 (exactly; fires, BadSNN Eq. 1: U − V_thr ≥ 0); 0.8; 1.0
    s, u = _run(lif_decay, [0.8] * 4, v_thr=1.0, tau=0.25)
    assert s == [0, 1, 0, 1]
    np.testing.assert_allclose(u, [0.8, 1.0, 0.8, 1.0], rtol=1e-12)


def test_form4_hand_traces():
    # τ = 2, decay_input, hard: H = 0.75; 0.75+(1.5−0.75)/2 = 1.125 (fires, V ← 0); 0.75; 1.125
    s, h = _run(lif_sj, [1.5] * 4, tau=2.0)
    assert s == [0, 1, 0, 1]
    np.testing.assert_allclose(h, [0.75, 1.125, 0.75, 1.125], rtol=1e-12)
    # non-strict threshold: H = 1.0 fires
    s, _ = _run(lif_sj, [2.0] * 2, tau=2.0)
    assert s == [1, 1]
    # soft reset, no input decay: H = 0.6; 0.6−0.3+0.6 = 0.9; 0.9−0.45+0.6 = 1.05 (V ← 0.05);
    # 0.05−0.025+0.6 = 0.625
    s, h = _run(lif_sj, [0.6] * 4, tau=2.0, v_reset=None, decay_input=False)
    assert s == [0, 0, 1, 0]
    np.testing.assert_allclose(h, [0.6, 0.9, 1.05, 0.625], rtol=1e-12)
    # V starts at v_reset = −0.2: H = −0.2 + (1 − 0)/2 = 0.3; 0.3 + (1 − 0.5)/2 = 0.55
    _, h = _run(lif_sj, [1.0] * 2, tau=2.0, v_reset=-0.2)
    np.testing.assert_allclose(h, [0.3, 0.55], rtol=1e-12)


def test_form1_gradient_hand_trace():
    """T = 2, x = 0.6: U = 0.6, 1.02; fast sigmoid k = 1: g = 1/(1 + |U − 1|)²."""
    g1, g2, beta = 1 / 1.4 ** 2, 1 / 1.02 ** 2, 0.7
    for detach, want1 in ((True, g1 + beta * g2), (False, g1 * (1 - 1.0 * g2) + beta * g2)):
        x = Tensor(np.full((2, 1), 0.6), requires_grad=True)
        lif_delayed(x, beta=beta, surrogate=FastSigmoid(k=1), detach_reset=detach).sum().backward()
        np.testing.assert_allclose(x.grad.ravel(), [want1, g2], rtol=1e-12)


def test_plif_gradient_to_w_hand_trace():
    """T = 1: S = Θ(k·x − 1), dL/dw = σ'(kx − 1)·x·k(1 − k) with k = sigmoid(w)."""
    w = Tensor(np.array(0.3), requires_grad=True)
    x = np.array([[1.7]])
    plif(x, w).sum().backward()
    k = 1 / (1 + np.exp(-0.3))
    z = k * 1.7 - 1
    sg = 4 / (1 + np.exp(-4 * z)) * (1 - 1 / (1 + np.exp(-4 * z)))
    assert float(w.grad) == pytest.approx(sg * 1.7 * k * (1 - k), rel=1e-12)


# ---------------------------------------------------------- single step == multi-step

LAYERS = {
    "delayed-subtract": lambda sg, d: LIFDelayed(0.8, 1.0, "subtract", sg, d, True),
    "delayed-zero": lambda sg, d: LIFDelayed(0.8, 0.9, "zero", sg, d, True),
    "immediate-soft": lambda sg, d: LIFImmediate(0.9, 1.0, "soft", 0.0, sg, d, True),
    "immediate-hard": lambda sg, d: LIFImmediate(0.9, 1.1, "hard", -0.2, sg, d, True),
    "if": lambda sg, d: IF(1.0, "soft", 0.0, sg, d, True),
    "decay": lambda sg, d: LIFDecay(0.9, 0.6, sg, d, True),
    "sj-hard": lambda sg, d: LIFNodeSJ(2.5, 1.0, -0.1, True, sg, d, True),
    "sj-soft-nodecay": lambda sg, d: LIFNodeSJ(1.7, 1.0, None, False, sg, d, True),
    "plif": lambda sg, d: PLIF(3.0, 1.0, 0.0, True, sg, d, True, dtype=np.float64),
}


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("sg", ["fast_sigmoid", "arctan", "sigmoid", "triangle", "linear",
                                "spike_time"])
@pytest.mark.parametrize("detach", [True, False])
def test_single_step_equals_multi_step(rng, name, sg, detach):
    layer = LAYERS[name](sg, detach)
    scale = 2.0 if name.startswith(("sj", "plif")) else 1.0
    x_np = scale * (0.6 * rng.standard_normal((9, 2, 5)) + 0.4)
    vs, vu = rng.standard_normal((2, 9, 2, 5))
    grads = []
    for path in ("multi", "steps"):
        x = Tensor(x_np.copy(), requires_grad=True)
        if hasattr(layer, "w"):
            layer.w.grad = None
        s, u = layer(x) if path == "multi" else layer.run_steps(x)
        (s * vs + u * vu).sum().backward()
        grads.append((s.data, u.data, x.grad, getattr(getattr(layer, "w", None), "grad", None)))
    (s1, u1, g1, w1), (s2, u2, g2, w2) = grads
    assert 0 < s1.sum() < s1.size
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(u1, u2)
    np.testing.assert_allclose(g1, g2, rtol=1e-10, atol=1e-12)
    if w1 is not None:
        assert float(w1) == pytest.approx(float(w2), rel=1e-10)


def test_single_step_float32_is_bit_identical(rng):
    x = (0.6 * rng.standard_normal((20, 3, 4)) + 0.4).astype(np.float32)
    for layer in (LIFDelayed(return_membrane=True), LIFImmediate(0.95, return_membrane=True),
                  LIFNodeSJ(return_membrane=True)):
        s1, u1 = layer(x)
        s2, u2 = layer.run_steps(x)
        assert s1.dtype == np.float32 and u1.dtype == np.float32
        np.testing.assert_array_equal(s1.data, s2.data)
        np.testing.assert_array_equal(u1.data, u2.data)


def test_step_state_and_shapes(rng):
    lif = LIFDelayed()
    x = (rng.standard_normal((3, 2, 1, 4, 4)) + 0.5).astype(np.float32)
    out = lif(x)
    assert out.shape == x.shape and out.dtype == np.float32
    s, st = lif.step(x[0])
    assert st.t == 1 and st.v.shape == x[0].shape
    s, st = lif.step(x[1], st)
    assert st.t == 2
    with pytest.raises(ValueError, match="state shape"):
        lif.step(x[0, :1], st)


# ------------------------------------------------------------------------- equivalences


@pytest.mark.parametrize("detach", [True, False])
def test_form3_equals_form1_zero_and_form2_hard(rng, detach):
    x_np = 0.6 * rng.standard_normal((11, 4, 3)) + 0.5
    out = []
    for fn in (lambda x: lif_decay(x, v_thr=0.9, tau=0.6, surrogate="triangle",
                                   detach_reset=detach, return_membrane=True),
               lambda x: lif_delayed(x, beta=0.6, theta=0.9, reset="zero", surrogate="triangle",
                                     detach_reset=detach, return_membrane=True),
               lambda x: lif_immediate(x, lam=0.6, theta=0.9, reset="hard", v_reset=0.0,
                                       surrogate="triangle", detach_reset=detach,
                                       return_membrane=True)):
        x = Tensor(x_np.copy(), requires_grad=True)
        s, u = fn(x)
        (s * np.cos(x_np) + u * np.sin(x_np)).sum().backward()
        out.append((s.data, u.data, x.grad))
    for s, u, g in out[1:]:
        np.testing.assert_array_equal(s, out[0][0])
        np.testing.assert_allclose(u, out[0][1], rtol=1e-12)
        np.testing.assert_allclose(g, out[0][2], rtol=1e-9, atol=1e-12)


def test_lif_decay_per_call_overrides(rng):
    x = (rng.standard_normal((6, 2, 3)) + 0.5).astype(np.float32)
    layer = LIFDecay(v_thr=1.0, tau=0.5)
    np.testing.assert_array_equal(layer(x, v_thr=0.6, tau=0.9).data,
                                  lif_decay(x, v_thr=0.6, tau=0.9).data)
    np.testing.assert_array_equal(layer(x).data, lif_decay(x, v_thr=1.0, tau=0.5).data)
    assert (layer.v_thr, layer.tau) == (1.0, 0.5)
    s, st = layer.step(x[0], None, v_thr=0.6, tau=0.9)
    np.testing.assert_array_equal(s.data, lif_decay(x[:1], v_thr=0.6, tau=0.9).data[0])
    with pytest.raises(ValueError, match=r"tau must be in \[0.0, 1.0\], got 1.5"):
        layer(x, tau=1.5)


def test_plif_init_and_parameter_registration():
    node = PLIF(init_tau=4.0)
    assert node.tau == pytest.approx(4.0)
    assert float(node.w.data) == pytest.approx(-np.log(3.0))
    assert [n for n, _ in node.named_parameters()] == ["w"]
    x = Tensor(np.full((3, 2), 1.5), requires_grad=True)  # float64 input, float32 w
    node(x).sum().backward()
    assert node.w.grad.dtype == np.float32 and node.w.grad.shape == ()
    assert x.grad.dtype == np.float64


# ------------------------------------------------------------------------------ errors

ERRORS = [
    (lambda x: lif_delayed(x, beta=1.5), ValueError, r"beta must be in \[0.0, 1.0\], got 1.5"),
    (lambda x: lif_delayed(x, theta=0.0), ValueError, "theta must be > 0, got 0.0"),
    (lambda x: lif_delayed(x, reset="sideways"), ValueError, "unknown reset 'sideways'.*'soft'"),
    (lambda x: lif_delayed(x, surrogate="tanh"), ValueError, "unknown surrogate 'tanh'"),
    (lambda x: lif_immediate(x, lam=0.0), ValueError, r"lam must be in \(0.0, 1.0\]"),
    (lambda x: lif_immediate(x, reset=2), ValueError, "reset code must be 0 or 1"),
    (lambda x: lif_immediate(x, v_reset=float("nan")), ValueError, "v_reset must be finite"),
    (lambda x: lif_decay(x, tau=-0.1), ValueError, r"tau must be in \[0.0, 1.0\], got -0.1"),
    (lambda x: lif_decay(x, v_thr=-1), ValueError, "v_thr must be > 0, got -1"),
    (lambda x: lif_sj(x, tau=0.5), ValueError, "tau must be >= 1"),
    (lambda x: lif_sj(x, v_threshold=0), ValueError, "v_threshold must be > 0"),
    (lambda x: lif_delayed(x, beta="0.7"), TypeError, "beta must be a real number"),
    (lambda x: PLIF(init_tau=1.0), ValueError, "init_tau must be > 1"),
    (lambda x: LIFDelayed(theta=-1.0), ValueError, "LIFDelayed: theta must be > 0"),
    (lambda x: LIFNodeSJ(tau=0.9), ValueError, "LIFNodeSJ: tau must be >= 1"),
    (lambda x: lif_delayed(x, surrogate="spike_time", smooth=True), ValueError, "no smooth twin"),
    (lambda x: plif(x, 0.5), TypeError, "w must be a one-element Tensor"),
]


@pytest.mark.parametrize("call,exc,msg", ERRORS)
def test_parameter_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call(np.ones((3, 2), np.float32))


def test_reset_vocabulary_aliases_mean_the_same():
    """One vocabulary: soft ≡ subtract, hard ≡ zero, for every form that takes a reset word."""
    x = np.random.default_rng(3).normal(0.6, 0.7, (12, 2, 9)).astype(np.float32)
    for fn in (lif_delayed, lif_immediate, noisy_lif_eval):
        for word, alias in (("soft", "subtract"), ("hard", "zero")):
            np.testing.assert_array_equal(fn(x, reset=word).data, fn(x, reset=alias).data)
        assert not np.array_equal(fn(x, reset="soft").data, fn(x, reset="hard").data)


def noisy_lif_eval(x, reset="soft"):
    return noisy_lif(x, lam=0.8, theta=1.0, t_noise=0.2, reset=reset, training=False)


@pytest.mark.parametrize("fn", [lif_delayed, lif_immediate, lif_decay, lif_sj, noisy_lif_eval])
def test_input_errors(fn):
    with pytest.raises(ValueError, match=r"rank >= 2"):
        fn(np.ones(3, np.float32))
    with pytest.raises(ValueError, match="T = 0"):
        fn(np.ones((0, 2), np.float32))
    bad = np.ones((3, 2), np.float32)
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="1 non-finite"):
        fn(bad)
    with pytest.raises(TypeError, match="float"):
        fn(np.ones((3, 2), np.int64))
    with pytest.raises(ValueError, match="non-finite"):
        LIFDelayed().step(np.array([np.inf], np.float32))
