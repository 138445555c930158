"""VariationalAutoencoder gradients (``numba_ae.layers.vae``): the pretrain score (negative
ELBO) and its reparameterisation gradient for every reconstruction distribution against
central finite differences (float64, eps held fixed); l1/l2 terms of the network
pretrain score and gradient; the eps layout drawn from the RNG; the supervised (``fit``)
gradient where the VAE acts as its encoder.

Reference code: ``tests/vae_reference.py``; FD checker: ``tests/harness.py``.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import fd_grad_inplace, make_net, param_index, param_names
from reference import assert_grad_close
from vae_reference import (DISTS, HSET, LAYER_ACTS, PZX_ACTS, Ref, make_vae,
                           randomize, rng_clone, sample_data, vae_conf)
from numba_ae import (
    DenseLayer,
    GaussianReconstructionDistribution,
    OutputLayer,
    Sgd,
)


# ============================================================================ pretrain gradient


@pytest.mark.parametrize("num_samples", [1, 3])
@pytest.mark.parametrize("dist_name", list(DISTS))
@HSET
@given(n=st.integers(1, 4), n_in=st.integers(3, 5), n_out=st.integers(1, 3),
       enc=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       dec=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       pzx=st.sampled_from(PZX_ACTS), act=st.sampled_from(LAYER_ACTS), seed=st.integers(0, 2 ** 20))
def test_pretrain_gradient_matches_finite_differences(dist_name, num_samples, n, n_in, n_out, enc, dec,
                                                      pzx, act, seed):
    dconf = DISTS[dist_name](n_in)
    net, vae = make_vae(dconf, n_in, n_out, enc, dec, pzx, act, num_samples, seed=seed)
    rng = np.random.default_rng(seed)
    hard = dist_name == "bern_hardsigmoid"
    # xavier/2 weights keep |score| ~ 10 at most, so the h=1e-6 differences resolve to ~1e-9
    randomize(vae, rng, weight_scale=0.5, pxz_scale=0.1 if hard else 1.0)
    x = sample_data(dconf, rng, n, n_in)
    eps = rng.standard_normal((num_samples * n, n_out))
    if hard:  # keep every pre-activation well inside the linear part of hardsigmoid (kinks at +-2.5)
        mean, logvar = Ref(vae).posterior(x)
        z = np.tile(mean, (num_samples, 1)) + np.exp(0.5 * np.tile(logvar, (num_samples, 1))) * eps
        assert np.max(np.abs(Ref(vae).decode(z))) < 2.4

    score = vae.pretrain_step(x, None, eps=eps)
    analytic = net._flat_grad.copy()
    assert np.isfinite(score)
    numeric = fd_grad_inplace(lambda: vae.pretrain_step(x, None, eps=eps), net._flat)
    assert_grad_close(analytic, numeric, names=param_names(net))
    # the parameters are back where they were: the score is reproduced exactly
    assert vae.pretrain_step(x, None, eps=eps) == score


@pytest.mark.parametrize("dist_name", ["gauss_identity", "bern_sigmoid", "composite"])
def test_network_pretrain_step_l1_l2_score_and_gradient(dist_name):
    """One ``net.pretrain`` step with Sgd(1): ``p_before - p_after`` is the gradient of
    ``negative ELBO + l1/l2`` (reg not divided by the batch size); the reported score
    includes the reg term; the eps the net drew is reproduced from a clone of its RNG."""
    n, n_in, k, L = 3, 4, 2, 2
    dconf = DISTS[dist_name](n_in)
    rng = np.random.default_rng(11)
    net, vae = make_vae(dconf, n_in, k, (3, 4), (4,), "tanh", "tanh", L, seed=3,
                        l1=0.03, l2=0.2, l1_bias=0.05, l2_bias=0.1)
    randomize(vae, rng)
    x = sample_data(dconf, rng, n, n_in)
    reg = net.regularization_score()
    flat = net._flat
    weights = np.concatenate([vae.params[nm].ravel() for nm, _, b in vae.param_specs() if not b])
    biases = np.concatenate([vae.params[nm].ravel() for nm, _, b in vae.param_specs() if b])
    expected_reg = (0.03 * np.abs(weights).sum() + 0.5 * 0.2 * (weights ** 2).sum()
                    + 0.05 * np.abs(biases).sum() + 0.5 * 0.1 * (biases ** 2).sum())
    assert reg == pytest.approx(expected_reg, rel=1e-12)

    eps = rng_clone(net._rng).standard_normal((L * n, k))
    before = net.params()
    net.pretrain((x,), batch_size=n)
    grad = before - net.params()
    reported = net.score()
    net.set_params(before)
    elbo = vae.pretrain_step(x, None, eps=eps)
    assert elbo == pytest.approx(Ref(vae).neg_elbo(x, eps).mean(), rel=1e-10)
    assert reported == pytest.approx(elbo + reg, rel=1e-12)

    numeric = fd_grad_inplace(lambda: vae.pretrain_step(x, None, eps=eps) + net.regularization_score(), flat)
    assert_grad_close(grad, numeric, names=param_names(net))
    # the reg part of the gradient is really there (it is not a tiny correction)
    vae.pretrain_step(x, None, eps=eps)
    assert np.max(np.abs(grad - net._flat_grad)) > 0.01

    # net.score(data) = the layer's negative ELBO with the net's next draws + the same reg
    expect = vae.score(x, rng=rng_clone(net._rng)) + reg
    assert net.score((x,)) == pytest.approx(expect, rel=1e-12)


def test_pretrain_step_draws_eps_from_rng_sample_major():
    dconf = GaussianReconstructionDistribution()
    net, vae = make_vae(dconf, 4, 2, num_samples=3)
    x = np.random.default_rng(0).normal(size=(5, 4))
    s1 = vae.pretrain_step(x, np.random.default_rng(42))
    g1 = net._flat_grad.copy()
    s2 = vae.pretrain_step(x, None, eps=np.random.default_rng(42).standard_normal((15, 2)))
    assert s1 == s2
    np.testing.assert_array_equal(g1, net._flat_grad)
    # per-sample blocks are rows [l*n, (l+1)*n): matches the reference with that layout
    eps = np.random.default_rng(42).standard_normal((15, 2))
    assert s1 == pytest.approx(Ref(vae).neg_elbo(x, eps).mean(), rel=1e-12)


# ============================================================================ fit (encoder) gradient


@HSET
@given(n=st.integers(1, 4), n_in=st.integers(3, 5), n_out=st.integers(1, 3),
       enc=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       dist_name=st.sampled_from(list(DISTS)), pzx=st.sampled_from(PZX_ACTS),
       act=st.sampled_from(LAYER_ACTS), seed=st.integers(0, 2 ** 20))
def test_fit_gradient_vae_as_encoder(n, n_in, n_out, enc, dist_name, pzx, act, seed):
    dconf = DISTS[dist_name](n_in)
    net = make_net([vae_conf(dconf, n_in, n_out, enc, (3, 2), pzx, 2),
                    DenseLayer(n_out=3, activation="tanh"),
                    OutputLayer(n_out=3, activation="softmax", loss="mcxent")],
                   seed=seed, dtype="float64", activation=act, updater=Sgd(1.0))
    vae = net.get_layer(0)
    rng = np.random.default_rng(seed)
    randomize(vae, rng, weight_scale=0.5)
    x = sample_data(dconf, rng, n, n_in)
    y = np.eye(3)[rng.integers(0, 3, n)]
    before = net.params()
    net.fit((x, y), batch_size=n)
    grad = before - net.params()
    net.set_params(before)
    numeric = fd_grad_inplace(lambda: net.score((x, y)), net._flat)
    names = param_names(net)
    assert_grad_close(grad, numeric, names=names)
    # exactly zero for everything but the encoder and the q(z|x) mean head
    enc_names = {f"e{i}{p}" for i in range(len(enc)) for p in "Wb"} | {"pZXMeanW", "pZXMeanb"}
    for i, (layer_index, pname, _) in enumerate(param_index(net)):
        if layer_index == 0 and pname not in enc_names:
            assert grad[i] == 0.0, names[i]
    # the supervised forward output is the latent mean
    mean, _ = Ref(vae).posterior(x)
    np.testing.assert_allclose(net.feed_forward(x)[1], mean, rtol=1e-12, atol=1e-14)
