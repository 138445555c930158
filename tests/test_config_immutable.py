"""Configs are immutable after construction: assignment raises, list-valued fields
are tuples, edits go through the validating ``replace``; a network's config can
therefore never drift from what it trains with or what it writes to a model file."""
import dataclasses
import json

import numpy as np
import pytest

from numba_ae import (
    AdaGrad,
    Adam,
    AutoEncoder,
    BernoulliReconstructionDistribution,
    CompositeReconstructionDistribution,
    DenseLayer,
    ExponentialReconstructionDistribution,
    GaussianReconstructionDistribution,
    LossFunctionWrapper,
    MultiLayerNetwork,
    Nesterovs,
    NeuralNetConfiguration,
    OutputLayer,
    RmsProp,
    Sgd,
    VariationalAutoencoder,
)
from numba_ae._serial import ConfigBase

DIST_CASES = [
    GaussianReconstructionDistribution("tanh"),
    BernoulliReconstructionDistribution("sigmoid"),
    ExponentialReconstructionDistribution("identity"),
    LossFunctionWrapper("sigmoid", "xent"),
    CompositeReconstructionDistribution(((2, GaussianReconstructionDistribution()),
                                         (3, BernoulliReconstructionDistribution()))),
]
UPDATER_CASES = [Sgd(0.1), Adam(0.01), Nesterovs(0.1, 0.5), RmsProp(0.01), AdaGrad(0.1)]
LAYER_CASES = [
    DenseLayer(n_in=5, n_out=4, activation="relu", updater=Adam(0.01), l2=1e-4, name="d"),
    OutputLayer(n_in=4, n_out=3, loss="mse"),
    AutoEncoder(n_in=5, n_out=4, corruption_level=0.2, sparsity=0.1),
    VariationalAutoencoder(n_in=5, n_out=2, encoder_layer_sizes=(6, 4), decoder_layer_sizes=[4],
                           reconstruction_distribution=DIST_CASES[-1]),
]


def _net_conf():
    return NeuralNetConfiguration(
        layers=[AutoEncoder(n_in=5, n_out=4, corruption_level=0.3, updater=Adam(0.01)),
                VariationalAutoencoder(n_out=2, encoder_layer_sizes=[3], decoder_layer_sizes=[3],
                                       reconstruction_distribution=CompositeReconstructionDistribution(
                                           [(1, GaussianReconstructionDistribution()),
                                            (3, BernoulliReconstructionDistribution())])),
                OutputLayer(n_out=3, loss="mse", activation="identity")],
        seed=7, updater=Sgd(0.05))


def _all_configs():
    """One instance of every config class, the nested ones reached through a network config."""
    conf = _net_conf()
    vae = conf.layers[1]
    out = [conf, conf.layers[0], vae, conf.layers[2], vae.reconstruction_distribution,
           vae.reconstruction_distribution.distributions[0][1], conf.updater, conf.layers[0].updater]
    return out + DIST_CASES + UPDATER_CASES + LAYER_CASES


def _config_classes():
    """Every concrete config class (DenseLayer, ..., Sgd, ...) defined in the package."""
    return {type(c) for c in _all_configs()}


def test_every_config_class_is_covered():
    names = {c.__name__ for c in _config_classes()}
    expected = {"NeuralNetConfiguration", "DenseLayer", "OutputLayer", "AutoEncoder", "VariationalAutoencoder",
                "GaussianReconstructionDistribution", "BernoulliReconstructionDistribution",
                "ExponentialReconstructionDistribution", "LossFunctionWrapper",
                "CompositeReconstructionDistribution", "Sgd", "Adam", "Nesterovs", "RmsProp", "AdaGrad"}
    assert expected <= names


@pytest.mark.parametrize("obj", _all_configs(), ids=lambda o: type(o).__name__)
def test_assigning_any_field_raises(obj):
    before = obj.to_json()
    for f in dataclasses.fields(obj):
        with pytest.raises(dataclasses.FrozenInstanceError, match=r"immutable.*replace"):
            setattr(obj, f.name, getattr(obj, f.name))
        with pytest.raises(AttributeError):  # FrozenInstanceError is an AttributeError
            delattr(obj, f.name)
    with pytest.raises(AttributeError):
        obj.not_a_field = 1
    assert obj.to_json() == before


@pytest.mark.parametrize("obj", _all_configs(), ids=lambda o: type(o).__name__)
def test_configs_are_hashable_and_hold_no_mutable_containers(obj):
    assert hash(obj) == hash(type(obj).from_json(obj.to_json()))

    def walk(v):
        assert not isinstance(v, (list, dict, set, np.ndarray)), f"mutable {type(v).__name__} in {obj!r}"
        if isinstance(v, tuple):
            for x in v:
                walk(x)
        elif isinstance(v, ConfigBase):
            for f in dataclasses.fields(v):
                walk(getattr(v, f.name))

    walk(obj)


def test_sequences_are_stored_as_tuples():
    conf = _net_conf()
    assert isinstance(conf.layers, tuple)
    with pytest.raises(AttributeError):
        conf.layers.append(DenseLayer(n_out=2))
    with pytest.raises(TypeError):
        conf.layers[0] = DenseLayer(n_in=5, n_out=4)
    vae = conf.layers[1]
    assert vae.encoder_layer_sizes == (3,) and isinstance(vae.decoder_layer_sizes, tuple)
    comp = vae.reconstruction_distribution
    assert isinstance(comp.distributions, tuple)
    assert all(isinstance(p, tuple) for p in comp.distributions)
    with pytest.raises(TypeError):
        comp.distributions[0][0] = 5
    # a list handed in is copied, so mutating it later changes nothing
    sizes = [6, 4]
    layers = [DenseLayer(n_in=2, n_out=3), OutputLayer(n_out=1)]
    v = VariationalAutoencoder(n_in=5, n_out=2, encoder_layer_sizes=sizes,
                               reconstruction_distribution=GaussianReconstructionDistribution())
    c = NeuralNetConfiguration(layers=layers)
    sizes.append(1)
    layers.append(OutputLayer(n_out=9))
    assert v.encoder_layer_sizes == (6, 4) and len(c.layers) == 2


@pytest.mark.parametrize("obj", _all_configs(), ids=lambda o: type(o).__name__)
def test_replace_with_no_changes_is_an_equal_new_object(obj):
    new = obj.replace()
    assert new == obj and new is not obj and new.to_json() == obj.to_json()


def test_replace_returns_a_validated_new_object_and_leaves_the_original():
    ae = AutoEncoder(n_in=5, n_out=4, corruption_level=0.3)
    new = ae.replace(corruption_level=0.5, activation="ReLU")
    assert (new.corruption_level, new.activation) == (0.5, "relu")  # normalised by the constructor
    assert (ae.corruption_level, ae.activation) == (0.3, None)
    with pytest.raises(ValueError, match=r"AutoEncoder.*corruption_level"):
        ae.replace(corruption_level=2.0)
    with pytest.raises(ValueError, match="n_out"):
        ae.replace(n_out=0)
    with pytest.raises(TypeError, match=r"AutoEncoder.*unknown config field.*units"):
        ae.replace(units=3)
    with pytest.raises(ValueError, match="learning_rate"):
        Adam().replace(learning_rate=-1.0)
    with pytest.raises(ValueError, match="pair"):
        DIST_CASES[-1].replace(distributions=[(2,)])
    assert ae.corruption_level == 0.3


def test_replace_on_a_network_config_checks_the_layer_stack():
    conf = _net_conf()
    with pytest.raises(ValueError, match=r"layers\[2\].*n_in"):
        conf.replace(layers=conf.layers[:2] + (conf.layers[2].replace(n_in=9),))
    with pytest.raises(ValueError, match=r"layers\[2\].*n_in"):
        conf.replace_layer(2, n_in=9)
    with pytest.raises(ValueError, match=r"composite.*sum"):
        conf.replace(layers=(conf.layers[0].replace(n_out=3),) + conf.layers[1:])
    edited = conf.replace_layer(0, corruption_level=0.1)
    assert edited.layers[0].corruption_level == 0.1 and conf.layers[0].corruption_level == 0.3
    assert edited.layers[1:] == conf.layers[1:]
    with pytest.raises(ValueError, match="corruption_level"):
        conf.replace_layer(0, corruption_level=-0.1)
    with pytest.raises(IndexError):
        conf.replace_layer(5, n_out=2)


@pytest.mark.parametrize("obj", _all_configs(), ids=lambda o: type(o).__name__)
def test_json_round_trip_is_still_exact(obj):
    text = obj.to_json()
    back = type(obj).from_json(text)
    assert back == obj and back.to_json() == text
    assert json.loads(back.to_json()) == json.loads(text)


def test_network_config_cannot_change_under_a_running_network(tmp_path):
    """The reliability regression: assigning ``corruption_level`` after ``init`` used to be
    ignored by training but written to the model file, which ``load`` then refused."""
    conf = NeuralNetConfiguration(layers=[AutoEncoder(n_in=6, n_out=4, corruption_level=0.3),
                                          OutputLayer(n_out=2, loss="mse", activation="identity")],
                                  seed=3, updater=Sgd(0.1))
    net = MultiLayerNetwork(conf).init()
    rng = np.random.default_rng(0)
    x = rng.random((8, 6)).astype(np.float32)
    y = rng.random((8, 2)).astype(np.float32)
    net.fit(x, y)
    with pytest.raises(AttributeError):
        net.conf.layers[0].corruption_level = 2.0
    with pytest.raises(AttributeError):
        net.conf.layers[0].n_in = 3
    with pytest.raises(AttributeError):
        conf.layers = conf.layers[:1]
    edited = conf.replace(layers=(conf.layers[0].replace(corruption_level=0.9),) + conf.layers[1:])
    assert edited.layers[0].corruption_level == 0.9
    assert net.conf is conf and net.conf.layers[0].corruption_level == 0.3
    assert net.layers[0].corruption_level == 0.3
    net.fit(x, y)  # still trains with the config it was built from
    net.pretrain(x)
    path = tmp_path / "m.h5"
    net.save(path)
    loaded = MultiLayerNetwork.load(path)
    assert loaded.conf == conf and loaded.conf.to_json() == conf.to_json()
    np.testing.assert_array_equal(loaded.params(), net.params())
    np.testing.assert_array_equal(loaded.output(x), net.output(x))
    # the edited config builds a network of its own
    other = MultiLayerNetwork(edited).init()
    assert other.layers[0].corruption_level == 0.9
