"""Tests for the configuration dataclasses: exact dict/JSON round trips and
validation errors that name the offending layer index / field."""
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from numba_ae import (
    AdaGrad,
    Adam,
    AutoEncoder,
    BernoulliReconstructionDistribution,
    CompositeReconstructionDistribution,
    DenseLayer,
    GaussianReconstructionDistribution,
    LossFunctionWrapper,
    Nesterovs,
    NeuralNetConfiguration,
    OutputLayer,
    RmsProp,
    Sgd,
    VariationalAutoencoder,
)
from numba_ae._serial import deserialize, serialize
from strategies import distributions, network_configs, updaters

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])



# ============================================================================ round trips

def assert_round_trips(obj):
    cls = type(obj)
    d = obj.to_dict()
    back = cls.from_dict(d)
    assert back == obj
    assert back.to_dict() == d
    # the dict is JSON data: through json text and back
    back2 = cls.from_dict(json.loads(json.dumps(d)))
    assert back2 == obj
    text = obj.to_json()
    back3 = cls.from_json(text)
    assert type(back3) is cls
    assert back3 == obj
    assert back3.to_json() == text
    assert json.loads(text) == {"class_name": cls.__name__, "config": d}
    # generic (de)serialize
    assert deserialize(serialize(obj)) == obj
    return back3


@SETTINGS
@given(conf=network_configs())
def test_network_config_round_trips_exactly(conf):
    back = assert_round_trips(conf)
    assert isinstance(back.layers, tuple)
    assert len(back.layers) == len(conf.layers)
    for layer_back, layer in zip(back.layers, conf.layers):
        assert type(layer_back) is type(layer)
        assert layer_back == layer
        assert_round_trips(layer)
        if isinstance(layer, VariationalAutoencoder):
            assert isinstance(layer_back.encoder_layer_sizes, tuple)
            assert layer_back.distribution == layer.distribution
            assert_round_trips(layer.distribution)
    # effective sizes survive too
    for i in range(len(conf.layers)):
        assert back.n_in_of(i) == conf.n_in_of(i)
        for f in ("activation", "updater", "weight_init", "l1", "l2", "l1_bias", "l2_bias"):
            assert back.resolved(i, f) == conf.resolved(i, f)


@SETTINGS
@given(u=updaters())
def test_updater_round_trips(u):
    if isinstance(u, str):
        u = {"sgd": Sgd, "adam": Adam, "nesterovs": Nesterovs, "rmsprop": RmsProp, "adagrad": AdaGrad}[u]()
    assert_round_trips(u)


@SETTINGS
@given(data=st.data(), n=st.integers(1, 10))
def test_distribution_round_trips(data, n):
    dist = data.draw(distributions(n))
    back = assert_round_trips(dist)
    if isinstance(dist, CompositeReconstructionDistribution):
        assert back.data_width() == n
        assert isinstance(back.distributions, tuple)
        assert all(isinstance(p, tuple) for p in back.distributions)


def test_known_dict_layout():
    conf = NeuralNetConfiguration(seed=7, updater=Adam(1e-3), layers=[
        AutoEncoder(n_in=784, n_out=256, activation="relu", corruption_level=0.3),
        OutputLayer(n_in=256, n_out=784, activation="sigmoid", loss="mse")])
    d = conf.to_dict()
    assert d["seed"] == 7
    assert d["dtype"] == "float32"
    assert d["updater"] == {"class_name": "Adam", "config": {"learning_rate": 1e-3, "beta1": 0.9,
                                                            "beta2": 0.999, "epsilon": 1e-8}}
    assert d["layers"][0]["class_name"] == "AutoEncoder"
    assert d["layers"][0]["config"]["corruption_level"] == 0.3
    assert d["layers"][0]["config"]["n_out"] == 256
    assert d["layers"][1] == {"class_name": "OutputLayer", "config": {
        "n_in": 256, "n_out": 784, "activation": "sigmoid", "weight_init": None, "updater": None,
        "l1": None, "l2": None, "l1_bias": None, "l2_bias": None, "name": None, "loss": "mse"}}
    # defaults as DL4J
    dflt = NeuralNetConfiguration(layers=[OutputLayer(n_in=3, n_out=2)])
    assert dflt.updater == Sgd(1e-3)
    assert (dflt.activation, dflt.weight_init, dflt.l1, dflt.l2, dflt.seed) == ("sigmoid", "xavier", 0.0, 0.0, None)
    assert dflt.layers[0].loss == "mcxent"


def test_aliases_are_canonicalised():
    layer = OutputLayer(n_in=2, n_out=2, activation="LINEAR", loss="nll", weight_init="XAVIER")
    assert (layer.activation, layer.loss, layer.weight_init) == ("identity", "negativeloglikelihood", "xavier")
    conf = NeuralNetConfiguration(layers=[layer], updater="adam")
    assert conf.updater == Adam()
    assert NeuralNetConfiguration.from_json(conf.to_json()).layers[0].activation == "identity"


def test_composite_add_builder():
    c = CompositeReconstructionDistribution(((2, GaussianReconstructionDistribution()),))
    c2 = c.add(3, BernoulliReconstructionDistribution())
    assert c2.data_width() == 5
    assert c2.input_width(5) == 2 * 2 + 3
    assert c.data_width() == 2  # unchanged
    assert_round_trips(c2)


# ============================================================================ validation errors

def _net(*layers, **kw):
    return NeuralNetConfiguration(layers=list(layers), **kw)


def test_n_in_mismatch_names_layer_index():
    with pytest.raises(ValueError, match=r"layers\[1\]") as e:
        _net(DenseLayer(n_in=4, n_out=3), OutputLayer(n_in=5, n_out=2))
    assert "n_in" in str(e.value)
    with pytest.raises(ValueError, match=r"layers\[2\].*n_in"):
        _net(DenseLayer(n_in=4, n_out=3), AutoEncoder(n_out=6), OutputLayer(n_in=3, n_out=2))
    with pytest.raises(ValueError, match=r"layers\[0\].*n_in"):
        _net(DenseLayer(n_out=3), OutputLayer(n_out=2))


@pytest.mark.parametrize("level", [-0.1, 1.5, math.nan, math.inf])
def test_corruption_level_out_of_range(level):
    with pytest.raises(ValueError, match="corruption_level"):
        AutoEncoder(n_in=4, n_out=3, corruption_level=level)


def test_corruption_level_bounds_accepted():
    assert AutoEncoder(n_in=4, n_out=3, corruption_level=0.0).corruption_level == 0.0
    assert AutoEncoder(n_in=4, n_out=3, corruption_level=1).corruption_level == 1.0


@pytest.mark.parametrize("make,field", [
    (lambda: DenseLayer(n_in=3, n_out=2, activation="swish2"), "activation"),
    (lambda: OutputLayer(n_in=3, n_out=2, activation="nope"), "activation"),
    (lambda: NeuralNetConfiguration(layers=[OutputLayer(n_in=3, n_out=2)], activation="bogus"), "activation"),
    (lambda: VariationalAutoencoder(n_in=3, n_out=2, pzx_activation="bogus",
                                    loss_function=LossFunctionWrapper()), "pzx_activation"),
    (lambda: GaussianReconstructionDistribution(activation="bogus"), "activation"),
    (lambda: LossFunctionWrapper(activation="bogus"), "activation"),
    (lambda: OutputLayer(n_in=3, n_out=2, loss="hinge2"), "loss"),
    (lambda: AutoEncoder(n_in=3, n_out=2, loss="bogus"), "loss"),
    (lambda: LossFunctionWrapper(loss="bogus"), "loss"),
    (lambda: DenseLayer(n_in=3, n_out=2, weight_init="glorot_magic"), "weight_init"),
    (lambda: NeuralNetConfiguration(layers=[OutputLayer(n_in=3, n_out=2)], weight_init="nope"), "weight_init"),
    (lambda: DenseLayer(n_in=3, n_out=2, updater="adamw"), "updater"),
    (lambda: NeuralNetConfiguration(layers=[OutputLayer(n_in=3, n_out=2)], dtype="float16"), "dtype"),
])
def test_unknown_names_raise_value_error(make, field):
    with pytest.raises(ValueError, match=field):
        make()


@pytest.mark.parametrize("kw,field", [
    (dict(n_in=3, n_out=0), "n_out"), (dict(n_in=3, n_out=-2), "n_out"),
    (dict(n_in=0, n_out=2), "n_in"), (dict(n_in=-1, n_out=2), "n_in"),
    (dict(n_in=3), "n_out"),
])
@pytest.mark.parametrize("cls", [DenseLayer, OutputLayer, AutoEncoder])
def test_bad_sizes(cls, kw, field):
    with pytest.raises(ValueError, match=field):
        cls(**kw)


@pytest.mark.parametrize("kw,field", [
    (dict(n_in="3", n_out=2), "n_in"), (dict(n_in=3, n_out=2.0), "n_out"), (dict(n_in=True, n_out=2), "n_in"),
    (dict(n_in=3, n_out=2, l2="0.1"), "l2"), (dict(n_in=3, n_out=2, name=5), "name"),
])
def test_bad_types_raise_type_error(kw, field):
    with pytest.raises(TypeError, match=field):
        DenseLayer(**kw)


def test_output_layer_not_last():
    with pytest.raises(ValueError, match=r"layers\[0\].*OutputLayer"):
        _net(OutputLayer(n_in=4, n_out=3), OutputLayer(n_in=3, n_out=2))
    with pytest.raises(ValueError, match=r"layers\[1\].*OutputLayer"):
        _net(DenseLayer(n_in=4, n_out=3), OutputLayer(n_out=3), DenseLayer(n_out=2))


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, -0.5])
@pytest.mark.parametrize("field", ["l1", "l2", "l1_bias", "l2_bias"])
def test_non_finite_or_negative_regularisation(field, value):
    with pytest.raises(ValueError, match=field):
        DenseLayer(n_in=3, n_out=2, **{field: value})
    with pytest.raises(ValueError, match=field):
        NeuralNetConfiguration(layers=[OutputLayer(n_in=3, n_out=2)], **{field: value})


@pytest.mark.parametrize("make,field", [
    (lambda: Sgd(learning_rate=-1.0), "learning_rate"),
    (lambda: Adam(beta1=1.0), "beta1"), (lambda: Adam(beta2=-0.1), "beta2"),
    (lambda: Adam(epsilon=0.0), "epsilon"), (lambda: Adam(learning_rate=math.nan), "learning_rate"),
    (lambda: Nesterovs(momentum=1.0), "momentum"), (lambda: RmsProp(rms_decay=1.5), "rms_decay"),
    (lambda: AdaGrad(epsilon=-1e-6), "epsilon"),
])
def test_bad_updater_hyper_parameters(make, field):
    with pytest.raises(ValueError, match=field):
        make()


def test_vae_needs_exactly_one_of_distribution_or_loss_function():
    with pytest.raises(ValueError, match="both"):
        VariationalAutoencoder(n_in=4, n_out=2, reconstruction_distribution=GaussianReconstructionDistribution(),
                               loss_function=LossFunctionWrapper())
    with pytest.raises(ValueError, match="neither"):
        VariationalAutoencoder(n_in=4, n_out=2)
    with pytest.raises(TypeError, match="loss_function"):
        VariationalAutoencoder(n_in=4, n_out=2, loss_function=GaussianReconstructionDistribution())
    with pytest.raises(TypeError, match="reconstruction_distribution"):
        VariationalAutoencoder(n_in=4, n_out=2, reconstruction_distribution="gaussian")


def test_bernoulli_rejects_non_probability_activation():
    for act in ("tanh", "relu", "identity", "softplus"):
        with pytest.raises(ValueError, match="activation"):
            BernoulliReconstructionDistribution(activation=act)
    assert BernoulliReconstructionDistribution("hardsigmoid").activation == "hardsigmoid"


def test_composite_sizes_must_sum_to_n_in():
    comp = CompositeReconstructionDistribution([(2, GaussianReconstructionDistribution()),
                                                (2, BernoulliReconstructionDistribution())])
    with pytest.raises(ValueError, match="n_in"):
        VariationalAutoencoder(n_in=5, n_out=2, reconstruction_distribution=comp)
    # n_in inferred from the previous layer: the network check names the layer
    with pytest.raises(ValueError, match=r"layers\[1\].*n_in=5"):
        _net(DenseLayer(n_in=3, n_out=5), VariationalAutoencoder(n_out=2, reconstruction_distribution=comp))
    ok = _net(DenseLayer(n_in=3, n_out=4), VariationalAutoencoder(n_out=2, reconstruction_distribution=comp))
    assert ok.n_in_of(1) == 4


def test_composite_bad_parts():
    with pytest.raises(ValueError, match="distributions"):
        CompositeReconstructionDistribution(())
    with pytest.raises(ValueError, match=r"distributions\[0\].size"):
        CompositeReconstructionDistribution([(0, GaussianReconstructionDistribution())])
    with pytest.raises(ValueError, match=r"distributions\[1\]"):
        CompositeReconstructionDistribution([(1, GaussianReconstructionDistribution()), (2,)])
    with pytest.raises(TypeError, match=r"distributions\[0\]"):
        CompositeReconstructionDistribution([(1, "gaussian")])


def test_vae_bad_sizes():
    lf = LossFunctionWrapper()
    with pytest.raises(ValueError, match="num_samples"):
        VariationalAutoencoder(n_in=4, n_out=2, loss_function=lf, num_samples=0)
    with pytest.raises(ValueError, match="encoder_layer_sizes"):
        VariationalAutoencoder(n_in=4, n_out=2, loss_function=lf, encoder_layer_sizes=())
    with pytest.raises(ValueError, match="decoder_layer_sizes"):
        VariationalAutoencoder(n_in=4, n_out=2, loss_function=lf, decoder_layer_sizes=[])
    with pytest.raises(ValueError, match=r"encoder_layer_sizes\[1\]"):
        VariationalAutoencoder(n_in=4, n_out=2, loss_function=lf, encoder_layer_sizes=(3, 0))
    v = VariationalAutoencoder(n_in=4, n_out=2, loss_function=lf, encoder_layer_sizes=5, decoder_layer_sizes=[3, 2])
    assert v.encoder_layer_sizes == (5,) and v.decoder_layer_sizes == (3, 2)


def test_network_level_errors():
    with pytest.raises(ValueError, match="layers"):
        NeuralNetConfiguration(layers=[])
    with pytest.raises(TypeError, match=r"layers\[1\]"):
        NeuralNetConfiguration(layers=[DenseLayer(n_in=2, n_out=2), {"n_out": 3}])
    with pytest.raises(ValueError, match="seed"):
        NeuralNetConfiguration(layers=[OutputLayer(n_in=2, n_out=2)], seed=-1)


def test_from_dict_and_json_errors_name_the_class():
    with pytest.raises(ValueError, match=r"DenseLayer.*unknown config field"):
        DenseLayer.from_dict({"n_in": 2, "n_out": 3, "units": 4})
    with pytest.raises(ValueError, match=r"AutoEncoder.*corruption_level"):
        AutoEncoder.from_dict({"n_in": 2, "n_out": 3, "corruption_level": 2.0})
    with pytest.raises(TypeError, match="DenseLayer"):
        DenseLayer.from_dict([1, 2])
    with pytest.raises(ValueError, match="not valid JSON"):
        NeuralNetConfiguration.from_json("{not json")
    with pytest.raises(ValueError, match="unknown config class"):
        NeuralNetConfiguration.from_json('{"class_name": "Conv2D", "config": {}}')
    with pytest.raises(ValueError, match="holds a DenseLayer"):
        NeuralNetConfiguration.from_json(DenseLayer(n_in=2, n_out=3).to_json())
    conf = _net(DenseLayer(n_in=4, n_out=3), OutputLayer(n_out=2))
    d = conf.to_dict()
    d["layers"][1]["config"]["n_in"] = 7
    with pytest.raises(ValueError, match=r"NeuralNetConfiguration.*layers\[1\].*n_in"):
        NeuralNetConfiguration.from_dict(d)
    # a value corrupted after construction (configs are frozen: only by going around
    # that) cannot be written as (invalid) JSON
    bad = Sgd(0.1)
    object.__setattr__(bad, "learning_rate", math.inf)
    with pytest.raises(ValueError, match="finite"):
        bad.to_json()
