"""CUDA twins of the activation array kernels of :mod:`numba_ae.kernels.activations`.

``map_[act](src, dst)``, ``bias_map[act](src, b, dst)``, ``bias_keep_z[act](z, b, a)`` and
``backward[act](z, a, delta)`` have the CPU kernels' names, signatures and semantics;
``backward_column_sums[act](z, a, delta, db)`` fuses ``backward`` with the bias gradient
``db = sum_i delta[i]`` (one launch instead of two).  Each is a :class:`per_activation`
object: ``map_[act]`` (an :class:`~numba_ae.kernels.activations.Activation` or a registered
name) is a host function launching a kernel compiled for that activation on first use,
user-registered activations included (their scalar ``forward``/``derivative`` compile for
the GPU as they are).

Layouts.  Elementwise kernels: blocks of 32 columns x 8 rows, the grid covering the columns
and striding over the rows (coalesced along rows, no integer division).  Column sums: a
block owns 32 columns, its 8 row lanes stride over all rows and their partial sums are added
in a fixed order (deterministic, no atomics).  Softmax is row-wise: one warp per row (8 rows
per block), max-subtracted, the row max and sum reduced through shared memory.
"""
import math
import types as _pytypes

import numpy as np
from numba import config, cuda, njit, types

from .. import activations as _acts
from .. import fastmath as _fm

# _fastmath also registers the CUDA lowering of the fastmath stubs
from . import _fastmath as _cfm
from ._launch import jit_kernel, launch_2d

__all__ = [
    "backward",
    "backward_column_sums",
    "bias_keep_z",
    "bias_map",
    "column_grid",
    "device_function",
    "device_scalar",
    "elementwise_grid",
    "map_",
    "per_activation",
    "ptx_cases",
    "row_grid",
]

#: Block of the elementwise and column kernels: (columns, row lanes).
BLOCK_2D = (32, 8)
#: Rows per block of the row-wise (softmax) kernels: one warp of 32 lanes per row.
ROWS_PER_BLOCK = 8
#: Upper bound on the blocks along a grid-strided dimension.
MAX_GRID = 4096


# ---- compiling helpers ------------------------------------------------------------------------

def device_function(pyfunc):
    """A helper that kernels call, inlined into them at Numba-IR level
    (``njit(inline="always")``, which the CUDA target compiles as part of the calling kernel;
    a ``cuda.jit(device=True)`` function would ask the driver for the device's compute
    capability, so ``cuda.compile_ptx`` could not build it on a machine without a GPU).
    The simulator runs kernels as Python: there it is its device-function wrapper (which
    gives the function the simulated ``cuda`` module while it runs)."""
    if config.ENABLE_CUDASIM:
        return cuda.jit(device=True)(pyfunc)
    return njit(inline="always", error_model="numpy")(pyfunc)


# CUDA-side implementations of the target-neutral fastmath stubs (the functions that
# ``_fastmath`` lowers each stub to), as inlinable functions of their own.
_CUDA_MATH = {stub: njit(inline="always", error_model="numpy")(impl) for stub, impl in (
    (_fm.fexp, _cfm._exp), (_fm.flog, _cfm._log), (_fm.flog1p, _cfm._log1p),
    (_fm.ftanh, _cfm._tanh), (_fm.sigmoid, _cfm._sigmoid), (_fm.softplus, _cfm._softplus))}
_scalars = {}


def _cuda_impl(value):
    try:
        return _CUDA_MATH.get(value, value)
    except TypeError:          # an unhashable global
        return value


def device_scalar(fn):
    """An activation's scalar function as kernels call it: a private
    ``njit(inline="always")`` copy of its Python function (cached), inlined into each
    kernel, its fastmath stubs (``fexp``, ``ftanh``, ``sigmoid``, ...) bound to their CUDA
    implementations directly.

    Why not the registered function as it is: a user's function is a plain ``@njit``
    dispatcher, which numba-cuda compiles as a device function -- asking the driver for the
    device's compute capability, so ``cuda.compile_ptx`` could not build the kernel on a
    machine without a GPU (the PTX tests); the inlined copy has no such call.  (The copy also
    predates the fix that made the fastmath stubs safe to call from CUDA kernels after a CPU
    kernel used them -- ``kernels/fastmath.py`` registers its CPU lowering per target now --
    and binds the stubs to their CUDA implementations directly.)  Other ``@njit`` helpers a
    user's function calls are used as they are.
    """
    k = _scalars.get(fn)
    if k is None:
        py = getattr(fn, "py_func", fn)
        g = dict(py.__globals__)
        for name in py.__code__.co_names:
            if name in g:
                g[name] = _cuda_impl(g[name])
        copy = _pytypes.FunctionType(py.__code__, g, py.__name__, py.__defaults__, py.__closure__)
        copy.__qualname__ = py.__qualname__
        k = _scalars[fn] = njit(inline="always", error_model="numpy")(copy)
    return k


def elementwise_grid(n, k):
    """``(grid, block)`` of a 32x8-block elementwise launch over an [n, k] array."""
    gx = max(1, math.ceil(k / BLOCK_2D[0]))
    gy = max(1, min(math.ceil(n / BLOCK_2D[1]), max(1, MAX_GRID // gx)))
    return (gx, gy), BLOCK_2D


def column_grid(k, jobs=1):
    """``(grid, block)`` of a column-reduction launch over ``k`` columns (``jobs`` along y)."""
    return (max(1, math.ceil(k / BLOCK_2D[0])), jobs), BLOCK_2D


def row_grid(n):
    """``(grid, block)`` of a warp-per-row launch over ``n`` rows."""
    return (max(1, min(math.ceil(n / ROWS_PER_BLOCK), MAX_GRID)),), (32, ROWS_PER_BLOCK)


class per_activation:
    """Host functions compiled once per activation: ``kernel[act](...)``.

    Parameters
    ----------
    build : callable
        ``build(act) -> host function`` for an :class:`~numba_ae.kernels.activations.Activation`.
    name : str
        Name of the kernel family.
    module : str or None
        Module that defines it (``repr``); default this one.
    """

    def __init__(self, build, name, module=None):
        self.build = build
        self.__name__ = name
        self.__module__ = module or __name__
        self._compiled = {}

    def __getitem__(self, act):
        act = _acts.get(act) if isinstance(act, str) else act
        k = self._compiled.get(act)
        if k is None:
            k = self._compiled[act] = self.build(act)
        return k

    def __repr__(self):
        return f"<CUDA per-activation kernel {self.__module__}.{self.__name__}>"


# ---- elementwise kernel templates ------------------------------------------------------------

def _map_pyfunc(f):
    def map_kernel(src, dst):
        n, k = src.shape
        j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        if j < k:
            for i in range(cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y, n,
                           cuda.gridDim.y * cuda.blockDim.y):
                dst[i, j] = f(src[i, j])
    return map_kernel


def _bias_map_pyfunc(f):
    def bias_map_kernel(src, b, dst):
        n, k = src.shape
        j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        if j < k:
            bj = b[j]
            for i in range(cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y, n,
                           cuda.gridDim.y * cuda.blockDim.y):
                dst[i, j] = f(src[i, j] + bj)
    return bias_map_kernel


def _bias_keep_z_pyfunc(f):
    def bias_keep_z_kernel(z, b, a):
        n, k = z.shape
        j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        if j < k:
            bj = b[j]
            for i in range(cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y, n,
                           cuda.gridDim.y * cuda.blockDim.y):
                v = z[i, j] + bj
                z[i, j] = v
                a[i, j] = f(v)
    return bias_keep_z_kernel


def _backward_pyfunc(df):
    def backward_kernel(z, a, delta):
        n, k = a.shape
        j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        if j < k:
            for i in range(cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y, n,
                           cuda.gridDim.y * cuda.blockDim.y):
                delta[i, j] *= df(z[i, j], a[i, j])
    return backward_kernel


# ---- column sums (optionally fused with the backward step) -----------------------------------

def _column_sum_block(red, src, dst, j, lane, n, k):
    """Partial sums of column ``j`` over rows ``lane, lane + 8, ...`` into ``red[lane, x]``,
    then row lane 0 adds the 8 partials in order into ``dst[j]`` (all threads must call it)."""
    x = cuda.threadIdx.x
    s = red.dtype.type(0.0)
    if j < k:
        for i in range(lane, n, 8):
            s += src[i, j]
    red[lane, x] = s
    cuda.syncthreads()
    if lane == 0 and j < k:
        t = red[0, x]
        for q in range(1, 8):
            t += red[q, x]
        dst[j] = t
    cuda.syncthreads()


_column_sum_block_dev = device_function(_column_sum_block)


def _column_sums_pyfunc(df):
    """Kernel ``(z, a, delta, db)``: ``delta *= f'(z, a)`` (when ``df`` is given) and
    ``db = column sums of delta``; one block of 32 columns x 8 row lanes per 32 columns."""
    FUSE = df is not None
    d = df if FUSE else device_scalar(_acts.get("identity").derivative)
    colsum = _column_sum_block_dev

    def column_sums_kernel(z, a, delta, db):
        n, k = delta.shape
        red = cuda.shared.array((8, 32), delta.dtype)
        lane = cuda.threadIdx.y
        j = cuda.blockIdx.x * 32 + cuda.threadIdx.x
        if FUSE and j < k:
            for i in range(lane, n, 8):
                delta[i, j] *= d(z[i, j], a[i, j])
        # each thread sums the rows it scaled itself: no barrier needed before the sums
        colsum(red, delta, db, j, lane, n, k)

    return column_sums_kernel


def _column_sums_pair_pyfunc():
    """Kernel ``(x, dx, y, dy)``: ``dx = column sums of x`` (blocks with ``blockIdx.y == 0``)
    and ``dy = column sums of y`` (``blockIdx.y == 1``) in one launch."""
    colsum = _column_sum_block_dev

    def column_sums_pair_kernel(x, dx, y, dy):
        red = cuda.shared.array((8, 32), x.dtype)
        lane = cuda.threadIdx.y
        j = cuda.blockIdx.x * 32 + cuda.threadIdx.x
        if cuda.blockIdx.y == 0:
            colsum(red, x, dx, j, lane, x.shape[0], x.shape[1])
        else:
            colsum(red, y, dy, j, lane, y.shape[0], y.shape[1])

    return column_sums_pair_kernel


# ---- softmax (row-wise) ------------------------------------------------------------------------

def _combine_max(u, v):
    return v if (v > u or math.isnan(v)) else u      # NaN is sticky, as the CPU row_max


def _combine_sum(u, v):
    return u + v


def _row_reducer(combine):
    """Device helper ``reduce(red, row, lane, v)``: ``combine`` over the 32 lanes of a row
    (tree through ``red[row, :]``; every thread of the block must call it)."""
    comb = device_function(combine)

    def reduce(red, row, lane, v):
        red[row, lane] = v
        cuda.syncthreads()
        for s in (16, 8, 4, 2, 1):
            if lane < s:
                red[row, lane] = comb(red[row, lane], red[row, lane + s])
            cuda.syncthreads()
        r = red[row, 0]
        cuda.syncthreads()
        return r

    return device_function(reduce)


_max = device_function(_combine_max)
_row_max = _row_reducer(_combine_max)
_row_sum = _row_reducer(_combine_sum)


def _softmax_pyfunc(has_bias, keep_z):
    """Kernel ``(src, b, z, dst)``: ``v = src + b`` (without ``has_bias``: ``src``), ``z = v``
    (``keep_z``), ``dst = softmax(v)`` per row, max-subtracted."""
    HAS_BIAS, KEEP_Z = has_bias, keep_z
    rmax, rsum, vmax = _row_max, _row_sum, _max
    fexp = _CUDA_MATH[_fm.fexp]

    def softmax_kernel(src, b, z, dst):
        n, k = src.shape
        red = cuda.shared.array((ROWS_PER_BLOCK, 32), dst.dtype)
        lane = cuda.threadIdx.x
        row = cuda.threadIdx.y
        t = dst.dtype.type
        for base in range(cuda.blockIdx.x * ROWS_PER_BLOCK, n, cuda.gridDim.x * ROWS_PER_BLOCK):
            i = base + row
            mx = t(-math.inf)
            if i < n:
                for j in range(lane, k, 32):
                    v = src[i, j]
                    if HAS_BIAS:
                        v += b[j]
                    if KEEP_Z:
                        z[i, j] = v
                    dst[i, j] = v
                    mx = vmax(mx, v)
            mx = rmax(red, row, lane, mx)
            s = t(0.0)
            if i < n:
                for j in range(lane, k, 32):
                    e = fexp(dst[i, j] - mx)
                    dst[i, j] = e
                    s += e
            s = rsum(red, row, lane, s)
            if i < n:
                inv = t(1.0) / s
                for j in range(lane, k, 32):
                    dst[i, j] *= inv

    return softmax_kernel


def _softmax_backward_pyfunc():
    """Kernel ``(z, a, delta)``: ``delta = a * (delta - <delta, a>)`` per row."""
    rsum = _row_sum

    def softmax_backward_kernel(z, a, delta):
        n, k = a.shape
        red = cuda.shared.array((ROWS_PER_BLOCK, 32), delta.dtype)
        lane = cuda.threadIdx.x
        row = cuda.threadIdx.y
        for base in range(cuda.blockIdx.x * ROWS_PER_BLOCK, n, cuda.gridDim.x * ROWS_PER_BLOCK):
            i = base + row
            s = delta.dtype.type(0.0)
            if i < n:
                for j in range(lane, k, 32):
                    s += delta[i, j] * a[i, j]
            s = rsum(red, row, lane, s)
            if i < n:
                for j in range(lane, k, 32):
                    delta[i, j] = a[i, j] * (delta[i, j] - s)

    return softmax_backward_kernel


# ---- host functions ------------------------------------------------------------------------------

_kernels = {}
_dummies = {}


def dummy_vec(dtype):
    """A one-element device vector of ``dtype`` passed for a kernel's unused vector argument."""
    key = np.dtype(dtype)
    d = _dummies.get(key)
    if d is None:
        d = _dummies[key] = cuda.to_device(np.zeros(1, dtype=key))
    return d


def _kernel(key, make):
    k = _kernels.get(key)
    if k is None:
        k = _kernels[key] = jit_kernel(make())
    return k


def _softmax_kernel(has_bias, keep_z):
    return _kernel(("softmax", has_bias, keep_z), lambda: _softmax_pyfunc(has_bias, keep_z))


def column_sums_kernel(act=None):
    """The column-sum kernel ``(z, a, delta, db)``, fused with ``act``'s backward step
    (``act`` None: plain sums, ``z`` and ``a`` unread)."""
    df = None if act is None or act.is_identity else device_scalar(act.derivative)
    return _kernel(("column_sums", act if df is not None else None), lambda: _column_sums_pyfunc(df))


def column_sums_pair_kernel():
    """The kernel ``(x, dx, y, dy)`` summing the columns of two arrays in one launch."""
    return _kernel(("column_sums_pair",), _column_sums_pair_pyfunc)


def softmax_backward_kernel():
    """The row-wise softmax backward kernel ``(z, a, delta)``."""
    return _kernel(("softmax_backward",), _softmax_backward_pyfunc)


def _build_map(act):
    if act.is_softmax:
        kern = _softmax_kernel(False, False)

        def map_(src, dst):
            """``dst = softmax(src)`` row-wise (``src`` may be ``dst``)."""
            launch_2d(kern, *row_grid(src.shape[0]), src, dummy_vec(dst.dtype), dst, dst)
        return map_
    kern = jit_kernel(_map_pyfunc(device_scalar(act.forward)))

    def map_(src, dst):
        """``dst = f(src)`` over [n, k] device arrays (they may be the same array)."""
        launch_2d(kern, *elementwise_grid(*src.shape), src, dst)
    return map_


def _build_bias_map(act):
    if act.is_softmax:
        kern = _softmax_kernel(True, False)

        def bias_map(src, b, dst):
            """``dst = softmax(src + b)`` row-wise."""
            launch_2d(kern, *row_grid(src.shape[0]), src, b, dst, dst)
        return bias_map
    kern = jit_kernel(_bias_map_pyfunc(device_scalar(act.forward)))

    def bias_map(src, b, dst):
        """``dst = f(src + b)`` with bias ``b`` [k] (``src`` may be ``dst``)."""
        launch_2d(kern, *elementwise_grid(*src.shape), src, b, dst)
    return bias_map


def _build_bias_keep_z(act):
    if act.is_softmax:
        kern = _softmax_kernel(True, True)

        def bias_keep_z(z, b, a):
            """``z += b; a = softmax(z)`` row-wise."""
            launch_2d(kern, *row_grid(z.shape[0]), z, b, z, a)
        return bias_keep_z
    kern = jit_kernel(_bias_keep_z_pyfunc(device_scalar(act.forward)))

    def bias_keep_z(z, b, a):
        """``z += b; a = f(z)`` in place on ``z`` [n, k], output into ``a``."""
        launch_2d(kern, *elementwise_grid(*z.shape), z, b, a)
    return bias_keep_z


def _build_backward(act):
    if act.is_softmax:
        kern = softmax_backward_kernel()

        def backward(z, a, delta):
            """``delta = a * (delta - <delta, a>)`` per row (softmax Jacobian-vector product)."""
            launch_2d(kern, *row_grid(a.shape[0]), z, a, delta)
        return backward
    kern = jit_kernel(_backward_pyfunc(device_scalar(act.derivative)))

    def backward(z, a, delta):
        """``delta *= f'(z, a)`` in place (``z`` may be ``a`` when the derivative reads the
        output only)."""
        launch_2d(kern, *elementwise_grid(*a.shape), z, a, delta)
    return backward


def _build_backward_column_sums(act):
    if act.is_softmax:
        back = _build_backward(act)
        sums = column_sums_kernel(None)

        def backward_column_sums(z, a, delta, db):
            """Softmax backward (row-wise) then ``db = sum_i delta[i]``: two launches."""
            back(z, a, delta)
            launch_2d(sums, *column_grid(delta.shape[1]), delta, delta, delta, db)
        return backward_column_sums
    kern = column_sums_kernel(act)

    def backward_column_sums(z, a, delta, db):
        """``delta *= f'(z, a)`` and ``db[j] = sum_i delta[i, j]``, one launch."""
        launch_2d(kern, *column_grid(delta.shape[1]), z, a, delta, db)
    return backward_column_sums


map_ = per_activation(_build_map, "map_")
bias_map = per_activation(_build_bias_map, "bias_map")
bias_keep_z = per_activation(_build_bias_keep_z, "bias_keep_z")
backward = per_activation(_build_backward, "backward")
backward_column_sums = per_activation(_build_backward_column_sums, "backward_column_sums")


# ---- PTX cases ---------------------------------------------------------------------------------

def _ptx_types(dtype):
    dt = types.float32 if np.dtype(dtype) == np.float32 else types.float64
    return dt, types.Array(dt, 2, "C"), types.Array(dt, 1, "C")


def ptx_cases(acts=None):
    """``(name, pyfunc, argtypes)`` of every kernel template of this module for the PTX tests,
    float32 and float64; the elementwise ones for each built-in activation (or ``acts``)."""
    acts = [_acts.get(a) for a in (acts or _acts.NAMES)]
    cases = []
    for dtype in (np.float32, np.float64):
        _, a2, a1 = _ptx_types(dtype)
        tag = np.dtype(dtype).name
        for act in acts:
            if act.is_softmax:
                continue
            f, df = device_scalar(act.forward), device_scalar(act.derivative)
            cases += [(f"map_[{act.name}][{tag}]", _map_pyfunc(f), (a2, a2)),
                      (f"bias_map[{act.name}][{tag}]", _bias_map_pyfunc(f), (a2, a1, a2)),
                      (f"bias_keep_z[{act.name}][{tag}]", _bias_keep_z_pyfunc(f), (a2, a1, a2)),
                      (f"backward[{act.name}][{tag}]", _backward_pyfunc(df), (a2, a2, a2)),
                      (f"backward_column_sums[{act.name}][{tag}]", _column_sums_pyfunc(df), (a2, a2, a2, a1))]
        cases.append((f"column_sums[{tag}]", _column_sums_pyfunc(None), (a2, a2, a2, a1)))
        cases.append((f"column_sums_pair[{tag}]", _column_sums_pair_pyfunc(), (a2, a1, a2, a1)))
        for hb, kz in ((False, False), (True, False), (True, True)):
            cases.append((f"softmax[bias={hb},keep_z={kz}][{tag}]", _softmax_pyfunc(hb, kz), (a2, a1, a2, a2)))
        cases.append((f"softmax_backward[{tag}]", _softmax_backward_pyfunc(), (a2, a2, a2)))
    return cases
