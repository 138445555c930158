"""VAE-specific kernels: reparameterisation backward and the q(z|x) head backward."""
import math

import numpy as np
from numba import njit

from .dense import column_sums, matmul
from .fastmath import fexp


@njit(cache=True, error_model="numpy")
def tile_rows(x, reps, out):
    """``out`` [reps*n, d] = ``x`` [n, d] stacked ``reps`` times (sample-major)."""
    n, d = x.shape
    for r in range(reps):
        for i in range(n):
            for j in range(d):
                out[r * n + i, j] = x[i, j]


@njit(cache=True, error_model="numpy")
def reparameterize_stacked(mean, logvar, eps, z):
    """``z[r*n + i] = mean[i] + exp(0.5 logvar[i]) * eps[r*n + i]`` for every sample block r.

    Parameters
    ----------
    mean, logvar : [n, k]; eps : [L*n, k] standard normals; z : [L*n, k], overwritten.
    """
    n, k = mean.shape
    reps = eps.shape[0] // n
    h = z.dtype.type(0.5)
    for r in range(reps):
        for i in range(n):
            for j in range(k):
                z[r * n + i, j] = mean[i, j] + fexp(h * logvar[i, j]) * eps[r * n + i, j]


@njit(cache=True, error_model="numpy")
def reparameterize_backward(dz, eps, logvar, dmean, dlogvar):
    """Accumulate the gradient through ``z = mean + exp(logvar/2) * eps``.

    Parameters
    ----------
    dz : [L*n, k] gradient w.r.t. the stacked samples; eps : [L*n, k].
    logvar : [n, k].
    dmean, dlogvar : [n, k], incremented by ``sum_r dz_r`` and
        ``sum_r dz_r * eps_r * 0.5 * exp(logvar/2)``.
    """
    n, k = logvar.shape
    reps = dz.shape[0] // n
    for i in range(n):
        for j in range(k):
            s = 0.5 * math.exp(0.5 * logvar[i, j])
            am = 0.0
            al = 0.0
            for r in range(reps):
                g = dz[r * n + i, j]
                am += g
                al += g * eps[r * n + i, j]
            dmean[i, j] += am
            dlogvar[i, j] += al * s


@njit(cache=True, error_model="numpy")
def pzx_backward(h, mW, lW, dmean, dlogvar, gmW, gmb, glW, glb, need_dh, dh, tmp):
    """Backward of the two q(z|x) heads ``mean = h mW + mb``, ``logvar = h lW + lb``
    (``dmean``/``dlogvar`` already through the pzx activation).

    Parameters
    ----------
    h : [n, m] last encoder activation; mW, lW : [m, k]; dmean, dlogvar : [n, k].
    gmW, glW : [m, k], gmb, glb : [k], overwritten with the parameter gradients.
    need_dh : bool; dh : [n, m] overwritten with ``dmean mW^T + dlogvar lW^T``; tmp : [n, m] scratch.
    """
    np.dot(h.T, dmean, gmW)
    column_sums(dmean, gmb)
    np.dot(h.T, dlogvar, glW)
    column_sums(dlogvar, glb)
    if need_dh:
        matmul(dmean, mW.T, dh)
        matmul(dlogvar, lW.T, tmp)
        n, m = dh.shape
        for i in range(n):
            for j in range(m):
                dh[i, j] += tmp[i, j]
