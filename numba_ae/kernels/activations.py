"""Activation functions and their derivatives as ``@njit`` kernels.

Every activation is identified by a small integer code (the Python layer maps
names to codes in :mod:`numba_ae.registries`).  Derivatives are computed from
the activation *output* ``a`` rather than the pre-activation ``z``, so layers
only keep one buffer per activation; every activation here has a derivative
that is a function of its output.

Kernels work in place on preallocated arrays, for float32 and float64; the
arithmetic runs in the arrays' dtype (float32 loops use the vectorisable
``exp``/``log``/``tanh`` of :mod:`.fastmath`; float64 ones libm's).
"""
import math

import numpy as np
from numba import njit

from .fastmath import fexp, ftanh, sigmoid, softplus

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
            e = fexp(z[i, j] - m)
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
    t = dst.dtype.type  # constants in the arrays' dtype: float32 loops stay float32
    zero, one, half = t(0.0), t(1.0), t(0.5)
    alpha, s_scale, s_alpha, hs = t(LEAKY_ALPHA), t(SELU_SCALE), t(SELU_SCALE * SELU_ALPHA), t(0.2)
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
                    dst[i, j] = v if v > zero else zero
        elif code == LEAKYRELU:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = v if v > zero else alpha * v
        elif code == TANH:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = ftanh(v)
        elif code == SIGMOID:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = sigmoid(v)
        elif code == ELU:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = v if v > zero else math.expm1(v)
        elif code == SOFTPLUS:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = softplus(v)
        elif code == SELU:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = s_scale * v if v > zero else s_alpha * math.expm1(v)
        elif code == HARDSIGMOID:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = min(one, max(zero, hs * v + half))
        elif code == HARDTANH:
            for i in range(n):
                for j in range(k):
                    v = src[i, j]
                    dst[i, j] = min(one, max(-one, v))
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
                    dst[i, j] = v if v > zero else zero
        elif code == LEAKYRELU:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = v if v > zero else alpha * v
        elif code == TANH:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = ftanh(v)
        elif code == SIGMOID:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = sigmoid(v)
        elif code == ELU:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = v if v > zero else math.expm1(v)
        elif code == SOFTPLUS:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = softplus(v)
        elif code == SELU:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = s_scale * v if v > zero else s_alpha * math.expm1(v)
        elif code == HARDSIGMOID:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = min(one, max(zero, hs * v + half))
        elif code == HARDTANH:
            for i in range(n):
                for j in range(k):
                    v = src[i, j] + b[j]
                    dst[i, j] = min(one, max(-one, v))


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
    t = delta.dtype.type  # constants in the arrays' dtype: float32 loops stay float32
    zero, one, alpha, hs = t(0.0), t(1.0), t(LEAKY_ALPHA), t(0.2)
    s_scale, s_alpha = t(SELU_SCALE), t(SELU_SCALE * SELU_ALPHA)
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
                d = delta[i, j]
                delta[i, j] = d if a[i, j] > zero else zero
    elif code == LEAKYRELU:
        for i in range(n):
            for j in range(k):
                d = delta[i, j]
                delta[i, j] = d if a[i, j] > zero else alpha * d
    elif code == TANH:
        for i in range(n):
            for j in range(k):
                a_ = a[i, j]
                delta[i, j] *= one - a_ * a_
    elif code == SIGMOID:
        for i in range(n):
            for j in range(k):
                a_ = a[i, j]
                delta[i, j] *= a_ * (one - a_)
    elif code == ELU:
        for i in range(n):
            for j in range(k):
                a_ = a[i, j]
                delta[i, j] *= one if a_ > zero else a_ + one
    elif code == SOFTPLUS:
        for i in range(n):
            for j in range(k):
                a_ = a[i, j]
                delta[i, j] *= -math.expm1(-a_)
    elif code == SELU:
        for i in range(n):
            for j in range(k):
                a_ = a[i, j]
                delta[i, j] *= s_scale if a_ > zero else a_ + s_alpha
    elif code == HARDSIGMOID:
        for i in range(n):
            for j in range(k):
                a_ = a[i, j]
                delta[i, j] *= hs if (a_ > zero and a_ < one) else zero
    elif code == HARDTANH:
        for i in range(n):
            for j in range(k):
                a_ = a[i, j]
                delta[i, j] *= one if (a_ > -one and a_ < one) else zero
