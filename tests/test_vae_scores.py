"""VariationalAutoencoder scores against an independent NumPy/scipy.stats reference
(``tests/vae_reference.py``): the negative ELBO of every reconstruction distribution
(layer, ``score`` and network score), Bernoulli cross-entropy on non-binary data, the
closed-form KL term against a Monte-Carlo estimate; numerical stability at extreme
pre-activations; data validation (support, widths, arguments).

Kernel-level checks of the distribution kernels live in
``tests/test_kernels_distributions.py`` and are not repeated here.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from vae_reference import (DISTS, LAYER_ACTS, PZX_ACTS, Ref, composite3, logp, make_vae,
                           randomize, rng_clone, sample_data)
from numba_ae import (
    BernoulliReconstructionDistribution,
    GaussianReconstructionDistribution,
    LossFunctionWrapper,
)


# ============================================================================ score vs reference


@pytest.mark.parametrize("dist_name", list(DISTS))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 6), n_in=st.integers(3, 7), n_out=st.integers(1, 4),
       enc=st.lists(st.integers(1, 6), min_size=1, max_size=3),
       dec=st.lists(st.integers(1, 6), min_size=1, max_size=3),
       pzx=st.sampled_from(PZX_ACTS), act=st.sampled_from(LAYER_ACTS + ["leakyrelu", "relu"]),
       num_samples=st.integers(1, 3), seed=st.integers(0, 2 ** 20))
def test_score_matches_numpy_scipy_reference(dist_name, n, n_in, n_out, enc, dec, pzx, act, num_samples, seed):
    dconf = DISTS[dist_name](n_in)
    net, vae = make_vae(dconf, n_in, n_out, enc, dec, pzx, act, num_samples, seed=seed)
    rng = np.random.default_rng(seed)
    randomize(vae, rng)
    x = sample_data(dconf, rng, n, n_in, binary=True)
    eps = rng.standard_normal((num_samples * n, n_out))
    ref = Ref(vae)
    expected = ref.neg_elbo(x, eps)
    assert vae.pretrain_step(x, None, eps=eps) == pytest.approx(expected.mean(), rel=1e-10, abs=1e-12)
    # score(x, rng) draws num_samples blocks of [n, k] from rng: the same stacked eps
    s = vae.score(x, rng=np.random.default_rng(seed + 1))
    expected2 = ref.neg_elbo(x, np.random.default_rng(seed + 1).standard_normal((num_samples * n, n_out)))
    assert s == pytest.approx(expected2.mean(), rel=1e-10, abs=1e-12)
    # network score (no regularisation configured) is the same quantity
    eps_net = rng_clone(net._rng).standard_normal((num_samples * n, n_out))  # the draws net.score will make
    assert net.score((x,)) == pytest.approx(ref.neg_elbo(x, eps_net).mean(), rel=1e-10, abs=1e-12)
    # activate is the latent mean
    np.testing.assert_allclose(vae.activate(x), ref.posterior(x)[0], rtol=1e-12, atol=1e-14)


def test_bernoulli_score_with_non_binary_data_matches_cross_entropy():
    """Data in [0, 1] that is not 0/1 (e.g. grey MNIST): -log p is the cross-entropy."""
    for act in ("sigmoid", "hardsigmoid"):
        dconf = BernoulliReconstructionDistribution(act)
        net, vae = make_vae(dconf, 6, 2, (5,), (5,), seed=4)
        rng = np.random.default_rng(4)
        randomize(vae, rng)
        x = rng.random((7, 6))
        eps = rng.standard_normal((7, 2))
        assert vae.pretrain_step(x, None, eps=eps) == pytest.approx(Ref(vae).neg_elbo(x, eps).mean(), rel=1e-10)


def test_kl_term_closed_form_matches_monte_carlo():
    """With pXZW = 0, log p(x|z) does not depend on z, so per-example score + log p(x|pXZb) is
    the layer's KL(q(z|x) || N(0, I)); it must match a Monte-Carlo average of log q - log p."""
    n, n_in, k = 4, 5, 3
    dconf = GaussianReconstructionDistribution()
    net, vae = make_vae(dconf, n_in, k, (6,), (4,), "identity", seed=9)
    rng = np.random.default_rng(9)
    randomize(vae, rng, bias_scale=0.8)
    vae.params["pXZW"][...] = 0.0
    x = rng.normal(size=(n, n_in))
    ref = Ref(vae)
    const_lp = logp(dconf, x, np.tile(vae.params["pXZb"], (n, 1)))
    kl_layer = vae.example_scores_unsupervised(x, np.random.default_rng(0)) + const_lp
    mean, logvar = ref.posterior(x)
    sd = np.exp(0.5 * logvar)
    assert np.all(np.abs(logvar) > 0.05)  # a non-trivial posterior
    M = 200_000
    for i in range(n):
        z = mean[i] + sd[i] * rng.standard_normal((M, k))
        d = stats.norm.logpdf(z, mean[i], sd[i]).sum(1) - stats.norm.logpdf(z).sum(1)
        se = d.std() / np.sqrt(M)
        assert abs(d.mean() - kl_layer[i]) < 5 * se + 1e-12, (i, d.mean(), kl_layer[i], se)
        assert kl_layer[i] > 0
    np.testing.assert_allclose(kl_layer, Ref.kl(mean, logvar), rtol=1e-12)


# ============================================================================ stability


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("dist_name", ["bern_sigmoid", "bern_hardsigmoid", "gauss_tanh", "gauss_identity"])
def test_extreme_pre_activations_give_finite_score_and_gradients(dist_name, dtype):
    n_in, k = 6, 2
    dconf = DISTS[dist_name](n_in)
    net, vae = make_vae(dconf, n_in, k, (5,), (5,), "tanh", "tanh", 2, dtype=dtype, seed=1)
    rng = np.random.default_rng(1)
    if dist_name == "gauss_identity":
        # huge means (|pre| ~ 1e4) but a bounded log-variance pre-output: finite by nature
        vae.params["pXZb"][:n_in] = rng.choice([-1e4, 1e4], n_in)
        vae.params["pXZW"][:, :n_in] *= 1e4
    else:
        vae.params["pXZW"][...] *= 1e4
        vae.params["pXZb"][...] = rng.choice([-1e4, 1e4], vae.params["pXZb"].shape)
    x = sample_data(dconf, rng, 8, n_in, binary=True).astype(dtype)
    x[0] = 1.0 - x[0] if dist_name.startswith("bern") else x[0]
    eps = rng.standard_normal((16, k)).astype(dtype)
    s = vae.pretrain_step(x, None, eps=eps)
    assert np.isfinite(s) and s > 0
    assert np.all(np.isfinite(net._flat_grad))
    if dist_name == "bern_sigmoid" and dtype == "float64":
        # stable logit form: equals the exact softplus-based NLL even at |logit| ~ 1e4
        assert s == pytest.approx(Ref(vae).neg_elbo(x, eps).mean(), rel=1e-10)
    assert np.all(np.isfinite(vae.reconstruction_log_probability(x, 2, rng=np.random.default_rng(0))))
    assert np.all(np.isfinite(vae.log_likelihood_estimate(x, 3, rng=np.random.default_rng(0))))
    # a training step keeps the parameters finite
    net.pretrain((x,), batch_size=8)
    assert np.all(np.isfinite(net.params()))


# ============================================================================ validation


@pytest.mark.parametrize("dist_name,bad", [("bern_sigmoid", 1.5), ("bern_sigmoid", -0.1),
                                           ("bern_hardsigmoid", 2.0), ("exponential", -0.5),
                                           ("composite", "bern"), ("composite", "exp")])
def test_data_outside_support_raises(dist_name, bad):
    n_in = 6
    dconf = DISTS[dist_name](n_in)
    net, vae = make_vae(dconf, n_in, 2)
    x = sample_data(dconf, np.random.default_rng(0), 4, n_in)
    if bad == "bern":
        x[1, 2] = 1.5  # the Bernoulli slice of the composite is columns 2:4
        match = r"\[:, 2:4\]"
    elif bad == "exp":
        x[1, 5] = -1.0  # the exponential slice is columns 4:6
        match = r"\[:, 4:6\]"
    else:
        x[1, 2] = bad
        match = r"\[0, 1\]" if dist_name.startswith("bern") else ">= 0"
    before = net.params()
    with pytest.raises(ValueError, match=match):
        net.pretrain((x,), batch_size=4)
    with pytest.raises(ValueError, match=match):
        vae.pretrain_step(x, np.random.default_rng(0))
    with pytest.raises(ValueError, match=match):
        vae.reconstruction_log_probability(x, 2)
    with pytest.raises(ValueError, match=match):
        vae.log_likelihood_estimate(x, 2)
    with pytest.raises(ValueError, match=match):
        vae.score(x)
    with pytest.raises(ValueError, match=match):
        net.score((x,))
    np.testing.assert_array_equal(net.params(), before)


def test_wrong_widths_and_bad_arguments_raise():
    dconf = GaussianReconstructionDistribution()
    net, vae = make_vae(dconf, 5, 3)
    x = np.zeros((4, 5))
    bad = np.zeros((4, 4))
    for call in (lambda: vae.activate(bad), lambda: vae.reconstruction_log_probability(bad, 2),
                 lambda: vae.reconstruction_probability(bad), lambda: vae.log_likelihood_estimate(bad, 2),
                 lambda: vae.score(bad), lambda: net.pretrain((bad,)), lambda: net.score((bad,)),
                 lambda: net.output(bad), lambda: vae.generate_at_mean_given_z(np.zeros((2, 2))),
                 lambda: vae.generate_random_given_z(np.zeros((2, 4)))):
        with pytest.raises(ValueError):
            call()
    for call in (lambda: vae.activate(np.zeros(5)), lambda: vae.activate(np.full((2, 5), np.nan)),
                 lambda: vae.generate_at_mean_given_z(np.full((2, 3), np.inf))):
        with pytest.raises(ValueError):
            call()
    for num, exc in ((0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError), ("3", TypeError)):
        with pytest.raises(exc, match="num_samples"):
            vae.reconstruction_log_probability(x, num)
        with pytest.raises(exc, match="num_samples"):
            vae.log_likelihood_estimate(x, num)
    with pytest.raises(ValueError, match="estimator"):
        vae.reconstruction_log_probability(x, 2, estimator="mean")
    wnet, wvae = make_vae(LossFunctionWrapper(), 5, 3)
    with pytest.raises(ValueError):
        wvae.reconstruction_error(bad)
    # a composite whose sizes do not sum to n_in is rejected at configuration time
    with pytest.raises(ValueError, match="sum to"):
        make_vae(composite3(4), 5, 2)
