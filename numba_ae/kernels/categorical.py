"""Kernels of the categorical reconstruction distribution: one categorical variable per
row of a one-hot slice ``x`` [n, d], with the decoder's logits ``a`` [n, d] (softmax
over the row).

The distribution is row-wise (the softmax couples a row's columns), so it does not fit
the per-element templates of :class:`numba_ae.distributions.base.ElementKernels`; the
array kernels here have the same signatures as theirs (``log_prob(x, a, out)``,
``nll_grad(x, a, scale, grad)``, ``log_prob_and_grad(x, a, scale, out, grad)``,
``mean(a, out)``, ``sample(a, u, out)``).

Every kernel is a driver over the per-row functions ``row_*`` below (``@njit`` with
``inline="always"``), which are written once for both targets: the CUDA twins in
:mod:`numba_ae.kernels.cuda.categorical` call the same functions, one thread per row.
They compute in the arrays' dtype (float32 stays float32) with the target-neutral
elementary functions of :mod:`.fastmath`.

Numerics, per row with ``m = max_j a_j`` at its first index ``jm``:

* ``q = sum_{j != jm} exp(a_j - m)`` (every term in [0, 1], no overflow for any finite
  logits) and ``log sum_j exp(a_j) = m + log1p(q)``, so
  ``log softmax_j = (a_j - m) - log1p(q)``: exact where the largest class holds nearly
  all the mass (``log1p`` of a tiny ``q`` keeps it), finite for logits of any size;
* the NLL gradient ``d(-sum_j x_j log softmax_j)/da_j = (sum_k x_k) softmax_j - x_j``
  (``softmax - x`` for one-hot rows), at ``jm`` written as
  ``((sum_k x_k - x_jm) - x_jm q) / (1 + q)``: for the usual confident correct class
  (``x_jm = 1``) that is ``-q / (1 + q)`` without the cancellation of ``softmax - 1``,
  so it keeps its relative accuracy down to ``q`` at the dtype's smallest numbers (in
  float32, ``1 - softmax`` rounds to 0 once ``q < 6e-8``);
* terms with ``x_j = 0`` are skipped, so a logit of ``-inf`` on a class that is not
  observed contributes 0, not ``0 * inf``.

Rows must have ``d >= 1`` columns; the distribution checks one-hot data at the boundary,
the kernels compute the formulas above for any ``x``.
"""
import math

import numpy as np
from numba import njit

from .fastmath import fexp, flog, flog1p

#: Options of every array kernel here (the package's: no division checks, see docs/index.md).
_OPTS = {"cache": True, "error_model": "numpy"}
_ROW = {"inline": "always", "error_model": "numpy"}

__all__ = ["log_prob", "nll_grad", "log_prob_and_grad", "mean", "sample",
           "row_stats", "row_log_prob", "row_x_sum", "row_grad", "row_mean", "row_sample"]


# ============================================================================ per-row functions
# Shared by the CPU kernels below and the CUDA kernels (kernels/cuda/categorical.py): only
# scalar arithmetic, loops and fastmath calls, constants in the arrays' dtype.

@njit(**_ROW)
def row_stats(a, i):
    """``(m, jm, q, log1p(q))`` of row ``i`` of the logits ``a`` [n, d]: the row maximum
    ``m`` (NaN when the row holds one), its first index ``jm``, and
    ``q = sum_{j != jm} exp(a_ij - m)``, so that ``logsumexp(a_i) = m + log1p(q)``."""
    m = a[i, 0]
    jm = 0
    for j in range(1, a.shape[1]):
        v = a[i, j]
        if v > m or (v != v and m == m):
            m = v
            jm = j
    q = type(m)(0.0)
    for j in range(a.shape[1]):
        if j != jm:
            q += fexp(a[i, j] - m)
    return m, jm, q, flog1p(q)


@njit(**_ROW)
def row_log_prob(x, a, i, m, log_s):
    """``(sum_j x_ij log softmax(a_i)_j, sum_j x_ij)`` of row ``i``, from :func:`row_stats`'
    ``m`` and ``log_s = log1p(q)``; columns with ``x_ij = 0`` are skipped."""
    zero = type(m)(0.0)
    acc = zero
    xs = zero
    for j in range(x.shape[1]):
        xv = x[i, j]
        if xv != zero:
            acc += xv * ((a[i, j] - m) - log_s)
            xs += xv
    return acc, xs


@njit(**_ROW)
def row_x_sum(x, i):
    """``sum_j x_ij`` of row ``i``."""
    xs = type(x[i, 0])(0.0)
    for j in range(x.shape[1]):
        xs += x[i, j]
    return xs


@njit(**_ROW)
def row_grad(x, a, i, m, jm, q, xs, sc, grad):
    """``grad[i, :] = sc * (xs * softmax(a_i) - x_i)`` (overwritten), ``xs = sum_j x_ij``;
    the entry at ``jm`` in the cancellation-free form of the module docstring."""
    one = type(q)(1.0)
    inv_s = one / (one + q)
    for j in range(a.shape[1]):
        xv = x[i, j]
        if j == jm:
            g = ((xs - xv) - xv * q) * inv_s
        else:
            g = xs * (fexp(a[i, j] - m) * inv_s) - xv
        grad[i, j] = g * sc


@njit(**_ROW)
def row_mean(a, i, m, jm, q, out):
    """``out[i, :] = softmax(a_i)`` (the class probabilities)."""
    t = type(q)
    inv_s = t(1.0) / (t(1.0) + q)
    for j in range(a.shape[1]):
        if j == jm:
            out[i, j] = inv_s
        else:
            out[i, j] = fexp(a[i, j] - m) * inv_s


@njit(**_ROW)
def row_sample(a, u, i, out):
    """``out[i, :]`` = one-hot of one class drawn from ``softmax(a_i)`` by the Gumbel-max
    trick: the first ``argmax_j a_ij - log(-log u_ij)`` for the uniforms ``u`` [n, d] in
    [0, 1) (``u = 0`` can never win, ``u >= 1`` always does)."""
    t = type(a[i, 0])
    zero, one = t(0.0), t(1.0)
    best = zero
    k = -1
    for j in range(a.shape[1]):
        uv = u[i, j]
        if uv <= zero:
            continue
        if uv >= one:
            key = t(math.inf)
        else:
            key = a[i, j] - flog(-flog(uv))
        if k < 0 or key > best:
            best = key
            k = j
    if k < 0:  # every draw was 0 (probability 0): take the most probable class
        k = 0
        for j in range(1, a.shape[1]):
            if a[i, j] > a[i, k]:
                k = j
    for j in range(a.shape[1]):
        out[i, j] = one if j == k else zero


# ============================================================================ CPU array kernels

@njit(**_OPTS)
def log_prob(x, a, out):
    """``out[i] = sum_j x_ij log softmax(a_i)_j``.

    Parameters
    ----------
    x : [n, d] data (one-hot rows).
    a : [n, d] logits.
    out : [n] output (overwritten).
    """
    for i in range(x.shape[0]):
        m, jm, q, log_s = row_stats(a, i)
        out[i] = row_log_prob(x, a, i, m, log_s)[0]


@njit(**_OPTS)
def log_prob_elements(x, a, out):
    """``out[i, j] = x_ij log softmax(a_i)_j`` [n, d] (float64; the terms :func:`log_prob`
    sums: the observed class's log-probability, 0 elsewhere)."""
    for i in range(x.shape[0]):
        m, jm, q, log_s = row_stats(a, i)
        zero = type(m)(0.0)
        for j in range(x.shape[1]):
            xv = x[i, j]
            out[i, j] = np.float64(xv * ((a[i, j] - m) - log_s)) if xv != zero else 0.0


@njit(**_OPTS)
def nll_grad(x, a, scale, grad):
    """``grad = scale * d(-sum_i log p(x_i))/da = scale * (softmax(a) - x)`` for one-hot
    rows (``(sum_j x_ij) softmax(a_i) - x_i`` in general).

    Parameters
    ----------
    x, a : [n, d] data and logits.
    scale : float, the factor of the gradient.
    grad : [n, d] output (overwritten).
    """
    sc = a.dtype.type(scale)
    for i in range(x.shape[0]):
        m, jm, q, log_s = row_stats(a, i)
        row_grad(x, a, i, m, jm, q, row_x_sum(x, i), sc, grad)


@njit(**_OPTS)
def log_prob_and_grad(x, a, scale, out, grad):
    """:func:`log_prob` into ``out`` [n] and :func:`nll_grad` into ``grad`` [n, d] in one
    pass over the rows (the training step needs both)."""
    sc = a.dtype.type(scale)
    for i in range(x.shape[0]):
        m, jm, q, log_s = row_stats(a, i)
        lp, xs = row_log_prob(x, a, i, m, log_s)
        out[i] = lp
        row_grad(x, a, i, m, jm, q, xs, sc, grad)


@njit(**_OPTS)
def mean(a, out):
    """``out`` [n, d] = ``softmax(a)`` row by row (the mean of the one-hot variable)."""
    for i in range(a.shape[0]):
        m, jm, q, log_s = row_stats(a, i)
        row_mean(a, i, m, jm, q, out)


@njit(**_OPTS)
def sample(a, u, out):
    """``out`` [n, d] = one one-hot draw per row from ``softmax(a)``, from the uniforms
    ``u`` [n, d] in [0, 1) (Gumbel-max: see :func:`row_sample`)."""
    for i in range(a.shape[0]):
        row_sample(a, u, i, out)
