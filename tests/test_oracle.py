"""The black-box oracle: answers, the hard query budget, errors, resume, placement, and a property test.

Expected answers are computed independently (the model's own forward in
NumPy, softmax written out); the property test replays random sequences of
batch sizes, failing model calls, bad inputs and save/restore cycles against a
plain integer model of the budget.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refsnn.io import load_checkpoint, save_checkpoint
from refsnn.models import GaminSNN, mlp
from refsnn.oracle import Oracle, QueryBudgetExceeded


class Linear3:
    """A plain callable ``x [B, 4] → x W [B, 3]`` that counts calls and can be told to fail."""

    W = np.array([[1., 0., -1.], [0., 2., 0.], [.5, .5, .5], [-1., 0., 3.]])

    def __init__(self):
        self.calls, self.seen, self.fail = 0, 0, False

    def __call__(self, x):
        self.calls += 1
        if self.fail:
            raise RuntimeError("model failed")
        self.seen += len(x)
        return np.asarray(x, np.float64) @ self.W


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_answers_in_each_output_mode_for_an_ann():
    net = mlp([4, 6, 3], rng=0)
    x = np.random.default_rng(0).random((5, 4), dtype=np.float32)
    sd = net.state_dict()
    logits = np.maximum(x @ sd["1.weight"].T + sd["1.bias"], 0) @ sd["3.weight"].T + sd["3.bias"]
    got = {o: Oracle(net, budget=5, output=o, classes=3)(x) for o in ("probs", "logits", "labels")}
    np.testing.assert_allclose(got["logits"], logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["probs"], softmax(logits.astype(np.float64)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["probs"].sum(axis=1), 1.0, rtol=1e-6)
    assert got["labels"].dtype == np.int64 and np.array_equal(got["labels"], logits.argmax(1))
    assert all(type(v) is np.ndarray for v in got.values())
    assert all(p.grad is None for p in net.parameters())  # answered under no_grad


def test_snn_answers_softmax_of_summed_membrane_in_eval_mode():
    target, twin = (GaminSNN(hidden=12, num_steps=3, rng=0, encode_seed=4) for _ in range(2))
    x = np.random.default_rng(1).random((3, 784), dtype=np.float32)
    oracle = Oracle(target, budget=10, output="probs", classes=10)
    assert target.training
    probs = oracle(x)
    assert target.training  # mode restored
    want = softmax(twin(x).membrane.data.sum(0).astype(np.float64))
    np.testing.assert_allclose(probs, want, rtol=1e-5, atol=1e-7)


def test_budget_exact_fit_then_refusal_answers_nothing():
    model = Linear3()
    oracle = Oracle(model, budget=7, output="logits", classes=3)
    assert oracle(np.ones((3, 4))).shape == (3, 3) and oracle.remaining == 4
    with pytest.raises(QueryBudgetExceeded, match=r"batch of 5 .*\(3 used of 7, 4 left\)") as err:
        oracle(np.ones((5, 4)))
    assert (err.value.requested, err.value.used, err.value.budget) == (5, 3, 7)
    assert model.calls == 1 and oracle.queries_used == 3  # the model never saw the refused batch
    oracle(np.ones((4, 4)))
    assert oracle.queries_used == 7 and oracle.remaining == 0 and oracle.answered_batches == 2
    with pytest.raises(QueryBudgetExceeded):
        oracle(np.ones((1, 4)))
    assert model.calls == 2 and model.seen == 7


def test_errors_are_not_counted_and_chunks_are_all_or_nothing():
    model = Linear3()
    oracle = Oracle(model, budget=20, output="labels", chunk_size=2)
    model.fail = True
    with pytest.raises(RuntimeError, match="model failed"):
        oracle(np.ones((5, 4)))
    assert oracle.queries_used == 0

    class FailsOnThirdChunk(Linear3):
        def __call__(self, x):
            self.fail = self.calls == 2
            return super().__call__(x)

    flaky = FailsOnThirdChunk()
    oracle = Oracle(flaky, budget=20, output="labels", chunk_size=2)
    with pytest.raises(RuntimeError):
        oracle(np.ones((6, 4)))
    assert flaky.calls == 3 and oracle.queries_used == 0 and oracle.answered_batches == 0
    assert oracle(np.ones((5, 4))).shape == (5,) and oracle.queries_used == 5  # 3 chunks of ≤ 2


def test_bad_inputs_and_bad_answers_are_clear_and_uncounted():
    oracle = Oracle(Linear3(), budget=10, output="probs", classes=3)
    x = np.ones((3, 4))
    x[1, 2] = np.nan
    with pytest.raises(ValueError, match="1 of 3 input samples contain NaN"):
        oracle(x)
    with pytest.raises(ValueError, match="non-empty batch"):
        oracle(np.ones((0, 4)))
    with pytest.raises(TypeError, match="numeric"):
        oracle(np.array([["a"]]))
    wide = Oracle(Linear3(), budget=10, classes=4)
    with pytest.raises(ValueError, match="output width 3 does not match classes=4"):
        wide(np.ones((2, 4)))
    with pytest.raises(ValueError, match="NaN or inf"):
        Oracle(lambda z: np.full((len(z), 3), np.inf), budget=10)(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"expected \[batch, classes\]"):
        Oracle(lambda z: np.ones(len(z)), budget=10)(np.ones((2, 4)))
    assert oracle.queries_used == wide.queries_used == 0
    att = GaminSNN(hidden=4, num_steps=2, rng=0, in_features=12, num_classes=40)
    with pytest.raises(ValueError, match="classes=10 but the model has num_classes=40"):
        Oracle(att, budget=10, classes=10)
    assert Oracle(att, budget=10).classes == 40  # taken from the model before any query
    learned = Oracle(Linear3(), budget=10)  # classes=None: the first answer fixes the width
    learned(np.ones((1, 4)))
    assert learned.classes == 3


@pytest.mark.parametrize("kwargs, error, match", [
    ({"budget": 0}, ValueError, "budget must be a positive int, got 0"),
    ({"budget": -5}, ValueError, "budget"),
    ({"budget": 2.5}, TypeError, "budget"),
    ({"budget": True}, TypeError, "budget"),
    ({"budget": 5, "output": "proba"}, ValueError, "unknown output 'proba'"),
    ({"budget": 5, "classes": 1}, ValueError, "classes must be >= 2"),
    ({"budget": 5, "chunk_size": 0}, ValueError, "chunk_size"),
])
def test_construction_is_validated(kwargs, error, match):
    with pytest.raises(error, match=match):
        Oracle(Linear3(), **kwargs)
    with pytest.raises(TypeError, match="callable"):
        Oracle("not a model", budget=3)


def test_the_model_is_not_exposed():
    model = Linear3()
    oracle = Oracle(model, budget=3)
    public = [getattr(oracle, name) for name in dir(oracle) if not name.startswith("_")]
    assert not any(v is model for v in public)
    assert "Linear3" not in repr(oracle)
    assert not any(v is model for v in oracle.state_dict().values())
    with pytest.raises(AttributeError):
        oracle.budget = 100  # read-only view


def test_resume_restores_the_count_and_refuses_another_configuration(tmp_path):
    net = mlp([4, 5, 3], rng=0)
    oracle = Oracle(net, budget=50, output="probs", classes=3, tag="run-a")
    oracle(np.ones((7, 4), np.float32))
    path = tmp_path / "ck.h5"
    save_checkpoint(path, net.state_dict(), step=1, extra={"oracle": oracle.state_dict()})
    saved = load_checkpoint(path).extra["oracle"]
    fresh = Oracle(mlp([4, 5, 3], rng=0), budget=50, output="probs", classes=3, tag="run-a")
    fresh.load_state_dict(saved)
    assert (fresh.queries_used, fresh.remaining, fresh.answered_batches) == (7, 43, 1)
    with pytest.raises(QueryBudgetExceeded):
        fresh(np.ones((44, 4), np.float32))
    others = {
        "budget": Oracle(mlp([4, 5, 3], rng=0), budget=60, output="probs", classes=3, tag="run-a"),
        "output": Oracle(mlp([4, 5, 3], rng=0), budget=50, output="labels", classes=3, tag="run-a"),
        "classes": Oracle(mlp([4, 5, 3], rng=0), budget=50, output="probs", tag="run-a"),
        "fingerprint": Oracle(mlp([4, 5, 3], rng=1), budget=50, output="probs", classes=3, tag="run-a"),
    }
    others["tag"] = Oracle(mlp([4, 5, 3], rng=0), budget=50, output="probs", classes=3, tag="run-b")
    for field, other in others.items():
        other(np.ones((2, 4), np.float32))
        with pytest.raises(ValueError, match="another configuration") as err:
            other.load_state_dict(saved)
        assert (field if field != "tag" else "fingerprint") in str(err.value)
        assert other.queries_used == 2  # nothing overwritten
    bad_states = (({**saved, "queries_used": 51}, "queries_used"), ({**saved, "queries_used": -1}, r"in \["),
                  ({**saved, "format": "x"}, "not an oracle state"),
                  ({"format": "refsnn-oracle", "version": 1}, "lacks"))
    for bad, match in bad_states:
        with pytest.raises(ValueError, match=match):
            fresh.load_state_dict(bad)
    assert fresh.queries_used == 7


def test_resume_replays_a_stochastic_snn_target_bit_for_bit(tmp_path):
    """The SNN's encoder state travels with the count: answers after a resume equal uninterrupted ones."""
    x = np.random.default_rng(1).random((3, 784), dtype=np.float32)
    def build():
        return Oracle(GaminSNN(hidden=8, num_steps=4, rng=0), budget=20, output="probs")
    straight = build()
    straight(x)
    want = straight(x)
    first = build()
    first(x)
    path = tmp_path / "ck.h5"
    save_checkpoint(path, {}, extra={"oracle": first.state_dict()})
    resumed = build()
    resumed(x)  # a stray query moves the encoder; the restore must undo that too
    resumed.load_state_dict(load_checkpoint(path).extra["oracle"])
    assert resumed.queries_used == 3
    np.testing.assert_array_equal(resumed(x), want)
    without = build().state_dict()
    assert without["model_rng"]["bit_generator"] == "PCG64"
    with pytest.raises(ValueError, match="model_rng"):
        build().load_state_dict({**without, "model_rng": None})
    plain = Oracle(Linear3(), budget=5, output="labels", classes=3)
    assert plain.state_dict()["model_rng"] is None


def test_host_or_device_input_gives_host_answers(fakedev):
    x = np.random.default_rng(0).random((4, 6), dtype=np.float32)
    host = Oracle(mlp([6, 8, 3], rng=0), budget=8, output="logits")
    dev = Oracle(mlp([6, 8, 3], rng=0).to("fakedev"), budget=8, output="logits")
    a = host(x)
    b, c = dev(x), dev(fakedev.module.asarray(x))
    assert type(b) is np.ndarray and type(c) is np.ndarray
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert dev.queries_used == 8


OPS = st.lists(st.one_of(
    st.tuples(st.just("query"), st.integers(1, 12)),
    st.tuples(st.just("fail"), st.integers(1, 12)),
    st.tuples(st.just("nan"), st.integers(1, 12)),
    st.tuples(st.just("resume"), st.just(0)),
), max_size=25)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)  # same cases every run
@given(budget=st.integers(1, 40), chunk=st.integers(1, 5), ops=OPS)
def test_no_sequence_of_calls_exceeds_the_budget_or_loses_count(budget, chunk, ops):
    model = Linear3()
    oracle = Oracle(model, budget=budget, output="labels", classes=3, chunk_size=chunk)
    used = 0
    for kind, n in ops:
        if kind == "resume":
            state = oracle.state_dict()
            oracle = Oracle(model, budget=budget, output="labels", classes=3, chunk_size=chunk)
            oracle.load_state_dict(state)
        else:
            x = np.ones((n, 4))
            if kind == "nan":
                x[-1, 0] = np.nan
            model.fail = kind == "fail"
            seen, answered = model.seen, False
            try:
                answers = oracle(x)
            except QueryBudgetExceeded:
                assert kind != "nan" and used + n > budget
            except (RuntimeError, ValueError):
                assert kind in ("fail", "nan")
            else:
                assert kind == "query" and used + n <= budget and answers.shape == (n,)
                used, answered = used + n, True
            assert model.seen - seen == (n if answered else 0)  # refused batches never reach the model
        assert oracle.queries_used == used <= budget
        assert oracle.remaining == budget - used
    assert model.seen == used
