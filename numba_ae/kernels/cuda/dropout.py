"""CUDA twins of :mod:`numba_ae.kernels.dropout` (inverted dropout of a layer's input
during ``fit``): same names and positional signatures, device arrays, the default stream.
The mask words come from the network's host generator (copied once per step), so a CUDA
network drops exactly the units a CPU network drops."""
import numpy as np
from numba import cuda

from ._launch import LazyKernels, launch_1d


def _dropout_forward_kernel(x, bits, threshold, scale, out, mask):
    n, k = x.shape
    zero = out.dtype.type(0.0)
    for e in range(cuda.grid(1), n * k, cuda.gridsize(1)):
        i = e // k
        j = e - i * k
        m = scale if np.int64(bits[e]) >= threshold else zero
        mask[i, j] = m
        out[i, j] = x[i, j] * m


def _dropout_backward_kernel(delta, mask):
    n, k = delta.shape
    for e in range(cuda.grid(1), n * k, cuda.gridsize(1)):
        i = e // k
        j = e - i * k
        delta[i, j] = delta[i, j] * mask[i, j]


#: name -> plain kernel function (the PTX test compiles these).
KERNELS = {"dropout_forward": _dropout_forward_kernel, "dropout_backward": _dropout_backward_kernel}
_k = LazyKernels(KERNELS)


def dropout_forward(x, bits, threshold, scale, out, mask):
    """``out = x * mask``, ``mask`` = 0 where ``bits < threshold`` else ``scale``."""
    if x.size:
        launch_1d(_k["dropout_forward"], x.size, x, bits, np.int64(threshold), out.dtype.type(scale), out, mask)


def dropout_backward(delta, mask):
    """``delta *= mask`` in place."""
    if delta.size:
        launch_1d(_k["dropout_backward"], delta.size, delta, mask)
