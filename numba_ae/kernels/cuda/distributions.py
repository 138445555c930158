"""CUDA twins of the reconstruction distributions' array kernels
(:class:`numba_ae.distributions.base.ElementKernels`), compiled from the same scalar
definitions ``element(x, p, q, sc) -> (logp, gp, gq)``, ``mean(p, q)``, ``sample(p, q, u)``.

:class:`CudaElementKernels` has the attributes and signatures of ``ElementKernels``
(``log_prob(x, a, out)``, ``nll_grad(x, a, scale, grad)``,
``log_prob_and_grad(x, a, scale, out, grad)``, ``mean(a, out)``, ``sample(a, u, out)``) over
device arrays; ``CudaElementKernels.like(cpu_kernels)`` builds the twin of a distribution
module's kernels (``CudaElementKernels.like(gaussian.KERNELS)``).

The three log-probability kernels run one block per row: the elements in parallel in the
arrays' dtype (or float64 for ``wide`` definitions), a float64 tree sum of the row's
log-probabilities, and, as on the CPU, a row whose result is not finite (float32
``exp(+-logit)`` overflowed although the true value is finite) recomputed by the block in
float64.  ``nll_grad`` redoes a row holding a non-finite gradient, ``log_prob`` and
``log_prob_and_grad`` a row whose log-probability is not finite.  ``mean`` and ``sample``
are elementwise.
"""
import math

import numpy as np
from numba import cuda, float64, types

from . import _launch
from .reductions import MAX_THREADS, block_sum, device, row_launch, threads_for

__all__ = ["CudaElementKernels"]


def _build(element, mean_fn, sample_fn, two):
    """The five python kernels of one distribution."""

    @device
    def elem_at(x, a, i, j, d, sc):
        if two:
            return element(x[i, j], a[i, j], a[i, d + j], sc)
        return element(x[i, j], a[i, j], a[i, j], sc)

    @device
    def elem_wide(x, a, i, j, d, sc):
        f = np.float64
        if two:
            return element(f(x[i, j]), f(a[i, j]), f(a[i, d + j]), f(sc))
        return element(f(x[i, j]), f(a[i, j]), f(a[i, j]), f(sc))

    def log_prob(x, a, out):
        buf = cuda.shared.array(MAX_THREADS, float64)
        n, d = x.shape
        one = a.dtype.type(1.0)
        for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
            acc = np.float64(0.0)
            for j in range(cuda.threadIdx.x, d, cuda.blockDim.x):
                acc += np.float64(elem_at(x, a, i, j, d, one)[0])
            s = block_sum(buf, acc)
            if not math.isfinite(s):
                acc = np.float64(0.0)
                for j in range(cuda.threadIdx.x, d, cuda.blockDim.x):
                    acc += elem_wide(x, a, i, j, d, 1.0)[0]
                s = block_sum(buf, acc)
            if cuda.threadIdx.x == 0:
                out[i] = s

    def nll_grad(x, a, scale, grad):
        buf = cuda.shared.array(MAX_THREADS, float64)
        n, d = x.shape
        sc = a.dtype.type(scale)
        for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
            bad = np.float64(0.0)
            for j in range(cuda.threadIdx.x, d, cuda.blockDim.x):
                _, gp, gq = elem_at(x, a, i, j, d, sc)
                grad[i, j] = gp
                if not math.isfinite(grad[i, j]):
                    bad = np.float64(1.0)
                if two:
                    grad[i, d + j] = gq
                    if not math.isfinite(grad[i, d + j]):
                        bad = np.float64(1.0)
            if block_sum(buf, bad) > np.float64(0.0):
                for j in range(cuda.threadIdx.x, d, cuda.blockDim.x):
                    _, gp, gq = elem_wide(x, a, i, j, d, scale)
                    grad[i, j] = gp
                    if two:
                        grad[i, d + j] = gq

    def log_prob_and_grad(x, a, scale, out, grad):
        buf = cuda.shared.array(MAX_THREADS, float64)
        n, d = x.shape
        sc = a.dtype.type(scale)
        for i in range(cuda.blockIdx.x, n, cuda.gridDim.x):
            acc = np.float64(0.0)
            for j in range(cuda.threadIdx.x, d, cuda.blockDim.x):
                lp, gp, gq = elem_at(x, a, i, j, d, sc)
                acc += np.float64(lp)
                grad[i, j] = gp
                if two:
                    grad[i, d + j] = gq
            s = block_sum(buf, acc)
            # a non-finite gradient comes with a non-finite log-probability (see the CPU kernel)
            if not math.isfinite(s):
                acc = np.float64(0.0)
                for j in range(cuda.threadIdx.x, d, cuda.blockDim.x):
                    lp, gp, gq = elem_wide(x, a, i, j, d, scale)
                    acc += lp
                    grad[i, j] = gp
                    if two:
                        grad[i, d + j] = gq
                s = block_sum(buf, acc)
            if cuda.threadIdx.x == 0:
                out[i] = s

    def mean(a, out):
        n, d = out.shape
        for e in range(cuda.grid(1), n * d, cuda.gridsize(1)):
            i = e // d
            j = e - i * d
            if two:
                out[i, j] = mean_fn(a[i, j], a[i, d + j])
            else:
                out[i, j] = mean_fn(a[i, j], a[i, j])

    def sample(a, u, out):
        n, d = out.shape
        for e in range(cuda.grid(1), n * d, cuda.gridsize(1)):
            i = e // d
            j = e - i * d
            if two:
                out[i, j] = sample_fn(a[i, j], a[i, d + j], u[i, j])
            else:
                out[i, j] = sample_fn(a[i, j], a[i, j], u[i, j])

    return {"log_prob": log_prob, "nll_grad": nll_grad, "log_prob_and_grad": log_prob_and_grad,
            "mean": mean, "sample": sample}


class CudaElementKernels:
    """The CUDA array kernels of one distribution, compiled (lazily, per dtype) from its
    scalar definitions; ``wide=True``: the element function computes in float64.

    Attributes
    ----------
    tag, two_params, wide : as :class:`numba_ae.distributions.base.ElementKernels`.
    log_prob, nll_grad, log_prob_and_grad, mean, sample : host functions over device
        arrays with the signatures of the CPU kernels.
    python_kernels : name -> the plain python kernel (for ``cuda.compile_ptx``).
    """

    def __init__(self, tag, element, mean_fn, sample_fn, two_params=False, wide=False):
        self.tag = tag
        self.two_params = bool(two_params)
        self.wide = bool(wide)
        self.python_kernels = _build(element, mean_fn, sample_fn, self.two_params)
        k = {name: cuda.jit(fn) for name, fn in self.python_kernels.items()}

        def log_prob(x, a, out):
            """``out[i] = sum_j log p(x_ij | a_i)`` (float64 row sums); ``x`` [n, d], ``a`` [n, d or 2d]."""
            row_launch(k["log_prob"], x.shape[0], x.shape[1], x, a, out)

        def nll_grad(x, a, scale, grad):
            """``grad = scale * d(-sum log p)/da`` (overwritten), same shape as ``a``."""
            row_launch(k["nll_grad"], x.shape[0], x.shape[1], x, a, float(scale), grad)

        def log_prob_and_grad(x, a, scale, out, grad):
            """:meth:`log_prob` into ``out`` and :meth:`nll_grad` into ``grad`` in one launch."""
            row_launch(k["log_prob_and_grad"], x.shape[0], x.shape[1], x, a, float(scale), out, grad)

        def mean(a, out):
            """``out`` [n, d] = the distribution mean per element."""
            size = out.shape[0] * out.shape[1]
            _launch.launch_1d(k["mean"], size, a, out, threads=threads_for(size))

        def sample(a, u, out):
            """``out`` [n, d] = one draw per element from the noise ``u`` [n, d]."""
            size = out.shape[0] * out.shape[1]
            _launch.launch_1d(k["sample"], size, a, u, out, threads=threads_for(size))

        self.log_prob, self.nll_grad, self.log_prob_and_grad = log_prob, nll_grad, log_prob_and_grad
        self.mean, self.sample = mean, sample

    @classmethod
    def like(cls, cpu):
        """The CUDA twin of the CPU :class:`~numba_ae.distributions.base.ElementKernels` ``cpu``
        (same definitions and flags)."""
        return cls(cpu.tag, cpu.element, cpu.mean_fn, cpu.sample_fn, two_params=cpu.two_params, wide=cpu.wide)

    def ptx_cases(self, ft):
        """``(name, python function, argument types, f64 use)`` of the five kernels (see
        ``tests/test_cuda_ptx_elem.py``): the log-probability kernels sum in float64 and redo
        non-finite rows in float64 (``"redo"``); ``wide`` definitions compute their elements in
        float64 (``"wide"``), and their ``mean``/``sample`` do what the definitions do
        (``"definition"``: float64 where the scalar definition uses it)."""
        mat, vec = types.Array(ft, 2, "A"), types.Array(ft, 1, "A")
        f = types.float64
        lp = "wide" if self.wide else "redo"
        el = "definition" if self.wide else "none"
        pk = self.python_kernels
        return [(f"{self.tag}.log_prob", pk["log_prob"], (mat, mat, vec), lp),
                (f"{self.tag}.nll_grad", pk["nll_grad"], (mat, mat, f, mat), lp),
                (f"{self.tag}.log_prob_and_grad", pk["log_prob_and_grad"], (mat, mat, f, vec, mat), lp),
                (f"{self.tag}.mean", pk["mean"], (mat, mat), el),
                (f"{self.tag}.sample", pk["sample"], (mat, mat, mat), el)]

    def __repr__(self):
        return f"CudaElementKernels({self.tag!r})"
