"""numba_ae.validation: the one set of scalar argument checks, and its use everywhere."""
import ast
import math
import pathlib

import numpy as np
import pytest

from numba_ae import (Adam, ArrayDataSetIterator, AsyncDataSetIterator, AutoEncoder, DenseLayer,
                      MnistDataSetIterator, MultiLayerNetwork, NeuralNetConfiguration,
                      NormalizerMinMaxScaler, OutputLayer, ScoreListener, Sgd, VariationalAutoencoder)
from numba_ae.config import (BernoulliReconstructionDistribution, CompositeReconstructionDistribution,
                             GaussianReconstructionDistribution, LossFunctionWrapper)
from numba_ae.data import check_features, check_labels, mnist_arrays, one_hot
from numba_ae.updaters import AdaGrad, Nesterovs, RmsProp
from numba_ae.updaters import get as get_updater
from numba_ae.validation import (check_bool, check_choice, check_int, check_number, check_seed, check_str,
                                 describe, entries_of_one_argument)
from numba_ae.weight_init import weight_init_name


# --------------------------------------------------------------------------- check_int
@pytest.mark.parametrize("value", [0, 5, -3, np.int8(4), np.int64(7), np.uint16(2), 10 ** 30])
def test_check_int_accepts_python_and_numpy_ints(value):
    out = check_int(value, "n")
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize("value", ["3", 2.0, 1.5, np.float64(2.0), True, False, np.bool_(True), None,
                                   [1], 1j, np.array(3)])
def test_check_int_wrong_type_is_type_error(value):
    with pytest.raises(TypeError, match=r"^Owner: 'n' must be an int >= 1; got "):
        check_int(value, "n", "Owner", low=1)


def test_check_int_bounds_and_messages():
    assert check_int(1, "n", low=1, high=3) == 1 and check_int(3, "n", low=1, high=3) == 3
    with pytest.raises(ValueError, match=r"^ArrayDataSetIterator: 'batch_size' must be an int >= 1; got 0 \(int\)$"):
        check_int(0, "batch_size", "ArrayDataSetIterator", low=1)
    with pytest.raises(ValueError, match=r"^'k' must be an int in \[1, 3\]; got 4 \(int\)$"):
        check_int(4, "k", low=1, high=3)
    with pytest.raises(ValueError, match=r"'k' must be an int <= 3; got 4 \(numpy.int32\)$"):
        check_int(np.int32(4), "k", high=3)
    with pytest.raises(TypeError, match=r"^'k' must be an int; got 'a' \(str\)$"):
        check_int("a", "k")


def test_check_int_allow_none():
    assert check_int(None, "n_in", allow_none=True) is None
    with pytest.raises(TypeError, match=r"'n_in' must be None or an int >= 1; got 'x' \(str\)"):
        check_int("x", "n_in", low=1, allow_none=True)
    with pytest.raises(TypeError, match=r"'n_in' must be an int; got None \(NoneType\)"):
        check_int(None, "n_in")


# --------------------------------------------------------------------------- check_number
@pytest.mark.parametrize("value", [0, 1, 0.5, np.float32(0.25), np.float64(1e-3), np.int64(1)])
def test_check_number_accepts_reals(value):
    out = check_number(value, "x")
    assert out == float(value) and type(out) is float


@pytest.mark.parametrize("value", ["0.1", None, True, np.bool_(False), 1j, [0.1], np.array([0.1])])
def test_check_number_wrong_type_is_type_error(value):
    with pytest.raises(TypeError, match=r"^Adam: 'learning_rate' must be a finite number >= 0.0; got "):
        check_number(value, "learning_rate", "Adam", low=0.0)


@pytest.mark.parametrize("kw,value,text", [
    (dict(low=0.0), -0.1, r">= 0.0"), (dict(low=0.0, low_open=True), 0.0, r"> 0.0"),
    (dict(high=1.0), 1.5, r"<= 1.0"), (dict(high=1.0, high_open=True), 1.0, r"< 1.0"),
    (dict(low=0.0, high=1.0), 2.0, r"in \[0.0, 1.0\]"),
    (dict(low=0.0, high=1.0, high_open=True), 1, r"in \[0.0, 1.0\)"),
    (dict(low=0.0, high=1.0, low_open=True), 0, r"in \(0.0, 1.0\]"),
    (dict(), math.inf, r"a finite number"), (dict(), -math.inf, r"a finite number"),
    (dict(), math.nan, r"a finite number"), (dict(), 10 ** 400, r"a finite number"),
])
def test_check_number_bad_values_are_value_errors(kw, value, text):
    with pytest.raises(ValueError, match=r"^O: 'x' must be " + ".*" + text):
        check_number(value, "x", "O", **kw)


def test_check_number_closed_bounds_finite_and_none():
    assert check_number(0.0, "x", low=0.0, high=1.0) == 0.0
    assert check_number(1.0, "x", low=0.0, high=1.0) == 1.0
    assert check_number(math.inf, "x", finite=False) == math.inf
    with pytest.raises(ValueError, match="must be a number >= 0"):
        check_number(math.nan, "x", low=0, finite=False)
    assert check_number(None, "l1", allow_none=True) is None
    with pytest.raises(TypeError, match=r"'l1' must be None or a finite number >= 0.0; got 'a' \(str\)"):
        check_number("a", "l1", low=0.0, allow_none=True)


# --------------------------------------------------------------------------- bool, seed, str
def test_check_bool():
    assert check_bool(True, "f") is True and check_bool(np.bool_(False), "f") is False
    for bad in (0, 1, "yes", None, 1.0):
        with pytest.raises(TypeError, match=r"^X: 'shuffle' must be True or False; got "):
            check_bool(bad, "shuffle", "X")


def test_check_seed():
    assert check_seed(None) is None and check_seed(0) == 0 and check_seed(np.uint64(2 ** 63)) == 2 ** 63
    for bad in ("1", 1.5, 2.0, True, [1]):
        with pytest.raises(TypeError, match=r"^'seed' must be None or a non-negative int; got "):
            check_seed(bad)
    with pytest.raises(ValueError, match=r"^S: 'seed' must be None or a non-negative int; got -1 \(int\)$"):
        check_seed(-1, owner="S")


def test_check_str():
    assert check_str("a", "name") == "a" and check_str("", "name") == ""
    assert check_str(None, "name", allow_none=True) is None
    with pytest.raises(TypeError, match=r"'name' must be a str or None; got 5 \(int\)"):
        check_str(5, "name", allow_none=True)
    with pytest.raises(TypeError, match="must be a str;"):
        check_str(None, "name")
    with pytest.raises(ValueError, match=r"must be a str \(non-empty\); got ''"):
        check_str("", "name", allow_empty=False)


# --------------------------------------------------------------------------- choice
def test_check_choice():
    assert check_choice("mean_log", "estimator", None, ("mean_log", "log_mean_exp")) == "mean_log"
    assert check_choice("XaVier", "weight_init", None, ("xavier", "relu"), ignore_case=True) == "xavier"
    with pytest.raises(ValueError, match=r"^V: 'estimator' must be one of \['a', 'b'\]; got 'c' \(str\)$"):
        check_choice("c", "estimator", "V", ("a", "b"))
    with pytest.raises(ValueError, match="any case"):
        check_choice("C", "e", None, ("a",), ignore_case=True)
    with pytest.raises(ValueError):  # case matters unless ignore_case
        check_choice("A", "e", None, ("a",))
    for bad in (None, 1, np.float32, ["a"]):
        with pytest.raises(TypeError, match="must be one of"):
            check_choice(bad, "e", None, ("a", "b"))
    # non-string choices: membership only, and True is not the choice 1
    assert check_choice(2, "k", None, (1, 2)) == 2
    with pytest.raises(ValueError):
        check_choice(True, "k", None, (1, 2))
    with pytest.raises(ValueError):
        check_choice(np.zeros(2), "k", None, (1, 2))
    with pytest.raises(ValueError, match=r"'k' must be small; got 3"):
        check_choice(3, "k", None, (1, 2), expected="small")


def test_entries_of_one_argument_and_describe():
    with pytest.raises(ValueError, match=r"^O: state\['epoch'\] must be an int >= 0; got '1' \(str\)$"):
        with entries_of_one_argument():
            check_int("1", "state['epoch']", "O", low=0)
    assert describe(np.float32(0.5)) == "0.5 (numpy.float32)"
    assert describe("a") == "'a' (str)"
    assert len(describe("x" * 500)) < 100


def test_module_imports_nothing_from_numba_ae():
    src = pathlib.Path(__file__).resolve().parents[1] / "numba_ae" / "validation.py"
    for node in ast.walk(ast.parse(src.read_text())):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module.split(".")[0] != "numba_ae"
        elif isinstance(node, ast.Import):
            assert all(a.name.split(".")[0] != "numba_ae" for a in node.names)


# --------------------------------------------------------------------------- consistency of the entry points
def _x():
    return np.zeros((6, 3), dtype=np.float32)


def _net():
    conf = NeuralNetConfiguration(seed=0, layers=[AutoEncoder(n_in=3, n_out=2), OutputLayer(n_out=3, loss="mse")])
    return MultiLayerNetwork(conf).init()


def _vae_layer():
    conf = NeuralNetConfiguration(seed=0, layers=[VariationalAutoencoder(
        n_in=3, n_out=2, encoder_layer_sizes=(4,), decoder_layer_sizes=(4,),
        reconstruction_distribution=GaussianReconstructionDistribution())])
    return MultiLayerNetwork(conf).init().get_layer(0)


_LF = LossFunctionWrapper()
_OUT = [OutputLayer(n_in=3, n_out=2)]

#: (id, call with the argument under test set to v, a value of the wrong type, an out-of-range value)
ENTRY_POINTS = [
    ("DenseLayer.n_out", lambda v: DenseLayer(n_in=3, n_out=v), "2", 0),
    ("DenseLayer.n_in", lambda v: DenseLayer(n_in=v, n_out=2), 3.0, -1),
    ("DenseLayer.l2", lambda v: DenseLayer(n_in=3, n_out=2, l2=v), "0.1", -0.1),
    ("DenseLayer.weight_init", lambda v: DenseLayer(n_in=3, n_out=2, weight_init=v), 5, "glorot_magic"),
    ("DenseLayer.updater", lambda v: DenseLayer(n_in=3, n_out=2, updater=v), 5, "adamw"),
    ("DenseLayer.name", lambda v: DenseLayer(n_in=3, n_out=2, name=v), 5, None),
    ("OutputLayer.n_out", lambda v: OutputLayer(n_in=3, n_out=v), True, 0),
    ("AutoEncoder.corruption_level", lambda v: AutoEncoder(n_in=3, n_out=2, corruption_level=v), "0.3", 1.5),
    ("AutoEncoder.sparsity", lambda v: AutoEncoder(n_in=3, n_out=2, sparsity=v), None, -1.0),
    ("VAE.num_samples", lambda v: VariationalAutoencoder(n_in=3, n_out=2, loss_function=_LF, num_samples=v),
     "1", 0),
    ("VAE.encoder_layer_sizes", lambda v: VariationalAutoencoder(n_in=3, n_out=2, loss_function=_LF,
                                                                 encoder_layer_sizes=(4, v)), 2.0, 0),
    ("Composite.size", lambda v: CompositeReconstructionDistribution(
        [(v, GaussianReconstructionDistribution())]), "2", 0),
    ("Bernoulli.activation", lambda v: BernoulliReconstructionDistribution(activation=v), 1, "tanh"),
    ("NeuralNetConfiguration.seed", lambda v: NeuralNetConfiguration(layers=_OUT, seed=v), "0", -1),
    ("NeuralNetConfiguration.l1", lambda v: NeuralNetConfiguration(layers=_OUT, l1=v), "0", -1.0),
    ("NeuralNetConfiguration.dtype", lambda v: NeuralNetConfiguration(layers=_OUT, dtype=v), np.float32,
     "float16"),
    ("Sgd.learning_rate", lambda v: Sgd(learning_rate=v), "0.1", -1.0),
    ("Adam.learning_rate", lambda v: Adam(learning_rate=v), "1e-3", math.nan),
    ("Adam.beta1", lambda v: Adam(beta1=v), None, 1.0),
    ("Adam.epsilon", lambda v: Adam(epsilon=v), True, 0.0),
    ("Nesterovs.momentum", lambda v: Nesterovs(momentum=v), "0.9", 1.0),
    ("RmsProp.rms_decay", lambda v: RmsProp(rms_decay=v), "0.9", 1.5),
    ("AdaGrad.epsilon", lambda v: AdaGrad(epsilon=v), "1e-6", -1e-6),
    ("updaters.get.updater", lambda v: get_updater(v), 3, "adamw"),
    ("weight_init_name.weight_init", lambda v: weight_init_name(v), None, "nope"),
    ("ArrayDataSetIterator.batch_size", lambda v: ArrayDataSetIterator(_x(), batch_size=v), "a", 0),
    ("ArrayDataSetIterator.seed", lambda v: ArrayDataSetIterator(_x(), shuffle=True, seed=v), 1.5, -1),
    ("ArrayDataSetIterator.shuffle", lambda v: ArrayDataSetIterator(_x(), shuffle=v), 1, None),
    ("AsyncDataSetIterator.prefetch", lambda v: AsyncDataSetIterator(ArrayDataSetIterator(_x()), prefetch=v),
     "2", 0),
    ("MnistDataSetIterator.batch_size", lambda v: MnistDataSetIterator(v, num_examples=10), "8", 0),
    ("MnistDataSetIterator.num_examples", lambda v: MnistDataSetIterator(2, num_examples=v), 2.5, 0),
    ("MnistDataSetIterator.seed", lambda v: MnistDataSetIterator(2, num_examples=10, seed=v), "0", -5),
    ("MnistDataSetIterator.train", lambda v: MnistDataSetIterator(2, num_examples=10, train=v), "yes", None),
    ("mnist_arrays.num_examples", lambda v: mnist_arrays(num_examples=v), "10", 60001),
    ("one_hot.n_classes", lambda v: one_hot([0], v), "3", 0),
    ("check_features.n_in", lambda v: check_features(_x(), n_in=v), "3", 0),
    ("check_labels.n_examples", lambda v: check_labels(_x(), v), 6.0, -1),
    ("NormalizerMinMaxScaler.min_range", lambda v: NormalizerMinMaxScaler(min_range=v), "0", math.inf),
    ("NormalizerMinMaxScaler.max_range", lambda v: NormalizerMinMaxScaler(max_range=v), None, math.nan),
    ("ScoreListener.every_n", lambda v: ScoreListener(v), "10", 0),
    ("fit.epochs", lambda v: _net().fit((_x(), _x()), epochs=v), "1", 0),
    ("fit.batch_size", lambda v: _net().fit((_x(), _x()), batch_size=v), 2.0, 0),
    ("pretrain.epochs", lambda v: _net().pretrain((_x(),), epochs=v), 1.5, -1),
    ("pretrain.batch_size", lambda v: _net().pretrain((_x(),), batch_size=v), "2", 0),
    ("pretrain_layer.epochs", lambda v: _net().pretrain_layer(0, (_x(),), epochs=v), True, 0),
    ("vae.reconstruction_log_probability.num_samples",
     lambda v: _vae_layer().reconstruction_log_probability(_x(), num_samples=v), "2", 0),
    ("vae.log_likelihood_estimate.num_samples",
     lambda v: _vae_layer().log_likelihood_estimate(_x(), num_samples=v), 2.0, -1),
    ("vae.reconstruction_log_probability.estimator",
     lambda v: _vae_layer().reconstruction_log_probability(_x(), estimator=v), None, "mean"),
]


def _arg_name(case_id):
    return case_id.rsplit(".", 1)[-1]


@pytest.mark.parametrize("case", ENTRY_POINTS, ids=lambda c: c[0])
def test_wrong_type_is_type_error_everywhere(case):
    case_id, call, wrong_type, _ = case
    with pytest.raises(TypeError, match=_arg_name(case_id) + r".* must be .*; got "):
        call(wrong_type)


@pytest.mark.parametrize("case", [c for c in ENTRY_POINTS if c[3] is not None], ids=lambda c: c[0])
def test_wrong_value_is_value_error_everywhere(case):
    case_id, call, _, bad_value = case
    with pytest.raises(ValueError, match=_arg_name(case_id) + r".* must "):
        call(bad_value)


def test_layer_index_type_error_and_index_error():
    net = _net()
    assert net.get_layer(np.int64(-1)) is net.layers[-1]
    for bad in ("0", 0.0, True):
        with pytest.raises(TypeError, match=r"MultiLayerNetwork.get_layer: 'i' must be an int"):
            net.get_layer(bad)
    with pytest.raises(IndexError, match="layer index"):  # out of range: IndexError, as for a list
        net.get_layer(2)
