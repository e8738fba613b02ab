"""Event-driven SDBN simulator on the CuPy backend — a host fallback for now, no CUDA kernel yet.

Same name, signature and results as :func:`refsnn.kernels.sdbn_sim.sdbn_sim_forward`::

    sdbn_sim_forward(ev_ptr, ev_step, ev_idx, W_flat, w_off, c_flat, sizes, n_steps,
                     a, v_th, v_reset, v_rest, n_ref, release, seed, record_every)
        -> (counts, events, trace, V)

It copies any CuPy inputs to the host, runs the reference Numba kernel and
returns the results as CuPy arrays, so the ``cupy`` backend runs the SDBN
simulation (bit-identical to the reference, at host speed).  The CUDA version
(one thread per sample, the same loop, ``--fmad=false``) is future work.
"""

from __future__ import annotations

from accel.cupy._core import cp
from refsnn.kernels.sdbn_sim import sdbn_sim_forward as _host_kernel


def _host(a):
    return a.get() if hasattr(a, "get") and hasattr(a, "__cuda_array_interface__") else a


def sdbn_sim_forward(ev_ptr, ev_step, ev_idx, W_flat, w_off, c_flat, sizes, n_steps, a, v_th, v_reset,
                     v_rest, n_ref, release, seed, record_every):
    """Host fallback: the reference kernel on host copies, results moved to the device."""
    arrays = [_host(x) for x in (ev_ptr, ev_step, ev_idx, W_flat, w_off, c_flat, sizes, release)]
    ev_ptr, ev_step, ev_idx, W_flat, w_off, c_flat, sizes, release = arrays
    out = _host_kernel(ev_ptr, ev_step, ev_idx, W_flat, w_off, c_flat, sizes, n_steps, a, v_th, v_reset,
                       v_rest, n_ref, release, seed, record_every)
    return tuple(cp().asarray(o) for o in out)


KERNELS = {"sdbn_sim_forward": sdbn_sim_forward}
