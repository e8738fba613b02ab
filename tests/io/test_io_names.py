"""Name maps (rename / strip_prefix), dispatch by extension, and save_module / load_module
through a duck-typed module."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn.io import (
    Checkpoint,
    add_prefix,
    load_module,
    load_weights,
    rename,
    save_checkpoint,
    save_module,
    save_npz,
    save_safetensors,
    save_weights,
    strip_prefix,
    weight_format,
)


def test_rename_with_dict_keeps_unmapped_names_and_order():
    sd = {"a": 1, "b": 2, "c": 3}
    assert list(rename(sd, {"b": "beta", "zzz": "unused"}).items()) == [("a", 1), ("beta", 2), ("c", 3)]


def test_rename_regex_first_match_wins_with_backrefs():
    sd = {"net.0.weight": 1, "net.2.weight": 2, "lif1.beta": 3, "bn.num_batches_tracked": 4}
    rules = [
        (r"num_batches_tracked$", None),  # dropped
        (r"^net\.0\.", "fc1."),
        (r"^net\.(\d)\.", r"layer\1."),
        (r"^fc1\.", "WRONG."),  # never applied to a result of an earlier rule
        (r"^lif(\d)", r"sn\1"),
    ]
    assert rename(sd, rules) == {"fc1.weight": 1, "layer2.weight": 2, "sn1.beta": 3}


def test_rename_errors():
    with pytest.raises(ValueError, match="'a'.*'b'.*'x'"):
        rename({"a": 1, "b": 2}, {"a": "x", "b": "x"})
    with pytest.raises(ValueError, match="rule 0.*invalid regex"):
        rename({"a": 1}, [("(", "x")])
    with pytest.raises(TypeError, match="rule 1"):
        rename({"a": 1}, [("a", "b"), "c"])
    with pytest.raises(TypeError, match="replacement"):
        rename({"a": 1}, [("a", 3)])
    with pytest.raises(ValueError, match="invalid name"):
        rename({"a": 1}, [("^a$", "")])
    with pytest.raises(TypeError, match="mapping"):
        rename([("a", 1)], {})


def test_strip_and_add_prefix():
    sd = {"module.fc.weight": 1, "module.fc.bias": 2, "step": 3, "x.module.y": 4}
    assert strip_prefix(sd) == {"fc.weight": 1, "fc.bias": 2, "step": 3, "x.module.y": 4}
    assert strip_prefix({"a.b": 1}, "a.") == {"b": 1}
    assert strip_prefix({"a*b": 1}, "a*") == {"b": 1}  # the prefix is literal, not a regex
    assert add_prefix({"w": 1}, "model.") == {"model.w": 1}
    with pytest.raises(ValueError, match="'module.a'.*'a'"):
        strip_prefix({"module.a": 1, "a": 2})
    with pytest.raises(ValueError, match="prefix"):
        strip_prefix(sd, "")


def test_weight_format_and_unknown_extension(tmp_path):
    assert weight_format("x.H5") == "h5" and weight_format("x.hdf5") == "h5"
    assert weight_format("a/b.safetensors") == "safetensors" and weight_format("w.npz") == "npz"
    with pytest.raises(ValueError, match=r"model\.pt.*\.h5, \.hdf5, \.npz, \.safetensors.*pickle"):
        load_weights(tmp_path / "model.pt")
    with pytest.raises(ValueError, match=r"weights.*'\(none\)'"):
        load_weights(tmp_path / "weights")


@pytest.mark.parametrize("ext", [".h5", ".hdf5", ".npz", ".safetensors"])
def test_load_and_save_weights_dispatch(tmp_path, rng, ext):
    state = {"fc1.weight": rng.standard_normal((3, 2)).astype(np.float32), "fc1.bias": np.zeros(3)}
    p = tmp_path / f"w{ext}"
    {".h5": save_checkpoint, ".hdf5": save_checkpoint, ".npz": save_npz,
     ".safetensors": save_safetensors}[ext](p, state)
    got = load_weights(p)
    assert list(got) == list(state)
    for k in state:
        np.testing.assert_array_equal(got[k], state[k])
    q = tmp_path / f"again{ext}"
    save_weights(q, got)
    np.testing.assert_array_equal(load_weights(q)["fc1.weight"], state["fc1.weight"])
    with pytest.raises(FileNotFoundError, match=f"missing{ext}"):
        load_weights(tmp_path / f"missing{ext}")


class FakeModule:
    """The duck type save_module / load_module rely on: state_dict() and load_state_dict(state, strict)."""

    def __init__(self, rng=None):
        self.params = {"fc1.weight": np.zeros((2, 3), np.float32), "fc1.bias": np.zeros(2, np.float32)}
        if rng is not None:
            self.params = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in self.params.items()}
        self.calls = []

    def state_dict(self):
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state, strict=True):
        self.calls.append(strict)
        if strict and set(state) != set(self.params):
            raise KeyError(f"mismatch: {sorted(set(state) ^ set(self.params))}")
        for k, v in state.items():
            if k in self.params:
                self.params[k] = np.asarray(v).copy()


@pytest.mark.parametrize("ext", [".h5", ".npz", ".safetensors"])
def test_save_module_load_module_round_trip(tmp_path, rng, ext):
    src, dst = FakeModule(rng), FakeModule()
    p = tmp_path / f"m{ext}"
    attrs = {".h5": {"step": 7, "config": {"beta": 0.7}}, ".safetensors": {"metadata": {"k": "v"}},
             ".npz": {}}[ext]
    save_module(p, src, **attrs)
    ck = load_module(p, dst)
    assert isinstance(ck, Checkpoint) and dst.calls == [True]
    for k in src.params:
        np.testing.assert_array_equal(dst.params[k], src.params[k])
    if ext == ".h5":
        assert ck.step == 7 and ck.config == {"beta": 0.7}
    if ext == ".safetensors":
        assert ck.metadata == {"k": "v"}


def test_load_module_with_prefix_mapping_and_strict(tmp_path, rng):
    w, b = rng.standard_normal((2, 3)).astype(np.float32), np.ones(2, np.float32)
    p = tmp_path / "torch_style.safetensors"
    save_safetensors(p, {"module.net.0.weight": w, "module.net.0.bias": b, "module.extra": np.zeros(1)})
    dst = FakeModule()
    with pytest.raises(KeyError, match="mismatch"):
        load_module(p, dst, prefix="module.", mapping=[(r"^net\.0\.", "fc1.")])
    load_module(p, dst, strict=False, prefix="module.", mapping=[(r"^net\.0\.", "fc1.")])
    assert dst.calls == [True, False]
    np.testing.assert_array_equal(dst.params["fc1.weight"], w)
    np.testing.assert_array_equal(dst.params["fc1.bias"], b)


def test_save_module_errors(tmp_path):
    with pytest.raises(TypeError, match="state_dict"):
        save_module(tmp_path / "x.h5", object())
    with pytest.raises(TypeError, match="load_state_dict"):
        load_module(tmp_path / "x.h5", object())
    with pytest.raises(TypeError, match=r"x\.npz.*step"):
        save_module(tmp_path / "x.npz", FakeModule(), step=3)
    with pytest.raises(TypeError, match=r"x\.safetensors.*step"):
        save_module(tmp_path / "x.safetensors", FakeModule(), step=3)
    with pytest.raises(ValueError, match="supported"):
        save_module(tmp_path / "x.pkl", FakeModule())
    assert list(tmp_path.iterdir()) == []
