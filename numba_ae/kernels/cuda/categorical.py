"""CUDA twins of :mod:`numba_ae.kernels.categorical`: same names and positional
signatures, numba device arrays in and out, launched on the default stream.

Rows are independent, so each kernel runs one thread per row and calls the per-row
functions of the CPU module (``row_stats``, ``row_log_prob``, ...): one definition of
the numerics for both targets (they are ``@njit(inline="always")``, which the CUDA
target inlines; under the simulator, which runs kernels as Python, their Python source
is called instead).

The kernel functions (``_log_prob_kernel`` etc.) are plain Python functions, compiled
with ``cuda.jit`` on first launch (so importing this module needs no GPU, and
``cuda.compile_ptx`` can be given them directly).
"""
import numba
from numba import cuda

from .. import categorical as _cpu
from . import _launch as _l

__all__ = ["log_prob", "nll_grad", "log_prob_and_grad", "mean", "sample"]

_WARP = 32


def _row_fn(dispatcher):
    """The per-row function as the current target calls it: the ``@njit`` dispatcher on
    the GPU (inlined by the CUDA target), its Python source under the simulator."""
    return dispatcher.py_func if numba.config.ENABLE_CUDASIM else dispatcher


_row_stats = _row_fn(_cpu.row_stats)
_row_log_prob = _row_fn(_cpu.row_log_prob)
_row_x_sum = _row_fn(_cpu.row_x_sum)
_row_grad = _row_fn(_cpu.row_grad)
_row_mean = _row_fn(_cpu.row_mean)
_row_sample = _row_fn(_cpu.row_sample)


# ============================================================================ kernels (one thread per row)
# Grid-stride loops over the rows (``_launch.launch_1d``); a thread past the last row does nothing.

def _log_prob_kernel(x, a, out):
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        m, jm, q, log_s = _row_stats(a, i)
        out[i] = _row_log_prob(x, a, i, m, log_s)[0]


def _nll_grad_kernel(x, a, scale, grad):
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        m, jm, q, log_s = _row_stats(a, i)
        _row_grad(x, a, i, m, jm, q, _row_x_sum(x, i), scale, grad)


def _log_prob_and_grad_kernel(x, a, scale, out, grad):
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        m, jm, q, log_s = _row_stats(a, i)
        lp, xs = _row_log_prob(x, a, i, m, log_s)
        out[i] = lp
        _row_grad(x, a, i, m, jm, q, xs, scale, grad)


def _mean_kernel(a, out):
    for i in range(cuda.grid(1), a.shape[0], cuda.gridsize(1)):
        m, jm, q, log_s = _row_stats(a, i)
        _row_mean(a, i, m, jm, q, out)


def _sample_kernel(a, u, out):
    for i in range(cuda.grid(1), a.shape[0], cuda.gridsize(1)):
        _row_sample(a, u, i, out)


#: kernel function -> its ``cuda.jit`` dispatcher (compiled per signature on first launch)
_JITTED = {}


def _launch(kernel, n, *args):
    """Launch ``kernel`` over ``n`` rows on the default stream (nothing for ``n = 0``):
    one warp for up to 32 rows, up to ``_launch.THREADS_1D`` threads per block beyond."""
    if n == 0:
        return
    k = _JITTED.get(kernel)
    if k is None:
        k = _JITTED[kernel] = _l.jit_kernel(kernel)
    _l.launch_1d(k, n, *args, threads=min(_l.THREADS_1D, _WARP * ((n + _WARP - 1) // _WARP)))


# ============================================================================ host functions

def log_prob(x, a, out):
    """``out[i] = sum_j x_ij log softmax(a_i)_j`` on the device (:func:`numba_ae.kernels.categorical.log_prob`).

    Parameters
    ----------
    x, a : [n, d] device arrays, data and logits.
    out : [n] device array (overwritten).
    """
    _launch(_log_prob_kernel, x.shape[0], x, a, out)


def nll_grad(x, a, scale, grad):
    """``grad = scale * ((sum_j x_ij) softmax(a_i) - x_i)`` [n, d] on the device."""
    _launch(_nll_grad_kernel, x.shape[0], x, a, a.dtype.type(scale), grad)


def log_prob_and_grad(x, a, scale, out, grad):
    """:func:`log_prob` into ``out`` and :func:`nll_grad` into ``grad`` in one launch."""
    _launch(_log_prob_and_grad_kernel, x.shape[0], x, a, a.dtype.type(scale), out, grad)


def mean(a, out):
    """``out`` [n, d] = ``softmax(a)`` row by row on the device."""
    _launch(_mean_kernel, a.shape[0], a, out)


def sample(a, u, out):
    """``out`` [n, d] = one one-hot draw per row from ``softmax(a)`` with the uniforms
    ``u`` [n, d] (Gumbel-max, as the CPU kernel)."""
    _launch(_sample_kernel, a.shape[0], a, u, out)
