"""Pickled and deep-copied networks are full, independent networks: their layers' parameters
are views into their own flat vectors, so they train, and a copy trained on the same data
from the same state ends bitwise equal to the original trained the same way.  Also for
networks built with ``init(params)`` and after ``load``."""
import copy
import pickle

import numpy as np
import pytest

from harness import make_net
from numba_ae import (Adam, AutoEncoder, DenseLayer, GaussianReconstructionDistribution, MultiLayerNetwork,
                      OutputLayer, VariationalAutoencoder)

RNG = np.random.default_rng(0)
X = RNG.uniform(0, 1, (24, 6)).round().astype(np.float32)
Y = np.eye(3, dtype=np.float32)[RNG.integers(0, 3, 24)]


def _net(**kw):
    return make_net([AutoEncoder(n_in=6, n_out=5, activation="relu", corruption_level=0.3),
                     VariationalAutoencoder(n_out=3, encoder_layer_sizes=(4,), decoder_layer_sizes=(4,),
                                            reconstruction_distribution=GaussianReconstructionDistribution()),
                     DenseLayer(n_out=4, activation="tanh"),
                     OutputLayer(n_out=3, activation="softmax", loss="mcxent")],
                    seed=3, updater=Adam(1e-2), dtype="float32", **kw)


def _train(net):
    net.pretrain(X, batch_size=8)
    net.fit((X, Y), batch_size=8, epochs=2)
    return net


def _pickled(net):
    return pickle.loads(pickle.dumps(net))


def _loaded(net, tmp_path):
    path = tmp_path / "net.h5"
    net.save(path)
    return MultiLayerNetwork.load(path)


COPIES = {"pickle": lambda net, tmp: _pickled(net), "deepcopy": lambda net, tmp: copy.deepcopy(net),
          "load": _loaded}


@pytest.mark.parametrize("how", list(COPIES))
def test_copy_trains_bitwise_like_the_original(how, tmp_path):
    net = _train(_net())                  # a network with updater state, counters and RNG state
    twin = COPIES[how](net, tmp_path)
    np.testing.assert_array_equal(twin.params(), net.params())
    np.testing.assert_array_equal(twin.output(X), net.output(X))
    before = net.params()
    _train(twin)
    np.testing.assert_array_equal(net.params(), before)          # the original is independent
    assert not np.array_equal(twin.params(), before)             # the copy really trained
    _train(net)
    np.testing.assert_array_equal(twin.params(), net.params())   # same state + same data -> same result
    np.testing.assert_array_equal(twin.output(X), net.output(X))
    assert twin.training_state() == net.training_state()


@pytest.mark.parametrize("how", list(COPIES))
def test_copy_parameters_are_views_of_its_own_flat_vector(how, tmp_path):
    twin = COPIES[how](_train(_net()), tmp_path)
    layer = twin.get_layer(2)
    layer.params["W"][0, 0] += 1.0                # through the layer view ...
    assert twin.params()[twin._slices[2]][0] == layer.params["W"][0, 0]   # ... visible in params()
    flat = twin.params()
    flat[:] = 0.0
    twin.set_params(flat)
    assert not np.any(layer.params["W"])          # and set_params reaches the views


def test_network_built_with_init_params_trains_and_copies(tmp_path):
    ref = _net()
    p = ref.params().copy()
    net = make_net(ref.conf.layers, seed=3, updater=Adam(1e-2), dtype="float32")
    net = MultiLayerNetwork(net.conf).init(p.copy())
    np.testing.assert_array_equal(net.params(), p)
    _train(net)
    assert not np.array_equal(net.params(), p)
    np.testing.assert_array_equal(net.output(X), _pickled(net).output(X))
    twin = _pickled(net)
    _train(twin)
    _train(net)
    np.testing.assert_array_equal(twin.params(), net.params())


def test_uninitialised_network_copies():
    net = MultiLayerNetwork(_net().conf)
    twin = copy.deepcopy(net)
    assert twin.conf == net.conf
    twin.init()
    assert twin.num_params() == _net().num_params()


def test_copy_drops_listeners_but_keeps_everything_else():
    from numba_ae import ScoreListener
    net = _train(_net())
    net.add_listener(ScoreListener(1000, printer=lambda *a: None))
    twin = copy.deepcopy(net)
    assert twin.listeners == []
    assert twin.iteration_count == net.iteration_count and twin.epoch_count == net.epoch_count
    assert twin.seed == net.seed
