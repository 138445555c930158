"""Activation functions and their derivatives as ``@njit`` kernels.

Every activation is identified by a small integer code (the Python layer maps
names to codes in :mod:`numba_ae.registries`).  Derivatives are computed from
the activation *output* ``a`` rather than the pre-activation ``z``, so layers
only keep one buffer per activation; every activation here has a derivative
that is a function of its output.

Kernels work in place on preallocated arrays, for float32 and float64.
"""
import math

import numpy as np
from numba import njit

IDENTITY = 0
RELU = 1
LEAKYRELU = 2
TANH = 3
SIGMOID = 4
SOFTMAX = 5
ELU = 6
SOFTPLUS = 7
SELU = 8
HARDSIGMOID = 9
HARDTANH = 10

#: Names in code order; ``NAMES[code]`` is the activation's registry name.
NAMES = (
    "identity", "relu", "leakyrelu", "tanh", "sigmoid", "softmax",
    "elu", "softplus", "selu", "hardsigmoid", "hardtanh",
)

LEAKY_ALPHA = 0.01
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@njit(cache=True, error_model="numpy", inline="always")
def sigmoid_scalar(v):
    """Overflow-free logistic sigmoid of one value.

    Branch-free in the ``exp`` (one ``exp(-|v|)`` then a select), which keeps loops
    over it pipelined: ~3x faster than branching between ``exp(-v)`` and ``exp(v)``.
    """
    e = math.exp(-abs(v))
    r = 1.0 / (1.0 + e)
    return r if v >= 0 else e * r


@njit(cache=True, error_model="numpy", inline="always")
def softplus_scalar(v):
    """Overflow-free ``log(1 + exp(v))`` of one value."""
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))


@njit(cache=True, error_model="numpy")
def softmax_rows(z):
    """Row-wise softmax of ``z`` [n, k], in place, max-shifted for stability."""
    n, k = z.shape
    for i in range(n):
        m = z[i, 0]
        for j in range(1, k):
            if z[i, j] > m:
                m = z[i, j]
        s = 0.0
        for j in range(k):
            e = math.exp(z[i, j] - m)
            z[i, j] = e
            s += e
        inv = 1.0 / s
        for j in range(k):
            z[i, j] *= inv


@njit(cache=True, error_model="numpy")
def map_activation(src, b, dst, code):
    """``dst[i, j] = f(src[i, j] + b[j])`` for every code but SOFTMAX (``b`` of length 0:
    no bias).  ``src`` and ``dst`` [n, k] may be the same array.

    One loop per activation (the branch on ``code`` sits outside the loops): a loop
    that branches on the code per element does not vectorise and was ~60x slower.
    """
    n, k = src.shape
    if b.shape[0] == 0:
        if code == IDENTITY:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = v
        elif code == RELU:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = v if v > 0.0 else 0.0
        elif code == LEAKYRELU:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = v if v > 0.0 else LEAKY_ALPHA * v
        elif code == TANH:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = math.tanh(v)
        elif code == SIGMOID:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = sigmoid_scalar(v)
        elif code == ELU:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = v if v > 0.0 else math.expm1(v)
        elif code == SOFTPLUS:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = softplus_scalar(v)
        elif code == SELU:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = SELU_SCALE * v if v > 0.0 else SELU_SCALE * SELU_ALPHA * math.expm1(v)
        elif code == HARDSIGMOID:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = min(1.0, max(0.0, 0.2 * v + 0.5))
        elif code == HARDTANH:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = min(1.0, max(-1.0, v))
    else:
        if code == IDENTITY:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = v
        elif code == RELU:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = v if v > 0.0 else 0.0
        elif code == LEAKYRELU:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = v if v > 0.0 else LEAKY_ALPHA * v
        elif code == TANH:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = math.tanh(v)
        elif code == SIGMOID:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = sigmoid_scalar(v)
        elif code == ELU:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = v if v > 0.0 else math.expm1(v)
        elif code == SOFTPLUS:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = softplus_scalar(v)
        elif code == SELU:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = SELU_SCALE * v if v > 0.0 else SELU_SCALE * SELU_ALPHA * math.expm1(v)
        elif code == HARDSIGMOID:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = min(1.0, max(0.0, 0.2 * v + 0.5))
        elif code == HARDTANH:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = min(1.0, max(-1.0, v))


@njit(cache=True, error_model="numpy")
def activation_forward(z, code):
    """Apply activation ``code`` to ``z`` [n, k] in place (``z`` becomes ``a``)."""
    if code == SOFTMAX:
        softmax_rows(z)
    elif code != IDENTITY:
        map_activation(z, np.empty(0, dtype=z.dtype), z, code)


@njit(cache=True, error_model="numpy")
def bias_activation_forward(z, b, code):
    """Fused ``z = f(z + b)`` over ``z`` [n, k] with bias ``b`` [k], in place."""
    if code == SOFTMAX:
        n, k = z.shape
        for i in range(n):
            for j in range(k):
                z[i, j] += b[j]
        softmax_rows(z)
    else:
        map_activation(z, b, z, code)


@njit(cache=True, error_model="numpy")
def bias_activation_forward_keep_z(z, b, code, a):
    """Fused ``z += b; a = f(z)``: keeps the pre-activation ``z`` [n, k] and
    writes the activation into ``a`` [n, k] (used by loss-bearing layers)."""
    n, k = z.shape
    for i in range(n):
        for j in range(k):
            z[i, j] += b[j]
    if code == SOFTMAX:
        for i in range(n):
            for j in range(k):
                a[i, j] = z[i, j]
        softmax_rows(a)
    else:
        map_activation(z, b[:0], a, code)


@njit(cache=True, error_model="numpy")
def activation_backward(a, delta, code):
    """Chain rule through the activation, in place: ``delta *= f'(z)``.

    Parameters
    ----------
    a : [n, k] activation output ``f(z)``.
    delta : [n, k] gradient w.r.t. ``a``; overwritten with the gradient w.r.t. ``z``.
    code : activation code.
    """
    n, k = a.shape
    if code == IDENTITY:
        return
    if code == SOFTMAX:
        # Jacobian-vector product of softmax: a * (delta - <delta, a>)
        for i in range(n):
            s = 0.0
            for j in range(k):
                s += delta[i, j] * a[i, j]
            for j in range(k):
                delta[i, j] = a[i, j] * (delta[i, j] - s)
        return
    if code == RELU:
        for i in range(n):
            for j in range(k):
                a_ = a[i, j]
                delta[i, j] *= 1.0 if a_ > 0.0 else 0.0
    elif code == LEAKYRELU:
        for i in range(n):
            for j in range(k):
                a_ = a[i, j]
                delta[i, j] *= 1.0 if a_ > 0.0 else LEAKY_ALPHA
    elif code == TANH:
        for i in range(n):
            for j in range(k):
                a_ = a[i, j]
                delta[i, j] *= 1.0 - a_ * a_
    elif code == SIGMOID:
        for i in range(n):
            for j in range(k):
                a_ = a[i, j]
                delta[i, j] *= a_ * (1.0 - a_)
    elif code == ELU:
        for i in range(n):
            for j in range(k):
                a_ = a[i, j]
                delta[i, j] *= 1.0 if a_ > 0.0 else a_ + 1.0
    elif code == SOFTPLUS:
        for i in range(n):
            for j in range(k):
                a_ = a[i, j]
                delta[i, j] *= -math.expm1(-a_)
    elif code == SELU:
        for i in range(n):
            for j in range(k):
                a_ = a[i, j]
                delta[i, j] *= SELU_SCALE if a_ > 0.0 else a_ + SELU_SCALE * SELU_ALPHA
    elif code == HARDSIGMOID:
        for i in range(n):
            for j in range(k):
                a_ = a[i, j]
                delta[i, j] *= 0.2 if (a_ > 0.0 and a_ < 1.0) else 0.0
    elif code == HARDTANH:
        for i in range(n):
            for j in range(k):
                a_ = a[i, j]
                delta[i, j] *= 1.0 if (a_ > -1.0 and a_ < 1.0) else 0.0
