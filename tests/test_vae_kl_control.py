"""KL control of the VariationalAutoencoder (``beta``, ``kl_warmup_steps``, ``free_bits``):

* the config fields (validation, JSON round trip, omitted from ``to_dict`` at their
  defaults, old model files load with the defaults);
* the defaults train bitwise like the code before the fields existed (a stored oracle,
  ``tests/data/vae_kl_defaults.npz``, written once by that code);
* the free-bits kernels against NumPy and finite differences (float64; float32 inputs);
* the objective ``mean NLL + w * KL term`` and its exact gradient (central differences in
  float64) for the KL weight, the warm-up schedule and both sides of the free-bits kink;
* the network hands the pretrain step count to the layer, and a model saved mid-warm-up
  resumes the schedule exactly;
* outside training: per-example scores at the full ``beta`` without a floor, ``score`` with
  the floor, ``elbo`` independent of the settings.
"""
import json
import os

import numpy as np
import pytest

from harness import check_distribution, fd_grad, fd_grad_inplace, make_net, param_names
from reference import assert_grad_close
from vae_reference import DISTS, Ref, logp, randomize, rng_clone, sample_data, vae_conf
from numba_ae import (
    Adam,
    GaussianReconstructionDistribution,
    LossFunctionWrapper,
    MultiLayerNetwork,
    NeuralNetConfiguration,
    Sgd,
    VariationalAutoencoder,
)
from numba_ae.distributions import NoLogProbabilityError
from numba_ae.io import load_model
from numba_ae.kernels import vae as kv

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def bits(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes()


def kl_net(dist_name="gauss_identity", n_in=5, k=3, num_samples=1, dtype="float64", seed=0,
           updater=None, act="tanh", **kl):
    """A one-layer VAE network with KL-control settings ``kl``; returns ``(net, layer)``."""
    conf = vae_conf(DISTS[dist_name](n_in), n_in, k, (4,), (4,), "identity", num_samples, **kl)
    net = make_net([conf], seed=seed, dtype=dtype, updater=updater, activation=act)
    return net, net.get_layer(0)


def ref_kl_dims(mean, logvar):
    """[n, k] per-example, per-dimension KL(q || N(0, 1)) (float64 NumPy)."""
    return 0.5 * (np.exp(logvar) + mean ** 2 - 1.0 - logvar)


def ref_objective(layer, x, eps, weight, free_bits):
    """``mean_i NLL_i + weight * KL term`` with the stacked noise ``eps`` [L*n, k] (NumPy)."""
    ref = Ref(layer)
    mean, logvar = ref.posterior(x)
    n = x.shape[0]
    L = eps.shape[0] // n
    nll = np.zeros(n)
    for s in range(L):
        nll -= logp(ref.dist, x, ref.decode(mean + np.exp(0.5 * logvar) * eps[s * n:(s + 1) * n])) / L
    dims = ref_kl_dims(mean, logvar)
    term = np.maximum(free_bits, dims.mean(0)).sum() if free_bits > 0 else dims.sum(1).mean()
    return nll.mean() + weight * term


# ============================================================================ config


def test_config_defaults_validation_and_round_trip():
    lf = LossFunctionWrapper()
    v = VariationalAutoencoder(n_in=4, n_out=2, loss_function=lf)
    assert (v.beta, v.kl_warmup_steps, v.free_bits) == (1.0, 0, 0.0)
    for bad, exc in ((-0.1, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
                     (True, TypeError), ("1", TypeError), (None, TypeError)):
        with pytest.raises(exc, match="beta"):
            VariationalAutoencoder(n_in=4, n_out=2, loss_function=lf, beta=bad)
        with pytest.raises(exc, match="free_bits"):
            VariationalAutoencoder(n_in=4, n_out=2, loss_function=lf, free_bits=bad)
    for bad, exc in ((-1, ValueError), (1.5, TypeError), (True, TypeError), ("3", TypeError)):
        with pytest.raises(exc, match="kl_warmup_steps"):
            VariationalAutoencoder(n_in=4, n_out=2, loss_function=lf, kl_warmup_steps=bad)
    with pytest.raises(ValueError, match="beta"):
        v.replace(beta=-1.0)
    # ints are stored as floats, -0.0 as 0.0; beta = 0 (a plain autoencoder objective) is allowed
    w = v.replace(beta=2, free_bits=-0.0, kl_warmup_steps=np.int64(7))
    assert (w.beta, w.kl_warmup_steps, w.free_bits) == (2.0, 7, 0.0)
    assert type(w.beta) is float and type(w.kl_warmup_steps) is int and np.signbit(w.free_bits) == 0
    assert v.replace(beta=0.0).beta == 0.0
    # JSON round trip, alone and in a network config
    u = v.replace(beta=0.25, kl_warmup_steps=100, free_bits=0.5)
    for c in (u, v, w):
        assert VariationalAutoencoder.from_json(c.to_json()) == c
        assert VariationalAutoencoder.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    net_conf = NeuralNetConfiguration(layers=[u])
    assert NeuralNetConfiguration.from_json(net_conf.to_json()).layers[0] == u


def test_to_dict_leaves_out_the_fields_at_their_defaults():
    """So a config that does not use KL control serialises as before (and 0.1.x model files
    re-save to the same bytes: tests/test_io_compat.py); the defaults come back on load."""
    v = VariationalAutoencoder(n_in=4, n_out=2, reconstruction_distribution=GaussianReconstructionDistribution())
    d = v.to_dict()
    assert not {"beta", "kl_warmup_steps", "free_bits"} & set(d)
    assert VariationalAutoencoder.from_dict({**d, "beta": 1.0, "kl_warmup_steps": 0, "free_bits": 0.0}) == v
    d2 = v.replace(free_bits=0.1).to_dict()
    assert d2["free_bits"] == 0.1 and "beta" not in d2 and "kl_warmup_steps" not in d2
    assert set(v.replace(beta=3.0, kl_warmup_steps=1, free_bits=1.0).to_dict()) == set(d) | {
        "beta", "kl_warmup_steps", "free_bits"}


def test_v0_1_vae_file_loads_with_the_defaults():
    net = load_model(os.path.join(DATA, "v0_1_vae.h5"))
    conf = net.conf.layers[0]
    assert (conf.beta, conf.kl_warmup_steps, conf.free_bits) == (1.0, 0, 0.0)
    layer = net.get_layer(0)
    assert layer.kl_weight(0) == layer.kl_weight() == 1.0


def test_standard_layer_checks_with_kl_settings():
    """The harness's checks (round trip, fit and pretrain gradients, save/load bitwise,
    float32 training) for a VAE with a KL weight and a warm-up (pretrain_step without a
    step: the full beta)."""
    rng = np.random.default_rng(2)
    check_distribution(GaussianReconstructionDistribution("tanh"), rng.normal(size=(4, 5)), rng=rng,
                       beta=0.6, kl_warmup_steps=5, free_bits=0.0)


# ============================================================================ defaults are the old code path


@pytest.mark.parametrize("explicit", [False, True])
@pytest.mark.parametrize("name", ["gauss64", "bern32"])
def test_defaults_train_bitwise_like_the_code_before_kl_control(name, explicit):
    """``tests/data/vae_kl_defaults.npz`` was written by the code before these fields
    (``make_vae_kl_defaults.py``, commit e8d9f08): params, minibatch scores, network and
    layer scores and per-example scores must come out bitwise the same."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_vae_kl_defaults", os.path.join(DATA, "make_vae_kl_defaults.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    dtype, dist, L = gen.CASES[name]
    kl = {"beta": 1.0, "kl_warmup_steps": 0, "free_bits": 0.0} if explicit else {}
    got = gen.run(name, gen.build(dtype, dist, L, **kl))
    with np.load(os.path.join(DATA, "vae_kl_defaults.npz")) as z:
        for key, value in got.items():
            assert bits(value) == bits(z[f"{name}/{key}"]), key


# ============================================================================ kernels


def _posterior_arrays(rng, n, k, dtype=np.float64):
    return (rng.normal(0.0, 1.0, (n, k)).astype(dtype), rng.normal(0.0, 0.8, (n, k)).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_free_bits_kernels_match_numpy(dtype):
    rng = np.random.default_rng(0)
    mean, logvar = _posterior_arrays(rng, 7, 4, dtype)
    dims = np.empty(4)
    kv.kl_normal_dim_means(mean, logvar, dims)
    ref = ref_kl_dims(mean.astype(np.float64), logvar.astype(np.float64))
    np.testing.assert_allclose(dims, ref.mean(0), rtol=1e-13)
    # the per-dimension means sum to the mean of the per-example KL (kl_normal)
    per_example = np.empty(7, dtype=dtype)
    kv.kl_normal(mean, logvar, per_example)
    assert dims.sum() == pytest.approx(np.mean(per_example, dtype=np.float64), rel=1e-6 if dtype == np.float32 else 1e-13)
    fb = float(np.sort(dims)[1] + np.sort(dims)[2]) / 2   # two dimensions below the floor, two above
    assert kv.free_bits_kl(dims, fb) == pytest.approx(np.maximum(fb, ref.mean(0)).sum(), rel=1e-13)
    assert kv.free_bits_kl(dims, 0.0) == pytest.approx(dims.sum(), rel=1e-15)
    gm, gl = np.empty_like(mean), np.empty_like(mean)
    kv.free_bits_kl_grad(mean, logvar, dims, fb, 0.5, gm, gl)
    assert gm.dtype == dtype and gl.dtype == dtype
    active = ref.mean(0) > fb
    np.testing.assert_allclose(gm, np.where(active, 0.5 * mean, 0.0), rtol=1e-6)
    np.testing.assert_allclose(gl, np.where(active, 0.25 * np.expm1(logvar.astype(np.float64)), 0.0), rtol=1e-6)
    assert np.all(gm[:, ~active] == 0) and np.all(gl[:, ~active] == 0)


def test_free_bits_kernel_gradient_matches_finite_differences():
    """d/d(mean, logvar) of ``weight * sum_j max(fb, mean_i KL_ij)`` with the kernel's
    ``scale = weight / n``, on both sides of the floor (dimensions well away from it)."""
    rng = np.random.default_rng(4)
    n, k, weight = 5, 4, 0.7
    mean, logvar = _posterior_arrays(rng, n, k)
    dims = np.empty(k)
    kv.kl_normal_dim_means(mean, logvar, dims)
    srt = np.sort(dims)
    fb = (srt[1] + srt[2]) / 2
    assert srt[2] - srt[1] > 1e-2

    def f_of(m, lv):
        d = np.empty(k)
        kv.kl_normal_dim_means(m, lv, d)
        return weight * kv.free_bits_kl(d, fb)

    gm, gl = np.empty_like(mean), np.empty_like(mean)
    kv.free_bits_kl_grad(mean, logvar, dims, fb, weight / n, gm, gl)
    assert_grad_close(gm, fd_grad(lambda m: f_of(m, logvar), mean), "d/d mean")
    assert_grad_close(gl, fd_grad(lambda lv: f_of(mean, lv), logvar), "d/d logvar")
    assert np.count_nonzero(gm.any(0)) == 2


# ============================================================================ objective and gradients


def test_kl_weight_schedule():
    _, layer = kl_net(beta=2.0, kl_warmup_steps=4)
    assert [layer.kl_weight(t) for t in range(7)] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert layer.kl_weight() == 2.0 and layer.kl_weight(np.int64(2)) == 1.0
    _, plain = kl_net(beta=0.3)
    assert plain.kl_weight(0) == plain.kl_weight(10 ** 9) == plain.kl_weight() == 0.3
    for bad, exc in ((-1, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(exc, match="step"):
            layer.kl_weight(bad)
        with pytest.raises(exc, match="step"):
            layer.pretrain_step(np.zeros((2, 5)), np.random.default_rng(0), step=bad)


@pytest.mark.parametrize("num_samples", [1, 2])
@pytest.mark.parametrize("dist_name", ["gauss_tanh", "bern_sigmoid", "composite", "wrap_mse"])
def test_weighted_and_warm_up_objective_and_gradient(dist_name, num_samples):
    """beta = 0.7 at warm-up step 3 of 8: the objective is mean NLL + 0.2625 * mean KL
    (NumPy reference) and the gradient matches central differences (float64)."""
    n, n_in, k = 4, 5, 3
    net, vae = kl_net(dist_name, n_in, k, num_samples, seed=5, beta=0.7, kl_warmup_steps=8)
    rng = np.random.default_rng(5)
    randomize(vae, rng, weight_scale=0.5)
    x = sample_data(vae.conf.distribution, rng, n, n_in)
    eps = rng.standard_normal((num_samples * n, k))
    score = vae.pretrain_step(x, None, eps=eps, step=3)
    analytic = net._flat_grad.copy()
    assert score == pytest.approx(ref_objective(vae, x, eps, 0.7 * 3 / 8, 0.0), rel=1e-12)
    numeric = fd_grad_inplace(lambda: vae.pretrain_step(x, None, eps=eps, step=3), net._flat)
    assert_grad_close(analytic, numeric, names=param_names(net))
    # the KL weight is really in the gradient: the full weight gives another one
    vae.pretrain_step(x, None, eps=eps, step=8)
    assert np.max(np.abs(net._flat_grad - analytic)) > 1e-3


def _free_bits_between(vae, x, below):
    """A free_bits value with ``below`` latent dimensions' mean KL under it and the rest
    above, at least 1e-3 nats from every one of them (away from the kink)."""
    mean, logvar = Ref(vae).posterior(x)
    srt = np.sort(ref_kl_dims(mean, logvar).mean(0))
    if below == 0:
        fb = srt[0] / 2
    elif below == len(srt):
        fb = srt[-1] + 1.0
    else:
        fb = (srt[below - 1] + srt[below]) / 2
    assert np.min(np.abs(srt - fb)) > 1e-3, (srt, fb)
    return float(fb)


@pytest.mark.parametrize("below", [0, 2, 4])
@pytest.mark.parametrize("dist_name", ["gauss_identity", "bern_sigmoid"])
def test_free_bits_objective_and_gradient_on_both_sides_of_the_kink(dist_name, below):
    """KL term ``sum_j max(free_bits, mean_i KL_ij)`` with ``below`` of 4 dimensions under the
    floor: the score matches NumPy and the gradient central differences (float64)."""
    n, n_in, k, L = 6, 5, 4, 2
    net, vae = kl_net(dist_name, n_in, k, L, seed=8)
    rng = np.random.default_rng(8)
    randomize(vae, rng, bias_scale=0.8)
    x = sample_data(vae.conf.distribution, rng, n, n_in)
    eps = rng.standard_normal((L * n, k))
    fb = _free_bits_between(vae, x, below)
    net2 = make_net([vae.conf.replace(beta=0.9, free_bits=fb)], seed=8, activation="tanh")
    net2.set_params(net.params())
    fvae = net2.get_layer(0)
    score = fvae.pretrain_step(x, None, eps=eps)
    analytic = net2._flat_grad.copy()
    assert score == pytest.approx(ref_objective(fvae, x, eps, 0.9, fb), rel=1e-12)
    numeric = fd_grad_inplace(lambda: fvae.pretrain_step(x, None, eps=eps), net2._flat)
    assert_grad_close(analytic, numeric, names=param_names(net2))
    if below == k:
        # every dimension under the floor: the KL gradient is 0, as with beta = 0
        net0 = make_net([vae.conf.replace(beta=0.0)], seed=8, activation="tanh")
        net0.set_params(net.params())
        net0.get_layer(0).pretrain_step(x, None, eps=eps)
        assert bits(net0._flat_grad) == bits(analytic)
    if below == 0:
        # every dimension above: the gradient of the plain KL objective
        net1 = make_net([vae.conf.replace(beta=0.9)], seed=8, activation="tanh")
        net1.set_params(net.params())
        assert net1.get_layer(0).pretrain_step(x, None, eps=eps) == pytest.approx(score, rel=1e-13)
        np.testing.assert_allclose(net1._flat_grad, analytic, rtol=1e-12, atol=1e-15)


def test_free_bits_float32_matches_float64():
    n, n_in, k = 8, 5, 4
    net64, v64 = kl_net("gauss_tanh", n_in, k, 2, seed=3)
    rng = np.random.default_rng(3)
    randomize(v64, rng, bias_scale=0.8)
    x = rng.normal(size=(n, n_in)).astype(np.float32).astype(np.float64)
    fb = _free_bits_between(v64, x, 2)
    conf = v64.conf.replace(free_bits=fb, beta=1.5)
    n64 = make_net([conf], seed=3, activation="tanh")
    n32 = make_net([conf], seed=3, activation="tanh", dtype="float32")
    n32.set_params(net64.params().astype(np.float32))
    n64.set_params(n32.params().astype(np.float64))
    eps = rng.standard_normal((2 * n, k)).astype(np.float32)
    s64 = n64.get_layer(0).pretrain_step(x, None, eps=eps.astype(np.float64), step=0)
    s32 = n32.get_layer(0).pretrain_step(x.astype(np.float32), None, eps=eps, step=0)
    assert s32 == pytest.approx(s64, rel=1e-5)
    assert n32._flat_grad.dtype == np.float32
    g64 = n64._flat_grad
    assert np.linalg.norm(n32._flat_grad - g64) <= 1e-4 * np.linalg.norm(g64)


# ============================================================================ the network's step count


def test_network_passes_its_pretrain_step_count():
    """Each ``net.pretrain`` minibatch uses the KL weight of the layer's pretrain step count
    before the step: the reported score and the Sgd(1) update are ``pretrain_step(step=t)``."""
    n, n_in, k = 4, 5, 2
    net, vae = kl_net("gauss_identity", n_in, k, 1, seed=1, beta=1.5, kl_warmup_steps=3)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, n_in))
    for t in range(5):
        assert net._pretrain_t[0] == t
        eps = rng_clone(net._rng).standard_normal((n, k))
        before = net.params()
        score = net.pretrain_batch(0, x)
        grad = before - net.params()
        after = net.params()
        net.set_params(before)
        assert vae.pretrain_step(x, None, eps=eps, step=t) == score
        assert score == pytest.approx(ref_objective(vae, x, eps, 1.5 * min(1.0, t / 3), 0.0), rel=1e-12)
        np.testing.assert_allclose(grad, net._flat_grad, rtol=1e-12, atol=1e-15)   # (p - g) rounded
        net.set_params(after)
    # the fit step counter does not drive the schedule
    assert net._updater_t == [0]


def test_resumed_model_continues_the_warm_up_exactly(tmp_path):
    """Saved after 3 of 8 warm-up steps and loaded: 5 more steps give bitwise what 8
    uninterrupted steps give (the step count is the saved pretrain updater step)."""
    x = np.random.default_rng(6).normal(size=(12, 5))
    kl = {"beta": 0.5, "kl_warmup_steps": 6, "free_bits": 0.02}

    def fresh():
        return kl_net("gauss_tanh", 5, 3, 2, seed=6, updater=Adam(0.01), **kl)[0]

    whole = fresh()
    whole.pretrain((x,), batch_size=4, epochs=3)           # 9 steps
    part = fresh()
    part.pretrain((x,), batch_size=4, epochs=1)            # 3 steps
    path = str(tmp_path / "mid_warmup.h5")
    part.save(path)
    back = MultiLayerNetwork.load(path)
    assert back.conf == part.conf and back.conf.layers[0].free_bits == 0.02
    assert back._pretrain_t == [3]
    back.pretrain((x,), batch_size=4, epochs=2)
    assert bits(back.params()) == bits(whole.params())
    assert back.score() == whole.score()
    # without the updater state the step counts (and so the warm-up) start again at 0
    part.save(path, save_updater=False)
    assert MultiLayerNetwork.load(path)._pretrain_t == [0]


# ============================================================================ scores outside training, elbo


@pytest.mark.parametrize("dist_name", ["gauss_tanh", "composite", "wrap_xent_sigmoid"])
def test_scores_outside_training_use_the_full_beta(dist_name):
    """Per-example scores: ``NLL_i + beta * KL_i`` (no warm-up, no floor), so ``net.score``
    and ``pretrain_score`` are their mean; ``score`` is the minibatch objective at ``beta``
    with the free-bits floor."""
    n, n_in, k, L = 6, 6, 3, 2
    base, vae = kl_net(dist_name, n_in, k, L, seed=2)
    rng = np.random.default_rng(2)
    randomize(vae, rng, bias_scale=0.8)
    x = sample_data(vae.conf.distribution, rng, n, n_in)
    fb = _free_bits_between(vae, x, 1)
    net = make_net([vae.conf.replace(beta=0.4, kl_warmup_steps=50, free_bits=fb)], seed=2, activation="tanh")
    net.set_params(base.params())
    layer = net.get_layer(0)
    eps = np.random.default_rng(9).standard_normal((L, n, k))
    stacked = eps.reshape(L * n, k)
    ref = Ref(layer)
    mean, logvar = ref.posterior(x)
    kl_i = ref_kl_dims(mean, logvar).sum(1)
    nll_i = ref.neg_elbo(x, stacked) - kl_i
    ex = layer.example_scores_unsupervised(x, np.random.default_rng(9))
    np.testing.assert_allclose(ex, nll_i + 0.4 * kl_i, rtol=1e-12)
    s = layer.score(x, rng=np.random.default_rng(9))
    assert s == pytest.approx(ref_objective(layer, x, stacked, 0.4, fb), rel=1e-12)
    assert s > ex.mean()            # one dimension is under the floor: the floor adds to the KL term
    for net_score in (net.score, lambda d: net.pretrain_score(0, d)):
        expected = layer.example_scores_unsupervised(x, rng_clone(net._rng)).mean()   # the net's next draws
        assert net_score((x,)) == pytest.approx(expected, rel=1e-14)
    # without free bits score is the mean of the per-example scores, with the same draws
    plain = make_net([layer.conf.replace(free_bits=0.0)], seed=2, activation="tanh")
    plain.set_params(net.params())
    assert plain.get_layer(0).score(x, rng=3) == float(np.mean(
        plain.get_layer(0).example_scores_unsupervised(x, np.random.default_rng(3))))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_elbo_is_the_true_elbo_whatever_the_kl_settings(dtype):
    n, n_in, k = 5, 6, 3
    net, vae = kl_net("composite", n_in, k, 2, seed=4, dtype=dtype)
    rng = np.random.default_rng(4)
    randomize(vae, rng)
    x = sample_data(vae.conf.distribution, rng, n, n_in, binary=True).astype(dtype)
    e = vae.elbo(x, rng=11)
    assert e.dtype == np.float64 and e.shape == (n,)
    eps = np.random.default_rng(11).standard_normal((2, n, k), dtype=np.dtype(dtype)).astype(np.float64)
    np.testing.assert_allclose(e, -Ref(vae).neg_elbo(x, eps.reshape(2 * n, k)), rtol=1e-10 if dtype == "float64" else 1e-5)
    # with the defaults: minus the per-example scores, bitwise (same draws)
    assert bits(e) == bits(-vae.example_scores_unsupervised(x, np.random.default_rng(11)))
    # other settings, same parameters: the same ELBO, bitwise
    other = make_net([vae.conf.replace(beta=4.0, kl_warmup_steps=10, free_bits=2.0)], seed=4, dtype=dtype,
                     activation="tanh")
    other.set_params(net.params())
    assert bits(other.get_layer(0).elbo(x, rng=11)) == bits(e)
    # num_samples: the layer's by default; more samples are an average over more draws
    e5 = vae.elbo(x, num_samples=5, rng=11)
    eps5 = np.random.default_rng(11).standard_normal((5, n, k), dtype=np.dtype(dtype)).astype(np.float64)
    np.testing.assert_allclose(e5, -Ref(vae).neg_elbo(x, eps5.reshape(5 * n, k)), rtol=1e-10 if dtype == "float64" else 1e-5)
    # the IWAE bound is at least the ELBO of its own draws (Jensen), here on average
    assert vae.log_likelihood_estimate(x, 64, rng=1).mean() >= vae.elbo(x, 64, rng=1).mean() - 1e-9


def test_elbo_arguments_and_loss_wrapper():
    net, vae = kl_net("gauss_identity", 5, 2)
    x = np.zeros((3, 5))
    for num, exc in ((0, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(exc, match="num_samples"):
            vae.elbo(x, num)
    with pytest.raises(ValueError):
        vae.elbo(np.zeros((3, 4)))
    with pytest.raises(ValueError):
        vae.elbo(np.full((3, 5), np.nan))
    _, wvae = kl_net("wrap_mse", 5, 2, beta=0.5)
    for method in (wvae.elbo, wvae.log_likelihood_estimate, wvae.reconstruction_log_probability):
        with pytest.raises(NoLogProbabilityError, match="loss function"):
            method(x)
    assert issubclass(NoLogProbabilityError, ValueError)


def test_warm_up_lets_the_kl_grow_before_it_is_penalised():
    """A training behaviour the settings exist for: during warm-up (KL weight ~0) the
    posterior moves away from the prior more than with the full weight from the start."""
    x = np.random.default_rng(0).normal(size=(64, 6))

    def mean_kl(**kl):
        net = kl_net("gauss_identity", 6, 2, 1, seed=0, updater=Adam(0.02), **kl)[0]
        net.pretrain((x,), batch_size=16, epochs=5)
        mean, logvar = Ref(net.get_layer(0)).posterior(x)
        return ref_kl_dims(mean, logvar).sum(1).mean()

    assert mean_kl(kl_warmup_steps=1000) > 1.5 * mean_kl()
