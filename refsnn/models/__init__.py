"""Seed architectures of the five studies.

* :func:`mlp` / :func:`gamin_ann` — the GAMIN-study ANN, 784-3000-10 with ReLU.
* :class:`GaminSNN` — the GAMIN-study SNN, 784-3000-10 LIF (delayed reset), rate-coded input;
  :func:`gamin_loss` / :func:`step_cross_entropy` — the paper's Σ_t CE(U2[t]) training loss.
* :func:`gamin_generator` / :func:`gamin_surrogate` — GAMIN's attacker networks G and S.
* :func:`vgg5`, :func:`vgg11`, :func:`resnet20` — the Sharmin-study ANNs (no bias, no BN), built by
  :func:`build_ann` from a layer spec (:func:`vgg_spec`, :func:`resnet_spec`).
* :class:`SpikingNet` (:func:`spiking_from_spec`, :func:`spiking_vgg`, :func:`spiking_resnet20`) — the
  time-first spiking conv nets of the same specs (any neuron, Poisson or direct input);
  :func:`convert` / :func:`to_lif` / :func:`train_hybrid` / :func:`train_ann` — SNN-conv and SNN-BP.
* :func:`tgo_vgg11`, :func:`wrn16` (:func:`tgo_neuron`) — TGO's spiking VGG-11 / WRN-16, T = 4, width.
* :class:`SiegertRBM`, :class:`SDBN` — the SDBN study's Siegert-unit RBMs (persistent CD) and the
  784-500-500-10 spiking DBN.
* :func:`resnet19`, :func:`vgg16`, :func:`nmnist_net` — BadSNN's form-3 spiking nets (V_thr/τ per call).
"""

from refsnn.models.badsnn_nets import BadSNNNet, PLIFThreshold, build_badsnn_net, nmnist_net, resnet19, vgg16
from refsnn.models.convert import balance_thresholds, convert, to_lif, train_ann, train_hybrid
from refsnn.models.gamin_gs import gamin_generator, gamin_surrogate
from refsnn.models.gamin_snn import GaminSNN, gamin_loss, step_cross_entropy
from refsnn.models.mlp import gamin_ann, mlp
from refsnn.models.rbm import RBMConfig, SiegertRBM
from refsnn.models.resnet import BasicBlock, resnet20, resnet_spec
from refsnn.models.sdbn import SDBN, normalise_rates
from refsnn.models.spiking import (
    LayerTrace,
    SpikingNet,
    copy_weights,
    neurons,
    spiking_from_spec,
    spiking_resnet20,
    spiking_vgg,
    weight_layers,
)
from refsnn.models.tgo_nets import data_init, tgo_neuron, tgo_vgg11, wrn16, wrn16_spec
from refsnn.models.vgg import build_ann, vgg5, vgg11, vgg_spec

__all__ = ["mlp", "gamin_ann", "GaminSNN", "gamin_loss", "step_cross_entropy",
           "gamin_generator", "gamin_surrogate",
           "build_ann", "vgg_spec", "vgg5", "vgg11", "resnet_spec", "resnet20", "BasicBlock",
           "SpikingNet", "LayerTrace", "spiking_from_spec", "spiking_vgg", "spiking_resnet20", "neurons",
           "weight_layers", "copy_weights", "convert", "balance_thresholds", "to_lif", "train_hybrid",
           "train_ann",
           "BadSNNNet", "PLIFThreshold", "resnet19", "vgg16", "nmnist_net", "build_badsnn_net",
           "SiegertRBM", "RBMConfig", "SDBN", "normalise_rates",
           "tgo_vgg11", "wrn16", "wrn16_spec", "tgo_neuron", "data_init"]
