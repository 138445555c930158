"""Dense (fully connected) layer kernels: fused GEMM + bias + activation
forward, parameter gradients and the fused backward delta.

Kernels with an activation step are :class:`.activations.per_activation` templates,
called as ``dense_forward[act](...)``.

GEMMs go to BLAS through ``np.dot`` inside ``@njit`` (activation x weight products
through :func:`matmul`, which picks the faster orientation for small batches);
elementwise steps are fused into single passes.  All outputs are preallocated by the caller.
"""
import numpy as np
from numba import njit

from .activations import per_activation

# Template globals bound per activation (see :mod:`.activations`); placeholders here.
_act_bias_map = _act_bias_keep_z = _act_backward = None
_ACT_NEEDS_PRE = False

#: Row counts up to which :func:`matmul` computes ``(b.T @ a.T).T`` instead of ``a @ b``.
SMALL_M = 24
#: ... when both other dimensions are at least this large.
SMALL_M_MIN_DIM = 128


@njit(cache=True, error_model="numpy")
def matmul(a, b, out):
    """``out = a @ b`` for an activation-sized ``a`` [m, k] and a weight ``b`` [k, n] (either
    may be a transposed view); ``out`` [m, n] C-contiguous.

    For a small batch (``m <= SMALL_M``, ``k, n >= SMALL_M_MIN_DIM``) OpenBLAS is 1.2-2x
    faster on the transposed product ``b.T @ a.T`` -> [n, m] (it then splits the work
    across threads along ``n``, not the short ``m``); the result is transposed into
    ``out`` (a copy of m*n values, included in that figure).  Measured on 2 threads,
    batch 16: 16x784 @ 784x256 92 -> 69 us, 16x784 @ (256x784).T 97 -> 52 us; at batch
    64 the plain product is faster.
    """
    m, n = out.shape
    if m <= SMALL_M and n >= SMALL_M_MIN_DIM and a.shape[1] >= SMALL_M_MIN_DIM:
        tmp = np.empty((n, m), dtype=out.dtype)
        np.dot(b.T, a.T, tmp)
        for i in range(m):
            for j in range(n):
                out[i, j] = tmp[j, i]
    else:
        np.dot(a, b, out)


@per_activation
def dense_forward(x, W, b, z, out):
    """``out = f(x @ W + b)``; ``z`` [n, n_out] receives the pre-activation when the
    activation's derivative needs it (``needs_pre``), else pass ``z = out``.

    Parameters
    ----------
    x : [n, n_in]; W : [n_in, n_out]; b : [n_out].
    z, out : [n, n_out], overwritten.
    """
    matmul(x, W, z)
    if _ACT_NEEDS_PRE:
        _act_bias_keep_z(z, b, out)
    else:
        _act_bias_map(z, b, out)


@per_activation
def dense_forward_keep_z(x, W, b, z, out):
    """``z = x @ W + b; out = f(z)`` keeping both (loss-bearing layers).

    Parameters
    ----------
    x : [n, n_in]; W : [n_in, n_out]; b : [n_out].
    z, out : [n, n_out], overwritten.
    """
    matmul(x, W, z)
    _act_bias_keep_z(z, b, out)


@per_activation
def dense_transposed_forward_keep_z(h, W, vb, z, out):
    """Tied-weight decode ``z = h @ W.T + vb; out = f(z)``.

    Parameters
    ----------
    h : [n, n_out]; W : [n_in, n_out]; vb : [n_in].
    z, out : [n, n_in], overwritten.
    """
    matmul(h, W.T, z)
    _act_bias_keep_z(z, vb, out)


@njit(cache=True, error_model="numpy")
def column_sums(delta, db):
    """``db[j] = sum_i delta[i, j]`` (bias gradient), overwritten."""
    n, k = delta.shape
    for j in range(k):
        db[j] = 0.0
    for i in range(n):
        for j in range(k):
            db[j] += delta[i, j]


@njit(cache=True, error_model="numpy")
def dense_param_grads(x, delta, dW, db):
    """Parameter gradients of an affine map ``x @ W + b``.

    Parameters
    ----------
    x : [n, n_in] layer input; delta : [n, n_out] gradient w.r.t. the pre-activation.
    dW : [n_in, n_out] and db : [n_out], overwritten with ``x.T @ delta`` and ``sum_i delta``.
    """
    np.dot(x.T, delta, dW)
    column_sums(delta, db)


@njit(cache=True, error_model="numpy")
def add_l1_activity_grad(h, coef, delta):
    """``delta += coef * sign(h)`` (gradient of an L1 activity penalty)."""
    n, k = h.shape
    for i in range(n):
        for j in range(k):
            v = h[i, j]
            if v > 0.0:
                delta[i, j] += coef
            elif v < 0.0:
                delta[i, j] -= coef


@njit(cache=True, error_model="numpy")
def abs_row_sums(h, out):
    """``out[i] = sum_j |h[i, j]|`` (per-example L1 activity)."""
    n, k = h.shape
    for i in range(n):
        s = 0.0
        for j in range(k):
            s += abs(h[i, j])
        out[i] = s


@per_activation
def dense_backward(x, W, z, a, delta, dW, db, need_dx, dx):
    """Backward pass of ``a = f(x @ W + b)``.

    Parameters
    ----------
    x : [n, n_in] layer input; W : [n_in, n_out].
    z, a : [n, n_out] pre-activation (or ``a`` again, see :func:`dense_forward`) and output.
    delta : [n, n_out] gradient w.r.t. ``a``; overwritten with the gradient w.r.t. the pre-activation.
    dW : [n_in, n_out], db : [n_out], overwritten with the parameter gradients.
    need_dx : bool; when true ``dx`` [n, n_in] is overwritten with the gradient w.r.t. ``x``.
    """
    _act_backward(z, a, delta)
    dense_param_grads(x, delta, dW, db)
    if need_dx:
        matmul(delta, W.T, dx)


@njit(cache=True, error_model="numpy")
def affine_backward(x, W, delta, dW, db, need_dx, dx):
    """Backward pass of an affine map given ``delta`` = gradient w.r.t. its output
    (``dense_backward`` without the activation step)."""
    dense_param_grads(x, delta, dW, db)
    if need_dx:
        matmul(delta, W.T, dx)


@per_activation
def tied_autoencoder_backward(stack_in, stack_h, zh, W, sparsity_coef, dW, db, dvb):
    """Backward pass of the tied-weight autoencoder ``r = f(f(x~ W + b) W.T + vb)``.

    Parameters
    ----------
    stack_in : [2n, n_in]; rows [0, n) hold the corrupted input x~, rows [n, 2n)
        the gradient w.r.t. the decoder pre-activation (dr).
    stack_h : [2n, n_out]; rows [n, 2n) hold the code h; rows [0, n) are
        overwritten with the gradient w.r.t. the encoder pre-activation (dh).
    zh : [n, n_out] encoder pre-activation (or the code h itself, see :func:`dense_forward`).
    W : [n_in, n_out].
    sparsity_coef : ``sparsity / n`` for the L1 activity penalty (0 = off).
    dW : [n_in, n_out], db : [n_out], dvb : [n_in], overwritten.  One GEMM gives
        ``dW = x~^T dh + dr^T h = stack_in^T stack_h``.
    """
    n = stack_in.shape[0] // 2
    dr = stack_in[n:]
    dh = stack_h[:n]
    h = stack_h[n:]
    matmul(dr, W, dh)
    if sparsity_coef != 0.0:
        add_l1_activity_grad(h, sparsity_coef, dh)
    _act_backward(zh, h, dh)
    np.dot(stack_in.T, stack_h, dW)
    column_sums(dh, db)
    column_sums(dr, dvb)
