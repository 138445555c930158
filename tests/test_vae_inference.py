"""The VariationalAutoencoder inference API against the reference with the same draws
(``tests/vae_reference.py``): reconstruction log-probability estimators, IWAE
log-likelihood estimates, reconstruction error of loss wrappers, ``generate_at_mean_given_z``
and ``generate_random_given_z``.
"""

import numpy as np
import pytest
from scipy import special

from reference import ref_act
from vae_reference import (DISTS, PROB_DISTS, Ref, logp, make_vae,
                           randomize, sample_data)
from numba_ae import (
    CompositeReconstructionDistribution,
    GaussianReconstructionDistribution,
    LossFunctionWrapper,
)
from numba_ae.distributions import NoLogProbabilityError


# ============================================================================ inference API


def _prob_vae(dist_name, n_in=5, n_out=2, seed=0, num_samples=1):
    dconf = DISTS[dist_name](n_in)
    net, vae = make_vae(dconf, n_in, n_out, (4, 3), (3,), "tanh", "tanh", num_samples, seed=seed)
    rng = np.random.default_rng(seed)
    randomize(vae, rng)
    return dconf, net, vae, rng


@pytest.mark.parametrize("dist_name", PROB_DISTS)
def test_reconstruction_log_probability_estimators(dist_name):
    dconf, net, vae, rng = _prob_vae(dist_name, seed=21)
    x = sample_data(dconf, rng, 6, 5, binary=True)
    ref = Ref(vae)
    L = 7
    lp = ref.sample_logp(x, np.random.default_rng(5), L)  # [L, n], the layer's draws
    ml = vae.reconstruction_log_probability(x, L, "mean_log", rng=np.random.default_rng(5))
    assert ml.shape == (6,) and ml.dtype == np.float64
    np.testing.assert_allclose(ml, lp.mean(0), rtol=1e-10)
    lme = vae.reconstruction_log_probability(x, L, "log_mean_exp", rng=np.random.default_rng(5))
    np.testing.assert_allclose(lme, special.logsumexp(lp, axis=0) - np.log(L), rtol=1e-10)
    assert np.all(lme >= ml - 1e-12)  # Jensen
    assert np.any(lme > ml + 1e-6)
    # default estimator is mean_log; num_samples=1: both estimators agree
    np.testing.assert_array_equal(vae.reconstruction_log_probability(x, L, rng=np.random.default_rng(5)), ml)
    one_a = vae.reconstruction_log_probability(x, 1, "mean_log", rng=np.random.default_rng(3))
    one_b = vae.reconstruction_log_probability(x, 1, "log_mean_exp", rng=np.random.default_rng(3))
    np.testing.assert_allclose(one_a, one_b, rtol=1e-12)
    p = vae.reconstruction_probability(x, L, "log_mean_exp", rng=np.random.default_rng(5))
    np.testing.assert_allclose(p, np.exp(lme), rtol=1e-12)
    np.testing.assert_allclose(vae.reconstruction_probability(x, L, rng=np.random.default_rng(5)),
                               np.exp(ml), rtol=1e-12)
    # IWAE with the same draws: log mean_k exp(log p(x|z) + log p(z) - log q(z|x))
    iw = ref.sample_logp(x, np.random.default_rng(8), 9, with_prior=True)
    est = vae.log_likelihood_estimate(x, 9, rng=np.random.default_rng(8))
    np.testing.assert_allclose(est, special.logsumexp(iw, axis=0) - np.log(9), rtol=1e-10)


def test_log_likelihood_estimate_bounds_elbo_and_grows_with_k():
    dconf, net, vae, rng = _prob_vae("gauss_identity", n_in=5, n_out=2, seed=2)
    randomize(vae, rng, bias_scale=0.5)
    x = rng.normal(size=(40, 5))
    R = 60
    means = {}
    for K in (1, 5, 50):
        g = np.random.default_rng(100 + K)
        means[K] = np.mean([vae.log_likelihood_estimate(x, K, rng=g).mean() for _ in range(R // (1 + K // 10))])
    elbo = -np.mean([vae.score(x, rng=np.random.default_rng(1000 + r)) for r in range(R)])
    # E[IWAE_1] is the ELBO
    assert means[1] == pytest.approx(elbo, abs=0.05 * abs(elbo) + 0.05)
    assert means[1] <= means[5] + 0.02 <= means[50] + 0.04
    assert means[50] > elbo + 0.05
    print(f"ELBO {elbo:.4f}  IWAE_1 {means[1]:.4f}  IWAE_5 {means[5]:.4f}  IWAE_50 {means[50]:.4f}")


def test_loss_wrapper_has_no_log_probability():
    n_in = 4
    for dconf in (LossFunctionWrapper("identity", "mse"), LossFunctionWrapper("sigmoid", "xent")):
        net, vae = make_vae(dconf, n_in, 2)
        assert vae.has_loss_function()
        x = sample_data(dconf, np.random.default_rng(0), 3, n_in)
        for method in (vae.reconstruction_log_probability, vae.reconstruction_probability,
                       vae.log_likelihood_estimate):
            with pytest.raises(NoLogProbabilityError, match="LossFunctionWrapper") as info:
                method(x, 2)
            assert isinstance(info.value, ValueError)
            assert "reconstruction_error" in str(info.value)
    # a composite that mixes a wrapper with a distribution has no log-probability either
    mixed = CompositeReconstructionDistribution(((2, GaussianReconstructionDistribution()),
                                                 (2, LossFunctionWrapper("identity", "mse"))))
    net, vae = make_vae(mixed, 4, 2)
    assert not vae.has_loss_function()
    x = np.random.default_rng(0).normal(size=(3, 4))
    for method in (vae.reconstruction_log_probability, vae.reconstruction_probability,
                   vae.log_likelihood_estimate):
        with pytest.raises(NoLogProbabilityError, match="LossFunctionWrapper"):
            method(x, 2)
    with pytest.raises(ValueError, match="LossFunctionWrapper"):
        vae.reconstruction_error(x)
    # but it trains: its score is KL + Gaussian NLL + mse loss
    eps = np.random.default_rng(1).standard_normal((3, 2))
    assert vae.pretrain_step(x, None, eps=eps) == pytest.approx(Ref(vae).neg_elbo(x, eps).mean(), rel=1e-10)


@pytest.mark.parametrize("dist_name", ["wrap_mse", "wrap_xent_sigmoid", "wrap_composite"])
def test_reconstruction_error_is_loss_at_latent_mean(dist_name):
    n_in = 4
    if dist_name == "wrap_composite":
        dconf = CompositeReconstructionDistribution(((2, LossFunctionWrapper("identity", "mse")),
                                                     (2, LossFunctionWrapper("sigmoid", "xent"))))
        x = np.hstack([np.random.default_rng(1).normal(size=(5, 2)), np.random.default_rng(2).random((5, 2))])
    else:
        dconf = DISTS[dist_name](n_in)
        x = sample_data(dconf, np.random.default_rng(1), 5, n_in)
    net, vae = make_vae(dconf, n_in, 2, (3,), (3,), seed=5)
    randomize(vae, np.random.default_rng(5))
    assert vae.has_loss_function()
    ref = Ref(vae)
    mean, _ = ref.posterior(x)
    expected = -logp(dconf, x, ref.decode(mean))
    err = vae.reconstruction_error(x)
    assert err.shape == (5,)
    np.testing.assert_allclose(err, expected, rtol=1e-12)
    assert np.all(err >= 0)


@pytest.mark.parametrize("dist_name", PROB_DISTS)
def test_reconstruction_error_needs_loss_wrapper(dist_name):
    dconf, net, vae, rng = _prob_vae(dist_name)
    assert not vae.has_loss_function()
    with pytest.raises(ValueError, match="LossFunctionWrapper"):
        vae.reconstruction_error(sample_data(dconf, rng, 2, 5))


# ============================================================================ generation


@pytest.mark.parametrize("dist_name", list(DISTS))
def test_generate_at_mean_given_z(dist_name):
    dconf, net, vae, rng = _prob_vae(dist_name, n_in=6, n_out=3, seed=13)
    z = rng.normal(size=(7, 3))
    ref = Ref(vae)
    pre = ref.decode(z)
    got = vae.generate_at_mean_given_z(z)
    assert got.shape == (7, 6)
    np.testing.assert_allclose(got, ref.mean_given_pre(pre), rtol=1e-12, atol=1e-15)
    # spelled out per distribution
    if dist_name.startswith("gauss"):
        np.testing.assert_allclose(got, ref_act(dconf.activation, pre)[:, :6], rtol=1e-12)
    elif dist_name == "bern_sigmoid":
        np.testing.assert_allclose(got, special.expit(pre), rtol=1e-12)
    elif dist_name == "bern_hardsigmoid":
        np.testing.assert_allclose(got, np.clip(0.2 * pre + 0.5, 0, 1), rtol=1e-12)
    elif dist_name == "exponential":
        np.testing.assert_allclose(got, np.exp(-pre), rtol=1e-12)
    elif dist_name == "composite":  # sizes 2 Gaussian (pre width 4), 2 Bernoulli, 2 Exponential
        np.testing.assert_allclose(got[:, :2], pre[:, :2], rtol=1e-12)
        np.testing.assert_allclose(got[:, 2:4], special.expit(pre[:, 4:6]), rtol=1e-12)
        np.testing.assert_allclose(got[:, 4:], np.exp(-pre[:, 6:8]), rtol=1e-12)
    elif dist_name == "wrap_xent_sigmoid":
        np.testing.assert_allclose(got, special.expit(pre), rtol=1e-12)
    # reconstruction: decode the latent mean of x
    x = sample_data(dconf, rng, 3, 6)
    np.testing.assert_allclose(vae.generate_at_mean_given_z(vae.activate(x)),
                               ref.mean_given_pre(ref.decode(ref.posterior(x)[0])), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dist_name", PROB_DISTS + ["wrap_mse"])
def test_generate_random_given_z_statistics(dist_name):
    dconf, net, vae, rng = _prob_vae(dist_name, n_in=6, n_out=2, seed=17)
    N = 20_000
    z = np.repeat(rng.normal(size=(2, 2)), N, axis=0)  # two latent points, N rows each
    samples = vae.generate_random_given_z(z, rng=np.random.default_rng(0))
    assert samples.shape == (2 * N, 6) and np.all(np.isfinite(samples))
    mean = vae.generate_at_mean_given_z(z[[0, N]])
    pre = Ref(vae).decode(z[[0, N]])
    for c in range(2):
        s = samples[c * N:(c + 1) * N]
        # theoretical sd per column
        sd = np.empty(6)
        if isinstance(dconf, CompositeReconstructionDistribution):
            cols = [(slice(0, 2), "g", slice(0, 4)), (slice(2, 4), "b", slice(4, 6)), (slice(4, 6), "e", slice(6, 8))]
        else:
            kind = {"gauss_identity": "g", "gauss_tanh": "g", "bern_sigmoid": "b", "bern_hardsigmoid": "b",
                    "exponential": "e", "wrap_mse": "w"}[dist_name]
            cols = [(slice(0, 6), kind, slice(0, 12 if kind == "g" else 6))]
        for xs, kind, ps in cols:
            m = mean[c, xs]
            if kind == "g":
                a = ref_act(dconf.activation if not isinstance(dconf, CompositeReconstructionDistribution)
                           else "identity", pre[c, ps])
                sd[xs] = np.exp(0.5 * a[a.size // 2:])
                np.testing.assert_allclose(s[:, xs].std(0), sd[xs], rtol=0.05)
            elif kind == "b":
                sd[xs] = np.sqrt(m * (1 - m))
                assert set(np.unique(s[:, xs])) <= {0.0, 1.0}
            elif kind == "e":
                sd[xs] = m
                assert np.all(s[:, xs] >= 0)
                np.testing.assert_allclose(s[:, xs].std(0), sd[xs], rtol=0.06)
            else:  # loss wrapper: deterministic output
                sd[xs] = 0.0
                np.testing.assert_allclose(s[:, xs], np.broadcast_to(m, s[:, xs].shape), rtol=1e-12)
        se = sd / np.sqrt(N)
        assert np.all(np.abs(s.mean(0) - mean[c]) <= 5 * se + 1e-12), (s.mean(0), mean[c], se)
