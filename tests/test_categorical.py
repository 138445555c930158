"""CategoricalReconstructionDistribution: its row-wise kernels (central-difference
gradients in float64, logits up to |1e4| in float32 and float64, Gumbel-max sampling),
its data check, its config, and its use alone and in composites of several categorical
slices of different widths.  (The registry-wide checks -- round trips, fit/pretrain
gradients, save/load, float32 -- and the scipy.stats reference of the log-probability
are in test_distributions.py and test_kernels_distributions.py.)"""
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import special

from harness import H, check_distribution, fd_grad, make_net
from reference import assert_grad_close
from numba_ae import (BernoulliReconstructionDistribution, CategoricalReconstructionDistribution,
                      CompositeReconstructionDistribution, GaussianReconstructionDistribution,
                      VariationalAutoencoder)
from numba_ae import config as nconfig
from numba_ae.distributions import DISTRIBUTIONS, Categorical, build_distribution
from numba_ae.distributions.categorical import KERNELS as CAT

SCALE = 0.37
CATEGORICAL = CategoricalReconstructionDistribution()


def one_hot(rng, n, d, dtype=np.float64):
    return np.eye(d, dtype=dtype)[rng.integers(0, d, n)]


# ---------------------------------------------------------------------------- gradients

@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), d=st.integers(1, 6), seed=st.integers(0, 2 ** 32 - 1), hot=st.booleans(),
       mag=st.sampled_from([1.0, 5.0, 30.0]))
def test_nll_grad_matches_central_differences(n, d, seed, hot, mag):
    """The gradient is that of the log_prob kernel: for one-hot rows (softmax - x) and, as
    the kernel computes ``(sum x) softmax - x``, for any x."""
    rng = np.random.default_rng(seed)
    x = one_hot(rng, n, d) if hot else rng.uniform(0.0, 1.0, (n, d))
    a = rng.uniform(-1.0, 1.0, (n, d)) * mag
    grad = np.full((n, d), np.nan)
    CAT.nll_grad(x, a, SCALE, grad)

    def row_nll(i):
        def f(r):
            out = np.empty(1)
            CAT.log_prob(x[i:i + 1], r[None, :], out)
            return -out[0]
        return f

    # row by row (rows are independent) with a step relative to the logits' size: the
    # central difference's round-off, ulp(-log p) / h, then stays below the pass rule's
    # 1e-8 floor where -log p is in the hundreds (logits ~30, non-one-hot x)
    numeric = np.vstack([fd_grad(row_nll(i), a[i], h=H * mag) for i in range(n)])
    assert_grad_close(grad, SCALE * numeric, "categorical nll_grad")
    if hot:
        np.testing.assert_allclose(grad, SCALE * (special.softmax(a, axis=1) - x), rtol=1e-12, atol=1e-15)
    out, out2, grad2 = np.empty(n), np.empty(n), np.empty((n, d))
    CAT.log_prob(x, a, out)
    CAT.log_prob_and_grad(x, a, SCALE, out2, grad2)
    np.testing.assert_array_equal(out2, out)
    np.testing.assert_array_equal(grad2, grad)


# ---------------------------------------------------------------------------- stability

EXTREME = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -700.0], [88.0, -88.0, 700.0],
                    [-1e4, 0.0, 1e4], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hot", [0, 1, 2])
def test_extreme_logits_are_finite_and_exact(dtype, hot):
    a = EXTREME.astype(dtype)
    n, d = a.shape
    x = np.zeros((n, d), dtype)
    x[:, hot] = 1.0
    ref_ls = special.log_softmax(EXTREME, axis=1)  # float64, max-subtracted
    tol = 1e-6 if dtype == np.float32 else 1e-13

    out = np.full(n, np.nan, dtype)
    CAT.log_prob(x, a, out)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, ref_ls[:, hot], rtol=tol, atol=tol)
    if hot == 1:
        assert out[0] == dtype(-2e4) and out[4] == dtype(-1e4)

    grad = np.full((n, d), np.nan, dtype)
    CAT.nll_grad(x, a, SCALE, grad)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, SCALE * (np.exp(ref_ls) - x), rtol=tol, atol=tol)

    mean = np.full((n, d), np.nan, dtype)
    CAT.mean(a, mean)
    assert np.all((mean >= 0) & (mean <= 1))
    np.testing.assert_allclose(mean.sum(axis=1), 1.0, rtol=tol)
    np.testing.assert_allclose(mean, np.exp(ref_ls), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gap", [20.0, 60.0])
def test_a_confident_correct_class_keeps_its_small_loss_and_gradient(dtype, gap):
    """Where the observed class holds nearly all the mass, -log p = log1p(q) and the
    gradient -q / (1 + q) stay accurate (``1 - softmax`` would round to 0 in float32)."""
    a = np.array([[gap, 0.0, -gap]], dtype)
    x = np.array([[1.0, 0.0, 0.0]], dtype)
    q = np.exp(-gap) + np.exp(-2 * gap)
    out = np.empty(1, dtype)
    grad = np.empty((1, 3), dtype)
    CAT.log_prob_and_grad(x, a, 1.0, out, grad)
    np.testing.assert_allclose(out[0], -np.log1p(q), rtol=1e-5)
    np.testing.assert_allclose(grad[0, 0], -q / (1 + q), rtol=1e-5)
    assert grad[0, 0] < 0


def test_minus_infinity_on_an_unobserved_class_contributes_nothing():
    a = np.array([[0.0, -np.inf, 1.0]])
    x = np.array([[1.0, 0.0, 0.0]])
    out, grad = np.empty(1), np.empty((1, 3))
    CAT.log_prob_and_grad(x, a, 1.0, out, grad)
    np.testing.assert_allclose(out[0], -np.log1p(np.exp(1.0)), rtol=1e-14)
    assert grad[0, 1] == 0.0 and np.all(np.isfinite(grad))


# ---------------------------------------------------------------------------- sampling

def test_samples_are_one_hot_gumbel_max_draws_with_the_softmax_frequencies():
    rng = np.random.default_rng(21)
    logits = np.array([1.0, 0.0, -1.0, 2.0, -30.0])
    draws = 200_000
    a = np.tile(logits, (draws, 1))
    u = rng.random(a.shape)
    out = np.full(a.shape, np.nan)
    CAT.sample(a, u, out)
    np.testing.assert_array_equal(out, np.eye(5)[np.argmax(a - np.log(-np.log(u)), axis=1)])
    p = special.softmax(logits)
    freq = out.mean(axis=0)
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / draws) + 1e-12), (freq, p)


def test_sample_edge_uniforms():
    a = np.array([[5.0, 0.0, 1.0], [0.0, 3.0, 1.0], [0.0, 3.0, 1.0]])
    u = np.array([[0.0, 0.5, 0.5],     # u = 0 never wins, even on the most probable class
                  [0.0, 0.0, 0.0],     # every draw 0 (probability 0): the most probable class
                  [0.3, 0.3, 1.0]])    # u = 1 always wins
    out = np.full(a.shape, np.nan)
    CAT.sample(a, u, out)
    assert out[0, 0] == 0.0 and out[0].sum() == 1.0
    np.testing.assert_array_equal(out[1:], [[0, 1, 0], [0, 0, 1]])


# ---------------------------------------------------------------------------- config and data checks

def test_config_has_no_fields_and_round_trips():
    assert CATEGORICAL == CategoricalReconstructionDistribution()
    assert json.loads(CATEGORICAL.to_json()) == {"class_name": "CategoricalReconstructionDistribution", "config": {}}
    assert CategoricalReconstructionDistribution.from_json(CATEGORICAL.to_json()) == CATEGORICAL
    assert CATEGORICAL.input_width(7) == 7
    assert nconfig.CategoricalReconstructionDistribution is CategoricalReconstructionDistribution
    assert DISTRIBUTIONS[CategoricalReconstructionDistribution] is Categorical
    assert CAT.tag == "categorical"
    with pytest.raises(TypeError):
        CategoricalReconstructionDistribution("softmax")  # no activation: the logits are used as they are
    with pytest.raises(ValueError, match="unknown config field.*activation"):
        CategoricalReconstructionDistribution.from_dict({"activation": "softmax"})


@pytest.mark.parametrize("row, shown", [
    ([0.5, 0.5, 0.0], r"\[0\.5, 0\.5, 0\] \(sum 1\)"),
    ([1.0, 1.0, 0.0], r"\[1, 1, 0\] \(sum 2\)"),
    ([0.0, 0.0, 0.0], r"\[0, 0, 0\] \(sum 0\)"),
    ([np.nan, 1.0, 0.0], r"\[nan, 1, 0\]"),
    ([1.0, 0.0, -0.0 - 1.0], r"\[1, 0, -1\]"),
])
def test_data_that_is_not_one_hot_is_a_value_error_naming_argument_and_row(row, shown):
    dist = build_distribution(CATEGORICAL, np.float64)
    x = np.eye(3)[[0, 1, 2, 0]]
    dist.check_data(x, "x")  # one-hot: fine
    x[2] = row
    with pytest.raises(ValueError, match=r"'x' must hold one-hot rows .* number of classes 3\); row 2 is " + shown
                       + r".*1 of 4 rows are not one-hot"):
        dist.check_data(x, "x")


def test_a_wide_offending_row_is_shown_truncated():
    x = np.zeros((2, 30))
    x[0, 3] = 1.0
    with pytest.raises(ValueError, match=r"row 1 is \[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, \.\.\.\] \(sum 0\)"):
        build_distribution(CATEGORICAL, np.float32).check_data(x, "features")


# ---------------------------------------------------------------------------- runtime object

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_runtime_distribution_uses_the_logits(dtype):
    rng = np.random.default_rng(4)
    dist = build_distribution(CATEGORICAL, dtype)
    x = one_hot(rng, 6, 4, dtype)
    pre = rng.normal(0.0, 3.0, (6, 4)).astype(dtype)
    ref = -special.log_softmax(pre.astype(np.float64), axis=1)[x == 1]
    tol = 1e-6 if dtype == np.float32 else 1e-13
    nll, nll2, dpre, dpre2 = np.empty(6, dtype), np.empty(6, dtype), np.empty_like(pre), np.empty_like(pre)
    dist.nll(x, pre, nll)
    dist.nll_grad(x, pre, 0.5, dpre)
    dist.nll_and_grad(x, pre, 0.5, nll2, dpre2)
    np.testing.assert_allclose(nll, ref, rtol=tol)
    np.testing.assert_array_equal(nll2, nll)
    np.testing.assert_array_equal(dpre2, dpre)
    np.testing.assert_allclose(dpre, 0.5 * (special.softmax(pre.astype(np.float64), axis=1) - x), rtol=tol, atol=tol)
    mean = dist.mean(pre)
    assert mean.dtype == dtype and mean.shape == (6, 4)
    np.testing.assert_allclose(mean.sum(axis=1), 1.0, rtol=tol)
    s = dist.sample(pre, rng)
    assert s.dtype == dtype and s.shape == (6, 4)
    dist.check_data(s, "sample")  # a draw is one-hot


# ---------------------------------------------------------------------------- composites

def test_composite_of_categorical_slices_of_different_widths_gradient_checks():
    """Two categorical slices (widths 3 and 5) beside a Bernoulli and a Gaussian slice:
    the registry's standard checks (float64 fit and pretrain gradients, save/load, float32)."""
    rng = np.random.default_rng(8)
    conf = CompositeReconstructionDistribution([(3, CATEGORICAL), (2, BernoulliReconstructionDistribution()),
                                                (5, CATEGORICAL), (1, GaussianReconstructionDistribution())])
    x = np.hstack([one_hot(rng, 4, 3), rng.uniform(0, 1, (4, 2)), one_hot(rng, 4, 5), rng.normal(size=(4, 1))])
    check_distribution(conf, x, rng=rng)


def test_composite_3_784_5_trains_samples_and_names_a_bad_slice():
    """The issue's layout: 3 classes, 784 binary pixels, 5 classes (float32)."""
    rng = np.random.default_rng(9)
    conf = CompositeReconstructionDistribution([(3, CATEGORICAL), (784, BernoulliReconstructionDistribution()),
                                                (5, CATEGORICAL)])
    n = 16
    x = np.hstack([one_hot(rng, n, 3), (rng.random((n, 784)) < 0.3), one_hot(rng, n, 5)]).astype(np.float32)
    net = make_net([VariationalAutoencoder(n_in=792, n_out=4, encoder_layer_sizes=(16,), decoder_layer_sizes=(16,),
                                           reconstruction_distribution=conf)], dtype="float32")
    layer = net.layers[0]
    assert layer.params["pXZb"].shape == (792,)  # one logit per class, one per pixel
    net.pretrain(x, epochs=2)
    assert np.isfinite(net.score(x))
    lp = layer.reconstruction_log_probability(x, num_samples=2, rng=np.random.default_rng(0))
    assert lp.shape == (n,) and np.all(np.isfinite(lp)) and np.all(lp < 0)
    z = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    mean = layer.generate_at_mean_given_z(z)
    np.testing.assert_allclose(mean[:, :3].sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(mean[:, 787:].sum(axis=1), 1.0, rtol=1e-5)
    draw = layer.generate_random_given_z(z, rng=np.random.default_rng(2))
    build_distribution(conf, np.float32).check_data(draw, "draw")  # both categorical slices one-hot
    bad = x.copy()
    bad[3, 787:] = 0.0
    with pytest.raises(ValueError, match=r"'features\[:, 787:792\]' must hold one-hot rows.*row 3 is \[0, 0, 0, 0, 0\]"):
        net.pretrain(bad)


@settings(max_examples=20, deadline=None)
@given(widths=st.lists(st.integers(1, 5), min_size=1, max_size=4), seed=st.integers(0, 2 ** 32 - 1))
def test_composite_nll_is_the_sum_of_its_categorical_slices(widths, seed):
    rng = np.random.default_rng(seed)
    comp = build_distribution(CompositeReconstructionDistribution([(w, CATEGORICAL) for w in widths]), np.float64)
    x = np.hstack([one_hot(rng, 3, w) for w in widths])
    pre = rng.normal(0, 4, x.shape)
    comp.check_data(x)
    out, dpre = np.empty(3), np.empty_like(pre)
    comp.nll_and_grad(x, pre, 1.0, out, dpre)
    bounds = np.cumsum([0] + widths)
    ref = sum(-special.log_softmax(pre[:, s:e], axis=1)[x[:, s:e] == 1] for s, e in zip(bounds[:-1], bounds[1:]))
    # scipy's log_softmax takes log(sum) where the kernel takes log1p(q): where one class holds
    # nearly all the mass scipy's is the less accurate one (~1e-12 relative)
    np.testing.assert_allclose(out, ref, rtol=1e-10)
    for s, e in zip(bounds[:-1], bounds[1:]):
        np.testing.assert_allclose(dpre[:, s:e], special.softmax(pre[:, s:e], axis=1) - x[:, s:e], atol=1e-14)


# ---------------------------------------------------------------------------- public strategies

def _has_categorical(dist):
    parts = dist.distributions if isinstance(dist, CompositeReconstructionDistribution) else ((1, dist),)
    return any(isinstance(d, CategoricalReconstructionDistribution) for _, d in parts)


def test_strategies_put_categorical_slices_only_on_the_network_input():
    """``data_range="any"`` (the data) may hold categorical slices, ``datasets_for`` makes
    them one-hot and such VAEs train; a layer's output (``"unit"``, the default first-layer
    range of ``network_configs``) never feeds one."""
    from numba_ae.testing import strategies as nst
    from numba_ae import MultiLayerNetwork, NeuralNetConfiguration

    @settings(max_examples=15, deadline=None)
    @given(data=st.data(), vae=nst.vae_configs(data_range="any").filter(lambda v: _has_categorical(v.distribution)))
    def trains(data, vae):
        conf = NeuralNetConfiguration(layers=[vae], dtype=data.draw(st.sampled_from(["float32", "float64"])))
        ds = data.draw(nst.datasets_for(conf, max_rows=8))
        net = MultiLayerNetwork(conf).init()
        net.pretrain(ds)
        assert np.isfinite(net.score()) and np.isfinite(net.score(ds))

    @settings(max_examples=15, deadline=None)
    @given(conf=nst.network_configs("vae", data_range="any", max_layers=3))
    def first_layer_only(conf):
        for i, layer in enumerate(conf.layers):
            if isinstance(layer, VariationalAutoencoder) and _has_categorical(layer.distribution):
                assert i == 0, conf

    @settings(max_examples=40, deadline=None)
    @given(dist=nst.reconstruction_distributions(4, data_range="unit"))
    def never_on_unit_input(dist):
        assert not _has_categorical(dist)

    trains()
    first_layer_only()
    never_on_unit_input()
