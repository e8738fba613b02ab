"""Sharmin-study ANNs: VGG5 / VGG11 / ResNet20 specs against the paper's text, shapes, seeds, blocks."""

from __future__ import annotations

import numpy as np
import pytest

from refsnn import autograd as ag
from refsnn.autograd import Tensor
from refsnn.models import BasicBlock, build_ann, resnet20, resnet_spec, vgg5, vgg11, vgg_spec
from refsnn.nn import BatchNorm2d, Identity, ReLU


def test_vgg5_spec_is_the_papers_topology():
    """conv3,64-avgpool-conv3,128(×2)-avgpool-fc1024(×2)-fc10, dropout after ReLUs not before a pool."""
    expected = [
        ("conv", 3, 64, 3, 1, 1), ("relu",), ("avgpool", 2),
        ("conv", 64, 128, 3, 1, 1), ("relu",), ("dropout", 0.2),
        ("conv", 128, 128, 3, 1, 1), ("relu",), ("avgpool", 2),
        ("flatten",),
        ("linear", 128 * 8 * 8, 1024), ("relu",), ("dropout", 0.5),
        ("linear", 1024, 1024), ("relu",), ("dropout", 0.5),
        ("linear", 1024, 10),
    ]
    assert vgg_spec("vgg5", (3, 32, 32), 10) == expected


def _dropout_rule_holds(spec):
    for i, entry in enumerate(spec):
        if entry[0] == "relu":
            nxt = spec[i + 1][0] if i + 1 < len(spec) else None
            if (nxt == "dropout") == (nxt == "avgpool" or nxt is None):
                return False
    return True


@pytest.mark.parametrize("spec", [vgg_spec("vgg5"), vgg_spec("vgg11", (3, 32, 32), 100),
                                  vgg_spec("vgg11", (1, 28, 28)), resnet_spec((1, 28, 28))])
def test_dropout_after_every_relu_not_followed_by_pooling(spec):
    assert _dropout_rule_holds(spec)


def test_vgg11_is_config_a_with_average_pooling():
    spec = vgg_spec("vgg11", (3, 32, 32), 100)
    convs = [e[2] for e in spec if e[0] == "conv"]
    assert convs == [64, 128, 256, 256, 512, 512, 512, 512]
    assert [e[0] for e in spec].count("avgpool") == 5
    assert [e[1:] for e in spec if e[0] == "linear"] == [(512, 4096), (4096, 4096), (4096, 100)]
    small = vgg_spec("vgg11", (1, 28, 28), 10, hidden=32)  # 28 → 14 → 7 → 3 → 1: the fifth pool is left out
    assert [e[0] for e in small].count("avgpool") == 4
    assert [e[1:] for e in small if e[0] == "linear"][0] == (512, 32)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_vgg_forward_shapes_no_bias_no_bn(shape):
    net = vgg5(in_shape=shape, num_classes=7, rng=0)
    assert net(np.zeros((2,) + shape, np.float32)).shape == (2, 7)
    names = [n for n, _ in net.named_parameters()]
    assert all(n.endswith(".weight") for n in names)
    assert not any(isinstance(m, BatchNorm2d) for m in net.modules())
    net11 = vgg11(in_shape=shape, num_classes=5, rng=0, hidden=16)
    assert net11(np.zeros((1,) + shape, np.float32)).shape == (1, 5)
    assert len([n for n in net11.state_dict()]) == 11  # 8 conv + 3 fc weights, nothing else


def test_seeded_init_and_pytorch_numbering():
    a, b, c = vgg5(rng=3), vgg5(rng=3), vgg5(rng=4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert list(sa) == ["0.weight", "3.weight", "6.weight", "10.weight", "13.weight", "16.weight"]
    assert sa["0.weight"].shape == (64, 1, 3, 3) and sa["10.weight"].shape == (1024, 128 * 7 * 7)
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)
    assert not np.array_equal(sa["0.weight"], sc["0.weight"])
    bound = 1 / np.sqrt(9)  # PyTorch default: U(−1/√fan_in, 1/√fan_in)
    assert 0.9 * bound < np.abs(sa["0.weight"]).max() <= bound


def test_builders_override_a_kind():
    net = build_ann(vgg_spec("vgg5", hidden=8), rng=0, builders={"relu": lambda a, g, d: Identity()})
    assert not any(isinstance(m, ReLU) for m in net.modules())
    with pytest.raises(ValueError, match="unknown kind 'spiking'"):
        build_ann([("spiking",)])


def test_resnet20_structure():
    spec = resnet_spec((3, 32, 32), 10)
    blocks = [e for e in spec if e[0] == "block"]
    assert len(blocks) == 9 and [e[2] for e in blocks] == [16] * 3 + [32] * 3 + [64] * 3
    assert [e[3] for e in blocks] == [1, 1, 1, 2, 1, 1, 2, 1, 1]
    assert [e for e in spec if e[0] == "conv"] == [("conv", 3, 16, 3, 1, 1), ("conv", 16, 16, 3, 1, 1)]
    assert spec[-3:] == [("avgpool", 8), ("flatten",), ("linear", 64, 10)]
    net = resnet20(in_shape=(1, 28, 28), num_classes=10, rng=0)
    shapes = [tuple(v.shape) for v in net.state_dict().values()]
    assert len([s for s in shapes if s[2:] == (3, 3)]) == 2 + 18
    assert len([s for s in shapes if s[2:] == (1, 1)]) == 2  # projection shortcuts
    assert net(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 10)


def test_basic_block_by_hand():
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 5)).astype(np.float32)
    blk = BasicBlock(4, 4, 1, rng=0).eval()
    w1, w2 = blk.conv1.weight, blk.conv2.weight
    with ag.no_grad():
        h = ag.relu(ag.conv2d(Tensor(x), w1, None, 1, 1))
        expected = np.maximum(ag.conv2d(h, w2, None, 1, 1).data + x, 0)
        np.testing.assert_allclose(blk(x).data, expected, rtol=1e-6, atol=1e-6)
        down = BasicBlock(4, 8, 2, rng=0).eval()
        h = ag.relu(ag.conv2d(Tensor(x), down.conv1.weight, None, 2, 1))
        skip = ag.conv2d(Tensor(x), down.shortcut.weight, None, 2, 0).data
        expected = np.maximum(ag.conv2d(h, down.conv2.weight, None, 1, 1).data + skip, 0)
        np.testing.assert_allclose(down(x).data, expected, rtol=1e-6, atol=1e-6)


def test_gradient_reaches_the_first_layer():
    net = resnet20(in_shape=(1, 8, 8), num_classes=3, rng=0, widths=(4, 8), blocks=1)
    loss = ag.cross_entropy(net(np.full((2, 1, 8, 8), 0.5, np.float32)), np.array([0, 2]))
    loss.backward()
    assert np.abs(net[0].weight.grad).max() > 0


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="unknown arch"):
        vgg_spec("vgg16")
    with pytest.raises(ValueError, match="in_shape"):
        vgg5(in_shape=(28, 28))
    with pytest.raises(ValueError, match="num_classes"):
        resnet_spec((1, 28, 28), num_classes=1)
    with pytest.raises(ValueError, match="square"):
        resnet_spec((1, 28, 20))


def test_every_builder_needs_an_explicit_rng():
    # no hidden global random state: None is refused instead of drawing an unseeded init
    for build in (lambda: vgg5(rng=None), lambda: resnet20(in_shape=(1, 28, 28), rng=None),
                  lambda: BasicBlock(4, 4, rng=None)):
        with pytest.raises(TypeError, match="needs rng"):
            build()
