"""The public Hypothesis strategies of ``numba_ae.testing.strategies``: every config
they generate builds, inits, trains a step to a finite score on ``datasets_for`` data
and round-trips through JSON; ``import numba_ae`` does not import hypothesis."""
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from numba_ae import (
    AutoEncoder,
    CompositeReconstructionDistribution,
    DataSet,
    MultiLayerNetwork,
    NeuralNetConfiguration,
    OutputLayer,
    VariationalAutoencoder,
)
from numba_ae.distributions import DISTRIBUTIONS, ReconstructionDistribution
from numba_ae.registries import ACTIVATIONS
from numba_ae.testing import strategies as nst

SET = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def train_a_step(conf, ds):
    """pretrain when pretrainable, fit when supervised; every training score finite (the
    divergence guard is on).  A pretrainable last layer's evaluation score on fresh draws is
    only required to be a float: generated VAEs with identity activations everywhere have an
    unbounded posterior, and a fresh draw can put z past float64's range (inf, then inf - inf
    in the next GEMM)."""
    net = MultiLayerNetwork(conf).init()
    trained = False
    if any(layer.pretrainable for layer in net.layers):
        net.pretrain(ds)
        assert math.isfinite(net.score())
        if conf.layers[-1].pretrainable:
            assert isinstance(net.score(ds), float)
        trained = True
    if isinstance(conf.layers[-1], OutputLayer):
        net.fit(ds)
        assert math.isfinite(net.score())
        assert math.isfinite(net.score(ds))
        trained = True
    assert trained, conf
    return net


def round_trips(conf):
    assert type(conf).from_json(conf.to_json()) == conf
    assert type(conf).from_dict(conf.to_dict()) == conf


@pytest.mark.parametrize("kind", ["any", "autoencoder", "vae", "supervised"])
def test_network_configs_train_a_step(kind):
    @SET
    @given(data=st.data(), conf=nst.network_configs(kind))
    def check(data, conf):
        assert 1 <= len(conf.layers) <= 4
        assert all(layer.n_out <= 8 for layer in conf.layers)
        if kind == "supervised":
            assert isinstance(conf.layers[-1], OutputLayer)
        if kind == "autoencoder":
            assert any(isinstance(layer, AutoEncoder) for layer in conf.layers)
        if kind == "vae":
            assert any(isinstance(layer, VariationalAutoencoder) for layer in conf.layers)
        round_trips(conf)
        ds = data.draw(nst.datasets_for(conf, max_rows=16))
        assert ds.features.dtype == conf.np_dtype and ds.features.shape[1] == conf.n_in_of(0)
        train_a_step(conf, ds)
    check()



@SET
@given(data=st.data(), layer=nst.layer_configs())
def test_layer_configs_train_a_step(data, layer):
    assert layer.n_in is not None and layer.n_in <= 8
    round_trips(layer)
    conf = NeuralNetConfiguration(layers=[layer], dtype=data.draw(st.sampled_from(["float32", "float64"])))
    round_trips(conf)
    if not (layer.pretrainable or isinstance(layer, OutputLayer)):
        # a lone DenseLayer has nothing to train: put it under an OutputLayer
        conf = conf.replace(layers=(layer, data.draw(nst.layer_configs(layer.n_out, kinds=("output",)))))
    train_a_step(conf, data.draw(nst.datasets_for(conf, max_rows=16)))


@SET
@given(data=st.data(), vae=nst.vae_configs())
def test_vae_configs_train_a_step(data, vae):
    assert isinstance(vae, VariationalAutoencoder)
    round_trips(vae)
    conf = NeuralNetConfiguration(layers=[vae])
    train_a_step(conf, data.draw(nst.datasets_for(conf, max_rows=16)))


@SET
@given(data=st.data(), n_in=st.one_of(st.none(), st.integers(1, 6)))
def test_reconstruction_distributions_train_in_a_vae(data, n_in):
    dist = data.draw(nst.reconstruction_distributions(n_in))
    assert type(dist) in DISTRIBUTIONS
    round_trips(dist)
    if isinstance(dist, CompositeReconstructionDistribution):
        assert n_in is None or dist.data_width() == n_in
        n_in = dist.data_width()
    vae = data.draw(nst.vae_configs(n_in if n_in is not None else 3))
    key = "loss_function" if type(dist).__name__ == "LossFunctionWrapper" else "reconstruction_distribution"
    changes = {"reconstruction_distribution": None, "loss_function": None}
    changes[key] = dist
    vae = vae.replace(**changes)
    conf = NeuralNetConfiguration(layers=[vae])
    train_a_step(conf, data.draw(nst.datasets_for(conf, max_rows=16)))


def test_reconstruction_distributions_cover_the_registry():
    seen = set()

    @settings(max_examples=200, deadline=None)
    @given(nst.reconstruction_distributions())
    def collect(dist):
        seen.add(type(dist))
    collect()
    assert seen == set(DISTRIBUTIONS)


def test_a_registered_distribution_without_a_strategy_is_an_error(monkeypatch):
    class MyDistribution(ReconstructionDistribution):
        pass
    monkeypatch.setitem(DISTRIBUTIONS, MyDistribution, object)
    with pytest.raises(NotImplementedError, match="MyDistribution"):
        nst.reconstruction_distributions()


@pytest.mark.parametrize("data_range", ["real", "nonnegative"])
def test_data_range_restricts_the_distributions(data_range):
    @settings(max_examples=50, deadline=None)
    @given(nst.reconstruction_distributions(4, data_range=data_range))
    def check(dist):
        parts = dist.distributions if isinstance(dist, CompositeReconstructionDistribution) else ((4, dist),)
        for _, d in parts:
            name = type(d).__name__
            assert name != "BernoulliReconstructionDistribution"
            assert getattr(d, "loss", None) != "xent"
            if data_range == "real":
                assert name != "ExponentialReconstructionDistribution"
    check()


def test_activations_include_registered_ones_at_draw_time():
    from numba import njit

    import numba_ae

    @njit
    def f(v):
        return v / (1.0 + abs(v))

    @njit
    def d(pre, out):
        return 1.0 / (1.0 + abs(pre)) ** 2

    strategy = nst.activations()  # built before the registration
    numba_ae.register_activation("softsign_strat", f, d)
    try:
        seen = set()

        @settings(max_examples=300, deadline=None)
        @given(strategy)
        def collect(name):
            seen.add(name)
        collect()
        assert "softsign_strat" in seen and seen <= set(ACTIVATIONS)
    finally:
        numba_ae.unregister_activation("softsign_strat")

    @settings(max_examples=100, deadline=None)
    @given(nst.activations(elementwise_only=True))
    def no_softmax(name):
        assert name != "softmax" and name in ACTIVATIONS
    no_softmax()


@SET
@given(data=st.data(), conf=nst.network_configs())
def test_datasets_for_pass_the_network_validation(data, conf):
    ds = data.draw(nst.datasets_for(conf, min_rows=2, max_rows=5))
    assert isinstance(ds, DataSet) and 2 <= ds.features.shape[0] <= 5
    assert np.all(np.isfinite(ds.features))
    net = MultiLayerNetwork(conf).init()
    net.output(ds.features)
    if isinstance(conf.layers[-1], OutputLayer):
        assert ds.labels.shape == (ds.features.shape[0], conf.layers[-1].n_out)
        assert ds.labels.dtype == conf.np_dtype
        net.score(ds)  # validates the labels against the loss (ValueError otherwise)
    else:
        assert ds.labels is None
        for i, layer in enumerate(net.layers):
            if layer.pretrainable:
                net.pretrain_layer(i, ds)  # validates each pretrainable layer's input


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        nst.network_configs("gan").example()
    with pytest.raises(ValueError, match="data_range"):
        nst.reconstruction_distributions(data_range="positive")
    with pytest.raises(ValueError, match="kinds"):
        nst.layer_configs(kinds=("conv",)).example()


def test_import_numba_ae_does_not_import_hypothesis():
    code = "import numba_ae, numba_ae.testing, sys; assert 'hypothesis' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_hypothesis_is_a_clear_import_error():
    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "try:\n    import numba_ae.testing.strategies\n"
            "except ImportError as e:\n    assert 'pip install numba_ae[test]' in str(e), e\n"
            "else:\n    raise SystemExit('no ImportError')")
    subprocess.run([sys.executable, "-c", code], check=True)
