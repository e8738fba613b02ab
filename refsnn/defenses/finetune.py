"""Fine-tuning defense: a few epochs of clean training on a small clean set (BadSNN Table 2, 5% of the data).

The backdoored model is trained in place with plain cross-entropy under the
nominal neuron values ``S_n`` (no poisoned mask — :func:`train_dual_spike`
with an empty mask is exactly ``CE(F(x; S_n), y)``).  Fine-tuning erases a
backdoor only insofar as clean gradients overwrite what the poisoned samples
wrote; BadSNN's claim is that a hyperparameter backdoor survives it.

>>> import numpy as np
>>> from refsnn.models.badsnn_nets import nmnist_net
>>> net = nmnist_net(in_shape=(1, 8, 8), widths=(2, 2), rng=0)
>>> x = np.random.default_rng(0).random((8, 1, 8, 8), dtype=np.float32)
>>> len(finetune(net, x, np.arange(8) % 10, epochs=1, verbose=False))
1
"""

from __future__ import annotations

from refsnn.attacks.badsnn_train import train_dual_spike

__all__ = ["finetune"]


def finetune(model, x_clean, y_clean, *, epochs=2, lr=1e-3, batch_size=64, seed=0, hyper=(1.0, 0.5),
             verbose=True, out=None) -> list[dict]:
    """Fine-tune ``model`` in place on ``(x_clean, y_clean)`` under ``hyper``; returns the epoch records."""
    return train_dual_spike(model, x_clean, y_clean, None, epochs=epochs, batch_size=batch_size, lr=lr,
                            seed=seed, nominal=hyper, malicious=hyper, verbose=verbose, out=out)
