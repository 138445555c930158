"""The divergence guard: the first non-finite score or gradient stops training with
TrainingDivergedError naming the layer, parameter, iteration, epoch and last finite score;
the step that produced it is not applied (parameters and updater state stay those of the
last finite step, and the network can be saved); ``nan_guard=False`` restores DL4J's
behaviour of training on."""
import numpy as np
import pytest

import numba_ae
from harness import make_net
from numba_ae import (Adam, ArrayDataSetIterator, DenseLayer, GaussianReconstructionDistribution, MultiLayerNetwork,
                      OutputLayer, RmsProp, Sgd, TrainingListener, VariationalAutoencoder)

X = np.random.default_rng(0).normal(size=(32, 6))


class Recorder(TrainingListener):
    """Keeps the parameters, updater state and score after every completed iteration."""

    def __init__(self):
        self.params, self.states, self.scores = [], [], []

    def iteration_done(self, net, iteration, epoch, score):
        self.params.append(net.params())
        self.states.append(net.export_state()["layers"])
        self.scores.append(score)


def _vae(updater, **kw):  # noqa: D103
    net = make_net([VariationalAutoencoder(n_in=6, n_out=2, encoder_layer_sizes=(8,), decoder_layer_sizes=(8,),
                                           reconstruction_distribution=GaussianReconstructionDistribution()),
                    OutputLayer(n_out=2, activation="identity", loss="mse")], updater=updater, **kw)
    return net


@pytest.mark.parametrize("updater", [Sgd(1e6), Adam(1e6), RmsProp(1e6)], ids=lambda u: type(u).__name__)
def test_pretrain_divergence_stops_with_the_last_finite_state(updater, tmp_path):
    net = _vae(updater)
    rec = Recorder()
    net.add_listener(rec)
    with pytest.raises(numba_ae.TrainingDivergedError) as info:
        net.pretrain(X, batch_size=4, epochs=5)
    e = info.value
    assert isinstance(e, FloatingPointError)
    assert e.layer == 0
    assert e.iteration == net.iteration_count and e.epoch == net.epoch_count
    assert rec.scores, "diverged before any finite step: the test does not test the rollback"
    assert e.last_score == rec.scores[-1] and np.isfinite(e.last_score)
    assert "layer 0" in str(e) and f"iteration {e.iteration}" in str(e)
    if e.parameter is not None:
        assert e.parameter in dict(net.get_layer(0).params)
        assert repr(e.parameter) in str(e)
    # nothing of the failing step was applied
    np.testing.assert_array_equal(net.params(), rec.params[-1])
    assert np.all(np.isfinite(net.params()))
    for now, then in zip(net.export_state()["layers"], rec.states[-1]):
        for key in ("updater", "pretrain_updater"):
            if now[key] is not None:
                assert now[key]["step"] == then[key]["step"]
                for name, st in now[key]["state"].items():
                    for s_name, arr in st.items():
                        np.testing.assert_array_equal(arr, then[key]["state"][name][s_name])
    net.save(tmp_path / "diverged.h5")           # still a valid model
    np.testing.assert_array_equal(MultiLayerNetwork.load(tmp_path / "diverged.h5").params(), net.params())


def test_fit_divergence():
    net = make_net([DenseLayer(n_in=6, n_out=8, activation="relu"), OutputLayer(n_out=2, activation="identity",
                                                                                   loss="mse")],
                   updater=Sgd(1e8))
    y = np.random.default_rng(1).normal(size=(32, 2)) * 1e3
    rec = Recorder()
    net.add_listener(rec)
    with pytest.raises(numba_ae.TrainingDivergedError, match="non-finite") as info:
        net.fit((X, y), batch_size=4, epochs=20)
    np.testing.assert_array_equal(net.params(), rec.params[-1] if rec.params else net.params())
    assert np.all(np.isfinite(net.params()))
    assert info.value.last_score is None or np.isfinite(info.value.last_score)


def test_guard_off_trains_on_as_dl4j():
    net = MultiLayerNetwork(_vae(Sgd(1e6)).conf, nan_guard=False).init()
    assert net.nan_guard is False
    net.pretrain(X, batch_size=4, epochs=3)           # no exception
    assert not np.all(np.isfinite(net.params()))


def test_non_finite_input_batch_is_named():
    x = X.copy()
    it = ArrayDataSetIterator(x, None, batch_size=8)  # validated now ...
    x[10, 2] = np.nan                                 # ... and changed later
    net = _vae(Adam(1e-3))
    with pytest.raises(numba_ae.TrainingDivergedError, match="input batch .*non-finite") as info:
        net.pretrain(it)
    assert info.value.iteration == 1                  # the second minibatch (rows 8..15)
    assert np.all(np.isfinite(net.params()))


def test_guard_is_quiet_on_healthy_training():
    net = _vae(Adam(1e-3))
    net.pretrain(X, batch_size=8, epochs=2)
    net.fit((X, X[:, :2]), batch_size=8)
    assert net.iteration_count == 12


def test_nan_guard_argument_is_checked():
    with pytest.raises(TypeError, match="nan_guard"):
        MultiLayerNetwork(_vae(Sgd(1.0)).conf, nan_guard="yes")
