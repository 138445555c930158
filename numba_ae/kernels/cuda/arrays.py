"""Elementwise array helpers on the device: fill, copy, add, negate (1-D and 2-D arrays,
any strides, e.g. the column slices of a composite distribution).

The backend (:mod:`numba_ae.backends`) calls these where the CPU code writes NumPy
expressions (``a[...] = 0``, ``out += tmp``, ``np.negative(out, out=out)``).
"""
from numba import cuda

from ._launch import LazyKernels, launch_1d


def _fill1(a, v):
    for i in range(cuda.grid(1), a.shape[0], cuda.gridsize(1)):
        a[i] = v


def _fill2(a, v):
    n, k = a.shape
    for t in range(cuda.grid(1), n * k, cuda.gridsize(1)):
        a[t // k, t % k] = v


def _copy1(src, dst):
    for i in range(cuda.grid(1), src.shape[0], cuda.gridsize(1)):
        dst[i] = src[i]


def _copy2(src, dst):
    n, k = src.shape
    for t in range(cuda.grid(1), n * k, cuda.gridsize(1)):
        dst[t // k, t % k] = src[t // k, t % k]


def _add1(a, b):
    for i in range(cuda.grid(1), a.shape[0], cuda.gridsize(1)):
        a[i] += b[i]


def _add2(a, b):
    n, k = a.shape
    for t in range(cuda.grid(1), n * k, cuda.gridsize(1)):
        a[t // k, t % k] += b[t // k, t % k]


def _neg1(a):
    for i in range(cuda.grid(1), a.shape[0], cuda.gridsize(1)):
        a[i] = -a[i]


def _neg2(a):
    n, k = a.shape
    for t in range(cuda.grid(1), n * k, cuda.gridsize(1)):
        a[t // k, t % k] = -a[t // k, t % k]


#: name -> (1-D pyfunc, 2-D pyfunc); the PTX test compiles these.
KERNELS = {"fill": (_fill1, _fill2), "copy": (_copy1, _copy2), "add": (_add1, _add2),
           "negate": (_neg1, _neg2)}
_k = LazyKernels({(name, nd + 1): fns[nd] for name, fns in KERNELS.items() for nd in range(2)})


def _kernel(name, ndim):
    return _k[(name, ndim)]


def _check(a):
    if a.ndim not in (1, 2):
        raise ValueError(f"device array helpers take 1-D or 2-D arrays; got {a.ndim}-D")
    return a.ndim


def fill(a, value):
    """``a[...] = value``."""
    nd = _check(a)
    if a.size:
        launch_1d(_kernel("fill", nd), a.size, a, a.dtype.type(value))


def copy(src, dst):
    """``dst[...] = src`` (same shape)."""
    nd = _check(src)
    if src.size:
        launch_1d(_kernel("copy", nd), src.size, src, dst)


def add(a, b):
    """``a += b`` (same shape)."""
    nd = _check(a)
    if a.size:
        launch_1d(_kernel("add", nd), a.size, a, b)


def negate(a):
    """``a = -a``."""
    nd = _check(a)
    if a.size:
        launch_1d(_kernel("negate", nd), a.size, a)
