"""CUDA twins of :mod:`numba_ae.kernels.dense` (and of ``kernels.vae.pzx_backward``, which
is GEMMs too): same names, positional signatures and semantics (outputs overwritten,
``need_dx`` False leaves ``dx`` untouched), on device arrays.

Every product is one launch of :mod:`.gemm`, with the elementwise steps fused into its
epilogue where they fit: ``dense_forward[act]`` is one launch (softmax: GEMM + bias, then
the row softmax); the backward step ``delta *= f'`` is fused with the bias gradient
(:data:`.activations.backward_column_sums`), and in the tied autoencoder with the product
that brings the code's gradient (:func:`.gemm.gemm_grad`).  Transposed weights are
expressed by the GEMM's transpose flags (a device array's ``.T`` would launch a copy).
Launches per call are listed in each docstring (elementwise activation / softmax).
"""
from numba import cuda

from . import activations as _ca
from ._launch import jit_kernel, launch_2d
from .activations import (
    column_grid,
    column_sums_kernel,
    column_sums_pair_kernel,
    elementwise_grid,
)
from .gemm import gemm, gemm_grad

__all__ = [
    "abs_row_sums",
    "add_l1_activity_grad",
    "affine_backward",
    "column_sums",
    "column_sums_pair",
    "dense_backward",
    "dense_forward",
    "dense_forward_keep_z",
    "dense_param_grads",
    "dense_transposed_forward_keep_z",
    "matmul",
    "ptx_cases",
    "pzx_backward",
    "tied_autoencoder_backward",
]


def matmul(a, b, out, *, trans_a=False, trans_b=False):
    """``out = op(a) @ op(b)`` (one launch); ``out`` [m, n] overwritten.

    The CPU kernel takes transposed views (``W.T``); here say ``trans_b=True`` with ``W``
    instead (strided views are accepted too, but read with strided loads).
    """
    gemm(a, b, out, trans_a, trans_b)


def _forward_builder(keep_z, transposed):
    def build(act):
        trans_b = transposed
        if act.is_softmax:
            row_softmax = _ca.bias_keep_z[act] if keep_z else _ca.bias_map[act]

            def fwd(x, W, b, z, out):
                gemm(x, W, z, False, trans_b)                       # z = x @ W
                row_softmax(z, b, out)                              # out = softmax(z + b) [z += b]
            return fwd
        keep = keep_z or act.needs_pre

        def fwd(x, W, b, z, out):
            if keep:
                gemm(x, W, out, False, trans_b, bias=b, act=act, z=z)
            elif z is out:
                gemm(x, W, out, False, trans_b, bias=b, act=act)
            else:   # as the CPU kernel: z = x @ W (before the bias), out = f(z + b)
                gemm(x, W, out, False, trans_b, bias=b, act=act, z=z, z_mode="pre")
        return fwd
    return build


def _doc(per_act, doc):
    per_act.__doc__ = doc
    return per_act


dense_forward = _doc(_ca.per_activation(_forward_builder(False, False), "dense_forward", __name__), """
``dense_forward[act](x, W, b, z, out)``: ``out = f(x @ W + b)``; ``z`` receives the
pre-activation when the activation's derivative needs it (``needs_pre``), else pass
``z = out``.  One launch (softmax: two).

Parameters
----------
x : [n, n_in]; W : [n_in, n_out]; b : [n_out].
z, out : [n, n_out], overwritten (a ``z`` distinct from ``out`` without ``needs_pre``
    receives ``x @ W``, as on the CPU).
""")

dense_forward_keep_z = _doc(
    _ca.per_activation(_forward_builder(True, False), "dense_forward_keep_z", __name__), """
``dense_forward_keep_z[act](x, W, b, z, out)``: ``z = x @ W + b; out = f(z)``.  One launch
(softmax: two).
""")

dense_transposed_forward_keep_z = _doc(
    _ca.per_activation(_forward_builder(True, True), "dense_transposed_forward_keep_z", __name__), """
``dense_transposed_forward_keep_z[act](h, W, vb, z, out)``: tied-weight decode
``z = h @ W.T + vb; out = f(z)`` (``W`` [n_in, n_out] read transposed in place).  One launch
(softmax: two).
""")


def column_sums(delta, db):
    """``db[j] = sum_i delta[i, j]`` (bias gradient), overwritten.  One launch."""
    launch_2d(column_sums_kernel(None), *column_grid(delta.shape[1]), delta, delta, delta, db)


def column_sums_pair(x, dx, y, dy):
    """``dx = column sums of x`` and ``dy = column sums of y`` in one launch."""
    k = max(x.shape[1], y.shape[1])
    launch_2d(column_sums_pair_kernel(), *column_grid(k, jobs=2), x, dx, y, dy)


def dense_param_grads(x, delta, dW, db):
    """``dW = x.T @ delta``, ``db = sum_i delta[i]``, overwritten.  Two launches.

    Parameters
    ----------
    x : [n, n_in] layer input; delta : [n, n_out] gradient w.r.t. the pre-activation.
    dW : [n_in, n_out]; db : [n_out].
    """
    gemm(x, delta, dW, True, False)
    column_sums(delta, db)


def _l1_pyfunc():
    def add_l1_kernel(h, coef, delta):
        n, k = h.shape
        j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        zero = h.dtype.type(0.0)
        if j < k:
            for i in range(cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y, n,
                           cuda.gridDim.y * cuda.blockDim.y):
                v = h[i, j]
                if v > zero:
                    delta[i, j] += coef
                elif v < zero:
                    delta[i, j] -= coef
    return add_l1_kernel


def _abs_row_sums_pyfunc():
    rsum = _ca._row_sum
    rows = _ca.ROWS_PER_BLOCK

    def abs_row_sums_kernel(h, out):
        n, k = h.shape
        red = cuda.shared.array((rows, 32), h.dtype)
        lane = cuda.threadIdx.x
        row = cuda.threadIdx.y
        for base in range(cuda.blockIdx.x * rows, n, cuda.gridDim.x * rows):
            i = base + row
            s = h.dtype.type(0.0)
            if i < n:
                for j in range(lane, k, 32):
                    s += abs(h[i, j])
            s = rsum(red, row, lane, s)
            if i < n and lane == 0:
                out[i] = s
    return abs_row_sums_kernel


_own = {}


def _own_kernel(name, make):
    k = _own.get(name)
    if k is None:
        k = _own[name] = jit_kernel(make())
    return k


def add_l1_activity_grad(h, coef, delta):
    """``delta += coef * sign(h)`` (gradient of an L1 activity penalty).  One launch."""
    launch_2d(_own_kernel("add_l1", _l1_pyfunc), *elementwise_grid(*h.shape), h, delta.dtype.type(coef), delta)


def abs_row_sums(h, out):
    """``out[i] = sum_j |h[i, j]|`` (per-example L1 activity), warp per row.  One launch."""
    launch_2d(_own_kernel("abs_row_sums", _abs_row_sums_pyfunc), *_ca.row_grid(h.shape[0]), h, out)


def _backward_builder(act):
    delta_step = None if act.is_identity else _ca.backward_column_sums[act]

    def dense_backward(x, W, z, a, delta, dW, db, need_dx, dx):
        if delta_step is None:
            column_sums(delta, db)
        else:
            delta_step(z, a, delta, db)       # delta *= f'(z, a); db = column sums
        gemm(x, delta, dW, True, False)
        if need_dx:
            gemm(delta, W, dx, False, True)
    return dense_backward


dense_backward = _doc(_ca.per_activation(_backward_builder, "dense_backward", __name__), """
``dense_backward[act](x, W, z, a, delta, dW, db, need_dx, dx)``: backward pass of
``a = f(x @ W + b)``.  Launches: derivative step fused with ``db`` (softmax: two), ``dW``,
and ``dx`` when ``need_dx``: 3 with ``need_dx`` (softmax 4), else 2 (3).

Parameters
----------
x : [n, n_in] layer input; W : [n_in, n_out].
z, a : [n, n_out] pre-activation (or ``a`` again) and output.
delta : [n, n_out] gradient w.r.t. ``a``; overwritten with the gradient w.r.t. the pre-activation.
dW : [n_in, n_out], db : [n_out], overwritten.
need_dx : bool; when true ``dx`` [n, n_in] is overwritten with ``delta @ W.T``.
""")


def affine_backward(x, W, delta, dW, db, need_dx, dx):
    """Backward pass of an affine map given ``delta`` = gradient w.r.t. its output
    (``dense_backward`` without the activation step).  3 launches (2 without ``need_dx``)."""
    column_sums(delta, db)
    gemm(x, delta, dW, True, False)
    if need_dx:
        gemm(delta, W, dx, False, True)


def _tied_builder(act):
    if act.is_softmax:
        back = _ca.backward[act]

        def tied(stack_in, stack_h, zh, W, sparsity_coef, dW, db, dvb):
            n = stack_in.shape[0] // 2
            dr, dh, h = stack_in[n:], stack_h[:n], stack_h[n:]
            gemm(dr, W, dh)
            if sparsity_coef != 0.0:
                add_l1_activity_grad(h, sparsity_coef, dh)
            back(zh, h, dh)
            gemm(stack_in, stack_h, dW, True, False)
            column_sums_pair(dh, db, dr, dvb)
        return tied

    def tied(stack_in, stack_h, zh, W, sparsity_coef, dW, db, dvb):
        n = stack_in.shape[0] // 2
        dr, dh, h = stack_in[n:], stack_h[:n], stack_h[n:]
        # dh = (dr @ W + coef sign(h)) * f'(zh, h), one launch
        gemm_grad(dr, W, dh, act, zh, h, l1_coef=sparsity_coef)
        gemm(stack_in, stack_h, dW, True, False)
        column_sums_pair(dh, db, dr, dvb)
    return tied


tied_autoencoder_backward = _doc(_ca.per_activation(_tied_builder, "tied_autoencoder_backward", __name__), """
``tied_autoencoder_backward[act](stack_in, stack_h, zh, W, sparsity_coef, dW, db, dvb)``:
backward pass of the tied-weight autoencoder ``r = f(f(x~ W + b) W.T + vb)``.  Launches:
``dh`` (GEMM with the L1 term and the derivative in its epilogue), ``dW`` (one GEMM over
the stacks), ``db`` and ``dvb`` (one launch): 3 (softmax: 4, 5 with a sparsity penalty).

Parameters
----------
stack_in : [2n, n_in]; rows [0, n) hold the corrupted input x~, rows [n, 2n) the gradient
    w.r.t. the decoder pre-activation (dr).
stack_h : [2n, n_out]; rows [n, 2n) hold the code h; rows [0, n) are overwritten with the
    gradient w.r.t. the encoder pre-activation (dh).
zh : [n, n_out] encoder pre-activation (or the code h itself).
W : [n_in, n_out]; sparsity_coef : ``sparsity / n`` (0 = off).
dW : [n_in, n_out], db : [n_out], dvb : [n_in], overwritten.
""")


def pzx_backward(h, mW, lW, dmean, dlogvar, gmW, gmb, glW, glb, need_dh, dh, tmp):
    """Backward of the two q(z|x) heads ``mean = h mW + mb``, ``logvar = h lW + lb``
    (``dmean``/``dlogvar`` already through the pzx activation).  5 launches (3 without
    ``need_dh``): ``gmW``, ``glW``, both bias gradients in one, and ``dh`` as a GEMM plus
    an accumulating GEMM.

    Parameters
    ----------
    h : [n, m] last encoder activation; mW, lW : [m, k]; dmean, dlogvar : [n, k].
    gmW, glW : [m, k], gmb, glb : [k], overwritten with the parameter gradients.
    need_dh : bool; dh : [n, m] overwritten with ``dmean mW^T + dlogvar lW^T``.
    tmp : [n, m] scratch of the CPU kernel; unused here (the second product accumulates
        into ``dh``), left untouched.
    """
    gemm(h, dmean, gmW, True, False)
    gemm(h, dlogvar, glW, True, False)
    column_sums_pair(dmean, gmb, dlogvar, glb)
    if need_dh:
        gemm(dmean, mW, dh, False, True)
        gemm(dlogvar, lW, dh, False, True, accumulate=True)


def ptx_cases():
    """``(name, pyfunc, argtypes)`` of this module's own kernels (the rest are
    :mod:`.gemm`'s and :mod:`.activations`') for the PTX tests, float32 and float64."""
    cases = []
    for dtype in ("float32", "float64"):
        dt, a2, a1 = _ca._ptx_types(dtype)
        cases.append((f"add_l1_activity_grad[{dtype}]", _l1_pyfunc(), (a2, dt, a2)))
        cases.append((f"abs_row_sums[{dtype}]", _abs_row_sums_pyfunc(), (a2, a1)))
    return cases

