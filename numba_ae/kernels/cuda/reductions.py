"""Deterministic reductions on the GPU, and the block-level helpers the other CUDA twins use.

Every sum here is a fixed shared-memory tree (no atomics), so a result depends only on the
data and the launch shape, and the launch shape only on the data's shape: the same input
gives the same bits on every run.  Sums accumulate in float64 (as the CPU kernels'
:func:`numba_ae.kernels.fastmath.row_sum`): only additions, conversions and comparisons run
in float64, the element arithmetic stays in the arrays' dtype.

Host functions
--------------
``mean(vec)``
    float64 mean of a device vector (one launch, one copy of the per-block partial sums).
``row_sums(a, out)``
    ``out[i] = sum_j a[i, j]``, float64 accumulation.

Helpers for the twins
---------------------
``device``
    Decorator of a helper called from kernels (a CUDA device function; see its docstring).
``block_sum``, ``block_max``
    Tree reductions over a thread block through a shared float64 buffer of
    :data:`MAX_THREADS` entries.
``threads_for``, ``row_launch``, ``partials``
    Launch shapes, the one-block-per-row launch, per-thread scratch device arrays.
"""
import math
import threading

import numpy as np
from numba import config, cuda, float64, njit, types

from . import _launch
from ._launch import THREADS_1D

#: Size of the shared float64 buffer of :func:`block_sum` / :func:`block_max`: the most
#: threads a reducing block may have.
MAX_THREADS = THREADS_1D
#: Threads of a warp: the fewest threads a launch of these modules uses.
WARP = 32
#: Upper bound on the blocks of a one-block-per-row launch (rows stride past it).
MAX_ROW_BLOCKS = 65535

SIMULATOR = bool(config.ENABLE_CUDASIM)
#: Fewest and most threads per block that :func:`threads_for` picks.  Under the simulator
#: (every thread a Python thread, each barrier ~1 ms) blocks are kept to 4..16 threads: the
#: tree and the column striding are the same code for any power of two, and tiny test rows
#: then exercise both (rows wider than the block included).
MIN_THREADS, CAP_THREADS = (4, 16) if SIMULATOR else (WARP, MAX_THREADS)


def device(pyfunc):
    """Make ``pyfunc`` callable from CUDA kernels.

    On the GPU it is an ``@njit(inline="always")`` function: the CUDA target compiles it
    into each calling kernel, and unlike ``cuda.jit(device=True)`` this needs no driver,
    so ``cuda.compile_ptx`` works on machines without a GPU.  Under the simulator a
    helper that calls CUDA intrinsics (``cuda.syncthreads``) cannot be a CPU function,
    so it is a simulated device function there.
    """
    if SIMULATOR:
        return cuda.jit(device=True)(pyfunc)
    return njit(inline="always", error_model="numpy")(pyfunc)


def threads_for(n):
    """Threads per block for ``n`` items: the power of two ``>= n`` clamped to
    ``[MIN_THREADS, CAP_THREADS]`` (the tree reductions need a power of two)."""
    t = MIN_THREADS
    while t < n and t < CAP_THREADS:
        t *= 2
    return t


def row_launch(kernel, n_rows, n_cols, *args):
    """Launch ``kernel`` with one block per row (grid-striding past :data:`MAX_ROW_BLOCKS`)
    and :func:`threads_for` ``(n_cols)`` threads per block."""
    _launch.launch_2d(kernel, max(1, min(int(n_rows), MAX_ROW_BLOCKS)), threads_for(n_cols), *args)


@device
def block_sum(buf, v):
    """Sum of ``v`` over the threads of the block (every thread gets it), by a fixed tree
    through the shared buffer ``buf`` (its dtype is the accumulator's; the block size is a
    power of two).  Every thread of the block must call it."""
    t = cuda.threadIdx.x
    buf[t] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if t < s:
            buf[t] += buf[t + s]
        cuda.syncthreads()
        s //= 2
    r = buf[0]
    cuda.syncthreads()
    return r


@device
def block_max(buf, v):
    """Maximum of ``v`` over the block's threads, NaN-sticky like
    :func:`numba_ae.kernels.fastmath.row_max` (a NaN anywhere gives NaN); ``buf`` as in
    :func:`block_sum` (a float64 buffer holds float32 values exactly)."""
    t = cuda.threadIdx.x
    buf[t] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if t < s:
            m = buf[t]
            w = buf[t + s]
            if w > m or w != w:
                if m == m:
                    buf[t] = w
        cuda.syncthreads()
        s //= 2
    r = buf[0]
    cuda.syncthreads()
    return r


_tls = threading.local()


def partials(key, size, dtype):
    """This thread's scratch device array ``key`` of ``size`` entries (reused while the
    size and dtype stay; per thread, so two host threads never share one)."""
    bufs = _tls.__dict__
    b = bufs.get(key)
    if b is None or b.shape[0] != size or b.dtype != np.dtype(dtype):
        b = cuda.device_array(size, dtype=dtype)
        bufs[key] = b
    return b


# ---- kernels --------------------------------------------------------------------------------

def _sum_partials_kernel(vec, part):
    """``part[b]`` = float64 sum of the grid-stride share of block ``b`` of ``vec``."""
    buf = cuda.shared.array(MAX_THREADS, float64)
    acc = np.float64(0.0)
    for i in range(cuda.grid(1), vec.shape[0], cuda.gridsize(1)):
        acc += np.float64(vec[i])
    r = block_sum(buf, acc)
    if cuda.threadIdx.x == 0:
        part[cuda.blockIdx.x] = r


def _row_sums_kernel(a, out):
    """``out[i] = sum_j a[i, j]`` (float64), one block per row."""
    buf = cuda.shared.array(MAX_THREADS, float64)
    n, k = a.shape
    for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
        acc = np.float64(0.0)
        for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
            acc += np.float64(a[i, j])
        r = block_sum(buf, acc)
        if cuda.threadIdx.x == 0:
            out[i] = r


_sum_partials = cuda.jit(_sum_partials_kernel)
_row_sums = cuda.jit(_row_sums_kernel)


def mean(vec):
    """Mean of a device vector as a host float64: a deterministic float64 tree sum per
    block, the block sums then added exactly on the host (``math.fsum``).  NaN when empty."""
    n = vec.shape[0]
    if n == 0:
        return float("nan")
    threads = threads_for(n)
    blocks = _launch.blocks_for(n, threads)
    part = partials("mean", blocks, np.float64)
    _launch.launch_2d(_sum_partials, blocks, threads, vec, part)
    return math.fsum(part.copy_to_host()) / n


def row_sums(a, out):
    """``out[i] = sum_j a[i, j]`` for a device matrix ``a`` [n, k] (float64 accumulation);
    ``out`` [n] device vector, overwritten."""
    row_launch(_row_sums, a.shape[0], a.shape[1], a, out)


def ptx_cases(ft):
    """``(name, python function, argument types, f64 use)`` of this module's kernels for the
    float type ``ft`` (the PTX tests compile each; see ``tests/test_cuda_ptx_elem.py``)."""
    vec, mat = types.Array(ft, 1, "A"), types.Array(ft, 2, "A")
    f64vec = types.Array(types.float64, 1, "A")
    return [("reductions.mean", _sum_partials_kernel, (vec, f64vec), "accumulate"),
            ("reductions.row_sums", _row_sums_kernel, (mat, vec), "accumulate")]
