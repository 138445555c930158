"""Runtime reconstruction distributions p(x|z) for the VAE.

Each wraps a config from :mod:`numba_ae.config` and maps the decoder's
pre-output ``pre`` [n, input_width] to per-example negative log-likelihoods,
their gradients w.r.t. ``pre``, the distribution mean and samples.  All math
is in :mod:`numba_ae.kernels.distributions`; this module only slices,
applies activations and keeps scratch buffers.
"""
import numpy as np

from .. import config as _c
from ..kernels import distributions as kd
from ..kernels import losses as kl
from ..registries import activation, loss_code


class NoLogProbabilityError(ValueError):
    """Raised when a log-probability is asked of a loss-function wrapper."""


class Distribution:
    """Base runtime distribution."""

    def __init__(self, conf, dtype):
        self.conf = conf
        self.dtype = np.dtype(dtype)
        self._bufs = {}

    def _buf(self, key, shape):
        b = self._bufs.get(key)
        if b is None or b.shape != shape:
            b = np.empty(shape, dtype=self.dtype)
            self._bufs[key] = b
        return b

    def input_width(self, d):
        return self.conf.input_width(d)

    def has_loss_function(self):
        return self.conf.has_loss_function()

    def check_data(self, x, name="x"):
        """Raise ValueError when ``x`` lies outside the distribution's support."""

    def nll(self, x, pre, out):
        """Per-example negative log-likelihood (or loss) [n] into ``out``."""
        self._nll(x, pre, self._params(pre), out)

    def nll_grad(self, x, pre, scale, dpre):
        """``scale * d(sum nll)/d(pre)`` into ``dpre`` (overwrite)."""
        self._grad(x, pre, self._params(pre), scale, dpre)

    def nll_and_grad(self, x, pre, scale, out, dpre):
        """:meth:`nll` and :meth:`nll_grad` together, activating ``pre`` once."""
        a = self._params(pre)
        self._nll(x, pre, a, out)
        self._grad(x, pre, a, scale, dpre)

    def _params(self, pre):
        """The distribution parameters: the activation of ``pre``."""
        return self._activated(pre)

    def _nll(self, x, pre, a, out):  # pragma: no cover - abstract
        raise NotImplementedError

    def _grad(self, x, pre, a, scale, dpre):  # pragma: no cover - abstract
        raise NotImplementedError

    def mean(self, pre):
        raise NotImplementedError

    def sample(self, pre, rng):
        raise NotImplementedError

    def _activated(self, pre, key="a"):
        """``act(pre)`` in a scratch buffer (``pre`` itself for identity; never modified)."""
        if self.act.is_identity:
            return pre
        a = self._buf(key, pre.shape)
        self.act.map(pre, a)
        return a


class Gaussian(Distribution):
    def __init__(self, conf, dtype):
        super().__init__(conf, dtype)
        self.act = activation(conf.activation)

    def _nll(self, x, pre, a, out):
        kd.gaussian_log_prob(x, a, out)
        np.negative(out, out=out)

    def _grad(self, x, pre, a, scale, dpre):
        kd.gaussian_nll_grad(x, a, scale, dpre)
        self.act.backward(pre, a, dpre)

    def nll_and_grad(self, x, pre, scale, out, dpre):
        a = self._activated(pre)
        kd.gaussian_log_prob_and_grad(x, a, scale, out, dpre)
        np.negative(out, out=out)
        self.act.backward(pre, a, dpre)

    def mean(self, pre):
        a = self._activated(pre)
        out = np.empty((pre.shape[0], pre.shape[1] // 2), dtype=self.dtype)
        kd.gaussian_mean(a, out)
        return out

    def sample(self, pre, rng):
        a = self._activated(pre)
        eps = rng.standard_normal((pre.shape[0], pre.shape[1] // 2), dtype=self.dtype)
        out = np.empty_like(eps)
        kd.gaussian_sample(a, eps, out)
        return out


class Bernoulli(Distribution):
    def __init__(self, conf, dtype):
        super().__init__(conf, dtype)
        self.act = activation(conf.activation)
        self.logits = conf.activation == "sigmoid"

    def check_data(self, x, name="x"):
        if x.size and (np.min(x) < 0.0 or np.max(x) > 1.0):
            raise ValueError(f"'{name}' must lie in [0, 1] for a BernoulliReconstructionDistribution; "
                             f"got values in [{np.min(x):g}, {np.max(x):g}]")

    def _params(self, pre):
        return pre if self.logits else self._activated(pre)

    def nll_and_grad(self, x, pre, scale, out, dpre):
        if not self.logits:
            return super().nll_and_grad(x, pre, scale, out, dpre)
        kd.bernoulli_logit_log_prob_and_grad(x, pre, scale, out, dpre)
        np.negative(out, out=out)

    def _nll(self, x, pre, a, out):
        if self.logits:
            kd.bernoulli_logit_log_prob(x, pre, out)
        else:
            kd.bernoulli_log_prob(x, a, out)
        np.negative(out, out=out)

    def _grad(self, x, pre, a, scale, dpre):
        if self.logits:
            kd.bernoulli_logit_nll_grad(x, pre, scale, dpre)
        else:
            kd.bernoulli_nll_grad(x, a, scale, dpre)
            self.act.backward(pre, a, dpre)

    def mean(self, pre):
        out = np.empty(pre.shape, dtype=self.dtype)
        if self.logits:
            kd.bernoulli_logit_mean(pre, out)
        else:
            out[...] = self._activated(pre)
        return out

    def sample(self, pre, rng):
        p = self.mean(pre)
        u = rng.random(pre.shape, dtype=self.dtype)
        out = np.empty_like(p)
        kd.bernoulli_sample(p, u, out)
        return out


class Exponential(Distribution):
    def __init__(self, conf, dtype):
        super().__init__(conf, dtype)
        self.act = activation(conf.activation)

    def check_data(self, x, name="x"):
        if x.size and np.min(x) < 0.0:
            raise ValueError(f"'{name}' must be >= 0 for an ExponentialReconstructionDistribution; "
                             f"got a minimum of {np.min(x):g}")

    def _nll(self, x, pre, a, out):
        kd.exponential_log_prob(x, a, out)
        np.negative(out, out=out)

    def _grad(self, x, pre, a, scale, dpre):
        kd.exponential_nll_grad(x, a, scale, dpre)
        self.act.backward(pre, a, dpre)

    def mean(self, pre):
        out = np.empty(pre.shape, dtype=self.dtype)
        kd.exponential_mean(self._activated(pre), out)
        return out

    def sample(self, pre, rng):
        g = self._activated(pre)
        u = rng.random(pre.shape, dtype=self.dtype)
        out = np.empty(pre.shape, dtype=self.dtype)
        kd.exponential_sample(g, u, out)
        return out


class LossWrapper(Distribution):
    """A deterministic loss on ``activation(pre)``; has no log-probability."""

    def __init__(self, conf, dtype):
        super().__init__(conf, dtype)
        self.act = activation(conf.activation)
        self.loss_code = loss_code(conf.loss)

    def _nll(self, x, pre, a, out):
        kl.loss_score[self.act](x, a, pre, self.loss_code, out)

    def _grad(self, x, pre, a, scale, dpre):
        kl.loss_grad[self.act](x, a, pre, self.loss_code, scale, dpre)

    def mean(self, pre):
        return self._activated(pre).copy()

    def sample(self, pre, rng):
        # deterministic: the "sample" of a loss wrapper is its output (DL4J does the same)
        return self.mean(pre)


class Composite(Distribution):
    """Contiguous column slices, each with its own distribution."""

    def __init__(self, conf, dtype):
        super().__init__(conf, dtype)
        self.parts = []
        xo = po = 0
        for size, dconf in conf.distributions:
            w = dconf.input_width(size)
            self.parts.append((slice(xo, xo + size), slice(po, po + w), build_distribution(dconf, dtype)))
            xo += size
            po += w

    def check_data(self, x, name="x"):
        for xs, _, d in self.parts:
            d.check_data(x[:, xs], name=f"{name}[:, {xs.start}:{xs.stop}]")

    def nll(self, x, pre, out):
        tmp = self._buf("tmp", out.shape)
        out[...] = 0.0
        for xs, ps, d in self.parts:
            d.nll(x[:, xs], pre[:, ps], tmp)
            out += tmp

    def nll_grad(self, x, pre, scale, dpre):
        for xs, ps, d in self.parts:
            d.nll_grad(x[:, xs], pre[:, ps], scale, dpre[:, ps])

    def nll_and_grad(self, x, pre, scale, out, dpre):
        tmp = self._buf("tmp", out.shape)
        out[...] = 0.0
        for xs, ps, d in self.parts:
            d.nll_and_grad(x[:, xs], pre[:, ps], scale, tmp, dpre[:, ps])
            out += tmp

    def mean(self, pre):
        return np.concatenate([d.mean(np.ascontiguousarray(pre[:, ps])) for _, ps, d in self.parts], axis=1)

    def sample(self, pre, rng):
        return np.concatenate([d.sample(np.ascontiguousarray(pre[:, ps]), rng) for _, ps, d in self.parts],
                              axis=1)


_RUNTIME = {
    _c.GaussianReconstructionDistribution: Gaussian,
    _c.BernoulliReconstructionDistribution: Bernoulli,
    _c.ExponentialReconstructionDistribution: Exponential,
    _c.LossFunctionWrapper: LossWrapper,
    _c.CompositeReconstructionDistribution: Composite,
}


def build_distribution(conf, dtype):
    """The runtime distribution for a distribution config."""
    cls = _RUNTIME.get(type(conf))
    if cls is None:
        raise TypeError(f"no runtime distribution for {type(conf).__name__}")
    return cls(conf, dtype)


__all__ = ["Distribution", "Gaussian", "Bernoulli", "Exponential", "LossWrapper", "Composite",
           "build_distribution", "NoLogProbabilityError"]
