"""Launch helpers shared by every CUDA twin: launch configurations and a launch counter.

Every kernel launch of ``numba_ae.kernels.cuda`` goes through :func:`launch_1d` or
:func:`launch_2d` (or calls :func:`count` itself), so :data:`LAUNCHES` counts the
launches of a training step (``benchmarks/run.py --device cuda`` and the launch-count
test read it): a step on small matrices is bound by launches, not FLOPs.
"""
import math

from numba import cuda

#: Threads per block of the one-dimensional (elementwise, per-row) kernels.
THREADS_1D = 256
#: Upper bound on blocks of a grid-stride 1-D launch (enough to fill any current GPU).
MAX_BLOCKS_1D = 4096

_launches = [0]


def count(k=1):
    """Record ``k`` launches made outside :func:`launch_1d`/:func:`launch_2d`."""
    _launches[0] += k


def launches():
    """Kernel launches since the process started (compare two readings)."""
    return _launches[0]


def blocks_for(n, threads=THREADS_1D):
    """Blocks of ``threads`` covering ``n`` items (at least 1, at most MAX_BLOCKS_1D;
    kernels loop with ``cuda.gridsize(1)`` strides past that)."""
    return max(1, min(MAX_BLOCKS_1D, math.ceil(max(int(n), 1) / threads)))


def launch_1d(kernel, n, *args, threads=THREADS_1D):
    """Launch ``kernel[blocks, threads](*args)`` with enough threads for ``n`` items
    (the kernel uses a grid-stride loop, ``for i in range(cuda.grid(1), n, cuda.gridsize(1))``)."""
    _launches[0] += 1
    kernel[blocks_for(n, threads), threads](*args)


def launch_2d(kernel, grid, block, *args):
    """Launch ``kernel[grid, block](*args)`` (tiled kernels choose their own shape)."""
    _launches[0] += 1
    kernel[grid, block](*args)


def jit_kernel(pyfunc, **options):
    """``cuda.jit(pyfunc)`` with the package's options (the plain function stays
    reachable as ``.py_func`` for ``cuda.compile_ptx`` in the PTX tests)."""
    return cuda.jit(**options)(pyfunc)


class LazyKernels:
    """``kernels[name]``: ``cuda.jit`` of the plain function ``pyfuncs[name]``, compiled on
    first use and kept (the plain functions stay in ``pyfuncs`` for the PTX tests)."""

    def __init__(self, pyfuncs):
        self.pyfuncs = pyfuncs
        self._jitted = {}

    def __getitem__(self, name):
        k = self._jitted.get(name)
        if k is None:
            k = self._jitted[name] = cuda.jit(self.pyfuncs[name])
        return k
