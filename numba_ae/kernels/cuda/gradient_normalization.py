"""CUDA twins of :mod:`numba_ae.kernels.gradient_normalization` (DL4J gradient
normalization and clipping, in place over a 1-D device gradient).

The L2 norm is a float64 sum of squares by one block (a deterministic tree over a fixed
thread count), copied to the host; the scaling runs in float64 per entry and stores in
the gradient's dtype, as on the CPU."""
import math

import numpy as np
from numba import cuda, float64

from ..gradient_normalization import ZERO_NORM
from ._launch import LazyKernels, count, launch_1d

_THREADS = 256


def _sum_squares_kernel(g, out):
    buf = cuda.shared.array(_THREADS, float64)
    t = cuda.threadIdx.x
    acc = float64(0.0)
    for i in range(t, g.shape[0], _THREADS):
        v = float64(g[i])
        acc += v * v
    buf[t] = acc
    cuda.syncthreads()
    step = _THREADS // 2
    while step > 0:
        if t < step:
            buf[t] += buf[t + step]
        cuda.syncthreads()
        step //= 2
    if t == 0:
        out[0] = buf[0]


def _scale_kernel(g, s):
    ty = g.dtype.type
    for i in range(cuda.grid(1), g.shape[0], cuda.gridsize(1)):
        g[i] = ty(float64(g[i]) * s)


def _clip_kernel(g, t):
    for i in range(cuda.grid(1), g.shape[0], cuda.gridsize(1)):
        v = g[i]
        if v > t:
            g[i] = t
        elif v < -t:
            g[i] = -t


#: name -> plain kernel function (the PTX test compiles these).
KERNELS = {"sum_squares": _sum_squares_kernel, "scale": _scale_kernel, "clip": _clip_kernel}
_k = LazyKernels(KERNELS)


def sum_squares(g):
    """``sum(g**2)`` in float64 (a host float)."""
    out = cuda.device_array(1, dtype=np.float64)
    count()
    _k["sum_squares"][1, _THREADS](g, out)
    return float(out.copy_to_host()[0])


def renormalize_l2(g):
    """``g *= 1 / ||g||_2`` in place (a zero norm divides by ``ZERO_NORM``); returns the norm."""
    norm = math.sqrt(sum_squares(g))
    if g.shape[0]:
        launch_1d(_k["scale"], g.shape[0], g, 1.0 / (norm if norm != 0.0 else ZERO_NORM))
    return norm


def clip_l2(g, threshold):
    """``g *= threshold / ||g||_2`` in place when ``||g||_2 > threshold``; returns the norm."""
    norm = math.sqrt(sum_squares(g))
    if norm > threshold and g.shape[0]:
        launch_1d(_k["scale"], g.shape[0], g, threshold / norm)
    return norm


def clip_element_wise(g, threshold):
    """Clamp every entry to ``[-threshold, threshold]`` in place."""
    if g.shape[0]:
        launch_1d(_k["clip"], g.shape[0], g, g.dtype.type(threshold))
