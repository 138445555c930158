"""Loss targets outside a loss's domain raise a clear ValueError instead of training to
meaningless negative scores: xent needs targets in [0, 1], mcxent/negativeloglikelihood
rows of probabilities summing to 1 (output layers, AutoEncoder reconstruction targets,
a VAE's LossFunctionWrapper)."""
import numpy as np
import pytest

from harness import make_net
from numba_ae import (AutoEncoder, CompositeReconstructionDistribution, DenseLayer,
                      GaussianReconstructionDistribution, LossFunctionWrapper, OutputLayer, VariationalAutoencoder)

X = np.random.default_rng(0).uniform(0, 1, (6, 4))


def _classifier(loss, act):
    return make_net([DenseLayer(n_in=4, n_out=3, activation="tanh"), OutputLayer(n_out=3, activation=act, loss=loss)])


@pytest.mark.parametrize("bad", [5.0, -2.0, 1.5])
def test_xent_labels_outside_unit_interval(bad):
    net = _classifier("xent", "sigmoid")
    y = np.full((6, 3), 0.5)
    y[2, 1] = bad
    for call in (lambda: net.fit((X, y)), lambda: net.score((X, y))):
        with pytest.raises(ValueError, match=r"'labels' must lie in \[0, 1\] for the 'xent' loss"):
            call()
    y[2, 1] = 1.0
    net.fit((X, y))   # in range: trains


@pytest.mark.parametrize("loss", ["mcxent", "negativeloglikelihood"])
def test_mcxent_labels_must_be_probability_rows(loss):
    net = _classifier(loss, "softmax")
    y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    net.fit((X, y))
    before = net.params()
    y_bad = y.copy()
    y_bad[3] = [0.5, 0.2, 0.1]            # sums to 0.8
    with pytest.raises(ValueError, match="row 3 sums to 0.8"):
        net.fit((X, y_bad))
    y_neg = y.copy()
    y_neg[1] = [2.0, -1.0, 0.0]           # sums to 1 but outside [0, 1]
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        net.fit((X, y_neg))
    np.testing.assert_array_equal(net.params(), before)   # nothing trained on bad labels
    y_soft = np.full((6, 3), 1 / 3)
    net.fit((X, y_soft))                  # soft labels summing to 1 are fine


def test_autoencoder_xent_on_data_outside_unit_interval():
    net = make_net([AutoEncoder(n_in=4, n_out=3, activation="sigmoid", loss="xent"),
                    OutputLayer(n_out=2, activation="identity", loss="mse")])
    with pytest.raises(ValueError, match=r"AutoEncoder, loss='xent'.*\[0, 1\]"):
        net.pretrain(X * 3.0)
    net.pretrain(X)
    # mse has no domain restriction
    net2 = make_net([AutoEncoder(n_in=4, n_out=3, activation="sigmoid", loss="mse"),
                     OutputLayer(n_out=2, activation="identity", loss="mse")])
    net2.pretrain(X * 3.0)


def test_vae_loss_wrapper_xent_on_data_outside_unit_interval():
    for dist in (LossFunctionWrapper("sigmoid", "xent"),
                 CompositeReconstructionDistribution([(2, GaussianReconstructionDistribution()),
                                                      (2, LossFunctionWrapper("sigmoid", "xent"))])):
        kw = {"loss_function": dist} if isinstance(dist, LossFunctionWrapper) else \
            {"reconstruction_distribution": dist}
        net = make_net([VariationalAutoencoder(n_in=4, n_out=2, encoder_layer_sizes=(3,), decoder_layer_sizes=(3,),
                                               **kw),
                        OutputLayer(n_out=2, activation="identity", loss="mse")])
        bad = X.copy()
        bad[0, 3] = 4.0
        with pytest.raises(ValueError, match=r"\[0, 1\] for the 'xent' loss"):
            net.pretrain(bad)
        if isinstance(dist, LossFunctionWrapper):
            with pytest.raises(ValueError, match=r"\[0, 1\] for the 'xent' loss"):
                net.get_layer(0).reconstruction_error(bad)
        net.pretrain(X)
