"""Module registration, naming, modes, state_dict round trip and load_state_dict errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from refsnn.autograd import Tensor
from refsnn.nn import (
    BatchNorm2d,
    Conv2d,
    Flatten,
    Linear,
    Module,
    ModuleList,
    Parameter,
    ReLU,
    Sequential,
)


class TwoLayer(Module):
    def __init__(self, rng=0):
        super().__init__()
        self.fc1 = Linear(4, 5, rng=rng)
        self.act = ReLU()
        self.fc2 = Linear(5, 3, bias=False, rng=rng)
        self.scale = Parameter(np.ones(3, np.float32))
        self.register_buffer("count", np.zeros((), np.int64))
        self.not_state = Tensor(np.zeros(2))  # a plain Tensor attribute is not a parameter

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


def small_cnn(rng=0):
    return Sequential(Conv2d(1, 2, 3, rng=rng), BatchNorm2d(2), ReLU(), Flatten(),
                      Linear(2 * 4 * 4, 3, rng=rng))


def test_parameter_names_follow_pytorch():
    net = TwoLayer()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert [n for n, _ in net.named_buffers()] == ["count"]
    seq = small_cnn()
    assert list(seq.state_dict()) == [
        "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "1.num_batches_tracked", "4.weight", "4.bias",
    ]
    nested = Sequential(Sequential(Linear(2, 2, rng=0)), TwoLayer())
    assert "0.0.weight" in nested.state_dict() and "1.fc2.weight" in nested.state_dict()
    assert [n for n, _ in nested.named_modules()][:3] == ["", "0", "0.0"]


def test_shapes_layouts_and_counts():
    net = TwoLayer()
    sd = net.state_dict()
    assert sd["fc1.weight"].shape == (5, 4) and sd["fc2.weight"].shape == (3, 5)
    assert net.num_parameters() == 5 * 4 + 5 + 3 * 5 + 3
    net.fc2.weight.requires_grad = False
    assert net.num_parameters(trainable_only=True) == 5 * 4 + 5 + 3
    assert len(list(net.children())) == 3
    assert sum(1 for _ in small_cnn().modules()) == 6


def test_shared_parameter_listed_once():
    fc = Linear(3, 3, rng=0)
    net = Sequential(fc, ReLU(), fc)
    assert len(net.parameters()) == 2
    assert net.num_parameters() == 12
    assert set(net.state_dict()) == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_state_dict_is_a_copy_and_round_trips():
    a, b = small_cnn(rng=1), small_cnn(rng=2)
    a.train()
    a(np.random.default_rng(0).standard_normal((4, 1, 6, 6)).astype(np.float32))  # move running stats
    sd = a.state_dict()
    sd["0.weight"][...] = 7.0  # editing the copy leaves the module alone
    assert not np.any(a[0].weight.data == 7.0)
    sd = a.state_dict()
    weight_obj = b[0].weight
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b[0].weight is weight_obj  # loaded in place: optimizers stay valid
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])
    assert int(b[1].num_batches_tracked) == 1
    x = np.random.default_rng(1).standard_normal((2, 1, 6, 6)).astype(np.float32)
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_load_casts_dtype_to_parameter():
    net = Linear(2, 2, rng=0)
    net.load_state_dict({"weight": np.eye(2, dtype=np.float64), "bias": np.array([1, 2])})
    assert net.weight.dtype == np.float32 and net.bias.dtype == np.float32
    np.testing.assert_array_equal(net.bias.data, [1.0, 2.0])


def test_load_missing_and_unexpected_keys_named():
    net = small_cnn()
    sd = net.state_dict()
    del sd["0.bias"], sd["1.running_var"]
    sd["5.weight"] = np.zeros(3)
    with pytest.raises(KeyError) as info:
        net.load_state_dict(sd)
    msg = str(info.value)
    for key in ("0.bias", "1.running_var", "5.weight"):
        assert key in msg
    assert "missing" in msg and "unexpected" in msg
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["0.bias", "1.running_var"] and result.unexpected_keys == ["5.weight"]


def test_load_shape_mismatch_names_every_key_and_both_shapes():
    net = small_cnn()
    before = net.state_dict()
    sd = net.state_dict()
    sd["0.weight"] = np.zeros((2, 1, 5, 5), np.float32)
    sd["4.bias"] = np.zeros(4, np.float32)
    sd["0.bias"] = np.full(2, 9.0, np.float32)  # valid, but must not be written: the load is atomic
    with pytest.raises(ValueError) as info:
        net.load_state_dict(sd)
    msg = str(info.value)
    assert "0.weight" in msg and "(2, 1, 5, 5)" in msg and "(2, 1, 3, 3)" in msg
    assert "4.bias" in msg and "(4,)" in msg and "(3,)" in msg
    np.testing.assert_array_equal(net.state_dict()["0.bias"], before["0.bias"])
    with pytest.raises(ValueError, match=re.escape("(2, 1, 5, 5)")):
        net.load_state_dict(sd, strict=False)


def test_load_rejects_non_finite_and_non_mapping():
    net = Linear(2, 2, rng=0)
    with pytest.raises(ValueError, match="weight"):
        net.load_state_dict({"weight": np.array([[np.nan, 0], [0, 0]]), "bias": np.zeros(2)})
    with pytest.raises(ValueError, match="bias"):
        net.load_state_dict({"weight": np.zeros((2, 2)), "bias": np.array([np.inf, 0])})
    with pytest.raises(TypeError, match="mapping"):
        net.load_state_dict([("weight", np.zeros((2, 2)))])


def test_train_eval_flags_and_zero_grad():
    net = small_cnn()
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    x = Tensor(np.random.default_rng(0).standard_normal((3, 1, 6, 6)).astype(np.float32))
    net(x).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_dtype_casts_params_and_float_buffers_in_place():
    net = small_cnn()
    w = net[0].weight
    net.to_dtype(np.float64)
    assert net[0].weight is w and w.dtype == np.float64
    assert net[1].running_mean.dtype == np.float64
    assert net[1].num_batches_tracked.dtype == np.int64
    assert net.state_dict()["1.running_var"].dtype == np.float64
    out = net(np.zeros((2, 1, 6, 6)))
    assert out.dtype == np.float64
    with pytest.raises(TypeError, match="floating"):
        net.to_dtype(np.int32)


def test_setattr_rules():
    net = TwoLayer()
    with pytest.raises(TypeError, match="fc1"):
        net.fc1 = 3
    with pytest.raises(TypeError, match="scale"):
        net.scale = np.ones(3)
    net.scale = None
    assert "scale" not in net.state_dict()
    net.count = np.ones((), np.int64)
    assert net.state_dict()["count"] == 1
    with pytest.raises(TypeError, match="count"):
        net.count = 5
    del net.fc2
    assert "fc2.weight" not in net.state_dict()

    class Bad(Module):
        def __init__(self):
            self.w = 1

    with pytest.raises(AttributeError, match="super"):
        Bad()


def test_sequential_indexing_and_module_list():
    layers = [Linear(2, 3, rng=0), ReLU(), Linear(3, 1, rng=0)]
    seq = Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers
    assert seq[0] is layers[0] and seq[-1] is layers[2]
    head = seq[1:]
    assert isinstance(head, Sequential) and len(head) == 2
    assert list(head.state_dict()) == ["2.weight", "2.bias"]  # names are kept, as in PyTorch
    with pytest.raises(IndexError, match="3"):
        seq[3]
    x = np.array([[1.0, -2.0]], np.float32)
    expected = layers[2](layers[1](layers[0](x))).data
    np.testing.assert_array_equal(seq(x).data, expected)
    ml = ModuleList(layers)
    assert len(ml) == 3 and ml[1] is layers[1]
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_repr_names_children():
    text = repr(small_cnn())
    assert "(0): Conv2d(1, 2, kernel_size=(3, 3)" in text and "(4): Linear(in_features=32" in text


def test_deepcopy_is_independent_and_consistent():
    import copy

    net = small_cnn()
    clone = copy.deepcopy(net)
    assert clone[0].weight is not net[0].weight
    assert clone[0].weight is clone[0]._parameters["weight"]  # registry and attribute stay one object
    clone[0].weight.data[...] = 0.0
    assert net[0].weight.data.any() and not clone.state_dict()["0.weight"].any()


def test_apply_and_requires_grad_():
    net = small_cnn()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Sequential" and seen.count("Conv2d") == 1 and len(seen) == 6
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    assert net.num_parameters(trainable_only=True) == 0 and net.num_parameters() > 0
