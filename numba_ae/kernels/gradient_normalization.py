"""Gradient normalization and clipping kernels (DL4J ``GradientNormalization``), in place
over a 1-D gradient: a layer's slice of the flat gradient vector, or one parameter's view.

The network applies them after minibatch averaging and before the l1/l2 gradient and the
updater (:mod:`numba_ae.gradient_normalization` is the driver).  Norms are accumulated and
each entry is scaled in float64, then stored in the gradient's dtype: a float32 gradient
stays float32, and one whose norm exceeds the float32 range (or whose factor would be
subnormal in float32) is still scaled correctly.
"""
import math

import numpy as np
from numba import njit

#: What DL4J divides by instead of a zero L2 norm (avoids 0/0).
ZERO_NORM = 1e-5


@njit(cache=True, error_model="numpy", fastmath={"reassoc"})
def sum_squares(g):
    """``sum(g**2)`` in float64 over the 1-D array ``g`` (SIMD partial sums: deterministic for a
    given machine; a non-finite entry gives inf or NaN)."""
    acc = 0.0
    for i in range(g.shape[0]):
        v = np.float64(g[i])
        acc += v * v
    return acc


@njit(cache=True, error_model="numpy")
def renormalize_l2(g):
    """``g *= 1 / ||g||_2`` in place (``||g||_2 = 0`` divides by ``ZERO_NORM`` instead, as DL4J's
    ``RenormalizeL2PerLayer``/``PerParamType``); returns the norm (float64)."""
    norm = math.sqrt(sum_squares(g))
    s = 1.0 / (norm if norm != 0.0 else ZERO_NORM)   # one division: a multiply per entry vectorises
    t = g.dtype.type
    for i in range(g.shape[0]):
        g[i] = t(np.float64(g[i]) * s)
    return norm


@njit(cache=True, error_model="numpy")
def clip_l2(g, threshold):
    """``g *= threshold / ||g||_2`` in place when ``||g||_2 > threshold`` (DL4J ``ClipL2PerLayer``
    / ``ClipL2PerParamType``), else unchanged; returns the norm before clipping (float64)."""
    norm = math.sqrt(sum_squares(g))
    if norm > threshold:
        s = threshold / norm
        t = g.dtype.type
        for i in range(g.shape[0]):
            g[i] = t(np.float64(g[i]) * s)
    return norm


@njit(cache=True, error_model="numpy")
def clip_element_wise(g, threshold):
    """Clamp every entry of ``g`` to ``[-threshold, threshold]`` in place (DL4J
    ``ClipElementWiseAbsoluteValue``); NaN stays NaN, +-inf becomes +-threshold."""
    t = g.dtype.type(threshold)
    for i in range(g.shape[0]):
        v = g[i]
        if v > t:
            g[i] = t
        elif v < -t:
            g[i] = -t
