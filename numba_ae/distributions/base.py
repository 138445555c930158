"""What every reconstruction distribution p(x|z) shares: the config base class, the
runtime base class, and the per-array kernels generated from a distribution's one
scalar definition.

A distribution module defines, per data element, one scalar ``@scalar`` function

    ``element(x, p, q, sc) -> (log p(x | p, q), sc * d(-log p)/dp, sc * d(-log p)/dq)``

(``q`` is the second parameter of two-parameter distributions such as the Gaussian's
log-variance; one-parameter ones ignore it), plus ``mean(p, q)`` and
``sample(p, q, u)`` (``u`` a uniform or standard-normal draw, as the runtime object
supplies).  :class:`ElementKernels` compiles the array kernels from them: the
log-probability, the scaled NLL gradient, both in one pass (the training step), the
mean and the sample.  Parameters are laid out as the decoder outputs them: ``a[:, :d]``
is ``p`` and, for two-parameter distributions, ``a[:, d:2d]`` is ``q``.  Values are pure,
so LLVM drops what a driver does not use (the gradient when only the log-probability is
asked for).
"""
import math

import numpy as np

from .._scratch import PerThreadScratch
from ..backends import CPU
from .._serial import ConfigBase
from numba import njit

from ..kernels.specialize import JIT_OPTIONS, specialize
from ..kernels.fastmath import row_sum
from ..registries import activation


class NoLogProbabilityError(ValueError):
    """Raised when a log-probability is asked of a loss-function wrapper."""


# ============================================================================ config base

class ReconstructionDistribution(ConfigBase):
    """Base of the p(x|z) configs of a :class:`~numba_ae.config.VariationalAutoencoder`."""

    def input_width(self, n_data):
        """Width of the decoder pre-output this distribution needs for ``n_data`` columns."""
        return n_data

    def has_loss_function(self):
        """True when this is a deterministic loss, not a probability model."""
        return False

    def uses_loss_function(self):
        """True when any part of this distribution is a loss function (no log-probability)."""
        return self.has_loss_function()


# ============================================================================ kernel templates
# Globals bound per distribution by ``specialize``: ``_elem``, ``_mean``, ``_sample``, ``_TWO``.

def _elem(x, p, q, sc):  # pragma: no cover - placeholder, replaced in every specialisation
    raise NotImplementedError("template global: bound by specialize()")


_mean = _sample = _elem
_TWO = _WIDE = False


def _elem_at(x, a, i, j, d, sc):
    """The element of row ``i``, column ``j`` (``q`` from the second half for two-parameter
    distributions)."""
    # q is loaded before p: in the other order LLVM's vectorised loop ran ~6x slower
    # (measured on the Gaussian kernel, 128 x 784 float32: 0.72 ms vs 0.09 ms)
    if _TWO:
        q = a[i, d + j]
        return _elem(x[i, j], a[i, j], q, sc)
    return _elem(x[i, j], a[i, j], a[i, j], sc)


def _elem_wide(x, a, i, j, d, sc):
    """:func:`_elem_at` in float64 (for rows whose float32 results over- or underflowed)."""
    f = np.float64
    if _TWO:
        return _elem(f(x[i, j]), f(a[i, j]), f(a[i, d + j]), f(sc))
    return _elem(f(x[i, j]), f(a[i, j]), f(a[i, j]), f(sc))


@njit(**JIT_OPTIONS)
def _row_finite(g, i):
    """Whether row ``i`` of ``g`` holds no inf or NaN (vectorisable: ``v - v`` is 0 exactly
    for finite ``v``)."""
    bad = 0.0
    for j in range(g.shape[1]):
        v = g[i, j]
        bad += np.float64(v - v)
    return bad == 0.0


# Every driver computes a row in the arrays' dtype; a row with a non-finite result is
# recomputed in float64 (where float32 exp(+-logit) overflowed although the true value is
# finite), so the stored result is the correctly rounded one: finite, or +-inf only where
# the true value lies beyond the dtype's range.

def _terms(d, a):
    """Per-row scratch of element log-probabilities: float64 for distributions that compute
    their elements in float64 (``_WIDE``), else the arrays' dtype (a float64 buffer made the
    float32 Gaussian and logit-Bernoulli loops ~2x slower).  Summed in float64 either way."""
    if _WIDE:
        return np.empty(d, dtype=np.float64)
    return np.empty(d, dtype=a.dtype)


def log_prob(x, a, out):
    """``out[i] = sum_j log p(x_ij | a_i)`` (float64 row sums); ``x`` [n, d], ``a`` [n, d or 2d]."""
    n, d = x.shape
    one = a.dtype.type(1.0)
    terms = _terms(d, a)
    for i in range(n):
        for j in range(d):
            terms[j] = _elem_at(x, a, i, j, d, one)[0]
        out[i] = row_sum(terms)
        if not math.isfinite(out[i]):
            acc = 0.0
            for j in range(d):
                acc += _elem_wide(x, a, i, j, d, 1.0)[0]
            out[i] = acc


def nll_grad(x, a, scale, grad):
    """``grad = scale * d(-sum log p)/da`` (overwritten), same shape as ``a``."""
    n, d = x.shape
    sc = a.dtype.type(scale)
    for i in range(n):
        for j in range(d):
            _, gp, gq = _elem_at(x, a, i, j, d, sc)
            grad[i, j] = gp
            if _TWO:
                grad[i, d + j] = gq
        if not _row_finite(grad, i):
            for j in range(d):
                _, gp, gq = _elem_wide(x, a, i, j, d, scale)
                grad[i, j] = gp
                if _TWO:
                    grad[i, d + j] = gq


def log_prob_and_grad(x, a, scale, out, grad):
    """:func:`log_prob` into ``out`` and :func:`nll_grad` into ``grad`` in one pass (the
    training step needs both)."""
    n, d = x.shape
    sc = a.dtype.type(scale)
    terms = _terms(d, a)
    for i in range(n):
        for j in range(d):
            lp, gp, gq = _elem_at(x, a, i, j, d, sc)
            terms[j] = lp
            grad[i, j] = gp
            if _TWO:
                grad[i, d + j] = gq
        out[i] = row_sum(terms)
        # a non-finite gradient of these elements comes with a non-finite log-probability
        # (exp(-logvar) overflowing makes both infinite), so checking out[i] suffices here
        if not math.isfinite(out[i]):
            acc = 0.0
            for j in range(d):
                lp, gp, gq = _elem_wide(x, a, i, j, d, scale)
                acc += lp
                grad[i, j] = gp
                if _TWO:
                    grad[i, d + j] = gq
            out[i] = acc


def log_prob_elements(x, a, out):
    """``out[i, j] = log p(x_ij | a_i)`` [n, d] (the terms :func:`log_prob` sums; ``out`` is
    float64); an element whose value is non-finite in the arrays' dtype is recomputed in
    float64."""
    n, d = x.shape
    one = a.dtype.type(1.0)
    for i in range(n):
        for j in range(d):
            v = _elem_at(x, a, i, j, d, one)[0]
            if not math.isfinite(v):
                v = _elem_wide(x, a, i, j, d, 1.0)[0]
            out[i, j] = v


def mean(a, out):
    """``out`` [n, d] = the distribution mean per element."""
    n, d = out.shape
    for i in range(n):
        for j in range(d):
            if _TWO:
                out[i, j] = _mean(a[i, j], a[i, d + j])
            else:
                out[i, j] = _mean(a[i, j], a[i, j])


def sample(a, u, out):
    """``out`` [n, d] = one draw per element from the noise ``u`` [n, d]."""
    n, d = out.shape
    for i in range(n):
        for j in range(d):
            if _TWO:
                out[i, j] = _sample(a[i, j], a[i, d + j], u[i, j])
            else:
                out[i, j] = _sample(a[i, j], a[i, j], u[i, j])


class ElementKernels:
    """The array kernels of one distribution, compiled from its scalar definitions
    (``wide=True``: the element function computes in float64).

    Attributes ``log_prob``, ``nll_grad``, ``log_prob_and_grad``, ``log_prob_elements``,
    ``mean``, ``sample``: ``@njit`` kernels with the signatures of the templates in this module.
    ``element``, ``mean_fn``, ``sample_fn``, ``two_params``, ``wide``: the definitions they were
    compiled from (other targets compile their own kernels from them, e.g.
    :meth:`numba_ae.kernels.cuda.distributions.CudaElementKernels.like`).
    """

    def __init__(self, tag, element, mean_fn, sample_fn, two_params=False, wide=False):
        b = {"_elem": element, "_mean": mean_fn, "_sample": sample_fn, "_TWO": bool(two_params),
             "_WIDE": bool(wide)}
        b["_terms"] = specialize(_terms, tag, b, inline=True)
        b["_elem_at"] = specialize(_elem_at, tag, b, inline=True)
        b["_elem_wide"] = specialize(_elem_wide, tag, b, inline=True)
        self.tag = tag
        self.two_params = bool(two_params)
        self.wide = bool(wide)
        self.element, self.mean_fn, self.sample_fn = element, mean_fn, sample_fn
        for t in (log_prob, nll_grad, log_prob_and_grad, log_prob_elements, mean, sample):
            setattr(self, t.__name__, specialize(t, tag, b))

    def __repr__(self):
        return f"ElementKernels({self.tag!r})"


# ============================================================================ runtime base

class Distribution(PerThreadScratch):
    """Base runtime distribution: maps the decoder's pre-output ``pre`` [n, input_width]
    to per-example negative log-likelihoods, their gradients w.r.t. ``pre``, the mean and
    samples.  Subclasses set ``kernels`` (an :class:`ElementKernels`) or override the
    ``_nll``/``_grad``/``mean``/``sample`` methods.

    ``backend`` is where the log-likelihood and its gradient are computed (the arrays
    passed in live there; :meth:`use_backend`); ``mean`` and ``sample`` of a CUDA
    distribution copy the pre-output to the host and run the CPU kernels (they are
    inference-only, one pass, and so draw exactly what a CPU network draws).
    """

    kernels = None
    backend = CPU

    def __init__(self, conf, dtype):
        self.conf = conf
        self.dtype = np.dtype(dtype)
        self.act = activation(conf.activation) if hasattr(conf, "activation") else None
        self._init_scratch()   # this thread's scratch buffers (see _buf)

    def _buf(self, key, shape):
        """This thread's scratch buffer ``key`` of ``shape`` (reused while the shape stays)."""
        bufs = self._tls.__dict__
        b = bufs.get(key)
        if b is None or b.shape != shape:
            b = self.backend.empty(shape, self.dtype)
            bufs[key] = b
        return b

    def use_backend(self, backend):
        """Compute on ``backend`` from now on (scratch buffers start anew)."""
        self.backend = backend
        self._init_scratch()
        self._host_twin = None
        return self

    @property
    def _kern(self):
        """``kernels`` for this distribution's device."""
        return self.backend.element_kernels(self.kernels)

    def _on_host(self):
        """A CPU copy of this distribution (for ``mean``/``sample`` of device arrays)."""
        twin = getattr(self, "_host_twin", None)
        if twin is None:
            from . import build_distribution
            twin = self._host_twin = build_distribution(self.conf, self.dtype)
        return twin


    def input_width(self, d):
        return self.conf.input_width(d)

    def has_loss_function(self):
        return self.conf.has_loss_function()

    def check_data(self, x, name="x"):
        """Raise ValueError when ``x`` lies outside the distribution's support."""

    # ---- log-likelihood and gradient --------------------------------------------------------
    def nll(self, x, pre, out):
        """Per-example negative log-likelihood (or loss) [n] into ``out``."""
        self._nll(x, pre, self._params(pre), out)

    def nll_grad(self, x, pre, scale, dpre):
        """``scale * d(sum nll)/d(pre)`` into ``dpre`` (overwrite)."""
        self._grad(x, pre, self._params(pre), scale, dpre)

    def nll_and_grad(self, x, pre, scale, out, dpre):
        """:meth:`nll` and :meth:`nll_grad` together, activating ``pre`` once."""
        a = self._params(pre)
        self._kern.log_prob_and_grad(x, a, scale, out, dpre)
        self.backend.negate(out)
        self._through_activation(pre, a, dpre)

    def _params(self, pre):
        """The distribution parameters: the activation of ``pre``."""
        return self._activated(pre)

    def _nll(self, x, pre, a, out):
        self._kern.log_prob(x, a, out)
        self.backend.negate(out)

    def _grad(self, x, pre, a, scale, dpre):
        self._kern.nll_grad(x, a, scale, dpre)
        self._through_activation(pre, a, dpre)

    def _through_activation(self, pre, a, dpre):
        """Chain rule from the gradient w.r.t. the parameters ``a`` to ``pre``, in place."""
        if a is not pre:
            self.backend.activations.backward[self.act](pre, a, dpre)

    def log_prob_elements(self, x, pre):
        """Per-element log-probabilities ``log p(x_ij | pre_i)`` [n, d] (float64): the terms
        whose row sums are ``-nll``.  A composite evaluates each slice with its own part;
        a distribution without element kernels (a loss wrapper) raises
        :class:`NoLogProbabilityError`.  On a CUDA distribution it runs on host copies."""
        if self.backend.is_cuda:
            return self._on_host().log_prob_elements(self.backend.to_host(x), self.backend.to_host(pre))
        parts = getattr(self, "parts", None)
        if parts is not None:  # Composite: one block of columns per part
            return np.concatenate([d.log_prob_elements(np.ascontiguousarray(x[:, xs]),
                                                       np.ascontiguousarray(pre[:, ps]))
                                   for xs, ps, d in parts], axis=1)
        if self.kernels is None:
            raise NoLogProbabilityError(f"{type(self.conf).__name__} has no per-element log-probabilities")
        out = np.empty(x.shape, dtype=np.float64)
        self.kernels.log_prob_elements(x, self._params(pre), out)
        return out

    # ---- mean and samples --------------------------------------------------------------------
    def mean(self, pre):
        if self.backend.is_cuda:
            return self._on_host().mean(self.backend.to_host(pre))
        a = self._params(pre)
        out = np.empty((pre.shape[0], self.data_width(pre)), dtype=self.dtype)
        self.kernels.mean(a, out)
        return out

    def sample(self, pre, rng):
        if self.backend.is_cuda:
            return self._on_host().sample(self.backend.to_host(pre), rng)
        a = self._params(pre)
        u = self._noise(rng, (pre.shape[0], self.data_width(pre)))
        out = np.empty_like(u)
        self.kernels.sample(a, u, out)
        return out

    def data_width(self, pre):
        """Data columns behind a pre-output of ``pre.shape[1]`` columns."""
        return pre.shape[1] // 2 if self.kernels is not None and self.kernels.two_params else pre.shape[1]

    def _noise(self, rng, shape):
        """The draws :meth:`sample` passes to the ``sample`` kernel (uniform by default)."""
        return rng.random(shape, dtype=self.dtype)

    def _activated(self, pre, key="a"):
        """``act(pre)`` in a scratch buffer (``pre`` itself for identity; never modified)."""
        if self.act.is_identity:
            return pre
        a = self._buf(key, pre.shape)
        self.backend.activations.map_[self.act](pre, a)
        return a
