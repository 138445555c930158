"""Shared VAE test code of the ``tests/test_vae_*.py`` files: the reconstruction
distributions under test (``DISTS``), data in their support, small VAE networks (through
``harness.make_net``), and an independent float64 NumPy/scipy.stats reference of a VAE
layer (``Ref``, ``logp``; activations from ``reference.ref_act``)."""
import copy

import numpy as np
from hypothesis import HealthCheck, settings
from scipy import special, stats

from harness import make_net
from reference import ref_act
from numba_ae import (
    BernoulliReconstructionDistribution,
    CompositeReconstructionDistribution,
    ExponentialReconstructionDistribution,
    GaussianReconstructionDistribution,
    LossFunctionWrapper,
    Sgd,
    VariationalAutoencoder,
)

PZX_ACTS = ["identity", "tanh", "sigmoid", "softplus"]
#: smooth layer activations (no kinks inside the finite-difference stencil)
LAYER_ACTS = ["tanh", "sigmoid", "softplus", "identity"]

HSET = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ============================================================================ distributions


def composite3(d):
    """Gaussian + Bernoulli + Exponential over ``d >= 3`` columns."""
    a = max(1, d // 3)
    b = max(1, d // 3)
    return CompositeReconstructionDistribution(((a, GaussianReconstructionDistribution("identity")),
                                                (b, BernoulliReconstructionDistribution()),
                                                (d - a - b, ExponentialReconstructionDistribution("identity"))))


DISTS = {
    "gauss_identity": lambda d: GaussianReconstructionDistribution("identity"),
    "gauss_tanh": lambda d: GaussianReconstructionDistribution("tanh"),
    "bern_sigmoid": lambda d: BernoulliReconstructionDistribution(),
    "bern_hardsigmoid": lambda d: BernoulliReconstructionDistribution("hardsigmoid"),
    "exponential": lambda d: ExponentialReconstructionDistribution("identity"),
    "composite": composite3,
    "wrap_mse": lambda d: LossFunctionWrapper("identity", "mse"),
    "wrap_xent_sigmoid": lambda d: LossFunctionWrapper("sigmoid", "xent"),
}
PROB_DISTS = ["gauss_identity", "gauss_tanh", "bern_sigmoid", "bern_hardsigmoid", "exponential", "composite"]


def sample_data(dconf, rng, n, d, binary=False):
    """Data in the support of ``dconf`` ([n, d] float64)."""
    if isinstance(dconf, CompositeReconstructionDistribution):
        return np.hstack([sample_data(c, rng, n, s, binary) for s, c in dconf.distributions])
    if isinstance(dconf, GaussianReconstructionDistribution) or (
            isinstance(dconf, LossFunctionWrapper) and dconf.loss != "xent"):
        return rng.normal(0.0, 1.0, (n, d))
    if isinstance(dconf, ExponentialReconstructionDistribution):
        return rng.exponential(1.0, (n, d))
    # Bernoulli / xent wrapper: [0, 1]
    if binary:
        return (rng.random((n, d)) < 0.5).astype(np.float64)
    return rng.random((n, d))


# ============================================================================ network helpers


def vae_conf(dconf, n_in, n_out, enc=(4,), dec=(4,), pzx="identity", num_samples=1, **kw):
    key = "loss_function" if isinstance(dconf, LossFunctionWrapper) else "reconstruction_distribution"
    return VariationalAutoencoder(n_in=n_in, n_out=n_out, encoder_layer_sizes=tuple(enc),
                                  decoder_layer_sizes=tuple(dec), pzx_activation=pzx,
                                  num_samples=num_samples, **{key: dconf}, **kw)


def make_vae(dconf, n_in, n_out, enc=(4,), dec=(4,), pzx="identity", act="tanh", num_samples=1,
             dtype="float64", seed=0, updater=None, **net_kw):
    """A one-layer VAE network (``harness.make_net``, Sgd(1.0) by default); returns ``(net, layer)``."""
    net = make_net([vae_conf(dconf, n_in, n_out, enc, dec, pzx, num_samples)], seed=seed, dtype=dtype,
                   updater=updater or Sgd(1.0), activation=act, **net_kw)
    return net, net.get_layer(0)


def randomize(layer, rng, bias_scale=0.3, weight_scale=1.0, pxz_scale=1.0):
    """Non-zero biases (init leaves them at 0) and optionally rescaled weights."""
    for name, _, is_bias in layer.param_specs():
        p = layer.params[name]
        if is_bias:
            p[...] = rng.normal(0.0, bias_scale, p.shape)
        else:
            p *= weight_scale
        if name.startswith("pXZ"):
            p *= pxz_scale


def rng_clone(rng):
    g = np.random.Generator(np.random.PCG64())
    g.bit_generator.state = copy.deepcopy(rng.bit_generator.state)
    return g


# ============================================================================ NumPy / scipy reference


class Ref:
    """Independent float64 forward pass of a VAE layer from its parameters."""

    def __init__(self, layer):
        self.P = {k: np.array(v, dtype=np.float64) for k, v in layer.params.items()}
        self.act = layer.activation
        self.pzx = layer.conf.pzx_activation
        self.ne = len(layer.conf.encoder_layer_sizes)
        self.nd = len(layer.conf.decoder_layer_sizes)
        self.dist = layer.conf.distribution

    def posterior(self, x):
        P, h = self.P, np.asarray(x, dtype=np.float64)
        for i in range(self.ne):
            h = ref_act(self.act, h @ P[f"e{i}W"] + P[f"e{i}b"])
        mean = ref_act(self.pzx, h @ P["pZXMeanW"] + P["pZXMeanb"])
        logvar = ref_act(self.pzx, h @ P["pZXLogStd2W"] + P["pZXLogStd2b"])
        return mean, logvar

    def decode(self, z):
        P, a = self.P, z
        for i in range(self.nd):
            a = ref_act(self.act, a @ P[f"d{i}W"] + P[f"d{i}b"])
        return a @ P["pXZW"] + P["pXZb"]

    @staticmethod
    def kl(mean, logvar):
        return 0.5 * np.sum(np.exp(logvar) + mean ** 2 - 1.0 - logvar, axis=1)

    def neg_elbo(self, x, eps):
        """Per-example ``KL - mean_l log p(x|z_l)`` with the stacked noise ``eps`` [L*n, k]."""
        x = np.asarray(x, dtype=np.float64)
        n = x.shape[0]
        L = eps.shape[0] // n
        mean, logvar = self.posterior(x)
        lp = np.zeros(n)
        for s in range(L):
            z = mean + np.exp(0.5 * logvar) * eps[s * n:(s + 1) * n]
            lp += logp(self.dist, x, self.decode(z)) / L
        return self.kl(mean, logvar) - lp

    def sample_logp(self, x, rng, L, with_prior=False, dtype=np.float64):
        """[L, n] log p(x|z_l) (+ log p(z) - log q(z|x)) for draws made as the layer makes them
        (one ``rng.standard_normal([n, k], dtype)`` per sample)."""
        x = np.asarray(x, dtype=np.float64)
        mean, logvar = self.posterior(x)
        sd = np.exp(0.5 * logvar)
        out = []
        for _ in range(L):
            z = mean + sd * rng.standard_normal(mean.shape, dtype=dtype).astype(np.float64)
            v = logp(self.dist, x, self.decode(z))
            if with_prior:
                v = v + stats.norm.logpdf(z).sum(1) - stats.norm.logpdf(z, mean, sd).sum(1)
            out.append(v)
        return np.array(out)

    def mean_given_pre(self, pre, dist=None):
        dist = self.dist if dist is None else dist
        if isinstance(dist, CompositeReconstructionDistribution):
            out, po = [], 0
            for size, c in dist.distributions:
                w = c.input_width(size)
                out.append(self.mean_given_pre(pre[:, po:po + w], c))
                po += w
            return np.hstack(out)
        a = ref_act(dist.activation, pre)
        if isinstance(dist, GaussianReconstructionDistribution):
            return a[:, :a.shape[1] // 2]
        if isinstance(dist, ExponentialReconstructionDistribution):
            return np.exp(-a)
        return a  # Bernoulli probabilities / loss-wrapper output


def logp(dist, x, pre):
    """Per-example ``log p(x | pre)`` via scipy.stats (minus the loss for a loss wrapper)."""
    if isinstance(dist, CompositeReconstructionDistribution):
        total, xo, po = 0.0, 0, 0
        for size, c in dist.distributions:
            w = c.input_width(size)
            total = total + logp(c, x[:, xo:xo + size], pre[:, po:po + w])
            xo += size
            po += w
        return total
    a = ref_act(dist.activation, pre)
    if isinstance(dist, GaussianReconstructionDistribution):
        d = x.shape[1]
        return stats.norm.logpdf(x, a[:, :d], np.exp(0.5 * a[:, d:])).sum(1)
    if isinstance(dist, BernoulliReconstructionDistribution):
        binary = np.all((x == 0) | (x == 1))
        if binary and dist.activation == "hardsigmoid":
            # p can be exactly 0 or 1: log-probabilities are clamped at log(1e-12) (documented)
            return np.maximum(stats.bernoulli.logpmf(x, a), np.log(1e-12)).sum(1)
        if binary and np.max(np.abs(pre)) < 30:
            return stats.bernoulli.logpmf(x, a).sum(1)
        # [0, 1] data: the cross-entropy form x log p + (1-x) log(1-p)
        if dist.activation == "sigmoid":
            return (x * special.log_expit(pre) + (1 - x) * special.log_expit(-pre)).sum(1)
        return (special.xlogy(x, a) + special.xlog1py(1 - x, -a)).sum(1)
    if isinstance(dist, ExponentialReconstructionDistribution):
        return stats.expon.logpdf(x, scale=np.exp(-a)).sum(1)
    if isinstance(dist, LossFunctionWrapper):
        if dist.loss == "mse":
            return -np.mean((a - x) ** 2, axis=1)
        if dist.loss == "xent":
            return (x * special.log_expit(pre) + (1 - x) * special.log_expit(-pre)).sum(1)
    raise NotImplementedError(type(dist).__name__)
