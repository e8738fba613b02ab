"""The CuPy backend: CUDA kernels with the same names and signatures as ``refsnn/kernels``.

Use it through refsnn's backend switch — nothing else changes::

    REFSNN_BACKEND=cupy python examples/gamin.py

or by hand::

    import accel.cupy, refsnn.backend as rb
    accel.cupy.register()                          # imports CuPy, registers every kernel
    S, U = rb.kernel("lif_delayed_forward", "cupy")(X_gpu, 0.7, 1.0, 0)

Modules:

* :mod:`accel.cupy.forms` — forms 1–4 (every registered form of ``refsnn.neurons.forms``)
  from the one template of :mod:`accel.cupy._fused`
* :mod:`accel.cupy.noisy` — form 5, noisy LIF with host-drawn uniforms
* :mod:`accel.cupy.siegert` — the Siegert rate neuron (3-point Simpson over ``erfcx``)
* :mod:`accel.cupy.spikemm` — binary-spike × dense matrix products
* :mod:`accel.cupy.sdbn_sim` — the event-driven SDBN simulator (one thread per sample, bit-identical)

Importing this package does not import CuPy; :func:`register` does.
"""

from __future__ import annotations

import importlib

KERNEL_MODULES = ("forms", "noisy", "siegert", "spikemm", "sdbn_sim")

__all__ = ["register", "kernel_table", "declared_kernels", "import_kernel_modules", "KERNEL_MODULES"]


def import_kernel_modules() -> list:
    """Import every kernel module (sources and wrappers; no CuPy import happens)."""
    return [importlib.import_module(f"{__name__}.{name}") for name in KERNEL_MODULES]


def kernel_table() -> dict:
    """``{kernel name: CuPy wrapper}`` over every kernel module."""
    table = {}
    for mod in import_kernel_modules():
        for name, fn in mod.KERNELS.items():
            if name in table:
                raise RuntimeError(f"accel.cupy: kernel {name!r} declared twice (in {mod.__name__})")
            table[name] = fn
    return table


def declared_kernels() -> list[str]:
    """Sorted names of the kernels this backend provides."""
    return sorted(kernel_table())


def register() -> None:
    """Import CuPy and register every kernel with ``refsnn.backend`` under backend ``"cupy"``.

    Raises ``ImportError`` naming ``pip install -e .[cupy]`` when CuPy is
    missing, and ``RuntimeError`` when no CUDA device answers.
    """
    from accel.cupy._core import cp
    from refsnn.backend import register_kernel

    cupy = cp()
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:
        raise RuntimeError(f"accel.cupy: CuPy is installed but CUDA is not usable: {exc}") from exc
    if count < 1:
        raise RuntimeError("accel.cupy: CuPy is installed but no CUDA device was found")
    for name, fn in kernel_table().items():
        register_kernel("cupy", name, fn)
