"""``Distribution.log_prob_elements``: the per-element log-probabilities (the terms the
row log-probabilities sum), against scipy.stats, for every registered distribution with
element kernels, a composite, float32 and float64, and extreme parameters (where float32
overflows and the element is recomputed in float64)."""
import numpy as np
import pytest
from scipy import special, stats

from reference import ref_act
from numba_ae.distributions import (DISTRIBUTIONS, BernoulliReconstructionDistribution,
                                    CategoricalReconstructionDistribution,
                                    CompositeReconstructionDistribution, ExponentialReconstructionDistribution,
                                    GaussianReconstructionDistribution, LossFunctionWrapper, NoLogProbabilityError,
                                    build_distribution)

CONFS = {
    "gaussian": GaussianReconstructionDistribution(),
    "gaussian_tanh": GaussianReconstructionDistribution("tanh"),
    "bernoulli": BernoulliReconstructionDistribution(),
    "bernoulli_hard": BernoulliReconstructionDistribution("hardsigmoid"),
    "exponential": ExponentialReconstructionDistribution(),
    "composite": CompositeReconstructionDistribution(((2, GaussianReconstructionDistribution()),
                                                      (3, BernoulliReconstructionDistribution()),
                                                      (2, ExponentialReconstructionDistribution()))),
    "categorical": CategoricalReconstructionDistribution(),
    "composite_categorical": CompositeReconstructionDistribution(((3, CategoricalReconstructionDistribution()),
                                                                  (4, BernoulliReconstructionDistribution()))),
}


def _data(conf, rng, n, d):
    if isinstance(conf, CompositeReconstructionDistribution):
        return np.hstack([_data(c, rng, n, s) for s, c in conf.distributions])
    if isinstance(conf, GaussianReconstructionDistribution):
        return rng.standard_normal((n, d))
    if isinstance(conf, BernoulliReconstructionDistribution):
        return (rng.random((n, d)) < 0.5).astype(float)
    if isinstance(conf, CategoricalReconstructionDistribution):
        return np.eye(d)[rng.integers(0, d, n)]
    return rng.exponential(1.0, (n, d))


def _ref(conf, x, pre):
    if isinstance(conf, CompositeReconstructionDistribution):
        out, xo, po = [], 0, 0
        for size, c in conf.distributions:
            w = c.input_width(size)
            out.append(_ref(c, x[:, xo:xo + size], pre[:, po:po + w]))
            xo, po = xo + size, po + w
        return np.hstack(out)
    if isinstance(conf, CategoricalReconstructionDistribution):
        return x * special.log_softmax(pre, axis=1)
    a = ref_act(conf.activation, pre)
    if isinstance(conf, GaussianReconstructionDistribution):
        d = x.shape[1]
        return stats.norm.logpdf(x, a[:, :d], np.exp(0.5 * a[:, d:]))
    if isinstance(conf, BernoulliReconstructionDistribution):
        if conf.activation == "hardsigmoid":
            return np.maximum(stats.bernoulli.logpmf(x, a), np.log(1e-12))
        return x * special.log_expit(pre) + (1 - x) * special.log_expit(-pre)
    return stats.expon.logpdf(x, scale=np.exp(-a))


def test_every_registered_distribution_with_element_kernels_is_covered():
    """A distribution registered later with element kernels must be added to CONFS."""
    with_kernels = {conf_cls for conf_cls, runtime in DISTRIBUTIONS.items()
                    if isinstance(conf_cls, type) and getattr(runtime, "kernels", None) is not None}
    with_kernels |= {BernoulliReconstructionDistribution}     # its kernels are chosen per instance
    assert with_kernels <= {type(c) for c in CONFS.values()}, with_kernels


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(CONFS))
def test_log_prob_elements_match_scipy_and_sum_to_the_row_log_probability(name, dtype, rng):
    conf = CONFS[name]
    d = 7 if name.startswith("composite") else 5
    x = _data(conf, rng, 9, d)
    pre = rng.normal(0.0, 2.0, (9, conf.input_width(d)))
    dist = build_distribution(conf, dtype)
    e = dist.log_prob_elements(x.astype(dtype), pre.astype(dtype))
    assert e.shape == (9, d) and e.dtype == np.float64
    tol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(e, _ref(conf, x.astype(dtype).astype(float), pre.astype(dtype).astype(float)),
                               rtol=tol, atol=tol)
    nll = np.empty(9, dtype=dtype)
    dist.nll(x.astype(dtype), pre.astype(dtype), nll)
    np.testing.assert_allclose(e.sum(1), -nll, rtol=tol, atol=tol)


def test_extreme_parameters_are_recomputed_in_float64():
    # Gaussian log-variance -200: exp(-logvar) overflows float32, the true density is finite
    x = np.array([[0.0, 1e-30]], dtype=np.float32)
    pre = np.array([[0.0, 0.0, 0.0, -200.0]], dtype=np.float32)
    e = build_distribution(GaussianReconstructionDistribution(), np.float32).log_prob_elements(x, pre)
    want = stats.norm.logpdf([0.0, np.float32(1e-30)], 0.0, np.exp(0.5 * np.array([0.0, -200.0])))
    assert np.all(np.isfinite(e))
    np.testing.assert_allclose(e[0], want, rtol=1e-6)
    # Bernoulli logits of +-1e4 stay finite in the stable form
    x = np.array([[1.0, 0.0, 1.0]], dtype=np.float32)
    pre = np.array([[1e4, 1e4, -1e4]], dtype=np.float32)
    e = build_distribution(BernoulliReconstructionDistribution(), np.float32).log_prob_elements(x, pre)
    np.testing.assert_allclose(e[0], [0.0, -1e4, -1e4], rtol=1e-6)


def test_loss_wrappers_have_no_element_log_probabilities():
    dist = build_distribution(LossFunctionWrapper(), np.float64)
    with pytest.raises(NoLogProbabilityError):
        dist.log_prob_elements(np.zeros((2, 2)), np.zeros((2, 2)))
