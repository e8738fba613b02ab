"""from_torch refuses what it cannot translate exactly, naming the layer and its path; check_attack agrees
with torchattacks on imported models (needs torch, snnTorch, SpikingJelly, torchattacks)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.crossval
torch = pytest.importorskip("torch")
pytest.importorskip("torchattacks")

from models_zoo import ARCHITECTURES, ORDER, TutorialNet, _scale, layer, neuron, snn, surrogate  # noqa: E402
from torch import nn  # noqa: E402

from refsnn.crossval import check_attack, from_torch, run_torchattacks  # noqa: E402


@pytest.mark.parametrize("build,needles", [
    (lambda: nn.Sequential(nn.Linear(4, 3), nn.Tanh(), snn.Leaky(beta=0.5, init_hidden=True)),
     ["torch.nn.modules.activation.Tanh", "'1'"]),
    (lambda: nn.Sequential(nn.Sequential(nn.Linear(4, 3), nn.GELU()), neuron.LIFNode()),
     ["GELU", "'0.1'"]),
    (lambda: nn.Sequential(nn.Linear(4, 3),
                           neuron.LIFNode(surrogate_function=surrogate.PiecewiseQuadratic())),
     ["PiecewiseQuadratic", "'1'"]),
    (lambda: nn.Sequential(nn.Linear(4, 3), snn.Leaky(beta=0.5, init_hidden=True,
                                                      spike_grad=snn.surrogate.triangular())),
     ["triangular", "'1'"]),
    (lambda: nn.Sequential(nn.Linear(4, 3), snn.Leaky(beta=0.5, learn_beta=True, init_hidden=True)),
     ["learn_beta", "'1'"]),
    (lambda: nn.Sequential(nn.Linear(4, 3), snn.Leaky(beta=0.5, init_hidden=True, reset_delay=False)),
     ["reset_delay=False", "'1'"]),
    (lambda: nn.Sequential(nn.Conv2d(1, 2, 3, groups=1, dilation=2), neuron.IFNode()),
     ["Conv2d", "dilation", "'0'"]),
    (lambda: nn.Sequential(nn.Linear(4, 3), neuron.IFNode(v_reset=-0.5)),
     ["IFNode", "v_reset=-0.5"]),
    (lambda: nn.Sequential(nn.Linear(4, 3), neuron.ParametricLIFNode(step_mode="m"),
                           layer.Linear(3, 2, step_mode="m"), neuron.LIFNode(step_mode="s")),
     ["mixes single-step", "'3'"]),
    (lambda: nn.Sequential(nn.Linear(4, 3), nn.ReLU()), ["no spiking layer"]),
])
def test_unsupported_parts_are_named(build, needles):
    with pytest.raises((NotImplementedError, ValueError)) as err:
        from_torch(build())
    for needle in needles:
        assert needle in str(err.value), str(err.value)


def test_custom_forward_needs_an_order_and_real_paths():
    model = TutorialNet(beta=0.5)
    with pytest.raises(ValueError, match="custom forward; declare its layer order"):
        from_torch(model)
    with pytest.raises(KeyError, match="no submodule 'lif9'"):
        from_torch(model, order=["fc1", "lif9"])
    with pytest.raises(ValueError, match="non-empty list"):
        from_torch(model, order="fc1")


def test_beta_outside_unit_interval_is_clamped_like_snntorch_with_a_note():
    model = TutorialNet(beta=1.3)
    imp = from_torch(model, order=ORDER)
    assert imp.stages[1].module.beta == 1.0
    assert any("clamps beta=1.3" in n for n in imp.notes)


@pytest.mark.parametrize("name,params", [
    ("fgsm", {"eps": 8 / 255}),
    ("pgd", {"eps": 0.1, "alpha": 0.02, "steps": 5}),
    ("pgd", {"eps": 0.1, "alpha": 0.02, "steps": 3, "targeted": True}),
])
@pytest.mark.parametrize("arch", ["sj-classifier-custom-forward", "snntorch-tutorial"])
def test_check_attack_matches_torchattacks(arch, name, params):
    if arch == "snntorch-tutorial":
        class Summed(TutorialNet):
            def forward(self, x):
                return super().forward(x)[0].sum(0)

        model = _scale(Summed(beta=0.85, spike_grad=snn.surrogate.fast_sigmoid(slope=5)), 6.0, 0)
        x = np.random.default_rng(0).random((8, 20)).astype(np.float32)
        y, order = np.arange(8) % 5, ORDER
    else:
        model, kwargs, x, y = ARCHITECTURES[arch]()
        order = kwargs["order"]
    labels = (y + 1) % 5 if params.get("targeted") else y
    peer = run_torchattacks(model, name, params, x, labels)
    assert np.abs(peer - x).max() > 0   # the attack moved the images
    res = check_attack(model, name, params, x, labels, peer, order=order)
    assert res["pass"] and res["pixels_differing"] == 0, res["explanation"]
    assert res["max_abs"] <= 1e-6
    assert res["probe"]["relation"] == "direct"
    assert res["probe"]["readout"] == ("sum" if arch == "snntorch-tutorial" else "mean")
    assert res["accuracy"]["torch_on_peer"] == res["accuracy"]["refsnn_on_refsnn"]


def test_check_attack_flags_a_wrong_peer_and_refuses_random_start():
    model, kwargs, x, y = ARCHITECTURES["sj-classifier-custom-forward"]()
    peer = run_torchattacks(model, "fgsm", {"eps": 0.05}, x, y)
    wrong = peer.copy()
    wrong[3] = np.clip(x[3] - (peer[3] - x[3]), 0, 1)   # image 3 stepped the other way
    res = check_attack(model, "fgsm", {"eps": 0.05}, x, y, wrong, order=kwargs["order"])
    assert not res["pass"] and res["worst_image"] == 3
    assert res["per_image"][3]["pixels_differing"] > 0 and res["images_differing"] == 1
    assert "gradients differ" in res["explanation"]
    with pytest.raises(ValueError, match="random_start"):
        check_attack(model, "pgd", {"eps": 0.05, "random_start": True}, x, y, peer, order=kwargs["order"])
    with pytest.raises(ValueError, match="attack must be one of"):
        check_attack(model, "cw", {}, x, y, peer, order=kwargs["order"])
