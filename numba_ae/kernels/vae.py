"""The latent Gaussian of the VAE, in one place: the diagonal-normal log-density and
its gradient (one scalar definition, also used by the Gaussian reconstruction
distribution), reparameterised sampling and its backward pass, KL(q || N(0, I)) and
its gradient, the free-bits KL term (per-dimension minibatch means, the floor, its
gradient), log-sum-exp over samples, and the q(z|x) head backward.
"""
import math

import numpy as np
from numba import njit

from .specialize import scalar
from .dense import column_sums, matmul
from .fastmath import fexp, row_logsumexp, row_sum

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


# ---- scalar definitions ------------------------------------------------------------------------

@scalar
def normal_logp_grad(x, mean, logvar, sc):
    """``(log N(x; mean, exp(logvar)), sc * d(-log N)/d mean, sc * d(-log N)/d logvar)`` of one
    element, in the arguments' dtype (``sc`` of that dtype too).  Shares one
    ``exp(-logvar)`` between the value and both derivatives.  Where ``exp(-logvar)``
    overflows the dtype the results are +-inf; the array kernels then redo the row in
    float64 (see :mod:`numba_ae.distributions.base`)."""
    t = type(mean)
    h = t(0.5)
    r = x - mean
    # r = 0 with exp(-logvar) = inf (logvar -> -inf): the term is 0, not 0 * inf = NaN
    rv = r * fexp(-logvar) if r != t(0.0) else t(0.0)
    return -t(HALF_LOG_2PI) - h * logvar - h * r * rv, -rv * sc, h * sc - h * sc * r * rv


@scalar
def reparam(mean, logvar, eps):
    """``mean + exp(logvar / 2) * eps``: a draw of N(mean, exp(logvar)) from a standard normal."""
    return mean + fexp(type(mean)(0.5) * logvar) * eps


# ---- kernels -------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def tile_rows(x, reps, out):
    """``out`` [reps*n, d] = ``x`` [n, d] stacked ``reps`` times (sample-major)."""
    n, d = x.shape
    for r in range(reps):
        for i in range(n):
            for j in range(d):
                out[r * n + i, j] = x[i, j]


@njit(cache=True, error_model="numpy")
def reparameterize(mean, logvar, eps, z):
    """``z[r*n + i] = mean[i] + exp(0.5 logvar[i]) * eps[r*n + i]`` for every sample block r
    (one block when ``eps`` has as many rows as ``mean``).

    Parameters
    ----------
    mean, logvar : [n, k]; eps : [L*n, k] standard normals; z : [L*n, k], overwritten.
    """
    n, k = mean.shape
    reps = eps.shape[0] // n
    for r in range(reps):
        for i in range(n):
            for j in range(k):
                z[r * n + i, j] = reparam(mean[i, j], logvar[i, j], eps[r * n + i, j])


@njit(cache=True, error_model="numpy")
def normal_log_density(z, mean, logvar, out):
    """``out[i] = sum_j log N(z_ij; mean_ij, exp(logvar_ij))`` (float64 row sums).

    Parameters
    ----------
    z, mean, logvar : [n, k]; out : [n], overwritten.
    """
    n, k = z.shape
    one = z.dtype.type(1.0)
    terms = np.empty(k, dtype=np.float64)
    for i in range(n):
        for j in range(k):
            terms[j] = normal_logp_grad(z[i, j], mean[i, j], logvar[i, j], one)[0]
        out[i] = row_sum(terms)


@njit(cache=True, error_model="numpy")
def std_normal_log_density(z, out):
    """``out[i] = sum_j log N(z_ij; 0, 1)`` (float64 row sums).

    Parameters
    ----------
    z : [n, k]; out : [n], overwritten.
    """
    n, k = z.shape
    t = z.dtype.type
    zero, one = t(0.0), t(1.0)
    terms = np.empty(k, dtype=np.float64)
    for i in range(n):
        for j in range(k):
            terms[j] = normal_logp_grad(z[i, j], zero, zero, one)[0]
        out[i] = row_sum(terms)


@njit(cache=True, error_model="numpy")
def kl_normal(mean, logvar, out):
    """KL divergence of a diagonal Gaussian from the standard normal, per row (float64 sums;
    a row whose float32 ``exp(logvar)`` overflowed is redone in float64):
    ``out[i] = 0.5 sum_j (exp(logvar_ij) + mean_ij^2 - 1 - logvar_ij)``.

    Parameters
    ----------
    mean, logvar : [n, k]; out : [n], overwritten (``>= 0``).
    """
    n, k = mean.shape
    for i in range(n):
        acc = 0.0
        for j in range(k):
            m = float(mean[i, j])
            lv = float(logvar[i, j])
            acc += math.exp(lv) + m * m - 1.0 - lv
        if not math.isfinite(acc):   # a float32 exp(logvar) overflowed: redo the row in float64
            acc = 0.0
            for j in range(k):
                m = np.float64(mean[i, j])
                lv = np.float64(logvar[i, j])
                acc += math.exp(lv) + m * m - 1.0 - lv
        out[i] = 0.5 * acc


@njit(cache=True, error_model="numpy")
def kl_normal_grad(mean, logvar, scale, grad_mean, grad_logvar):
    """Gradient of ``scale * sum_i KL_i``: ``grad_mean = mean * scale``,
    ``grad_logvar = 0.5 (exp(logvar) - 1) * scale``.

    Parameters
    ----------
    mean, logvar : [n, k]; scale : float; grad_mean, grad_logvar : [n, k], overwritten.
    """
    n, k = mean.shape
    for i in range(n):
        for j in range(k):
            grad_mean[i, j] = float(mean[i, j]) * scale
            g = 0.5 * math.expm1(float(logvar[i, j])) * scale
            if not math.isfinite(g):   # float32 expm1 overflowed: float64
                g = 0.5 * math.expm1(np.float64(logvar[i, j])) * scale
            grad_logvar[i, j] = g


@njit(cache=True, error_model="numpy")
def kl_normal_dim_means(mean, logvar, out):
    """Per latent dimension, the minibatch mean of the per-example KL terms (float64):
    ``out[j] = (1/n) sum_i 0.5 (exp(logvar_ij) + mean_ij^2 - 1 - logvar_ij)``, the
    ``mean_i KL_ij`` of the free-bits objective (``sum_j out[j]`` is the mean of
    :func:`kl_normal`).

    Parameters
    ----------
    mean, logvar : [n, k], n >= 1; out : [k] float64, overwritten (``>= 0``).
    """
    n, k = mean.shape
    for j in range(k):
        out[j] = 0.0
    for i in range(n):
        for j in range(k):
            m = np.float64(mean[i, j])
            lv = np.float64(logvar[i, j])
            out[j] += math.exp(lv) + m * m - 1.0 - lv
    for j in range(k):
        out[j] = 0.5 * out[j] / n


@njit(cache=True, error_model="numpy")
def free_bits_kl(dim_means, free_bits):
    """The free-bits KL term ``sum_j max(free_bits, dim_means[j])`` (float).

    Parameters
    ----------
    dim_means : [k] float64 per-dimension minibatch means (:func:`kl_normal_dim_means`).
    free_bits : float >= 0, nats per latent dimension.
    """
    acc = 0.0
    for j in range(dim_means.shape[0]):
        acc += max(free_bits, dim_means[j])
    return acc


@njit(cache=True, error_model="numpy")
def free_bits_kl_grad(mean, logvar, dim_means, free_bits, scale, grad_mean, grad_logvar):
    """Gradient of ``scale * n * sum_j max(free_bits, dim_means[j])`` (with
    ``scale = weight / n`` the gradient of ``weight *`` :func:`free_bits_kl`): for a
    dimension above the floor (``dim_means[j] > free_bits``) the :func:`kl_normal_grad`
    entries, for one at or below it 0 (the floor is constant there; a dimension exactly at
    the floor counts as below it).

    Parameters
    ----------
    mean, logvar : [n, k]; dim_means : [k] float64 (:func:`kl_normal_dim_means` of them);
    free_bits, scale : float; grad_mean, grad_logvar : [n, k], overwritten.
    """
    n, k = mean.shape
    zero = grad_mean.dtype.type(0.0)
    for i in range(n):
        for j in range(k):
            if dim_means[j] > free_bits:
                grad_mean[i, j] = np.float64(mean[i, j]) * scale
                grad_logvar[i, j] = 0.5 * math.expm1(np.float64(logvar[i, j])) * scale
            else:
                grad_mean[i, j] = zero
                grad_logvar[i, j] = zero


@njit(cache=True, error_model="numpy")
def logsumexp_rows(a, out):
    """Row-wise stable log-sum-exp ``out[i] = log sum_j exp(a_ij)`` (see
    :func:`.fastmath.row_logsumexp` for the infinite and NaN cases).

    Parameters
    ----------
    a : [n, k]; out : [n], overwritten.
    """
    for i in range(a.shape[0]):
        out[i] = row_logsumexp(a[i])


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
