"""Loss functions (per-example scores) and their gradients as ``@njit`` kernels.

Definitions follow ND4J: per example,

* ``mse``  = mean over columns of ``(a - y)^2``
* ``l2``   = sum over columns of ``(a - y)^2``
* ``l1``   = sum over columns of ``|a - y|``
* ``xent`` = binary cross-entropy ``-sum[y log a + (1-y) log(1-a)]``
* ``mcxent`` / ``negativeloglikelihood`` = ``-sum y log a``

The gradient kernel returns the gradient with respect to the layer's
*pre-activation* ``z`` (the activation derivative is applied inside), scaled
by ``scale`` (callers pass ``1/N`` to average over the minibatch).  For
``xent`` on a sigmoid output and ``mcxent``/``nll`` on a softmax output the
score uses the log-sigmoid / log-softmax of ``z`` and the gradient the fused
form ``a - y``, which never takes ``log(0)``.  Elsewhere log arguments are
clamped from below by ``LOG_EPS``.
"""
import math

import numpy as np
from numba import njit

from .activations import per_activation
from .fastmath import row_logsumexp, softplus

# Template globals bound per activation (see :mod:`.activations`); placeholders here.
_act_backward = None
_ACT_IS_SIGMOID = _ACT_IS_SOFTMAX = False

MSE = 0
L1 = 1
L2 = 2
XENT = 3
MCXENT = 4
NEGATIVELOGLIKELIHOOD = 5

#: Names in code order.
NAMES = ("mse", "l1", "l2", "xent", "mcxent", "negativeloglikelihood")

LOG_EPS = 1e-12


@njit(fastmath={"reassoc"}, error_model="numpy")
def sq_diff_sum(a, y):
    """``sum((a - y)^2)`` of two 1-D rows in float64, reassociable so it vectorises
    (see :func:`.fastmath.row_sum`)."""
    s = 0.0
    for j in range(a.shape[0]):
        d = np.float64(a[j]) - np.float64(y[j])
        s += d * d
    return s


@per_activation
def loss_score(y, a, z, loss, out):
    """Per-example loss.

    Parameters
    ----------
    y : [n, k] targets.
    a : [n, k] activation output.
    z : [n, k] pre-activation (read only for the fused stable forms).
    loss : loss code.
    out : [n] per-example loss, overwritten.
    """
    n, k = a.shape
    for i in range(n):
        s = 0.0
        if loss == MSE or loss == L2:
            s = sq_diff_sum(a[i], y[i])
            if loss == MSE:
                s /= k
        elif loss == L1:
            for j in range(k):
                s += abs(a[i, j] - y[i, j])
        elif loss == XENT:
            if _ACT_IS_SIGMOID:
                # -[y log s(z) + (1-y) log(1-s(z))] = softplus(z) - y z
                for j in range(k):
                    s += softplus(z[i, j]) - y[i, j] * z[i, j]
            else:
                for j in range(k):
                    p = a[i, j]
                    s -= y[i, j] * math.log(max(p, LOG_EPS)) + (1.0 - y[i, j]) * math.log(
                        max(1.0 - p, LOG_EPS))
        else:  # MCXENT / NEGATIVELOGLIKELIHOOD
            if _ACT_IS_SOFTMAX:
                lse = row_logsumexp(z[i])
                for j in range(k):
                    s -= y[i, j] * (z[i, j] - lse)
            else:
                for j in range(k):
                    s -= y[i, j] * math.log(max(a[i, j], LOG_EPS))
        out[i] = s


@per_activation
def loss_grad(y, a, z, loss, scale, delta):
    """Gradient of ``scale * sum_i loss_i`` with respect to ``z``.

    Parameters
    ----------
    y, a, z : [n, k] targets, activation output, pre-activation.
    loss : loss code.
    scale : float multiplier (``1/N`` for a minibatch mean).
    delta : [n, k] output, overwritten with ``scale * dL/dz``.
    """
    n, k = a.shape
    fused = (loss == XENT and _ACT_IS_SIGMOID) or (
        (loss == MCXENT or loss == NEGATIVELOGLIKELIHOOD) and _ACT_IS_SOFTMAX)
    if fused:
        if loss == MCXENT or loss == NEGATIVELOGLIKELIHOOD:
            # d/dz of -sum y log softmax(z) = a * sum(y) - y
            for i in range(n):
                sy = 0.0
                for j in range(k):
                    sy += y[i, j]
                for j in range(k):
                    delta[i, j] = scale * (a[i, j] * sy - y[i, j])
        else:
            c = delta.dtype.type(scale)
            for i in range(n):
                for j in range(k):
                    delta[i, j] = c * (a[i, j] - y[i, j])
        return
    # One loop per loss (the branch sits outside the loops so they vectorise), in the
    # arrays' dtype.
    t = delta.dtype.type
    if loss == MSE or loss == L2:
        c = t(2.0 * scale / k) if loss == MSE else t(2.0 * scale)
        for i in range(n):
            for j in range(k):
                delta[i, j] = c * (a[i, j] - y[i, j])
    elif loss == L1:
        c, zero = t(scale), t(0.0)
        for i in range(n):
            for j in range(k):
                d = a[i, j] - y[i, j]
                delta[i, j] = c if d > zero else (-c if d < zero else zero)
    elif loss == XENT:
        for i in range(n):
            for j in range(k):
                p = a[i, j]
                delta[i, j] = scale * (-y[i, j] / max(p, LOG_EPS) + (1.0 - y[i, j]) / max(1.0 - p, LOG_EPS))
    else:
        for i in range(n):
            for j in range(k):
                delta[i, j] = scale * (-y[i, j] / max(a[i, j], LOG_EPS))
    _act_backward(z, a, delta)


#: Rows per block of :func:`loss_score_and_grad` (a block of y, a, z, delta stays in L1/L2).
SCORE_GRAD_ROWS = 8


@per_activation
def loss_score_and_grad(y, a, z, loss, scale, out, delta):
    """:func:`loss_score` and :func:`loss_grad` in one sweep over blocks of rows, so each
    block is read from cache by the second kernel (a training step needs both).
    Same arguments and results as the two kernels."""
    n = a.shape[0]
    for s in range(0, n, SCORE_GRAD_ROWS):
        e = min(n, s + SCORE_GRAD_ROWS)
        loss_score(y[s:e], a[s:e], z[s:e], loss, out[s:e])
        loss_grad(y[s:e], a[s:e], z[s:e], loss, scale, delta[s:e])
