"""Model files (``numba_ae.io``): exact round trip.

For hypothesis-generated networks (every layer kind and VAE distribution,
every updater, float32/float64), trained so the updater state is non-zero,
``load(save(net))`` has bitwise the same params, updater state, counters, RNG
state, ``output``, ``score``; the header and layout are as documented; saving
is deterministic; argument errors are reported.
"""
import json
import os

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from numba_ae import (
    Adam,
    AutoEncoder,
    BernoulliReconstructionDistribution,
    CompositeReconstructionDistribution,
    ExponentialReconstructionDistribution,
    GaussianReconstructionDistribution,
    LossFunctionWrapper,
    MultiLayerNetwork,
    NeuralNetConfiguration,
    OutputLayer,
    RmsProp,
    VariationalAutoencoder,
)
from numba_ae.data import NormalizerStandardize
from numba_ae.io import FORMAT, FORMAT_VERSION, load_model, save_model

from strategies import network_configs
from io_helpers import assert_same_net, bits, data, small_net, trained_small


HSET = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])


def train_a_little(net, x, y):
    """Two minibatches per pretrainable layer, then two supervised steps when possible."""
    for i, layer in enumerate(net.layers):
        if layer.pretrainable:
            net.pretrain_layer(i, x, batch_size=3)
    if isinstance(net.conf.layers[-1], OutputLayer):
        net.fit(x, y, batch_size=3)


def make_data(net, n_in, seed):
    rng = np.random.default_rng(seed)
    x = rng.random((6, n_in)).astype(net.dtype)
    last = net.conf.layers[-1]
    y = None
    if isinstance(last, OutputLayer):
        if last.loss in ("mcxent", "negativeloglikelihood"):
            y = np.eye(last.n_out, dtype=net.dtype)[rng.integers(0, last.n_out, 6)]
        else:
            y = rng.random((6, last.n_out)).astype(net.dtype)
    return x, y


@HSET
@given(conf=network_configs(trainable=True), seed=st.integers(0, 2 ** 31), save_updater=st.booleans())
def test_round_trip_is_exact_for_generated_networks(tmp_path, conf, seed, save_updater):
    n_in = conf.layers[0].n_in
    for i, lc in enumerate(conf.layers):
        event(f"{type(lc).__name__} / {type(conf.resolved(i, 'updater')).__name__} / {conf.dtype}")
        if isinstance(lc, VariationalAutoencoder):
            event(f"VAE {type(lc.distribution).__name__}")
    net = MultiLayerNetwork(conf).init()
    x, y = make_data(net, n_in, seed)
    train_a_little(net, x, y)
    assume(np.all(np.isfinite(net.params())))  # (training diverged: nothing to save)
    # the updater state is really exercised: a last OutputLayer always gets a gradient from
    # fit (hidden relu units may die), so its state is non-zero when its updater has state.
    # (A last AutoEncoder is only pretrained: with a dead relu below it, its input and so
    # its whole pretrain gradient can be exactly 0.)
    for i, layer in enumerate(net.layers):
        arrays = [arr for states in net.updater_state(i).values() for arr in states.values()]
        if layer.pretrainable:  # pretrain keeps its own updater state
            arrays += [arr for states in net.updater_state(i, pretrain=True).values()
                       for arr in states.values()]
        assert all(arr.dtype == net.dtype for arr in arrays)
        if arrays and i == len(net.layers) - 1 and isinstance(net.conf.layers[-1], OutputLayer):
            assert any(np.any(arr != 0) for arr in arrays)
    path = tmp_path / f"net_{save_updater}.h5"
    save_model(net, path, save_updater=save_updater)
    loaded = load_model(path)
    assert type(loaded) is MultiLayerNetwork
    if save_updater:
        assert_same_net(net, loaded, x, y)
    else:
        # parameters, counters and RNG exact; updater state fresh
        assert bits(loaded.params()) == bits(net.params())
        ts, lts = net.training_state(), loaded.training_state()
        steps = ("updater_steps", "pretrain_updater_steps")
        assert lts["updater_steps"] == lts["pretrain_updater_steps"] == [0] * len(net.layers)
        assert {k: v for k, v in ts.items() if k not in steps} == \
               {k: v for k, v in lts.items() if k not in steps}
        for i in range(len(loaded.layers)):
            for pretrain in (False, True) if loaded.layers[i].pretrainable else (False,):
                for states in loaded.updater_state(i, pretrain=pretrain).values():
                    for arr in states.values():
                        assert not np.any(arr)
        assert bits(loaded.output(x)) == bits(net.output(x))
    # score on data (a VAE last layer samples from the restored RNG)
    if y is not None:
        assert loaded.score(x, y) == net.score(x, y)
    else:
        assert loaded.score(x) == net.score(x)
    with h5py.File(path, "r") as f:
        assert ("updater" in f) == save_updater
        for i, layer in enumerate(net.layers):
            g = f[f"params/layer_{i}"]
            assert list(g.keys()) == [n for n, _, _ in layer.param_specs()]  # creation order kept
            assert g.attrs["layer_type"].decode() == type(layer.conf).__name__
            assert int(g.attrs["n_params"]) == layer.num_params()
            for name, shape, _ in layer.param_specs():
                assert g[name].shape == shape and g[name].dtype == net.dtype
                assert bits(g[name][()]) == bits(layer.params[name])


VAE_DISTS = {
    "gaussian": dict(reconstruction_distribution=GaussianReconstructionDistribution("tanh")),
    "bernoulli": dict(reconstruction_distribution=BernoulliReconstructionDistribution()),
    "exponential": dict(reconstruction_distribution=ExponentialReconstructionDistribution()),
    "composite": dict(reconstruction_distribution=CompositeReconstructionDistribution(
        ((2, GaussianReconstructionDistribution()), (1, ExponentialReconstructionDistribution()),
         (2, BernoulliReconstructionDistribution())))),
    "loss_wrapper": dict(loss_function=LossFunctionWrapper("sigmoid", "xent")),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("dist", sorted(VAE_DISTS))
def test_round_trip_vae_each_distribution(tmp_path, dist, dtype):
    conf = NeuralNetConfiguration(seed=8, dtype=dtype, updater=RmsProp(0.01), layers=[
        VariationalAutoencoder(n_in=5, n_out=2, encoder_layer_sizes=(4, 3), decoder_layer_sizes=(3,),
                               num_samples=2, updater=Adam(0.01), **VAE_DISTS[dist]),
        AutoEncoder(n_out=2, corruption_level=0.5)])
    net = MultiLayerNetwork(conf).init()
    x, _ = data(dtype=dtype)
    net.pretrain(x, batch_size=4)
    path = tmp_path / "vae.h5"
    net.save(path)
    loaded = load_model(path)
    assert_same_net(net, loaded, x)
    assert net.get_layer(0).score(x) == loaded.get_layer(0).score(x)  # samples from the restored RNG
    net.pretrain(x, batch_size=4)
    loaded.pretrain(x, batch_size=4)
    assert_same_net(net, loaded, x)
    with h5py.File(path, "r") as f:
        assert list(f["updater/layer_0/pXZW"].keys()) == ["m", "v"]
        assert list(f["updater/layer_1/W"].keys()) == ["cache"]


def test_round_trip_of_a_network_without_config_seed(tmp_path):
    """``seed=None`` draws a seed at init: the file records it and the RNG state."""
    conf = NeuralNetConfiguration(updater=Adam(0.01), layers=[
        VariationalAutoencoder(n_in=5, n_out=2, encoder_layer_sizes=(3,), decoder_layer_sizes=(3,),
                               reconstruction_distribution=BernoulliReconstructionDistribution())])
    net = MultiLayerNetwork(conf).init()
    x, _ = data()
    net.pretrain(x, batch_size=3)
    net.save(tmp_path / "s.h5")
    loaded = load_model(tmp_path / "s.h5")
    assert loaded.conf.seed is None and loaded.seed == net.seed
    assert_same_net(net, loaded, x)
    net.pretrain(x)
    loaded.pretrain(x)
    assert_same_net(net, loaded, x)


def test_save_is_deterministic_and_records_the_header(tmp_path):
    net, path, x, y = trained_small(tmp_path)
    path2 = str(tmp_path / "again.h5")
    net.save(path2)
    with open(path, "rb") as a, open(path2, "rb") as b:
        assert a.read() == b.read()
    from numba_ae._version import __version__
    with h5py.File(path, "r") as f:
        assert f.attrs["format"].decode() == FORMAT == "numba_ae"
        assert f.attrs["format_version"].decode() == FORMAT_VERSION == "1.0"
        assert f.attrs["library_version"].decode() == __version__
        assert json.loads(f.attrs["config"]) == json.loads(net.conf.to_json())
        ts = json.loads(f.attrs["training_state"])
        assert ts["iteration_count"] == 4 and ts["epoch_count"] == 2 and ts["updater_steps"] == [2, 2] \
            and ts["pretrain_updater_steps"] == [2, 0]
        assert ts["rng_state"] == net.training_state()["rng_state"]
        g = f["updater/layer_0"]
        assert json.loads(g.attrs["updater"]) == {"class_name": "Adam", "config": Adam(1e-2).to_dict()}
        assert int(g.attrs["step"]) == 2
        assert sorted(g.keys()) == ["W", "b", "vb"] and list(g["W"].keys()) == ["m", "v"]
        assert bits(g["W/v"][()]) == bits(net.updater_state(0)["W"]["v"])
        assert g["W/m"].fletcher32
        # the separate pretrain state: pretrainable layers only
        assert list(f["pretrain_updater"].keys()) == ["layer_0"]
        pg = f["pretrain_updater/layer_0"]
        assert int(pg.attrs["step"]) == 2
        assert bits(pg["W/m"][()]) == bits(net.updater_state(0, pretrain=True)["W"]["m"])
        assert bits(pg["W/m"][()]) != bits(g["W/m"][()])


def test_save_without_updater_is_smaller_and_restarts_updater(tmp_path):
    net, path, x, y = trained_small(tmp_path)
    p2 = tmp_path / "noupd.h5"
    net.save(p2, save_updater=False)
    assert os.path.getsize(p2) < os.path.getsize(path)
    loaded = MultiLayerNetwork.load(p2)
    assert loaded.training_state()["updater_steps"] == [0, 0]
    assert loaded.iteration_count == net.iteration_count == 4
    # continuing differs from the exact resume (Adam restarts) but is finite and deterministic
    exact = MultiLayerNetwork.load(path)
    exact.fit(x, y)
    loaded.fit(x, y)
    net.fit(x, y)
    assert bits(exact.params()) == bits(net.params())
    assert not np.array_equal(loaded.params(), net.params())
    assert np.all(np.isfinite(loaded.params()))


def test_load_classmethod_builds_the_subclass_and_path_types(tmp_path):
    class MyNet(MultiLayerNetwork):
        pass

    net, path, x, y = trained_small(tmp_path)
    loaded = MyNet.load(path)
    assert type(loaded) is MyNet
    assert_same_net(net, loaded, x, y)
    import pathlib
    assert bits(load_model(pathlib.Path(path)).params()) == bits(net.params())
    with pytest.raises(TypeError, match="network_class"):
        load_model(path, network_class=dict)


def test_save_argument_errors(tmp_path):
    with pytest.raises(TypeError, match="MultiLayerNetwork"):
        save_model(object(), tmp_path / "a.h5")
    net = MultiLayerNetwork(small_net().conf)
    with pytest.raises(RuntimeError, match="init"):
        net.save(tmp_path / "a.h5")
    net = small_net()
    with pytest.raises(TypeError, match="save_updater"):
        net.save(tmp_path / "a.h5", save_updater="yes")
    with pytest.raises(TypeError, match="normalizer"):
        net.save(tmp_path / "a.h5", normalizer={"mean": 0})
    with pytest.raises(ValueError, match="not fitted"):
        net.save(tmp_path / "a.h5", normalizer=NormalizerStandardize())
    with pytest.raises(ValueError, match="3 feature column.*n_in is 5"):
        net.save(tmp_path / "a.h5", normalizer=NormalizerStandardize().fit(np.ones((4, 3))))
    net.layers[0].params["W"][0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        net.save(tmp_path / "a.h5")
    assert os.listdir(tmp_path) == []


def test_nonfinite_last_score_round_trips(tmp_path):
    net, path, x, y = trained_small(tmp_path)
    for value in (np.inf, -np.inf):
        net._last_score = value
        net.save(path)
        with h5py.File(path, "r") as f:
            json.loads(f.attrs["training_state"], parse_constant=lambda c: 1 / 0)  # strict JSON
        assert load_model(path).score() == value
    net._last_score = np.nan
    net.save(path)
    assert np.isnan(load_model(path).score())
