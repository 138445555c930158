"""The ``rng`` argument of the VariationalAutoencoder layer's sampling methods.

Accepted: ``None`` (the network's generator, or a fresh one), an int seed >= 0
(``np.random.default_rng(seed)``), a ``np.random.Generator``.  Anything else is
a ``TypeError`` naming ``rng`` (bool is not a seed); a negative seed is a
``ValueError``.
"""
import numpy as np
import pytest

from numba_ae import (BernoulliReconstructionDistribution, MultiLayerNetwork, NeuralNetConfiguration,
                      VariationalAutoencoder)

N_IN, N_OUT = 6, 2


@pytest.fixture(scope="module")
def vae():
    conf = NeuralNetConfiguration(seed=1, dtype="float64", layers=[
        VariationalAutoencoder(n_in=N_IN, n_out=N_OUT, encoder_layer_sizes=(5,), decoder_layer_sizes=(5,),
                               reconstruction_distribution=BernoulliReconstructionDistribution(),
                               num_samples=2)])
    return MultiLayerNetwork(conf).init().get_layer(0)


X = (np.random.default_rng(3).random((4, N_IN)) < 0.5).astype(np.float64)
Z = np.random.default_rng(4).normal(size=(4, N_OUT))

METHODS = {
    "generate_random_given_z": lambda v, rng: v.generate_random_given_z(Z, rng=rng),
    "reconstruction_log_probability": lambda v, rng: v.reconstruction_log_probability(X, 3, rng=rng),
    "reconstruction_log_probability_lme":
        lambda v, rng: v.reconstruction_log_probability(X, 3, "log_mean_exp", rng=rng),
    "reconstruction_probability": lambda v, rng: v.reconstruction_probability(X, 3, rng=rng),
    "log_likelihood_estimate": lambda v, rng: v.log_likelihood_estimate(X, 5, rng=rng),
    "example_scores_unsupervised": lambda v, rng: v.example_scores_unsupervised(X, rng=rng),
    "score": lambda v, rng: v.score(X, rng=rng),
}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_int_seed_is_deterministic_and_equals_default_rng(vae, method):
    call = METHODS[method]
    a = call(vae, 5)
    b = call(vae, 5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, call(vae, np.int64(5)))
    np.testing.assert_array_equal(a, call(vae, np.random.default_rng(5)))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_generator_and_none_work(vae, method):
    call = METHODS[method]
    g = np.random.default_rng(7)
    first = call(vae, g)
    assert np.all(np.isfinite(first))
    assert np.all(np.isfinite(call(vae, None)))
    assert np.all(np.isfinite(call(vae, 0)))


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("bad", [np.random.RandomState(0), "x", 1.5, True, np.bool_(False), [1, 2],
                                 np.random.SeedSequence(1)],
                         ids=["RandomState", "str", "float", "True", "np.bool_", "list", "SeedSequence"])
def test_wrong_type_is_a_type_error_naming_rng(vae, method, bad):
    with pytest.raises(TypeError, match=r"'rng' must be None, an int seed >= 0 or a numpy\.random\.Generator"):
        METHODS[method](vae, bad)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_negative_seed_is_a_value_error(vae, method):
    with pytest.raises(ValueError, match=r"'rng' must be None, an int seed >= 0"):
        METHODS[method](vae, -1)


def test_as_generator():
    from numba_ae.validation import as_generator

    g = np.random.default_rng(0)
    assert as_generator(g, "rng") is g
    assert isinstance(as_generator(None, "rng"), np.random.Generator)
    assert as_generator(3, "rng").random() == np.random.default_rng(3).random()
    with pytest.raises(TypeError, match=r"^Owner: 'rng' must be .*; got True \(bool\)$"):
        as_generator(True, "rng", "Owner")
    with pytest.raises(ValueError, match=r"got -2 \(int\)"):
        as_generator(-2, "rng")
