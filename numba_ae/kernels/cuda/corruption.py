"""CUDA twins of :mod:`numba_ae.kernels.corruption`: the denoising masks.

``corrupt(x, u, level, out)`` and ``corrupt_bits(x, bits, threshold, out)`` take device
arrays and write ``out`` on the default stream (one elementwise launch each);
:func:`bits_threshold` is the CPU host function itself.
"""
import numpy as np
from numba import cuda, types

from ..corruption import bits_threshold
from . import _launch
from .reductions import threads_for

__all__ = ["bits_threshold", "corrupt", "corrupt_bits"]


def _corrupt_kernel(x, u, level, out):
    n, k = x.shape
    lv = u.dtype.type(level)
    zero = out.dtype.type(0.0)
    for e in range(cuda.grid(1), n * k, cuda.gridsize(1)):
        i = e // k
        j = e - i * k
        out[i, j] = x[i, j] if u[i, j] >= lv else zero


def _corrupt_bits_kernel(x, bits, threshold, out):
    n, k = x.shape
    zero = out.dtype.type(0.0)
    for e in range(cuda.grid(1), n * k, cuda.gridsize(1)):
        i = e // k
        j = e - i * k
        out[i, j] = x[i, j] if np.int64(bits[e]) >= threshold else zero


_corrupt = cuda.jit(_corrupt_kernel)
_corrupt_bits = cuda.jit(_corrupt_bits_kernel)


def _level_in(level, dtype):
    """The smallest ``dtype`` value ``>= level``, as a Python float (exact in ``dtype``), so
    that ``u >= level`` compares the same in ``dtype`` as in float64 (the CPU kernel
    compares float32 draws with the float64 level)."""
    level = float(level)
    v = np.dtype(dtype).type(level)
    if float(v) < level:
        v = np.nextafter(v, np.dtype(dtype).type(np.inf))
    return float(v)


def corrupt(x, u, level, out):
    """Zero each input value independently with probability ``level`` (see
    :func:`numba_ae.kernels.corruption.corrupt`).

    Parameters
    ----------
    x, u : [n, k] device arrays: clean input, uniform draws in [0, 1).
    level : float, corruption probability.
    out : [n, k] device array, overwritten with ``x`` where ``u >= level`` and 0 elsewhere.
    """
    n, k = x.shape
    _launch.launch_1d(_corrupt, n * k, x, u, _level_in(level, u.dtype), out, threads=threads_for(n * k))


def corrupt_bits(x, bits, threshold, out):
    """Zero each input value independently with probability ``threshold / 2**32`` (see
    :func:`numba_ae.kernels.corruption.corrupt_bits`).

    Parameters
    ----------
    x : [n, k] device array; bits : 1-D uint32 device array of at least ``n * k`` words.
    threshold : int from :func:`bits_threshold`.
    out : [n, k] device array, overwritten with ``x`` where ``bits >= threshold``, else 0.
    """
    n, k = x.shape
    _launch.launch_1d(_corrupt_bits, n * k, x, bits, int(threshold), out, threads=threads_for(n * k))


def ptx_cases(ft):
    """``(name, python function, argument types, f64 use)`` of this module's kernels (see
    ``tests/test_cuda_ptx_elem.py``); neither computes in float64."""
    mat = types.Array(ft, 2, "A")
    return [("corruption.corrupt", _corrupt_kernel, (mat, mat, types.float64, mat), "none"),
            ("corruption.corrupt_bits", _corrupt_bits_kernel,
             (mat, types.Array(types.uint32, 1, "A"), types.int64, mat), "none")]
