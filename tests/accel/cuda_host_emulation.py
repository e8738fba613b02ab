"""Run the CuPy backend's CUDA kernels on the CPU: a test double for ``cupy`` without a GPU.

The kernels in ``accel/cupy`` are plain C++ templates (one thread per item,
1-D launches, no shared memory, no atomics), so the very source strings that
CuPy would hand to NVRTC also compile with ``g++`` once a small shim defines
``__global__``/``__device__`` away and provides ``blockIdx``/``threadIdx``
as globals.  For each ``name<F>`` the emulator generates an ``extern "C"``
driver that loops over every block and thread and calls the kernel, builds a
shared library, and calls it through ``ctypes``.

:func:`fake_cupy` returns a module object that stands in for ``cupy``:
``ndarray`` is ``numpy.ndarray``, array constructors are NumPy's, and
``RawModule(code=..., options=..., name_expressions=...)`` compiles ``code``
with the emulator.  Each emulated launch checks every argument against the
kernel's C signature — pointer element types against array dtypes, scalar
types exactly (``np.int32`` for ``int``, ``np.int64`` for ``long long``,
``np.float32``/``np.float64`` for ``F``), C-contiguity — which a real launch
would not, so marshalling mistakes show up here as errors rather than
garbage on the GPU.

What this cannot show: GPU timing, memory coalescing, races between threads
(every thread here runs to completion in order), and CUDA's own ``expf`` /
``erfcx`` rounding (the host libm is used; the shim's ``erfcx`` is a separate
implementation).  Those need the ``gpu``-marked tests on real hardware.
"""

from __future__ import annotations

import ctypes
import hashlib
import re
import shutil
import subprocess
import tempfile
import types
from pathlib import Path

import numpy as np

SHIM = r"""
#include <cmath>
#include <cstdint>
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
struct rs_dim3 { unsigned int x, y, z; };
static rs_dim3 blockIdx, threadIdx, blockDim, gridDim;

// erfcx(x) = exp(x^2) erfc(x): direct for small |x|, Lentz continued fraction for x >= 2.
static inline double erfcx(double x) {
    if (x < 2.0) {
        if (x < -26.0) return HUGE_VAL;
        return std::exp(x * x) * std::erfc(x);
    }
    // erfc(x) e^{x^2} = (1/sqrt(pi)) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
    const double tiny = 1e-300;
    double f = x, c = x, d = 0.0;
    for (int k = 1; k < 200; ++k) {
        double a = 0.5 * k;
        d = x + a * d; if (std::fabs(d) < tiny) d = tiny; d = 1.0 / d;
        c = x + a / c; if (std::fabs(c) < tiny) c = tiny;
        double delta = c * d;
        f *= delta;
        if (std::fabs(delta - 1.0) < 1e-16) break;
    }
    return 1.0 / (f * 1.7724538509055160273);
}
static inline float erfcxf(float x) { return (float)erfcx((double)x); }
"""

_KERNEL_RE = re.compile(
    r"template\s*<\s*typename\s+F\s*>\s*__global__\s+void\s+(\w+)\s*\(([^)]*)\)", re.S
)
_SCALARS = {"int": (np.int32, ctypes.c_int32), "long long": (np.int64, ctypes.c_int64),
            "float": (np.float32, ctypes.c_float), "double": (np.float64, ctypes.c_double),
            "unsigned int": (np.uint32, ctypes.c_uint32)}
_POINTEES = {"float": np.float32, "double": np.float64, "unsigned char": np.uint8,
             "int": np.int32, "long long": np.int64, "unsigned int": np.uint32}


def compiler() -> str | None:
    """Path of ``g++`` (None when absent)."""
    return shutil.which("g++")


def parse_kernels(code: str) -> dict[str, list[tuple[str, str]]]:
    """``{kernel name: [(C type with F, parameter name), ...]}`` for each ``template<F> __global__``."""
    out = {}
    for name, params in _KERNEL_RE.findall(code):
        plist = []
        for p in params.split(","):
            p = " ".join(p.split())
            m = re.match(r"(.*?)(\w+)$", p)
            plist.append((m.group(1).strip(), m.group(2)))
        out[name] = plist
    return out


def _ctype(ctype: str, f: str):
    t = re.sub(r"\bF\b", f, ctype).replace("const ", "").strip()
    if t.endswith("*"):
        base = t[:-1].strip()
        return ("ptr", _POINTEES[base])
    return ("scalar", _SCALARS[t])


class EmulatedKernel:
    """One ``name<F>`` driver: ``kernel((blocks,), (threads,), args)`` like ``cupy.RawKernel``."""

    def __init__(self, lib, expr: str, params):
        self.expr = expr
        name, f = expr[:-1].split("<")
        self.params = [(pname, _ctype(ct, f)) for ct, pname in params]
        self.fn = getattr(lib, f"rs_emu_{name}_{f}")
        self.fn.restype = None
        self.fn.argtypes = [ctypes.c_uint32, ctypes.c_uint32] + [
            ctypes.c_void_p if kind == "ptr" else spec[1] for _, (kind, spec) in self.params
        ]
        self.launches = 0

    def __call__(self, grid, block, args):
        if len(grid) != 1 or len(block) != 1:
            raise ValueError(f"{self.expr}: emulator supports 1-D launches only, got {grid} {block}")
        if len(args) != len(self.params):
            raise TypeError(f"{self.expr}: expected {len(self.params)} arguments, got {len(args)}")
        cargs = []
        for a, (pname, (kind, spec)) in zip(args, self.params):
            if kind == "ptr":
                if not isinstance(a, np.ndarray):
                    raise TypeError(f"{self.expr}: argument {pname} must be an array, got {type(a)}")
                if a.dtype != np.dtype(spec):
                    raise TypeError(f"{self.expr}: argument {pname} has dtype {a.dtype}, "
                                    f"kernel expects {np.dtype(spec)}")
                if not a.flags.c_contiguous:
                    raise ValueError(f"{self.expr}: argument {pname} is not C-contiguous")
                cargs.append(a.ctypes.data)
            else:
                if type(a) is not spec[0]:
                    raise TypeError(f"{self.expr}: argument {pname} must be {spec[0].__name__}, "
                                    f"got {type(a).__name__}")
                cargs.append(a)
        self.launches += 1
        self.fn(int(grid[0]), int(block[0]), *cargs)


_LIBS: dict[str, ctypes.CDLL] = {}
_BUILD_DIR = Path(tempfile.mkdtemp(prefix="refsnn-cuda-emu-"))


def build(code: str, name_expressions) -> dict[str, EmulatedKernel]:
    """Compile ``code`` with ``g++`` plus drivers for ``name_expressions``; returns the kernels."""
    kernels = parse_kernels(code)
    drivers = []
    for expr in name_expressions:
        name, f = expr[:-1].split("<")
        if name not in kernels:
            raise KeyError(f"name expression {expr!r}: no template kernel {name!r} in the source")
        params = kernels[name]
        sig = ", ".join(re.sub(r"\bF\b", f, ct) + " " + pn for ct, pn in params)
        call = ", ".join(pn for _, pn in params)
        drivers.append(
            f'extern "C" void rs_emu_{name}_{f}(unsigned int rs_grid, unsigned int rs_block, {sig}) {{\n'
            f"  gridDim.x = rs_grid; blockDim.x = rs_block;\n"
            f"  for (unsigned int b = 0; b < rs_grid; ++b) {{ blockIdx.x = b;\n"
            f"    for (unsigned int t = 0; t < rs_block; ++t) {{ threadIdx.x = t; {name}<{f}>({call}); }}\n"
            f"  }}\n}}\n"
        )
    full = SHIM + code + "\n" + "".join(drivers)
    key = hashlib.sha256(full.encode()).hexdigest()[:16]
    lib = _LIBS.get(key)
    if lib is None:
        src, so = _BUILD_DIR / f"{key}.cpp", _BUILD_DIR / f"{key}.so"
        src.write_text(full)
        cmd = [compiler() or "g++", "-std=c++17", "-O1", "-shared", "-fPIC", "-ffp-contract=off",
               "-o", str(so), str(src)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"host emulation: g++ failed on the CUDA source:\n{proc.stderr[-4000:]}")
        lib = _LIBS[key] = ctypes.CDLL(str(so))
    return {expr: EmulatedKernel(lib, expr, kernels[expr.split("<")[0]]) for expr in name_expressions}


class EmulatedRawModule:
    """Stands in for ``cupy.RawModule``: compiles ``code`` on the host, hands out kernels."""

    instances: list = []

    def __init__(self, code: str, options=(), name_expressions=()):
        self.code, self.options = code, tuple(options)
        self.kernels = build(code, list(name_expressions))
        EmulatedRawModule.instances.append(self)

    def get_function(self, expr: str) -> EmulatedKernel:
        if expr not in self.kernels:
            raise KeyError(f"{expr!r} was not among the name_expressions {sorted(self.kernels)}")
        return self.kernels[expr]


def fake_cupy() -> types.ModuleType:
    """A ``cupy`` stand-in backed by NumPy arrays and :class:`EmulatedRawModule`."""
    mod = types.ModuleType("cupy")
    mod.ndarray = np.ndarray
    mod.RawModule = EmulatedRawModule
    mod.asnumpy = np.asarray
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 1, getDevice=lambda: 0)
    mod.cuda = types.SimpleNamespace(runtime=runtime)
    mod.__getattr__ = lambda name: getattr(np, name)  # zeros, empty_like, asarray, float32, ...
    mod.__refsnn_emulated__ = True
    return mod
