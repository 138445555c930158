"""CUDA twins of :mod:`numba_ae.kernels.losses`: per-example loss scores and their
gradients with respect to the pre-activation.

``loss_score[act](y, a, z, loss, out)``, ``loss_grad[act](y, a, z, loss, scale, delta)`` and
``loss_score_and_grad[act](y, a, z, loss, scale, out, delta)`` take device arrays, the
runtime loss code of :mod:`numba_ae.kernels.losses` and a Python float ``scale``, and write
``out`` / ``delta`` on the default stream.  The activation is bound at compile time as on
the CPU (``act``: an :class:`~numba_ae.kernels.activations.Activation` or a registered
name; each kernel compiles on first use per activation and dtype), with the same fused
stable forms (sigmoid + ``xent``: ``softplus(z) - y z`` and ``a - y``; softmax +
``mcxent``/``negativeloglikelihood``: log-softmax and ``a sum(y) - y``).

One block per row, its threads striding over the columns; the row sums (the scores,
``sum(y)`` of the fused softmax gradient, ``<delta, a>`` of the softmax backward) are
float64 tree sums (:func:`.reductions.block_sum`).  Element arithmetic runs in the arrays'
dtype (``scale`` and the clamp ``LOG_EPS`` are cast to it), so float32 results agree
with the CPU kernels (which use float64 in places) to float32 rounding.
"""
import numpy as np
from numba import cuda, float64, types

from ..activations import get as _get_activation
from ..fastmath import fexp, flog, softplus
from ..losses import L1, L2, LOG_EPS, MCXENT, MSE, NEGATIVELOGLIKELIHOOD, XENT
from .reductions import MAX_THREADS, block_max, block_sum, device, row_launch

__all__ = ["loss_grad", "loss_score", "loss_score_and_grad"]


def _grad_coef(loss, scale, k):
    """The gradient's constant factor, computed on the host in float64 as the CPU kernel
    does (``2 scale / k`` for mse, ``2 scale`` for l2, else ``scale``)."""
    if loss == MSE:
        return 2.0 * scale / k if k else float("nan")
    if loss == L2:
        return 2.0 * scale
    return float(scale)


def _build_score(is_sigmoid, is_softmax):
    """The row-score helper and the score kernel: they read only the activation's
    sigmoid / softmax flags (the fused forms), so every other activation shares them."""

    @device
    def score_row(y, a, z, loss, i, buf):
        """Loss of row ``i`` (float64; every thread of the block returns it)."""
        k = a.shape[1]
        t = a.dtype.type
        eps, one = t(LOG_EPS), t(1.0)
        acc = np.float64(0.0)
        if loss == MSE or loss == L2:
            for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
                d = a[i, j] - y[i, j]
                acc += np.float64(d * d)
        elif loss == L1:
            for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
                acc += np.float64(abs(a[i, j] - y[i, j]))
        elif loss == XENT:
            if is_sigmoid:
                for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
                    acc += np.float64(softplus(z[i, j]) - y[i, j] * z[i, j])
            else:
                for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
                    p = a[i, j]
                    acc -= np.float64(y[i, j] * flog(max(p, eps)) + (one - y[i, j]) * flog(max(one - p, eps)))
        else:  # MCXENT / NEGATIVELOGLIKELIHOOD
            if is_softmax:
                m = t(-np.inf)
                for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
                    v = z[i, j]
                    if v > m or v != v:
                        if m == m:
                            m = v
                m = t(block_max(buf, m))
                lse = m
                if m != t(-np.inf) and m != t(np.inf):
                    s = np.float64(0.0)
                    for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
                        s += np.float64(fexp(z[i, j] - m))
                    lse = m + flog(t(block_sum(buf, s)))
                for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
                    acc -= np.float64(y[i, j] * (z[i, j] - lse))
            else:
                for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
                    acc -= np.float64(y[i, j] * flog(max(a[i, j], eps)))
        s = block_sum(buf, acc)
        if loss == MSE:
            return np.float64(t(s) / t(k))
        return s

    def score_kernel(y, a, z, loss, out):
        buf = cuda.shared.array(MAX_THREADS, float64)
        for i in range(cuda.blockIdx.x, a.shape[0], cuda.gridDim.x):
            s = score_row(y, a, z, loss, i, buf)
            if cuda.threadIdx.x == 0:
                out[i] = s

    return score_row, score_kernel


_score_kernels = {}   # (is_sigmoid, is_softmax) -> (score_row, score_kernel)


def _build(act):
    """The three kernels of one activation (the score one shared, see :func:`_build_score`)."""
    is_sigmoid, is_softmax = act.is_sigmoid, act.is_softmax
    df = act.derivative
    key = (is_sigmoid, is_softmax)
    if key not in _score_kernels:
        _score_kernels[key] = _build_score(*key)
    score_row, score_kernel = _score_kernels[key]

    @device
    def grad_row(y, a, z, loss, coef, i, buf, delta):
        """``delta[i] = coef * dL_i/dz_i`` (``coef`` from :func:`_grad_coef`)."""
        k = a.shape[1]
        t = delta.dtype.type
        c, zero, one, eps = t(coef), t(0.0), t(1.0), t(LOG_EPS)
        mc = loss == MCXENT or loss == NEGATIVELOGLIKELIHOOD
        if is_softmax and mc:
            # d/dz of -sum y log softmax(z) = a * sum(y) - y
            sy = np.float64(0.0)
            for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
                sy += np.float64(y[i, j])
            tsy = t(block_sum(buf, sy))
            for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
                delta[i, j] = c * (a[i, j] * tsy - y[i, j])
            return
        if is_sigmoid and loss == XENT:
            for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
                delta[i, j] = c * (a[i, j] - y[i, j])
            return
        for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
            d = a[i, j] - y[i, j]
            if loss == MSE or loss == L2:
                g = c * d
            elif loss == L1:
                g = c if d > zero else (-c if d < zero else zero)
            elif loss == XENT:
                p = a[i, j]
                g = c * (-y[i, j] / max(p, eps) + (one - y[i, j]) / max(one - p, eps))
            else:
                g = c * (-y[i, j] / max(a[i, j], eps))
            delta[i, j] = g
        if is_softmax:
            # Jacobian-vector product of softmax: delta = a * (delta - <delta, a>)
            s = np.float64(0.0)
            for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
                s += np.float64(delta[i, j] * a[i, j])
            ts = t(block_sum(buf, s))
            for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
                delta[i, j] = a[i, j] * (delta[i, j] - ts)
        else:
            for j in range(cuda.threadIdx.x, k, cuda.blockDim.x):
                delta[i, j] *= df(z[i, j], a[i, j])

    def grad_kernel(y, a, z, loss, coef, delta):
        buf = cuda.shared.array(MAX_THREADS, float64)
        for i in range(cuda.blockIdx.x, a.shape[0], cuda.gridDim.x):
            grad_row(y, a, z, loss, coef, i, buf, delta)

    def score_grad_kernel(y, a, z, loss, coef, out, delta):
        buf = cuda.shared.array(MAX_THREADS, float64)
        for i in range(cuda.blockIdx.x, a.shape[0], cuda.gridDim.x):
            s = score_row(y, a, z, loss, i, buf)
            if cuda.threadIdx.x == 0:
                out[i] = s
            grad_row(y, a, z, loss, coef, i, buf, delta)

    return score_kernel, grad_kernel, score_grad_kernel


_act_kernels = {}   # Activation -> its (score, grad, score_and_grad) python kernels
_jitted = {}   # python kernel -> its cuda.jit dispatcher (the shared score kernel compiles once)


def _jit(pyfunc):
    k = _jitted.get(pyfunc)
    if k is None:
        k = _jitted[pyfunc] = cuda.jit(pyfunc)
    return k


class _PerActivation:
    """``twin[act]``: the host function of one loss twin bound to an activation (compiled
    lazily, cached per activation)."""

    def __init__(self, index, host, doc):
        self._index = index
        self._host = host
        self._fns = {}
        self.__doc__ = doc

    @classmethod
    def python_kernels(cls, act):
        """The three kernels' plain python functions for ``act`` (for ``cuda.compile_ptx``)."""
        act = _get_activation(act) if isinstance(act, str) else act
        k = _act_kernels.get(act)
        if k is None:
            k = _act_kernels[act] = _build(act)
        return k

    def python_kernel(self, act):
        """This twin's plain python kernel for ``act``."""
        return self.python_kernels(act)[self._index]

    def __getitem__(self, act):
        fn = self._fns.get(act)
        if fn is None:
            act = _get_activation(act) if isinstance(act, str) else act
            fn = self._fns.get(act)
            if fn is None:
                fn = self._fns[act] = self._host(_jit(self.python_kernel(act)))
        return fn

    def __repr__(self):
        return f"<per-activation CUDA loss twin {('loss_score', 'loss_grad', 'loss_score_and_grad')[self._index]}>"


def _score_host(kernel):
    def loss_score(y, a, z, loss, out):
        row_launch(kernel, a.shape[0], a.shape[1], y, a, z, int(loss), out)
    return loss_score


def _grad_host(kernel):
    def loss_grad(y, a, z, loss, scale, delta):
        loss = int(loss)
        row_launch(kernel, a.shape[0], a.shape[1], y, a, z, loss, _grad_coef(loss, scale, a.shape[1]), delta)
    return loss_grad


def _score_grad_host(kernel):
    def loss_score_and_grad(y, a, z, loss, scale, out, delta):
        loss = int(loss)
        row_launch(kernel, a.shape[0], a.shape[1], y, a, z, loss, _grad_coef(loss, scale, a.shape[1]),
                   out, delta)
    return loss_score_and_grad


loss_score = _PerActivation(0, _score_host, """Per-example loss ``out`` [n] (see
:func:`numba_ae.kernels.losses.loss_score`): ``loss_score[act](y, a, z, loss, out)``.""")
loss_grad = _PerActivation(1, _grad_host, """``delta = scale * dL/dz`` [n, k] (see
:func:`numba_ae.kernels.losses.loss_grad`): ``loss_grad[act](y, a, z, loss, scale, delta)``.""")
loss_score_and_grad = _PerActivation(2, _score_grad_host, """Both in one launch (see
:func:`numba_ae.kernels.losses.loss_score_and_grad`):
``loss_score_and_grad[act](y, a, z, loss, scale, out, delta)``.""")


def ptx_cases(ft, act):
    """``(name, python function, argument types, f64 use)`` of the three kernels of ``act``
    for the float type ``ft`` (see ``tests/test_cuda_ptx_elem.py``).  The scores are
    float64 row sums (``"accumulate"``); the gradient needs a row sum only with softmax
    (else ``"none"``: no float64 beyond reading ``scale``).  ``loss_score`` is the same
    kernel for every activation with the same sigmoid/softmax flags."""
    mat, vec = types.Array(ft, 2, "A"), types.Array(ft, 1, "A")
    score, grad, both = _PerActivation.python_kernels(act)
    name = act if isinstance(act, str) else act.name
    grad_f64 = "accumulate" if name == "softmax" else "none"
    return [(f"losses.loss_score[{name}]", score, (mat, mat, mat, types.int64, vec), "accumulate"),
            (f"losses.loss_grad[{name}]", grad, (mat, mat, mat, types.int64, types.float64, mat), grad_f64),
            (f"losses.loss_score_and_grad[{name}]", both,
             (mat, mat, mat, types.int64, types.float64, vec, mat), "accumulate")]
