"""Cross-validation: the same spiking network in snnTorch / SpikingJelly and in refsnn.

:func:`compare` builds ``Linear → neuron → Linear → neuron`` (see
:mod:`refsnn.crossval.spec`) in the torch framework with seeded weights,
moves the weights into refsnn through the torch ``state_dict`` (or a
``.safetensors`` file), feeds both the same input spikes ``[T, B, n0]``, and
reports the largest absolute and relative differences of the spikes and
membranes of every layer, the summed output membrane, the loss, and the
gradients with respect to the input spikes and to every parameter::

    >>> from refsnn.crossval import CrossvalConfig, compare, report     # doctest: +SKIP
    >>> cfgs = [CrossvalConfig(neuron="leaky", T=25, surrogate="fast_sigmoid"),
    ...         CrossvalConfig(neuron="plif", T=25, reset="soft", dtype="float64")]
    >>> print(report([compare(c.framework, c) for c in cfgs]))         # doctest: +SKIP

``import refsnn.crossval`` imports neither torch nor the frameworks; each
function that needs them imports them and, when they are missing, raises an
ImportError saying ``pip install -e .[crossval]``.  Versions checked:
torch 2.15, snnTorch 1.0.0, SpikingJelly 2.0.0.

Checking your own model: :func:`from_torch` imports a user's snnTorch /
SpikingJelly network (:mod:`refsnn.crossval.importer` lists the supported
parts and the time-loop convention), :func:`check` runs both and reports
layer by layer (:mod:`refsnn.crossval.check`), :func:`check_attack`
recomputes a torchattacks FGSM / PGD (:mod:`refsnn.crossval.attack_check`);
``refsnn crossval MODEL.py:ATTR`` is the command line.

Semantic differences (each verified by experiment; tests in ``tests/crossval``)
----------------------------------------------------------------------------

1. **Fire condition.**  snnTorch fires on ``U − θ > 0`` (every surrogate's
   forward is ``(x > 0).float()``); SpikingJelly on ``H − V_th ≥ 0``.  refsnn
   follows each: form 1 strict, form 4 non-strict.  A membrane landing exactly
   on the threshold (snnTorch β = 0.5, X = 1 → U = 1; SpikingJelly τ = 2,
   X = 2 → H = 1) does not spike in snnTorch and spikes in SpikingJelly.
2. **When snnTorch resets.**  ``Leaky`` (``reset_delay=True``, the default)
   starts step t with ``R[t] = Θ(U[t−1] − θ)`` computed by ``mem_reset`` from
   a *detached* spike of the previous membrane, then updates
   ``U[t] = clamp(β,0,1)·U[t−1] + X[t] − R[t]·θ`` (zero: ``β·(1 − R[t])·U[t−1]
   + X[t]``) and fires ``S[t] = Θ(U[t] − θ)`` — DESIGN form 1.  So the
   returned ``mem`` is ``U[t]``, which can sit above θ at a spike step.
   ``reset_delay=False`` (reset in the same step) is not form 1 and is not
   cross-validated.
3. **Which membrane.**  snnTorch returns ``U[t]`` (the value compared with θ),
   refsnn form 1 the same.  SpikingJelly records ``v_seq = V[t]``, the
   membrane *after* the reset (``V_reset`` at hard-reset spike steps) and
   never exposes ``H[t]``; refsnn form 4 returns ``H[t]``.  The harness
   recomputes ``V`` from refsnn's ``(H, S)`` with SpikingJelly's reset
   (:func:`refsnn.crossval.refsnn_nets.sj_post_reset`, autograd ops, ``S``
   detached when ``detach_reset``), so losses on the membrane agree too.
4. **detach_reset.**  snnTorch always detaches the reset (no option):
   gradient reaches ``U[t−1]`` only through ``β·U[t−1]`` (zero reset: gated by
   ``(1 − R[t])``), never through ``R``.  SpikingJelly's ``detach_reset``
   (default False) detaches ``S`` inside the reset only: when False the
   surrogate of ``S`` also carries ``∂V/∂S`` (hard: ``V_reset − H``; soft:
   ``−V_th``).  refsnn defaults to each source's choice (form 1 True,
   form 4 False).  A config asking snnTorch for ``detach_reset=False`` is
   refused.
5. **Surrogates** (``x = U − θ``).  snnTorch ``fast_sigmoid(slope=k)``:
   ``1/(k|x| + 1)²`` (default k = 25); ``atan(alpha)``: ``(α/2)/(1 +
   (π/2·α·x)²)`` (default α = 2; ``Leaky``'s default ``spike_grad``);
   ``sigmoid(slope)``: ``slope·e^(−slope·x)/(e^(−slope·x) + 1)²`` (default
   25), which **overflows to NaN** once ``−slope·x`` exceeds ~88.7 (float32)
   or ~709.8 (float64): snnTorch's input gradient is NaN wherever a membrane
   sits more than ``88.7/slope`` below θ (3.55 for slope 25) in float32.
   refsnn's ``Sigmoid(alpha)`` (``α·σ(αx)(1 − σ(αx))``, SpikingJelly's form,
   default α = 4) stays finite; :func:`diff_stats` counts such entries as
   ``nonfinite_framework``.  SpikingJelly ``ATan`` equals snnTorch ``atan``.
6. **Initial state and hidden state.**  ``Leaky(init_hidden=False)`` keeps its
   last ``mem`` in a buffer and reuses it on the next call whenever
   ``mem=None`` and the shape is unchanged, so state leaks between batches
   unless ``mem`` is passed (the harness passes zeros) or ``reset_mem()`` is
   called.  With ``init_hidden=True`` the state lives in the instance, a
   ``mem`` argument is a TypeError, and the call returns ``spk`` alone unless
   ``output=True`` (then ``(spk, mem)``).  SpikingJelly nodes likewise keep
   ``v`` across calls (``functional.reset_net(net)`` clears it); they start
   from ``V[0] = v_reset`` (hard) or ``0`` (soft) — refsnn form 4 the same.
7. **Parameter ranges.**  snnTorch silently clamps β to ``[0, 1]`` in every
   forward; refsnn (and :class:`CrossvalConfig`) reject β outside it.
   SpikingJelly asserts ``tau`` is a Python float > 1 (``tau=2`` fails);
   refsnn accepts τ ≥ 1.
8. **dtype.**  snnTorch spikes are always float32 (``.float()``), even in a
   ``.double()`` net: the next Linear needs a cast, and the gradient reaching
   every surrogate is rounded to float32, so float64 snnTorch gradients agree
   with refsnn only to ~1e-7 relative (membranes to 1e-15).  β and θ given as
   Python floats become float32 buffers that ``.double()`` widens
   (``float32(0.7) ≠ 0.7``); the builders pass float64 tensors.
9. **SpikingJelly 2.0 code paths.**  There is no ``backend=`` argument any
   more: on CPU, float32 runs a registered fused operator with a hand-written
   BPTT, other dtypes the plain-torch reference loop under autograd — the
   float32 and float64 comparisons check different SpikingJelly code.  It
   charges with ``(X − (V − V_r))/τ``; refsnn multiplies by ``k = 1/τ``: a
   one-ulp difference for τ not a power of two, never a spike flip in the
   sweeps below.
10. **PLIF.**  ``ParametricLIFNode.w`` is one 0-d parameter per layer
    (``state_dict`` name ``w``, ``w0 = −ln(τ0 − 1)``, ``1/τ = σ(w)``); refsnn's
    ``PLIF.w`` has the same name and shape.  ``∂L/∂w`` is a sum over
    ``T·B·N`` terms with heavy cancellation: in float32 refsnn and
    SpikingJelly each land ~1e-6 (absolute) from the float64 value, so a
    tiny ``∂L/∂w`` can show a large *relative* float32 difference.
11. **Names.**  Parameters use the torch ``Sequential`` names (``0.weight``,
    ``0.bias``, ``1.w``, ...).  snnTorch's ``state_dict`` also holds the
    ``Leaky`` buffers ``beta``, ``threshold``, ``graded_spikes_factor`` and
    ``reset_mechanism_val``; refsnn keeps those as constructor arguments, so
    :func:`refsnn.crossval.refsnn_nets.split_state` checks them against the
    config and drops them before ``load_state_dict(strict=True)``.

Measured: a sweep of 1968 networks (T = 1, 5, 25; β ∈ {0, .5, .9, 1},
θ ∈ {.5, 1, 2}, both resets, three surrogates; τ ∈ {1.5, 2, 3, 10}, hard/soft,
decay_input and detach_reset both ways, LIFNode and PLIF; float32 and
float64) gave **no spike mismatch**.  Worst ``max_abs / max(1, |ref|max)``
over membranes/outputs and over gradients (input, weights, PLIF ``w``):

==============  ==========  ==========  ==========  ==========
                 snnTorch    snnTorch     SJ           SJ
                 float32     float64      float32      float64
membranes        1.6e-7      3.2e-16      2.4e-7       4.6e-16
gradients        4.0e-5      1.1e-7 (8.)  3.6e-6       1.2e-14
==============  ==========  ==========  ==========  ==========

(The 4.0e-5 is β = 1, θ = 2, T = 25, membranes up to ~130: both float32
results are 2–6e-5 from the float64 value.)  The 86 configs left out are
snnTorch's sigmoid surrogate producing NaN (item 5).  Metrics:
:func:`diff_stats`; tolerances used by the tests: spikes identical,
membranes 1e-5 and gradients 1e-4 (float32), scaled by ``max(1, |ref|max)``.
"""

from refsnn.crossval._deps import INSTALL_HINT, require
from refsnn.crossval.attack_check import ImportedClassifier, check_attack, format_attack, run_torchattacks
from refsnn.crossval.check import check
from refsnn.crossval.check_report import format_check
from refsnn.crossval.compare import (
    compare,
    compare_neuron,
    diff_stats,
    report,
    summarize,
    within,
    write_json,
)
from refsnn.crossval.importer import ImportedSNN, from_torch
from refsnn.crossval.spec import CrossvalConfig, make_data

__all__ = [
    "CrossvalConfig",
    "make_data",
    "compare",
    "compare_neuron",
    "diff_stats",
    "within",
    "report",
    "summarize",
    "write_json",
    "require",
    "INSTALL_HINT",
    "from_torch",
    "ImportedSNN",
    "check",
    "format_check",
    "check_attack",
    "format_attack",
    "run_torchattacks",
    "ImportedClassifier",
]
