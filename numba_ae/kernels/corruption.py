"""Denoising corruption mask kernels."""
import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def corrupt(x, u, level, out):
    """Zero each input value independently with probability ``level``.

    Parameters
    ----------
    x : [n, k] clean input.
    u : [n, k] uniform draws in [0, 1) supplied by the caller.
    level : corruption probability in [0, 1].
    out : [n, k], overwritten with ``x`` where ``u >= level`` and 0 elsewhere
        (no rescaling, as DL4J).
    """
    n, k = x.shape
    for i in range(n):
        for j in range(k):
            out[i, j] = x[i, j] if u[i, j] >= level else 0.0


def bits_threshold(level):
    """The uint32 threshold ``t`` with ``P(bits < t) = level`` for uniform 32-bit ``bits``
    (``round(level * 2**32)``, exact to 2**-33)."""
    return np.int64(round(float(level) * 2.0 ** 32))


@njit(cache=True, error_model="numpy")
def corrupt_bits(x, bits, threshold, out):
    """Zero each input value independently with probability ``threshold / 2**32``.

    The random-bits form of :func:`corrupt` used in training: it takes raw 32-bit
    draws (``Generator.bit_generator.random_raw`` viewed as uint32), which is ~2.5x
    cheaper to produce than uniform floats.

    Parameters
    ----------
    x : [n, k] clean input.
    bits : 1-D uint32 array of at least ``n * k`` uniform random words (row-major use).
    threshold : int64 from :func:`bits_threshold` (``level * 2**32``).
    out : [n, k], overwritten with ``x`` where ``bits >= threshold`` and 0 elsewhere.
    """
    n, k = x.shape
    zero = out.dtype.type(0.0)
    for i in range(n):
        for j in range(k):
            out[i, j] = x[i, j] if np.int64(bits[i * k + j]) >= threshold else zero
