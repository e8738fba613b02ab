"""Where the accel tests run a kernel: the host emulator (``emu``) or a real GPU (``gpu``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import accel

NO_GPU_REASON = "no CUDA GPU / CuPy"


def gpu_available() -> bool:
    """True when CuPy imports and a CUDA device answers (``accel.available()``)."""
    return "cupy" in accel.available()


@dataclass
class Device:
    """``put`` (host → device), ``get`` (device → host), ``kernel(name)`` (the accel.cupy wrapper)."""

    kind: str  # "emu" or "gpu"
    cupy: object

    def put(self, a):
        if a is None:
            return None
        return np.array(a, copy=True) if self.kind == "emu" else self.cupy.asarray(a)

    def get(self, a):
        if a is None:
            return None
        return np.asarray(a) if self.kind == "emu" else self.cupy.asnumpy(a)

    def kernel(self, name: str):
        from accel.cupy import kernel_table

        return kernel_table()[name]
