"""CUDA twins of the free-bits kernels of :mod:`numba_ae.kernels.vae`
(``kl_normal_dim_means``, ``free_bits_kl``, ``free_bits_kl_grad``): the KL term
``sum_j max(free_bits, mean_i KL_ij)`` of a VAE trained with ``free_bits > 0``.

Same names and positional signatures as the CPU kernels, re-exported by
:mod:`.vae`.  ``kl_normal_dim_means`` runs one thread per latent dimension, summing
its column in float64 in row order (deterministic; latent sizes are small);
``free_bits_kl`` returns a host float (it copies the ``k`` means once)."""
import math

import numpy as np
from numba import cuda, float64

from ._launch import LazyKernels, launch_1d


def _dim_means_kernel(mean, logvar, out):
    n, k = mean.shape
    for j in range(cuda.grid(1), k, cuda.gridsize(1)):
        acc = float64(0.0)
        for i in range(n):
            m = float64(mean[i, j])
            lv = float64(logvar[i, j])
            acc += math.exp(lv) + m * m - 1.0 - lv
        out[j] = 0.5 * acc / n


def _grad_kernel(mean, logvar, dim_means, free_bits, scale, grad_mean, grad_logvar):
    n, k = mean.shape
    zero = grad_mean.dtype.type(0.0)
    for e in range(cuda.grid(1), n * k, cuda.gridsize(1)):
        i = e // k
        j = e - i * k
        if dim_means[j] > free_bits:
            grad_mean[i, j] = float64(mean[i, j]) * scale
            grad_logvar[i, j] = 0.5 * math.expm1(float64(logvar[i, j])) * scale
        else:
            grad_mean[i, j] = zero
            grad_logvar[i, j] = zero


#: name -> plain kernel function (the PTX test compiles these).
KERNELS = {"kl_normal_dim_means": _dim_means_kernel, "free_bits_kl_grad": _grad_kernel}
_k = LazyKernels(KERNELS)


def kl_normal_dim_means(mean, logvar, out):
    """``out[j] = mean_i KL_ij`` (float64 [k], overwritten)."""
    launch_1d(_k["kl_normal_dim_means"], mean.shape[1], mean, logvar, out)


def free_bits_kl(dim_means, free_bits):
    """``sum_j max(free_bits, dim_means[j])`` (a host float, summed in order as on the CPU)."""
    acc = 0.0
    for v in np.asarray(dim_means.copy_to_host(), dtype=np.float64):
        acc += max(free_bits, float(v))
    return acc


def free_bits_kl_grad(mean, logvar, dim_means, free_bits, scale, grad_mean, grad_logvar):
    """The gradient of ``scale * n * free_bits_kl``: the KL gradient for dimensions above the
    floor, 0 at or below it (overwrites ``grad_mean``, ``grad_logvar``)."""
    launch_1d(_k["free_bits_kl_grad"], mean.size, mean, logvar, dim_means, float(free_bits), float(scale),
              grad_mean, grad_logvar)
