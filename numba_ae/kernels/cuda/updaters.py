"""CUDA twins of :mod:`numba_ae.kernels.updaters`: updater steps over a layer's flat
parameter slice, in place, one elementwise launch per call.

Same names and positional signatures as the CPU kernels; ``p``, ``g`` and the state are
1-D device arrays of one length, the hyper-parameters Python floats, cast to the
parameters' dtype inside the kernels (a float32 network updates in float32, as the CPU
``adam_step_coeffs`` the network uses does).  Decaying state is flushed to 0 below the
dtype's smallest normal number, as on the CPU.  ``regularization_score`` and
``all_finite`` return host values: one launch writes per-block partial results (a float64
tree sum per block; a flag per block), one copy brings them back and the host adds them
exactly (``math.fsum``), so the results are deterministic.
"""
import math

import numpy as np
from numba import cuda, float64, types

from . import _launch
from .reductions import MAX_THREADS, block_sum, partials, threads_for

__all__ = [
    "adagrad_step",
    "adam_step",
    "adam_step_coeffs",
    "add_regularization_grad",
    "all_finite",
    "nesterovs_step",
    "regularization_score",
    "rmsprop_step",
    "sgd_step",
]


def _tiny(a):
    """The smallest normal number of ``a``'s dtype (a Python float, exact in the dtype)."""
    return float(np.finfo(a.dtype).tiny)


# ---- kernels ------------------------------------------------------------------------------------

def _sgd_kernel(p, g, lr):
    c = p.dtype.type(lr)
    for i in range(cuda.grid(1), p.shape[0], cuda.gridsize(1)):
        p[i] -= c * g[i]


def _adam_kernel(p, g, m, v, alpha, b1, c1, b2, c2, eps, tiny):
    t = m.dtype.type
    al, b1, c1, b2, c2, eps, tiny = t(alpha), t(b1), t(c1), t(b2), t(c2), t(eps), t(tiny)
    zero = t(0.0)
    for i in range(cuda.grid(1), p.shape[0], cuda.gridsize(1)):
        gi = g[i]
        mi = b1 * m[i] + c1 * gi
        vi = b2 * v[i] + c2 * gi * gi
        mi = mi if abs(mi) >= tiny else zero
        vi = vi if vi >= tiny else zero
        m[i] = mi
        v[i] = vi
        p[i] -= al * mi / (math.sqrt(vi) + eps)


def _nesterovs_kernel(p, g, v, lr, momentum, tiny):
    t = v.dtype.type
    lr, mu, tiny = t(lr), t(momentum), t(tiny)
    zero, one = t(0.0), t(1.0)
    for i in range(cuda.grid(1), p.shape[0], cuda.gridsize(1)):
        vprev = v[i]
        vi = mu * vprev - lr * g[i]
        vi = vi if abs(vi) >= tiny else zero
        v[i] = vi
        p[i] += -mu * vprev + (one + mu) * vi


def _rmsprop_kernel(p, g, cache, lr, decay, eps, tiny):
    t = cache.dtype.type
    lr, decay, eps, tiny = t(lr), t(decay), t(eps), t(tiny)
    zero, one = t(0.0), t(1.0)
    for i in range(cuda.grid(1), p.shape[0], cuda.gridsize(1)):
        gi = g[i]
        ci = decay * cache[i] + (one - decay) * gi * gi
        ci = ci if ci >= tiny else zero
        cache[i] = ci
        p[i] -= lr * gi / (math.sqrt(ci) + eps)


def _adagrad_kernel(p, g, hist, lr, eps):
    t = hist.dtype.type
    lr, eps = t(lr), t(eps)
    for i in range(cuda.grid(1), p.shape[0], cuda.gridsize(1)):
        gi = g[i]
        hi = hist[i] + gi * gi
        hist[i] = hi
        p[i] -= lr * gi / (math.sqrt(hi) + eps)


def _add_reg_kernel(p, g, l1, l2):
    t = g.dtype.type
    l1, l2 = t(l1), t(l2)
    zero, one = t(0.0), t(1.0)
    for i in range(cuda.grid(1), p.shape[0], cuda.gridsize(1)):
        v = p[i]
        s = one if v > zero else (-one if v < zero else zero)
        g[i] += l2 * v + l1 * s


def _reg_partials_kernel(p, part):
    """``part[2b]``, ``part[2b + 1]``: float64 ``sum p^2`` and ``sum |p|`` of block ``b``'s
    grid-stride share."""
    buf = cuda.shared.array(MAX_THREADS, float64)
    sq = np.float64(0.0)
    ab = np.float64(0.0)
    for i in range(cuda.grid(1), p.shape[0], cuda.gridsize(1)):
        v = np.float64(p[i])
        sq += v * v
        ab += abs(v)
    sq = block_sum(buf, sq)
    ab = block_sum(buf, ab)
    if cuda.threadIdx.x == 0:
        part[2 * cuda.blockIdx.x] = sq
        part[2 * cuda.blockIdx.x + 1] = ab


def _finite_partials_kernel(a, part):
    """``part[b]`` = 1 when block ``b``'s grid-stride share of ``a`` holds an inf or NaN, else 0."""
    flags = cuda.shared.array(MAX_THREADS, float64)
    bad = np.float64(0.0)
    for i in range(cuda.grid(1), a.shape[0], cuda.gridsize(1)):
        if not math.isfinite(a[i]):
            bad = np.float64(1.0)
    bad = block_sum(flags, bad)
    if cuda.threadIdx.x == 0:
        part[cuda.blockIdx.x] = 1 if bad > np.float64(0.0) else 0


_sgd = cuda.jit(_sgd_kernel)
_adam = cuda.jit(_adam_kernel)
_nesterovs = cuda.jit(_nesterovs_kernel)
_rmsprop = cuda.jit(_rmsprop_kernel)
_adagrad = cuda.jit(_adagrad_kernel)
_add_reg = cuda.jit(_add_reg_kernel)
_reg_partials = cuda.jit(_reg_partials_kernel)
_finite_partials = cuda.jit(_finite_partials_kernel)


def _launch_flat(kernel, n, *args):
    _launch.launch_1d(kernel, n, *args, threads=threads_for(n))


# ---- host functions -----------------------------------------------------------------------------

def sgd_step(p, g, lr):
    """``p -= lr * g``."""
    _launch_flat(_sgd, p.shape[0], p, g, float(lr))


def adam_step(p, g, m, v, lr, beta1, beta2, eps, t):
    """ND4J Adam, bias correction folded into the step size (host float64), ``t`` from 1;
    the step itself is :func:`adam_step_coeffs`."""
    alpha = lr * math.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
    adam_step_coeffs(p, g, m, v, alpha, beta1, 1.0 - beta1, beta2, 1.0 - beta2, eps)


def adam_step_coeffs(p, g, m, v, alpha, b1, c1, b2, c2, eps):
    """``m = b1 m + c1 g``, ``v = b2 v + c2 g^2``, ``p -= alpha m / (sqrt(v) + eps)`` in the
    parameters' dtype (state below the dtype's tiny flushed to 0)."""
    _launch_flat(_adam, p.shape[0], p, g, m, v, float(alpha), float(b1), float(c1), float(b2), float(c2),
                 float(eps), _tiny(m))


def nesterovs_step(p, g, v, lr, momentum):
    """ND4J Nesterov momentum: ``v' = mu v - lr g; p += -mu v + (1 + mu) v'``."""
    _launch_flat(_nesterovs, p.shape[0], p, g, v, float(lr), float(momentum), _tiny(v))


def rmsprop_step(p, g, cache, lr, decay, eps):
    """ND4J RMSProp: ``c = decay c + (1-decay) g^2; p -= lr g / (sqrt(c) + eps)``."""
    _launch_flat(_rmsprop, p.shape[0], p, g, cache, float(lr), float(decay), float(eps), _tiny(cache))


def adagrad_step(p, g, hist, lr, eps):
    """ND4J AdaGrad: ``h += g^2; p -= lr g / (sqrt(h) + eps)``."""
    _launch_flat(_adagrad, p.shape[0], p, g, hist, float(lr), float(eps))


def add_regularization_grad(p, g, l1, l2):
    """``g += l2 * p + l1 * sign(p)``."""
    _launch_flat(_add_reg, p.shape[0], p, g, float(l1), float(l2))


def regularization_score(p, l1, l2):
    """``0.5 * l2 * ||p||^2 + l1 * sum|p|`` as a host float (float64 throughout)."""
    n = p.shape[0]
    threads = threads_for(n)
    blocks = _launch.blocks_for(n, threads)
    part = partials("regularization_score", 2 * blocks, np.float64)
    _launch.launch_2d(_reg_partials, blocks, threads, p, part)
    h = part.copy_to_host()
    return 0.5 * l2 * math.fsum(h[0::2]) + l1 * math.fsum(h[1::2])


def all_finite(a):
    """True when the 1-D device array ``a`` holds no inf or NaN (a host bool)."""
    n = a.shape[0]
    threads = threads_for(n)
    blocks = _launch.blocks_for(n, threads)
    part = partials("all_finite", blocks, np.int32)
    _launch.launch_2d(_finite_partials, blocks, threads, a, part)
    return not part.copy_to_host().any()


def ptx_cases(ft):
    """``(name, python function, argument types, f64 use)`` of this module's kernels (see
    ``tests/test_cuda_ptx_elem.py``): the steps compute in the parameters' dtype; the two
    reductions accumulate in float64, ``regularization_score`` squaring in float64 too."""
    vec = types.Array(ft, 1, "A")
    f = types.float64
    return [("updaters.sgd_step", _sgd_kernel, (vec, vec, f), "none"),
            ("updaters.adam_step_coeffs", _adam_kernel, (vec,) * 4 + (f,) * 7, "none"),
            ("updaters.nesterovs_step", _nesterovs_kernel, (vec,) * 3 + (f,) * 3, "none"),
            ("updaters.rmsprop_step", _rmsprop_kernel, (vec,) * 3 + (f,) * 4, "none"),
            ("updaters.adagrad_step", _adagrad_kernel, (vec,) * 3 + (f,) * 2, "none"),
            ("updaters.add_regularization_grad", _add_reg_kernel, (vec, vec, f, f), "none"),
            ("updaters.regularization_score", _reg_partials_kernel,
             (vec, types.Array(types.float64, 1, "A")), "wide"),
            ("updaters.all_finite", _finite_partials_kernel,
             (vec, types.Array(types.int32, 1, "A")), "accumulate")]
