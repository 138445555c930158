"""The layer parameters ``dropout``, ``bias_init``, ``gradient_normalization`` and
``gradient_normalization_threshold`` as configuration: defaults, per-layer overrides,
validation, exact JSON/dict round trips, model files (with and without the fields), and
``bias_init`` at initialisation (the behaviour of the other two is tested in
``test_dropout.py`` and ``test_gradient_normalization.py``)."""
import dataclasses
import inspect
import json
import os

import numpy as np
import pytest

from harness import check_fit_gradient, fd_grad, make_net, param_names, score_fn
from reference import assert_grad_close
from numba_ae import (AutoEncoder, DenseLayer, GaussianReconstructionDistribution, MultiLayerNetwork,
                      NeuralNetConfiguration, OutputLayer, VariationalAutoencoder)
from numba_ae.config import LAYER_TYPES, LayerConfig
from numba_ae.gradient_normalization import GRADIENT_NORMALIZATIONS
from numba_ae.io import load_model

FIELDS = ("dropout", "bias_init", "gradient_normalization", "gradient_normalization_threshold")
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def vae(**kw):
    kw = {"n_in": 4, **kw}
    return VariationalAutoencoder(n_out=2, encoder_layer_sizes=(3,), decoder_layer_sizes=(3,),
                                  reconstruction_distribution=GaussianReconstructionDistribution(), **kw)


def conf_of(*layers, **kw):
    return NeuralNetConfiguration(layers=list(layers), **kw)


# ============================================================================ defaults and overrides

def test_defaults_reproduce_the_old_behaviour():
    conf = conf_of(DenseLayer(n_in=3, n_out=2))
    assert (conf.dropout, conf.bias_init, conf.gradient_normalization, conf.gradient_normalization_threshold) \
        == (0.0, 0.0, None, 1.0)
    for cls in LAYER_TYPES:
        assert all(f.default is None for f in dataclasses.fields(cls) if f.name in FIELDS)
    assert conf.resolved(0, "dropout") == 0.0 and conf.resolved(0, "gradient_normalization") is None


def test_fields_are_keyword_only_and_positional_signatures_are_unchanged():
    for cls in LAYER_TYPES + (NeuralNetConfiguration,):
        params = inspect.signature(cls).parameters
        assert all(params[f].kind is inspect.Parameter.KEYWORD_ONLY for f in FIELDS)
    assert OutputLayer(4, 2).n_in == 4  # n_in, n_out stay the first positional arguments
    assert [p for p in inspect.signature(OutputLayer).parameters][-1] == "gradient_normalization_threshold"


def test_layer_overrides_resolve():
    conf = conf_of(DenseLayer(n_in=3, n_out=2, dropout=0.1, bias_init=-0.5, gradient_normalization="none"),
                   OutputLayer(n_out=2, gradient_normalization_threshold=3.0),
                   dropout=0.4, bias_init=0.25, gradient_normalization="clip_l2_per_layer",
                   gradient_normalization_threshold=2.0)
    assert [conf.resolved(i, "dropout") for i in (0, 1)] == [0.1, 0.4]
    assert [conf.resolved(i, "bias_init") for i in (0, 1)] == [-0.5, 0.25]
    assert [conf.resolved(i, "gradient_normalization") for i in (0, 1)] == ["none", "clip_l2_per_layer"]
    assert [conf.resolved(i, "gradient_normalization_threshold") for i in (0, 1)] == [2.0, 3.0]


def test_mode_names():
    # DL4J's enum spellings, any case, are stored as the snake-case names
    for dl4j, ours in [("RenormalizeL2PerLayer", "renormalize_l2_per_layer"),
                       ("RenormalizeL2PerParamType", "renormalize_l2_per_param_type"),
                       ("ClipElementWiseAbsoluteValue", "clip_element_wise_absolute_value"),
                       ("ClipL2PerLayer", "clip_l2_per_layer"), ("CLIP_L2_PER_PARAM_TYPE", "clip_l2_per_param_type"),
                       ("None", "none")]:
        assert DenseLayer(n_out=2, gradient_normalization=dl4j).gradient_normalization == ours
    # on the network "none" and None are one value (off); on a layer "none" overrides, None inherits
    assert conf_of(DenseLayer(n_in=2, n_out=2), gradient_normalization="none").gradient_normalization is None


# ============================================================================ validation

@pytest.mark.parametrize("owner", ["layer", "network"])
@pytest.mark.parametrize("field, value, exc, match", [
    ("dropout", 1.0, ValueError, r"'dropout' must be .*\[0\.0, 1\.0\)"),
    ("dropout", -0.1, ValueError, "'dropout'"),
    ("dropout", float("nan"), ValueError, "'dropout'"),
    ("dropout", "0.5", TypeError, "'dropout'"),
    ("dropout", True, TypeError, "'dropout'"),
    ("bias_init", float("inf"), ValueError, "'bias_init' must be .*finite"),
    ("bias_init", "0", TypeError, "'bias_init'"),
    ("gradient_normalization", "clip", ValueError,
     r"'gradient_normalization' must be .*renormalize_l2_per_layer.*clip_l2_per_param_type"),
    ("gradient_normalization", 1, TypeError, "'gradient_normalization'"),
    ("gradient_normalization_threshold", 0.0, ValueError, r"'gradient_normalization_threshold' must be .*> 0"),
    ("gradient_normalization_threshold", -1.0, ValueError, "'gradient_normalization_threshold'"),
    ("gradient_normalization_threshold", float("inf"), ValueError, "'gradient_normalization_threshold'"),
])
def test_bad_values_name_the_field(owner, field, value, exc, match):
    with pytest.raises(exc, match=match):
        if owner == "layer":
            DenseLayer(n_in=2, n_out=2, **{field: value})
        else:
            conf_of(DenseLayer(n_in=2, n_out=2), **{field: value})


def test_network_fields_are_not_none():
    for f in ("dropout", "bias_init", "gradient_normalization_threshold"):
        with pytest.raises(TypeError, match=f"NeuralNetConfiguration: '{f}'"):
            conf_of(DenseLayer(n_in=2, n_out=2), **{f: None})


def test_every_layer_kind_validates_the_fields():
    for make in (lambda **k: DenseLayer(n_out=2, **k), lambda **k: OutputLayer(n_out=2, **k),
                 lambda **k: AutoEncoder(n_out=2, **k), vae):
        assert make(dropout=0.5).dropout == 0.5
        with pytest.raises(ValueError, match="dropout"):
            make(dropout=1.5)


# ============================================================================ serialisation

def test_fields_at_their_defaults_are_left_out_of_the_dict():
    conf = conf_of(DenseLayer(n_in=3, n_out=2), OutputLayer(n_out=2))
    d = conf.to_dict()
    assert not set(FIELDS) & set(d)
    assert all(not set(FIELDS) & set(layer["config"]) for layer in d["layers"])
    # explicitly passing the defaults is the same config, written the same way
    same = conf_of(DenseLayer(n_in=3, n_out=2, dropout=None), OutputLayer(n_out=2), dropout=0.0, bias_init=-0.0,
                   gradient_normalization=None, gradient_normalization_threshold=1.0)
    assert same == conf and same.to_json() == conf.to_json()
    assert str(same.bias_init) == "0.0"  # -0.0 is stored as 0.0 (biases start at +0.0 bitwise)


@pytest.mark.parametrize("kw", [
    dict(dropout=0.5), dict(bias_init=-1.5), dict(gradient_normalization="clip_l2_per_param_type"),
    dict(gradient_normalization_threshold=0.25),
    dict(dropout=0.2, bias_init=0.1, gradient_normalization="renormalize_l2_per_layer",
         gradient_normalization_threshold=5.0),
])
def test_round_trips_exactly(kw):
    layers = [DenseLayer(n_in=4, n_out=3, **kw), AutoEncoder(n_out=4, **kw),
              DenseLayer(n_out=4, gradient_normalization="none"), OutputLayer(n_out=2, **kw)]
    conf = NeuralNetConfiguration(layers=layers, **kw)
    assert conf.layers[2].to_dict()["gradient_normalization"] == "none"
    for obj in [conf, vae(**kw)] + layers[:2] + layers[3:]:
        d = obj.to_dict()
        for k, v in kw.items():
            assert d[k] == v
        assert type(obj).from_dict(json.loads(json.dumps(d))) == obj
        assert type(obj).from_json(obj.to_json()) == obj
        assert type(obj).from_json(obj.to_json()).to_json() == obj.to_json()


def test_a_dict_without_the_fields_loads_with_the_defaults():
    d = conf_of(DenseLayer(n_in=3, n_out=2)).to_dict()
    conf = NeuralNetConfiguration.from_dict(d)
    assert conf.dropout == 0.0 and conf.layers[0].bias_init is None


@pytest.mark.parametrize("name", ["classifier", "autoencoder", "vae"])
def test_v0_1_files_load_with_the_defaults(name):
    net = load_model(os.path.join(DATA, f"v0_1_{name}.h5"))
    c = net.conf
    assert (c.dropout, c.bias_init, c.gradient_normalization, c.gradient_normalization_threshold) \
        == (0.0, 0.0, None, 1.0)
    assert all(getattr(layer, f) is None for layer in c.layers for f in FIELDS)


def test_model_file_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(10, 4)), rng.normal(size=(10, 2))
    net = make_net([DenseLayer(n_in=4, n_out=3, dropout=0.3, bias_init=0.5),
                    OutputLayer(n_out=2, loss="mse", gradient_normalization="clip_element_wise_absolute_value",
                                gradient_normalization_threshold=0.05)],
                   seed=1, gradient_normalization="clip_l2_per_layer", gradient_normalization_threshold=0.5,
                   bias_init=-0.25)
    net.fit((x, y), batch_size=4)
    path = str(tmp_path / "m.h5")
    net.save(path)
    back = MultiLayerNetwork.load(path)
    assert back.conf == net.conf
    for n in (net, back):
        n.fit((x, y), epochs=2, batch_size=4)
    assert back.params().tobytes() == net.params().tobytes()


# ============================================================================ bias_init

@pytest.mark.parametrize("value", [0.0, 0.5, -2.0])
def test_bias_init_sets_every_bias_and_draws_nothing(value):
    layers = [DenseLayer(n_in=4, n_out=3), AutoEncoder(n_out=4), vae(n_in=None), OutputLayer(n_out=2)]
    net = make_net(layers, seed=2, bias_init=value)
    plain = make_net(layers, seed=2)
    biases = 0
    for layer, other in zip(net.layers, plain.layers):
        for name, _, is_bias in layer.param_specs():
            if is_bias:
                assert np.all(layer.params[name] == value), (layer, name)
                biases += 1
            else:  # weights: the same draws as without bias_init (the RNG stream is unchanged)
                assert layer.params[name].tobytes() == other.params[name].tobytes()
    assert biases == 1 + 2 + 5 + 1   # Dense b; AE b, vb; VAE e0b, pZXMeanb, pZXLogStd2b, d0b, pXZb; Output b
    assert net._rng.bit_generator.state == plain._rng.bit_generator.state


def test_bias_init_per_layer_and_float32():
    net = make_net([DenseLayer(n_in=3, n_out=2, bias_init=1.0), OutputLayer(n_out=2)], seed=3,
                   dtype="float32", bias_init=0.1)
    assert np.all(net.layers[0].params["b"] == 1.0)
    assert np.all(net.layers[1].params["b"] == np.float32(0.1))
    assert net.layers[1].params["b"].dtype == np.float32


def test_fit_gradient_at_an_initialisation_with_bias_init():
    """The gradient at the initial parameters (biases at bias_init, not 0) against central differences."""
    rng = np.random.default_rng(4)
    net = make_net([DenseLayer(n_in=4, n_out=3, activation="tanh"), OutputLayer(n_out=2, activation="identity",
                                                                                loss="mse")],
                   seed=5, bias_init=0.7)
    x, y = rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
    p = net.params()
    assert np.all(net.layers[0].params["b"] == 0.7)
    net.fit((x, y))
    g = p - net.params()
    assert_grad_close(g, fd_grad(score_fn(net, (x, y)), p), "bias_init fit", names=param_names(net))
    check_fit_gradient(net, x, y, rng, "bias_init fit, random parameters")
