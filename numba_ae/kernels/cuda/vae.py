"""CUDA twins of :mod:`numba_ae.kernels.vae`: the latent Gaussian of the VAE.

Same names and positional signatures as the CPU kernels, device arrays in and out, the
default stream, Python floats for ``scale``.  The scalar definitions are the CPU ones
(:func:`numba_ae.kernels.vae.normal_logp_grad`, :func:`~numba_ae.kernels.vae.reparam`):
the CUDA target compiles them too.  Row reductions (the log-densities, KL,
log-sum-exp) run one block per row with float64 tree sums; elementwise kernels use a
grid-stride loop.  As on the CPU, ``kl_normal`` redoes in float64 a row whose float32 sum
is not finite and ``kl_normal_grad`` an element whose float32 ``expm1`` overflowed;
``reparameterize_backward`` does the same for the factor ``0.5 exp(logvar / 2)``.

``pzx_backward`` (the two q(z|x) head GEMMs) lives in :mod:`.dense`, next to the GEMM
twins; this module will re-export it once that module is in (``from .dense import
pzx_backward``), so the VAE layer finds every twin here.
"""
import math

import numpy as np
from numba import cuda, float64, types

from ..fastmath import fexp, flog
from ..vae import normal_logp_grad, reparam
from . import _launch
from .reductions import MAX_THREADS, block_max, block_sum, row_launch, threads_for

# pzx_backward (the q(z|x) heads' GEMMs) is written with the GEMM twins in .dense; this module
# re-exports it (at the end, with the free-bits twins), so the VAE layer finds every twin here.
__all__ = [
    "kl_normal",
    "kl_normal_grad",
    "logsumexp_rows",
    "normal_log_density",
    "reparameterize",
    "reparameterize_backward",
    "std_normal_log_density",
    "tile_rows",
]


# ---- kernels ------------------------------------------------------------------------------------

def _tile_rows_kernel(x, reps, out):
    n, d = x.shape
    for e in range(cuda.grid(1), reps * n * d, cuda.gridsize(1)):
        r = e // d
        j = e - r * d
        out[r, j] = x[r % n, j]


def _reparameterize_kernel(mean, logvar, eps, z):
    n, k = mean.shape
    reps = eps.shape[0] // n
    for e in range(cuda.grid(1), reps * n * k, cuda.gridsize(1)):
        r = e // k
        j = e - r * k
        i = r % n
        z[r, j] = reparam(mean[i, j], logvar[i, j], eps[r, j])


def _normal_log_density_kernel(z, mean, logvar, out):
    buf = cuda.shared.array(MAX_THREADS, float64)
    n, k = z.shape
    one = z.dtype.type(1.0)
    for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
        acc = np.float64(0.0)
        for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
            acc += np.float64(normal_logp_grad(z[i, j], mean[i, j], logvar[i, j], one)[0])
        s = block_sum(buf, acc)
        if cuda.threadIdx.x == 0:
            out[i] = s


def _std_normal_log_density_kernel(z, out):
    buf = cuda.shared.array(MAX_THREADS, float64)
    n, k = z.shape
    t = z.dtype.type
    zero, one = t(0.0), t(1.0)
    for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
        acc = np.float64(0.0)
        for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
            acc += np.float64(normal_logp_grad(z[i, j], zero, zero, one)[0])
        s = block_sum(buf, acc)
        if cuda.threadIdx.x == 0:
            out[i] = s


def _kl_normal_kernel(mean, logvar, out):
    buf = cuda.shared.array(MAX_THREADS, float64)
    n, k = mean.shape
    t = mean.dtype.type
    one = t(1.0)
    for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
        acc = np.float64(0.0)
        for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
            m = mean[i, j]
            lv = logvar[i, j]
            acc += np.float64(fexp(lv) + m * m - one - lv)
        s = block_sum(buf, acc)
        if not math.isfinite(s):   # a float32 exp(logvar) overflowed: redo the row in float64
            acc = np.float64(0.0)
            for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
                m = np.float64(mean[i, j])
                lv = np.float64(logvar[i, j])
                acc += math.exp(lv) + m * m - 1.0 - lv
            s = block_sum(buf, acc)
        if cuda.threadIdx.x == 0:
            out[i] = 0.5 * s


def _kl_normal_grad_kernel(mean, logvar, scale, grad_mean, grad_logvar):
    n, k = mean.shape
    t = mean.dtype.type
    c, h = t(scale), t(0.5)
    for e in range(cuda.grid(1), n * k, cuda.gridsize(1)):
        i = e // k
        j = e - i * k
        grad_mean[i, j] = mean[i, j] * c
        g = h * math.expm1(logvar[i, j]) * c
        if math.isfinite(g):
            grad_logvar[i, j] = g
        else:   # float32 expm1 overflowed: float64
            grad_logvar[i, j] = 0.5 * math.expm1(np.float64(logvar[i, j])) * scale


def _logsumexp_rows_kernel(a, out):
    buf = cuda.shared.array(MAX_THREADS, float64)
    n, k = a.shape
    t = a.dtype.type
    for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
        m = t(-np.inf)
        for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
            v = a[i, j]
            if v > m or v != v:
                if m == m:
                    m = v
        m = t(block_max(buf, m))
        r = m
        if m != t(-np.inf) and m != t(np.inf):
            s = np.float64(0.0)
            for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
                s += np.float64(fexp(a[i, j] - m))
            r = m + flog(t(block_sum(buf, s)))
        if cuda.threadIdx.x == 0:
            out[i] = r


def _reparameterize_backward_kernel(dz, eps, logvar, dmean, dlogvar):
    n, k = logvar.shape
    reps = dz.shape[0] // n
    t = logvar.dtype.type
    h = t(0.5)
    for e in range(cuda.grid(1), n * k, cuda.gridsize(1)):
        i = e // k
        j = e - i * k
        am = np.float64(0.0)
        al = np.float64(0.0)
        for r in range(reps):
            g = dz[r * n + i, j]
            am += np.float64(g)
            al += np.float64(g * eps[r * n + i, j])
        dmean[i, j] += t(am)
        s = h * fexp(h * logvar[i, j])
        if math.isfinite(s):
            dlogvar[i, j] += t(al) * s
        else:   # exp(logvar / 2) overflowed the dtype: float64, as the CPU kernel computes it
            dlogvar[i, j] += al * (0.5 * math.exp(0.5 * np.float64(logvar[i, j])))


_tile_rows = cuda.jit(_tile_rows_kernel)
_reparameterize = cuda.jit(_reparameterize_kernel)
_normal_log_density = cuda.jit(_normal_log_density_kernel)
_std_normal_log_density = cuda.jit(_std_normal_log_density_kernel)
_kl_normal = cuda.jit(_kl_normal_kernel)
_kl_normal_grad = cuda.jit(_kl_normal_grad_kernel)
_logsumexp_rows = cuda.jit(_logsumexp_rows_kernel)
_reparameterize_backward = cuda.jit(_reparameterize_backward_kernel)


def _flat(kernel, size, *args):
    _launch.launch_1d(kernel, size, *args, threads=threads_for(size))


# ---- host functions -----------------------------------------------------------------------------

def tile_rows(x, reps, out):
    """``out`` [reps*n, d] = ``x`` [n, d] stacked ``reps`` times (sample-major)."""
    n, d = x.shape
    _flat(_tile_rows, int(reps) * n * d, x, int(reps), out)


def reparameterize(mean, logvar, eps, z):
    """``z[r*n + i] = mean[i] + exp(0.5 logvar[i]) * eps[r*n + i]`` for every sample block r.

    Parameters
    ----------
    mean, logvar : [n, k]; eps : [L*n, k] standard normals; z : [L*n, k], overwritten.
    """
    n, k = mean.shape
    _flat(_reparameterize, (eps.shape[0] // n) * n * k if n else 0, mean, logvar, eps, z)


def normal_log_density(z, mean, logvar, out):
    """``out[i] = sum_j log N(z_ij; mean_ij, exp(logvar_ij))`` (float64 row sums).

    Parameters
    ----------
    z, mean, logvar : [n, k]; out : [n], overwritten.
    """
    row_launch(_normal_log_density, z.shape[0], z.shape[1], z, mean, logvar, out)


def std_normal_log_density(z, out):
    """``out[i] = sum_j log N(z_ij; 0, 1)`` (float64 row sums); ``z`` [n, k], ``out`` [n]."""
    row_launch(_std_normal_log_density, z.shape[0], z.shape[1], z, out)


def kl_normal(mean, logvar, out):
    """``out[i] = 0.5 sum_j (exp(logvar_ij) + mean_ij^2 - 1 - logvar_ij)`` (float64 sums; a
    row whose float32 sum is not finite redone in float64); ``out`` [n], overwritten."""
    row_launch(_kl_normal, mean.shape[0], mean.shape[1], mean, logvar, out)


def kl_normal_grad(mean, logvar, scale, grad_mean, grad_logvar):
    """Gradient of ``scale * sum_i KL_i``: ``grad_mean = mean * scale``,
    ``grad_logvar = 0.5 (exp(logvar) - 1) * scale`` (both [n, k], overwritten)."""
    n, k = mean.shape
    _flat(_kl_normal_grad, n * k, mean, logvar, float(scale), grad_mean, grad_logvar)


def logsumexp_rows(a, out):
    """Row-wise stable ``out[i] = log sum_j exp(a_ij)`` (``-inf`` for an all ``-inf`` row,
    ``+inf`` when ``+inf`` is present, NaN when NaN is); ``a`` [n, k], ``out`` [n]."""
    row_launch(_logsumexp_rows, a.shape[0], a.shape[1], a, out)


def reparameterize_backward(dz, eps, logvar, dmean, dlogvar):
    """Accumulate the gradient through ``z = mean + exp(logvar/2) * eps``: ``dmean`` and
    ``dlogvar`` [n, k] are incremented by ``sum_r dz_r`` and
    ``sum_r dz_r * eps_r * 0.5 * exp(logvar/2)`` (``dz``, ``eps`` [L*n, k])."""
    n, k = logvar.shape
    _flat(_reparameterize_backward, n * k, dz, eps, logvar, dmean, dlogvar)


def ptx_cases(ft):
    """``(name, python function, argument types, f64 use)`` of this module's kernels (see
    ``tests/test_cuda_ptx_elem.py``).  ``"accumulate"``: float64 only for the row sums;
    ``"redo"``: a float32 first pass, float64 only where its result is not finite."""
    mat, vec = types.Array(ft, 2, "A"), types.Array(ft, 1, "A")
    f, i = types.float64, types.int64
    return [("vae.tile_rows", _tile_rows_kernel, (mat, i, mat), "none"),
            ("vae.reparameterize", _reparameterize_kernel, (mat,) * 4, "none"),
            ("vae.normal_log_density", _normal_log_density_kernel, (mat, mat, mat, vec), "accumulate"),
            ("vae.std_normal_log_density", _std_normal_log_density_kernel, (mat, vec), "accumulate"),
            ("vae.kl_normal", _kl_normal_kernel, (mat, mat, vec), "redo"),
            ("vae.kl_normal_grad", _kl_normal_grad_kernel, (mat, mat, f, mat, mat), "redo"),
            ("vae.logsumexp_rows", _logsumexp_rows_kernel, (mat, vec), "accumulate"),
            ("vae.reparameterize_backward", _reparameterize_backward_kernel, (mat,) * 5, "redo")]


# The free-bits KL kernels (their own module, re-exported so the VAE layer finds every twin here).
from .dense import pzx_backward
from .free_bits import free_bits_kl, free_bits_kl_grad, kl_normal_dim_means
