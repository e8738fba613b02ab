"""Fine-tuning = clean training under the nominal values (checked against train_dual_spike with no mask)."""

import numpy as np

from refsnn.attacks.badsnn_train import train_dual_spike
from refsnn.defenses import finetune
from refsnn.models import nmnist_net

X = np.random.default_rng(0).random((10, 1, 8, 8), dtype=np.float32) * 2
Y = np.arange(10)


def test_finetune_is_clean_training_at_the_given_values():
    a, b, c = (nmnist_net(in_shape=(1, 8, 8), widths=(2, 2), rng=0) for _ in range(3))
    finetune(a, X, Y, epochs=1, batch_size=5, hyper=(1.1, 0.6), verbose=False)
    train_dual_spike(b, X, Y, np.zeros(10, bool), epochs=1, batch_size=5, nominal=(1.1, 0.6), verbose=False)
    finetune(c, X, Y, epochs=1, batch_size=5, hyper=(1.0, 0.5), verbose=False)
    pa, pb, pc = ([p.data for p in n.parameters()] for n in (a, b, c))
    assert all(np.array_equal(u, v) for u, v in zip(pa, pb))
    assert any(not np.array_equal(u, v) for u, v in zip(pa, pc))
