"""refsnn — a reference implementation of security and privacy studies of spiking neural networks.

NumPy autograd-lite and Numba kernels define the exact semantics of every
neuron, model, attack, defense and metric.  ``import refsnn`` imports neither
torch nor CuPy.
"""

from refsnn.autograd import Function, Tensor, no_grad

__version__ = "0.1.0"

__all__ = ["Tensor", "Function", "no_grad", "__version__"]
