"""Inverted dropout kernels: a layer's input during ``fit``.

Each input value is dropped (set to 0) independently with probability ``p`` and the kept
values are scaled by ``1 / (1 - p)``, so the expected input is unchanged (DL4J's
``Dropout``, ND4J ``DropOutInverted``).  The mask is stored as the factor applied to each
value (0 or ``1 / (1 - p)``), which is also what backward multiplies the gradient by.
"""
import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def dropout_forward(x, bits, threshold, scale, out, mask):
    """``out = x * mask`` with ``mask`` drawn from raw random words.

    Parameters
    ----------
    x : [n, k] input (not modified).
    bits : 1-D uint32 array of at least ``n * k`` uniform random words (row-major use).
    threshold : int64 ``round(p * 2**32)`` (``kernels.corruption.bits_threshold(p)``): a value
        is dropped where its word is below it.
    scale : the kept values' factor ``1 / (1 - p)`` in the dtype of ``out``.
    out : [n, k], overwritten with the dropped-out input.
    mask : [n, k], overwritten with 0 (dropped) or ``scale`` (kept).
    """
    n, k = x.shape
    zero = out.dtype.type(0.0)
    for i in range(n):
        for j in range(k):
            m = scale if np.int64(bits[i * k + j]) >= threshold else zero
            mask[i, j] = m
            out[i, j] = x[i, j] * m


@njit(cache=True, error_model="numpy")
def dropout_backward(delta, mask):
    """``delta *= mask`` in place: the gradient with respect to the input before dropout,
    given ``delta`` = the gradient with respect to the dropped-out input ([n, k] both)."""
    n, k = delta.shape
    for i in range(n):
        for j in range(k):
            delta[i, j] = delta[i, j] * mask[i, j]
