"""Every registered reconstruction distribution (``numba_ae.distributions.DISTRIBUTIONS``)
through the harness's standard checks (:func:`harness.check_distribution`): config round
trips, parameter counts, float64 gradient checks of ``fit`` and of ``pretrain`` (with
``num_samples`` 1 and 2), bitwise save/load and a float32 smoke test.

Each registered config class needs a maker below (a config and data in its support); a
class registered without one fails here, so a new distribution cannot go untested.
"""
import numpy as np
import pytest

from harness import check_distribution, check_pretrain_gradient, make_net
from numba_ae import (BernoulliReconstructionDistribution, CategoricalReconstructionDistribution,
                      CompositeReconstructionDistribution, DenseLayer, ExponentialReconstructionDistribution, GaussianReconstructionDistribution,
                      LossFunctionWrapper, OutputLayer, VariationalAutoencoder)
from numba_ae.distributions import DISTRIBUTIONS

N, D = 4, 3


def _gaussian(rng):
    return GaussianReconstructionDistribution("identity"), rng.normal(0.0, 1.0, (N, D))


def _bernoulli(rng):
    return BernoulliReconstructionDistribution("sigmoid"), rng.uniform(0.0, 1.0, (N, D))  # data in [0, 1]


def _exponential(rng):
    return ExponentialReconstructionDistribution("identity"), rng.exponential(1.0, (N, D))  # data >= 0


def _categorical(rng):
    return CategoricalReconstructionDistribution(), np.eye(D)[rng.integers(0, D, N)]  # one-hot rows


def _loss_wrapper(rng):
    return LossFunctionWrapper("identity", "mse"), rng.normal(0.0, 1.0, (N, D))


def _composite(rng):
    conf = CompositeReconstructionDistribution(((1, GaussianReconstructionDistribution("identity")),
                                                (1, BernoulliReconstructionDistribution()),
                                                (1, ExponentialReconstructionDistribution("identity"))))
    x = np.hstack([rng.normal(0.0, 1.0, (N, 1)), rng.uniform(0.0, 1.0, (N, 1)), rng.exponential(1.0, (N, 1))])
    return conf, x


#: config class -> ``maker(rng) -> (distribution config, data in its support)``
MAKERS = {
    GaussianReconstructionDistribution: _gaussian,
    BernoulliReconstructionDistribution: _bernoulli,
    ExponentialReconstructionDistribution: _exponential,
    CategoricalReconstructionDistribution: _categorical,
    LossFunctionWrapper: _loss_wrapper,
    CompositeReconstructionDistribution: _composite,
}

REGISTERED = list(DISTRIBUTIONS)
#: distributions whose support no layer's output lies in (one-hot rows): they can only be
#: the first layer, so the stacked test below checks that they reject a layer's output
NEEDS_ONE_HOT = [CategoricalReconstructionDistribution]


def _maker(cls):
    if cls not in MAKERS:
        pytest.fail(f"{cls.__name__} is registered in numba_ae.distributions.DISTRIBUTIONS but "
                    f"tests/test_distributions.py has no data/config maker for it: add one to MAKERS")
    return MAKERS[cls]


def test_every_registered_distribution_has_a_maker():
    missing = [c.__name__ for c in DISTRIBUTIONS if c not in MAKERS]
    stale = [c.__name__ for c in MAKERS if c not in DISTRIBUTIONS]
    assert not missing, f"registered distributions without a maker in MAKERS: {missing}"
    assert not stale, f"MAKERS entries for unregistered classes: {stale}"


@pytest.mark.parametrize("num_samples", [1, 2])
@pytest.mark.parametrize("cls", REGISTERED, ids=lambda c: c.__name__)
def test_standard_checks(cls, num_samples):
    rng = np.random.default_rng(REGISTERED.index(cls))
    conf, x = _maker(cls)(rng)
    assert type(conf) is cls
    net = check_distribution(conf, x, rng=rng, num_samples=num_samples)
    assert net.layers[0].num_samples == num_samples


@pytest.mark.parametrize("num_samples", [1, 2])
@pytest.mark.parametrize("cls", REGISTERED, ids=lambda c: c.__name__)
def test_pretrain_gradient_float64_deeper_vae(cls, num_samples):
    """Float64 pretrain gradient of a VAE with two encoder and two decoder layers and a
    non-identity ``pzx_activation``, below an OutputLayer."""
    rng = np.random.default_rng(100 + REGISTERED.index(cls))
    conf, x = _maker(cls)(rng)
    net = make_net([VariationalAutoencoder(n_in=x.shape[1], n_out=2, encoder_layer_sizes=(4, 3),
                                           decoder_layer_sizes=(3, 4), pzx_activation="tanh", activation="tanh",
                                           num_samples=num_samples, reconstruction_distribution=conf),
                    OutputLayer(n_out=2, activation="identity", loss="mse")])
    check_pretrain_gradient(net, 0, x, rng, f"{cls.__name__} pretrain (num_samples={num_samples})")


@pytest.mark.parametrize("cls", [c for c in REGISTERED if c not in NEEDS_ONE_HOT], ids=lambda c: c.__name__)
def test_pretrain_gradient_float64_vae_above_a_dense_layer(cls):
    """Pretraining a VAE that is layer 1 (its input is a sigmoid DenseLayer's output, in the
    support of every distribution): the gradient of its own parameters only."""
    rng = np.random.default_rng(200 + REGISTERED.index(cls))
    conf, _ = _maker(cls)(rng)
    net = make_net([DenseLayer(n_in=2, n_out=D, activation="sigmoid"),
                    VariationalAutoencoder(n_out=2, encoder_layer_sizes=(3,), decoder_layer_sizes=(3,),
                                           num_samples=2, reconstruction_distribution=conf)])
    check_pretrain_gradient(net, 1, rng.normal(size=(N, 2)), rng, f"{cls.__name__} pretrain as layer 1")


@pytest.mark.parametrize("cls", NEEDS_ONE_HOT, ids=lambda c: c.__name__)
def test_one_hot_distribution_above_a_dense_layer_rejects_its_input(cls):
    """A VAE whose distribution needs one-hot data, stacked on a sigmoid DenseLayer: its
    pretraining input (the layer's output) is not one-hot, and that is a ValueError."""
    rng = np.random.default_rng(300)
    conf, _ = _maker(cls)(rng)
    net = make_net([DenseLayer(n_in=2, n_out=D, activation="sigmoid"),
                    VariationalAutoencoder(n_out=2, encoder_layer_sizes=(3,), decoder_layer_sizes=(3,),
                                           reconstruction_distribution=conf)])
    with pytest.raises(ValueError, match=r"'features' must hold one-hot rows.*row 0"):
        net.pretrain_layer(1, rng.normal(size=(N, 2)))
