"""from_torch + check on user-style snnTorch / SpikingJelly models (needs torch and both frameworks).

The independent check is the framework itself: the same weights run in
snnTorch / SpikingJelly and in refsnn must give identical spikes, membranes
and outputs to 1e-5 (relative to max(1, |ref|)), gradients to 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.crossval
torch = pytest.importorskip("torch")

from models_zoo import ARCHITECTURES, ORDER, TutorialNet, _scale, snn  # noqa: E402

from refsnn.crossval import check, format_check, from_torch  # noqa: E402
from refsnn.io import save_safetensors  # noqa: E402


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_architecture_agrees(name):
    model, kwargs, x, y = ARCHITECTURES[name]()
    res = check(model, x, y, **kwargs)
    text = format_check(res)
    assert res["verdict"]["pass"], text
    neurons = [lay for lay in res["layers"] if lay["kind"] == "neuron"]
    assert len(neurons) >= 2
    for lay in neurons:  # every spiking layer is active but not saturated: the check compared something
        sp = lay["spikes"]
        assert 0.02 < sp["count_torch"] / sp["total"] < 0.98, (name, lay["path"], sp)
        assert sp["count_torch"] == sp["count_refsnn"]
    assert res["grad_params"] and res["loss"]["rel"] < 1e-5
    assert res["grad_input"] is not None and res["grad_input"]["ref_max"] > 0
    assert res["accuracy"]["prediction_disagreements"] == 0
    assert res["dtype"] == ("float64" if "f64" in name else "float32")
    assert "PASS" in text.splitlines()[0]


def test_architectures_cover_the_issue():
    kinds, dtypes = set(), set()
    for build in ARCHITECTURES.values():
        model, kwargs, _, _ = build()
        imp = from_torch(model, order=kwargs.get("order"))
        kinds |= {s.torch_type for s in imp.stages if s.kind == "neuron"}
        dtypes.add(str(next(model.parameters()).dtype))
        layers = {s.torch_type for s in imp.stages}
    assert {"Leaky", "LIFNode", "ParametricLIFNode", "IFNode"} <= kinds
    assert dtypes == {"torch.float32", "torch.float64"}
    assert len(ARCHITECTURES) >= 6 and layers


def test_wrong_configuration_is_flagged():
    """Import, then change the torch β: the report must fail and call it a configuration difference."""
    model, kwargs, x, y = ARCHITECTURES["snntorch-tutorial-direct-f32"]()
    imported = from_torch(model, order=ORDER)
    model.lif1.beta = torch.tensor(0.5)
    res = check(model, x, y, imported=imported)
    assert not res["verdict"]["pass"] and not res["verdict"]["membranes"]
    lif1 = res["layers"][1]
    assert lif1["membrane"]["max_abs"] > 0.1
    assert any("'lif1'" in e and "configuration difference" in e for e in res["explanations"]), \
        res["explanations"]
    assert any("'fc2'" in e and "inherited" in e for e in res["explanations"])
    assert "FAIL" in format_check(res).splitlines()[0]


def test_threshold_tie_is_recognised():
    """Current exactly θ in torch (no spike: snnTorch fires on U − θ > 0), one ulp above in refsnn."""
    model = TutorialNet(n_in=3, hidden=4, n_out=2, T=3, beta=0.5)
    with torch.no_grad():
        model.fc1.weight.zero_()
        model.fc1.bias.fill_(1.0)          # U[0] = 1.0 = θ exactly
        model.fc2.weight.fill_(2.0)
    imported = from_torch(model, order=ORDER)
    bias = imported.stages[0].module.module.bias
    bias.data[0] = np.nextafter(np.float32(1.0), np.float32(2.0))
    res = check(model, np.zeros((2, 3), np.float32), imported=imported)
    lif1 = res["layers"][1]["spikes"]
    first = lif1["first"]
    assert first["t"] == 0 and first["spike_refsnn"] == 1 and first["spike_torch"] == 0
    assert lif1["neurons_flipped"] == 2 and lif1["first_flips_at_threshold"] == 2   # neuron 0 of both samples
    assert res["verdict"]["rounding_ties_only"] and not res["verdict"]["pass"]
    assert any("threshold" in e and "item 1" in e for e in res["explanations"])
    assert "FAIL (threshold ties from float rounding only)" in format_check(res)


def test_backward_only_difference_names_surrogate_or_detach_reset():
    model, kwargs, x, y = ARCHITECTURES["sj-conv-bn-lif-plif"]()
    imported = from_torch(model)
    model[2].detach_reset = True   # the torch side changes its backward only
    res = check(model, x, y, imported=imported)
    v = res["verdict"]
    assert v["spikes"] and v["membranes"] and not v["gradients"], format_check(res)
    assert any("detach_reset" in e for e in res["explanations"])


def test_sigmoid_overflow_is_explained():
    model = _scale(TutorialNet(beta=0.9, spike_grad=snn.surrogate.sigmoid(slope=25)), 6.0, 0)
    x = np.random.default_rng(0).random((16, 20)).astype(np.float32)
    res = check(model, x, np.arange(16) % 5, order=ORDER)
    assert res["verdict"]["spikes"] and res["verdict"]["membranes"]
    nan = res["grad_params"]["fc1.weight"]["nonfinite_framework"]
    if nan:  # snnTorch's sigmoid overflowed somewhere: refsnn must stay finite and the report say why
        assert res["grad_params"]["fc1.weight"]["nonfinite_refsnn"] == 0
        assert any("overflows" in e for e in res["explanations"])
    else:
        assert res["verdict"]["pass"]


def test_chain_break_in_custom_forward_is_reported():
    class Scaled(TutorialNet):
        def forward(self, x):
            mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
            out = []
            for _ in range(self.T):
                spk1, mem1 = self.lif1(self.fc1(x), mem1)
                spk2, mem2 = self.lif2(self.fc2(2 * spk1), mem2)   # not in the declared order
                out.append(spk2)
            return torch.stack(out)

    model = _scale(Scaled(beta=0.8), 6.0, 0)
    res = check(model, np.random.default_rng(0).random((8, 20)).astype(np.float32), order=ORDER)
    assert not res["verdict"]["structure"] and not res["verdict"]["pass"]
    assert "is not the output of 'lif1'" in res["layers"][2]["chain_break"]
    assert any("between the declared layers" in e for e in res["explanations"])


def test_weights_from_safetensors_and_state_dict(tmp_path):
    model, kwargs, x, y = ARCHITECTURES["sj-conv-bn-lif-plif"]()
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    path = tmp_path / "w.safetensors"
    save_safetensors(path, state)
    fresh, _, _, _ = ARCHITECTURES["sj-conv-bn-lif-plif"]()
    _scale(fresh, 1.0, 99)  # different weights: the file must win
    from_file = from_torch(fresh, state=str(path))
    from_dict = from_torch(fresh, state=state)
    direct = from_torch(model)
    seq = np.asarray(x, np.float32)
    for imp in (from_file, from_dict):
        np.testing.assert_array_equal(imp(seq).data, direct(seq).data)
    res = check(fresh, x, y, weights=str(path))   # check loads the file into the torch model too
    assert res["verdict"]["pass"], format_check(res)


def test_state_with_wrong_names_or_buffers_is_refused():
    model, _, _, _ = ARCHITECTURES["snntorch-tutorial-direct-f32"]()
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    bad = dict(state)
    bad["fc3.weight"] = bad.pop("fc2.weight")
    with pytest.raises(KeyError, match=r"unexpected \['fc3.weight'\], missing \['fc2.weight'\]"):
        from_torch(model, order=ORDER, state=bad)
    beta = dict(state, **{"lif1.beta": np.float32(0.3)})
    with pytest.raises(ValueError, match="lif1.beta"):
        from_torch(model, order=ORDER, state=beta)


def test_names_map_to_torch_state_dict():
    model, kwargs, _, _ = ARCHITECTURES["sj-conv-bn-lif-plif"]()
    imp = from_torch(model)
    torch_names = set(model.state_dict())
    assert set(imp.names.values()) == torch_names
    assert imp.names["net.5.w"] == "5.w"
    assert imp.names["net.0.module.weight"] == "0.weight"
    assert imp.names["net.1.module.running_var"] == "1.running_var"
    assert imp.names["net.4.module.bias"] == "4.bias"
