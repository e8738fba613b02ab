"""Form 5 — noisy LIF (TGO): stochastic firing with probability F((H − θ)/T_noise); the whole form.

Per neuron, over ``t = 1..T`` from ``V[0] = 0`` (the charge of form 2, immediate reset)::

    H[t] = λ·V[t-1] + X[t]
    z[t] = (H[t] − θ)/T_noise,  p[t] = F(z[t])
    noise "logistic" (0, the default): F = σ(z) = 1/(1 + e^{−z}),  F' = σ(1 − σ)
    noise "gaussian" (1, TGO's NLIF):  F = Φ(z) = erfc(−z/√2)/2,    F' = φ(z) = e^{−z²/2}/√(2π)
    (Gaussian membrane noise η ~ N(0, σ²) before the threshold fires with P(H + η > θ) =
    Φ((H − θ)/σ): ``T_noise`` is then the noise std σ.)
    mode 0  "threshold"   S[t] = Θ(H[t] − θ)         (evaluation, the default; Θ strict)
    mode 1  "bernoulli"   S[t] = [u[t] < p[t]]       (training; u ~ U(0,1), one [T, N] draw)
    mode 2  "expectation" S[t] = p[t]                (the smooth mean-field twin, gradcheck)
    soft (Reset.SOFT): V[t] = H[t] − θ·S[t];   hard (Reset.HARD): V[t] = (1 − S[t])·H[t] + S[t]·V_reset

Gradient "through the expectation": every mode uses ``dS/dH = dp/dH = F'(z)/T_noise``
(exact in mode 2).  BPTT with ``δV[t] = λ·δH[t+1]``, ``δV[T] = 0``, ``g[t] = F'(z[t])/T_noise``::

    δH[t] = gH[t] + g[t]·(gS[t] + [not detach]·δV[t]·∂V/∂S) + δV[t]·∂V/∂H
    soft: ∂V/∂H = 1, ∂V/∂S = −θ;   hard: ∂V/∂H = 1 − S[t], ∂V/∂S = V_reset − H[t];   dX = δH

Kernels (``numpy`` backend; ``accel.cupy.noisy`` mirrors them with this file's ``CUDA_SOURCE``)::

    noisy_lif_forward(X, U, lam, theta, t_noise, reset, v_reset, mode, noise=0) -> (S, H)
    noisy_lif_backward(gS, gH, S, H, lam, theta, t_noise, reset, v_reset, detach_reset,
                       noise=0) -> dX

``X`` [T,N] float32/64 C-contiguous; ``U`` [T,N] uniforms in [0,1) in X's dtype for mode 1
(ignored, may be None, otherwise); ``S`` in X's dtype (0/1, or ``p`` in mode 2); non-finite
``X`` are counted in the forward's pass and raise.  This form keeps its own loops (they share
the reset and the recurrence ``bptt_delta`` of :mod:`refsnn.kernels._common`): the Bernoulli
test and the float64 probability do not fit the shared fused loop of forms 1–4.

Precision.  ``λ, θ, V_reset`` are cast to X's dtype and the charge/reset arithmetic runs in
that dtype; ``p`` and ``g`` are computed in float64 from ``float64(H)`` (``σ`` as
``1/(1+e^{−z})`` for ``z ≥ 0``, ``e^{z}/(1+e^{z})`` otherwise) and the Bernoulli test is
``float64(u) < p``, so kernel, twin and GPU take identical spike decisions given the same
``U``; ``g`` is rounded to X's dtype before the recursion.  ``p = 0`` never fires, ``p = 1``
always does.  The uniforms come from the caller's explicit ``numpy.random.Generator``.

The layer: with ``detach_reset=True`` (form 2's default) the reset carries no gradient; the
membrane returned on request is ``H`` (what TGO's threshold-guarding loss pushes away from
θ).  Defaults ``λ = 0.5, θ = 1, T_noise = 0.1`` are placeholders (SpikingJelly's τ = 2
decay); the TGO example sets its own.  ``x`` is ``[T, B, ...]``; spikes and membrane have
its shape and dtype.

>>> x = np.full((4, 1, 3), 0.7, np.float32)
>>> s = noisy_lif(x, lam=1.0, theta=1.0, t_noise=0.1, training=False)
>>> s.data[:, 0, 0].tolist()
[0.0, 1.0, 1.0, 0.0]
>>> X = np.full((3, 2), 0.6, np.float32)                   # the kernel, threshold mode
>>> noisy_lif_forward(X, None, 1.0, 1.0, 0.1, 0, 0.0, 0)[0].ravel().tolist()
[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from refsnn.autograd import Function, Tensor
from refsnn.backend import kernel_for, register_kernel, xp_of
from refsnn.kernels._common import (
    BLOCK,
    SOFT,
    bptt_delta,
    bptt_twin_step,
    check_input,
    check_reset,
    empty_out,
    forward_done,
    grad_arg,
    n_blocks,
    reset_membrane,
    reset_nb,
    spikes_arg,
    typed,
)
from refsnn.kernels.codes import reset_code
from refsnn.neurons.base import SpikingNeuron, apply_fused, as_time_input, flat_time
from refsnn.neurons.surrogate import Sigmoid
from refsnn.nn.init import as_generator
from refsnn.validation import check_interval, check_mode, check_positive, check_real

MODE_THRESHOLD, MODE_BERNOULLI, MODE_EXPECTATION = 0, 1, 2
MODES = {"threshold": MODE_THRESHOLD, "bernoulli": MODE_BERNOULLI, "expectation": MODE_EXPECTATION}
NOISE_LOGISTIC, NOISE_GAUSSIAN = 0, 1
NOISES = {"logistic": NOISE_LOGISTIC, "gaussian": NOISE_GAUSSIAN}
_GAUSSIAN = NOISE_GAUSSIAN
_SQRT2, _INV_SQRT2PI = math.sqrt(2.0), 1.0 / math.sqrt(2.0 * math.pi)
_BERNOULLI, _EXPECTATION = MODE_BERNOULLI, MODE_EXPECTATION


def _check_mode(where: str, mode) -> int:
    if isinstance(mode, (int, np.integer)) and not isinstance(mode, bool) and mode in (0, 1, 2):
        return int(mode)
    return check_mode(where, "mode", mode, MODES)


def _check_t_noise(where: str, t_noise) -> float:
    return check_positive(where, "t_noise", t_noise)


def check_noise(where: str, noise) -> int:
    """The noise code: 0 / ``"logistic"`` or 1 / ``"gaussian"``."""
    if isinstance(noise, (int, np.integer)) and not isinstance(noise, bool) and noise in (0, 1):
        return int(noise)
    return check_mode(where, "noise", noise, NOISES)


def fire_prob_np(z: np.ndarray, noise: int) -> tuple[np.ndarray, np.ndarray]:
    """``(F(z), F'(z))`` in float64 for the noise code (the twins' and ``step``'s formula)."""
    z = np.asarray(z, dtype=np.float64)
    if noise == NOISE_GAUSSIAN:
        from scipy.special import erfc

        return 0.5 * erfc(-z / _SQRT2), _INV_SQRT2PI * np.exp(-0.5 * z * z)
    p = _sigmoid64_np(z)
    return p, p * (1.0 - p)


def _sigmoid64_np(z: np.ndarray) -> np.ndarray:
    """σ(z) in float64, the two-branch stable form used by the kernel."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# ----------------------------------------------------------------- NumPy twins


def noisy_lif_forward_twin(X, U, lam, theta, t_noise, reset, v_reset, mode, noise=0):
    """Readable forward: ``(S, H)`` (see module docstring)."""
    T, N = X.shape
    lam, theta, v_reset, one = typed(X.dtype, lam, theta, v_reset, 1)
    th64, tn = np.float64(theta), np.float64(t_noise)
    H = np.empty_like(X)
    S = np.empty_like(X)
    v = np.zeros(N, dtype=X.dtype)
    for t in range(T):
        h = lam * v + X[t]
        H[t] = h
        if mode == MODE_THRESHOLD:
            S[t] = h > theta
        else:
            p = fire_prob_np((h.astype(np.float64) - th64) / tn, noise)[0]
            S[t] = U[t].astype(np.float64) < p if mode == MODE_BERNOULLI else p
        v = reset_membrane(h, S[t], theta, v_reset, reset)
    return S, H


def noisy_lif_backward_twin(gS, gH, S, H, lam, theta, t_noise, reset, v_reset, detach_reset,
                            noise=0):
    """Readable BPTT: ``dX`` (see module docstring)."""
    T, N = H.shape
    lam, theta, v_reset, one = typed(H.dtype, lam, theta, v_reset, 1)
    th64, tn = np.float64(theta), np.float64(t_noise)
    dX = np.empty_like(H)
    d = np.zeros(N, dtype=H.dtype)  # δH[t+1]
    for t in reversed(range(T)):
        g = (fire_prob_np((H[t].astype(np.float64) - th64) / tn, noise)[1] / tn).astype(H.dtype)
        dv = lam * d  # δV[t]
        if reset == SOFT:
            ch, cs = one, -theta
        else:
            ch, cs = one - S[t], v_reset - H[t]
        d = bptt_twin_step(None if gH is None else gH[t], g, None if gS is None else gS[t],
                           dv, cs, ch, detach_reset)
        dX[t] = d
    return dX


# --------------------------------------------------------------- Numba kernels


@njit(cache=True, inline="always")
def _sigmoid64(z):
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@njit(cache=True, inline="always")
def _prob64(z, noise):
    if noise == _GAUSSIAN:
        return 0.5 * math.erfc(-z / _SQRT2)
    return _sigmoid64(z)


@njit(cache=True, inline="always")
def _density64(z, noise):
    if noise == _GAUSSIAN:
        return _INV_SQRT2PI * math.exp(-0.5 * z * z)
    p = _sigmoid64(z)
    return p * (1.0 - p)


@njit(parallel=True, cache=True)
def _forward_nb(X, U, lam, theta, t_noise, reset, v_reset, mode, noise, one, zero, S, H, bad):
    T, N = X.shape
    th64 = np.float64(theta)
    for blk in prange((N + BLOCK - 1) // BLOCK):
        n0 = blk * BLOCK
        m = min(N, n0 + BLOCK) - n0
        v = np.zeros(m, dtype=X.dtype)
        nonfinite = 0  # (x − x) ≠ 0 exactly when x is NaN or ±inf
        for t in range(T):
            for j in range(m):
                n = n0 + j
                x = X[t, n]
                nonfinite += (x - x) != zero
                h = lam * v[j] + x
                H[t, n] = h
                if mode == _BERNOULLI:
                    p = _prob64((np.float64(h) - th64) / t_noise, noise)
                    S[t, n] = one if np.float64(U[t, n]) < p else zero
                elif mode == _EXPECTATION:
                    S[t, n] = _prob64((np.float64(h) - th64) / t_noise, noise)  # p, rounded
                else:
                    S[t, n] = one if h > theta else zero
                v[j] = reset_nb(h, S[t, n], theta, v_reset, reset, one)
        bad[blk] = nonfinite


@njit(parallel=True, cache=True)
def _backward_nb(gS, has_gS, gH, has_gH, S, H, lam, theta, t_noise, reset, v_reset, detach,
                 noise, one, zero, dX):
    T, N = H.shape
    th64 = np.float64(theta)
    for blk in prange((N + BLOCK - 1) // BLOCK):
        n0 = blk * BLOCK
        m = min(N, n0 + BLOCK) - n0
        d = np.zeros(m, dtype=H.dtype)  # δH[t+1]
        g = np.empty(m, dtype=H.dtype)
        for i in range(T - 1, -1, -1):
            for j in range(m):
                g[j] = _density64((np.float64(H[i, n0 + j]) - th64) / t_noise, noise) / t_noise
            for j in range(m):
                n = n0 + j
                h = H[i, n]
                if reset == SOFT:
                    ch = one
                    cs = -theta
                else:
                    ch = one - S[i, n]
                    cs = v_reset - h
                delta = bptt_delta(gH[i, n] if has_gH else zero, g[j],
                                   gS[i, n] if has_gS else zero, lam * d[j],
                                   zero if detach else cs, ch)  # δ′ = δV[t] = λ·δH[t+1]
                d[j] = delta
                dX[i, n] = delta


def _uniforms(where: str, U, X, mode: int):
    if mode != MODE_BERNOULLI:
        return np.zeros((1, 1), X.dtype)
    if not isinstance(U, np.ndarray):
        raise TypeError(f"{where}: mode 1 (bernoulli) needs U, a numpy.ndarray of uniforms; "
                        f"got {type(U).__name__}")
    if U.shape != X.shape:
        raise ValueError(f"{where}: U has shape {U.shape}, expected {X.shape}")
    return np.ascontiguousarray(U, dtype=X.dtype)


def noisy_lif_forward(X, U, lam, theta, t_noise, reset, v_reset, mode, noise=0):
    """Fused forward: ``(S, H)`` in X's dtype (see module docstring)."""
    where = "noisy_lif_forward"
    check_input(where, X)
    reset = check_reset(where, reset)
    mode = _check_mode(where, mode)
    noise = check_noise(where, noise)
    tn = _check_t_noise(where, t_noise)
    U_ = _uniforms(where, U, X, mode)
    S, H = empty_out(X.shape, X.dtype), empty_out(X.shape, X.dtype)
    bad = np.zeros(n_blocks(X.shape[1]), dtype=np.int64)
    lam_, th, vr, one, zero = typed(X.dtype, lam, theta, v_reset, 1, 0)
    _forward_nb(X, U_, lam_, th, tn, reset, vr, mode, noise, one, zero, S, H, bad)
    forward_done(where, bad.sum())
    return S, H


def noisy_lif_backward(gS, gH, S, H, lam, theta, t_noise, reset, v_reset, detach_reset, noise=0):
    """Fused BPTT: ``dX [T,N]`` (see module docstring)."""
    where = "noisy_lif_backward"
    check_input(where, H)
    noise = check_noise(where, noise)
    reset = check_reset(where, reset)
    tn = _check_t_noise(where, t_noise)
    gS_, has_gS = grad_arg(where, "gS", gS, H)
    gH_, has_gH = grad_arg(where, "gH", gH, H)
    S_ = spikes_arg(where, S, H)
    one, zero, lam_, th, vr = typed(H.dtype, 1, 0, lam, theta, v_reset)
    dX = empty_out(H.shape, H.dtype)
    _backward_nb(gS_, has_gS, gH_, has_gH, S_, H, lam_, th, tn, reset, vr, bool(detach_reset),
                 noise, one, zero, dX)
    return dX


register_kernel("numpy", "noisy_lif_forward", noisy_lif_forward)
register_kernel("numpy", "noisy_lif_backward", noisy_lif_backward)

# The same forward and BPTT in CUDA (launched by accel.cupy.noisy).
CUDA_SOURCE = f"""
#define RS_NOISY_BERNOULLI {MODE_BERNOULLI}
#define RS_NOISY_EXPECTATION {MODE_EXPECTATION}
#define RS_NOISY_GAUSSIAN {NOISE_GAUSSIAN}
""" + r"""
// sigma(z) in double, the two-branch stable form of the reference.
__device__ __forceinline__ double sigmoid64(double z) {
    if (z >= 0.0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

// F(z) and F'(z) of the noise kind (logistic sigma or Gaussian Phi), in double.
__device__ __forceinline__ double noisy_prob64(double z, int noise) {
    if (noise == RS_NOISY_GAUSSIAN) return 0.5 * erfc(-z / 1.4142135623730951);
    return sigmoid64(z);
}
__device__ __forceinline__ double noisy_density64(double z, int noise) {
    if (noise == RS_NOISY_GAUSSIAN) return 0.3989422804014327 * exp(-0.5 * z * z);
    double p = sigmoid64(z);
    return p * (1.0 - p);
}

// Forward: one thread per neuron; S holds 0/1 (modes 0, 1) or p (mode 2) in F.
template <typename F>
__global__ void noisy_lif_forward(const F* X, const F* U, F* S, F* H, unsigned int* bad,
                                  long long T, long long N, F lam, F theta, double t_noise,
                                  int reset, F v_reset, int mode, int noise) {
    long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const F one = F(1), zero = F(0);
    const double th64 = (double)theta;
    unsigned int nonfinite = 0;
    F v = zero;
    for (long long t = 0; t < T; ++t) {
        long long i = t * N + n;
        F x = X[i];
        nonfinite += rs_nonfinite(x);
        F h = lam * v + x;
        H[i] = h;
        F s;
        if (mode == RS_NOISY_BERNOULLI) {
            double p = noisy_prob64(((double)h - th64) / t_noise, noise);
            s = ((double)U[i] < p) ? one : zero;
        } else if (mode == RS_NOISY_EXPECTATION) {
            s = (F)noisy_prob64(((double)h - th64) / t_noise, noise);
        } else {
            s = (h > theta) ? one : zero;
        }
        S[i] = s;
        v = rs_reset<F>(h, s, theta, v_reset, reset);
    }
    bad[n] = nonfinite;
}

// BPTT: one thread per neuron, t = T-1..0.
template <typename F>
__global__ void noisy_lif_backward(const F* gS, int has_gS, const F* gH, int has_gH,
                                   const F* S, const F* H, F* dX, long long T, long long N,
                                   F lam, F theta, double t_noise, int reset, F v_reset,
                                   int detach, int noise) {
    long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const F one = F(1), zero = F(0);
    const double th64 = (double)theta;
    F d = zero;
    for (long long i = T - 1; i >= 0; --i) {
        long long k = i * N + n;
        F h = H[k];
        F g = (F)(noisy_density64(((double)h - th64) / t_noise, noise) / t_noise);
        F dv = lam * d;
        F ch, cs;
        if (reset == RS_RESET_SOFT) {
            ch = one;
            cs = -theta;
        } else {
            ch = one - S[k];
            cs = v_reset - h;
        }
        F delta = bptt_delta<F>(has_gH ? gH[k] : zero, g, has_gS ? gS[k] : zero, dv, cs, ch,
                                detach);
        d = delta;
        dX[k] = delta;
    }
}
"""


# ------------------------------------------------------------ autograd Function and layer


def _check(where, lam, theta, t_noise, reset, v_reset):
    return (check_interval(where, "lam", lam, 0.0, 1.0, lo_open=True),
            check_positive(where, "theta", theta), check_positive(where, "t_noise", t_noise),
            reset_code(where, reset), check_real(where, "v_reset", v_reset))


class NoisyLIFFunction(Function):
    """One fused noisy-LIF layer: ``x [T, ...] → (S, H)``; backward gives ``dx``.

    Options: ``u`` (uniforms ``[T, N]`` for the Bernoulli mode, else None), ``lam``,
    ``theta``, ``t_noise``, ``reset`` (a :class:`~refsnn.kernels.codes.Reset`),
    ``v_reset``, ``mode`` (0 threshold, 1 Bernoulli, 2 expectation), ``detach_reset``,
    ``noise`` (0 logistic, 1 Gaussian).
    ``S`` comes back as floats in ``x``'s dtype (the kernel's own array).
    """

    def forward(self, x, *, u, lam, theta, t_noise, reset, v_reset, mode, detach_reset, noise=0):
        self.shape = x.shape
        X = flat_time(x)
        self.S, self.M = kernel_for("noisy_lif_forward", X)(
            X, u, lam, theta, t_noise, reset, v_reset, mode, noise)
        self.args = (lam, theta, t_noise, reset, v_reset, bool(detach_reset), noise)
        return self.S.reshape(self.shape), self.M.reshape(self.shape)

    def backward(self, gS, gH):
        gS = None if gS is None else flat_time(gS)
        gH = None if gH is None else flat_time(gH)
        dX = kernel_for("noisy_lif_backward", self.M)(gS, gH, self.S, self.M, *self.args)
        return (dX.reshape(self.shape),)


def noisy_lif(
    x,
    lam: float = 0.5,
    theta: float = 1.0,
    t_noise: float = 0.1,
    reset: str = "soft",
    rng=None,
    training: bool = True,
    detach_reset: bool = True,
    *,
    v_reset: float = 0.0,
    stochastic: bool | None = None,
    expectation: bool = False,
    return_membrane: bool = False,
    noise: str = "logistic",
    where: str = "noisy_lif",
):
    """Run a noisy-LIF layer over time: ``x [T, B, ...] → S`` (or ``(S, H)``).

    ``lam`` ∈ (0, 1], ``theta`` > 0, ``t_noise`` > 0; ``reset`` ``"soft"`` |
    ``"hard"`` (aliases ``"subtract"`` | ``"zero"``).  ``stochastic`` defaults
    to ``training``; when it is true, ``rng`` (Generator or int seed) is required
    and ``rng.random((T, N), dtype=x.dtype)`` is drawn once.
    ``expectation=True`` returns ``S = p`` (no draw) for gradient checks.
    ``noise`` ``"logistic"`` (σ) | ``"gaussian"`` (Φ; ``t_noise`` is the noise std σ).
    NaN or inf in ``x`` raise ``ValueError`` (counted by the kernel).
    """
    lam, theta, t_noise, code, v_reset = _check(where, lam, theta, t_noise, reset, v_reset)
    noise = check_noise(where, noise)
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{where}: x must be float32 or float64, got {x.dtype}")
    x = as_time_input(where, x)
    stochastic = bool(training) if stochastic is None else bool(stochastic)
    T, N = x.shape[0], int(np.prod(x.shape[1:]))
    u = None
    if expectation:
        mode = MODE_EXPECTATION
    elif stochastic:
        mode = MODE_BERNOULLI
        u = as_generator(rng, f"{where} (stochastic firing)").random((T, N), dtype=x.dtype)
        xp = xp_of(x.data)
        u = u if xp is np else xp.asarray(u)
    else:
        mode = MODE_THRESHOLD
    S, H = apply_fused(where, NoisyLIFFunction, x, u=u, lam=lam, theta=theta, t_noise=t_noise,
                       reset=code, v_reset=v_reset, mode=mode, detach_reset=bool(detach_reset),
                       noise=noise)
    return (S, H) if return_membrane else S


class _NoisySpike(Function):
    """One firing step: ``S = [u < F(x/T_noise)]`` (``u = None``: ``[x > 0]``); ``dS/dx = F'/T_noise``."""

    def forward(self, x, *, u, t_noise, noise):
        xp = xp_of(x)
        z = x.astype(np.float64) / t_noise
        z_host = z if xp is np else xp.asnumpy(z)
        p, dens = (xp.asarray(a) for a in fire_prob_np(z_host, noise))
        self.g = dens / t_noise
        if u is None:
            return (x > 0).astype(x.dtype)
        return (u.astype(np.float64) < p).astype(x.dtype)

    def backward(self, g):
        return (g * self.g.astype(g.dtype),)


class NoisyLIF(SpikingNeuron):
    """Noisy-LIF layer (form 5): ``forward(x [T, B, ...]) → S`` (or ``(S, H)``) and ``step``.

    In training mode spikes are Bernoulli draws from ``rng`` (stored as a
    Generator, so a seeded layer repeats itself); after ``eval()`` the layer
    fires deterministically unless ``stochastic_eval=True``.  ``step`` runs the
    same equations with autograd ops (one ``rng.random(x_t.shape)`` per step
    when stochastic); its surrogate is the exact ``dp/dH`` — SpikingJelly's
    sigmoid with ``α = 1/T_noise`` for ``noise="logistic"``, the Gaussian
    density ``φ((H − θ)/σ)/σ`` for ``noise="gaussian"`` (``t_noise`` = σ, TGO).

    >>> import numpy as np
    >>> layer = NoisyLIF(lam=0.9, theta=1.0, t_noise=0.2, rng=0)
    >>> layer(np.ones((5, 2, 3), np.float32)).shape
    (5, 2, 3)
    """

    def __init__(self, lam: float = 0.5, theta: float = 1.0, t_noise: float = 0.1,
                 reset: str = "soft", v_reset: float = 0.0, detach_reset: bool = True,
                 rng=None, stochastic_eval: bool = False, return_membrane: bool = False,
                 noise: str = "logistic"):
        checked = _check("NoisyLIF", lam, theta, t_noise, reset, v_reset)
        noise = check_noise("NoisyLIF", noise)
        super().__init__(Sigmoid(alpha=1.0 / checked[2]), detach_reset, return_membrane)
        self.lam, self.theta, self.t_noise, self.reset_code, self.v_reset = checked
        self.reset, self.stochastic_eval = reset, bool(stochastic_eval)
        self.noise = noise
        self.rng = None if rng is None else as_generator(rng, "NoisyLIF")

    def _stochastic(self) -> bool:
        stochastic = self.training or self.stochastic_eval
        if stochastic and self.rng is None:
            raise TypeError("NoisyLIF: stochastic firing (training mode or stochastic_eval) needs "
                            "rng=numpy.random.Generator or an int seed at construction")
        return stochastic

    def _multi(self, x):
        S, H = noisy_lif(
            x, self.lam, self.theta, self.t_noise, self.reset_code, self.rng, self.training,
            self.detach_reset, v_reset=self.v_reset, stochastic=self._stochastic(),
            return_membrane=True, noise=self.noise, where="NoisyLIF",
        )
        return S, H

    def _charge_fire_reset(self, x_t, state):
        h = self.lam * state.v + x_t
        if self._stochastic():
            u = self.rng.random(x_t.shape, dtype=x_t.dtype)
            xp = xp_of(x_t.data)
            s = _NoisySpike.apply(h - self.theta, u=u if xp is np else xp.asarray(u),
                                  t_noise=self.t_noise, noise=self.noise)
        elif self.noise == NOISE_GAUSSIAN:
            s = _NoisySpike.apply(h - self.theta, u=None, t_noise=self.t_noise, noise=self.noise)
        else:
            s = self._fire(h - self.theta, self.theta, state)
        v = reset_membrane(h, self._reset_spikes(s), self.theta, self.v_reset, self.reset_code)
        return s, h, v

    def extra_repr(self) -> str:
        noise = "" if self.noise == NOISE_LOGISTIC else ", noise='gaussian'"
        return (f"lam={self.lam}, theta={self.theta}, t_noise={self.t_noise}, reset={self.reset!r}, "
                f"detach_reset={self.detach_reset}{noise}")
