"""Every registered activation, built in or user-defined, through every layer slot:
Dense/Output, AutoEncoder, VAE hidden layers, ``pzx_activation`` and the reconstruction
distribution's activation, with float64 gradient checks of fit and pretrain (the
harness), config round trips and model files; plus ``register_activation`` itself."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba import njit

from harness import check_fit_gradient, check_layer, check_pretrain_gradient, make_net
from reference import ref_act
from numba_ae import (AutoEncoder, DenseLayer, GaussianReconstructionDistribution, LossFunctionWrapper,
                      MultiLayerNetwork, OutputLayer, VariationalAutoencoder,
                      register_activation, unregister_activation)
from numba_ae.kernels import activations as ka
from numba_ae.registries import ACTIVATIONS


@njit
def softsign(v):
    return v / (type(v)(1.0) + abs(v))


@njit
def softsign_d(pre, out):
    d = type(pre)(1.0) + abs(pre)
    return type(pre)(1.0) / (d * d)


@pytest.fixture
def user_act():
    """A user-defined activation registered for one test (softsign)."""
    register_activation("softsign_t", softsign, softsign_d)
    yield "softsign_t"
    unregister_activation("softsign_t")


ALL = list(ka.NAMES)
ELEMENTWISE = [n for n in ALL if n != "softmax"]


def _data(rng, n=4, d=3):
    return rng.uniform(-1.5, 1.5, (n, d))


@pytest.mark.parametrize("name", ALL)
def test_dense_and_output_layers(name):
    rng = np.random.default_rng(1)
    x = _data(rng)
    check_layer(DenseLayer(n_in=3, n_out=4, activation=name), 3, x, rng=rng)
    net = make_net([DenseLayer(n_in=3, n_out=3, activation="tanh"),
                    OutputLayer(n_out=2, activation=name, loss="mse")])
    check_fit_gradient(net, x, rng.normal(size=(4, 2)), rng, f"OutputLayer({name})")


@pytest.mark.parametrize("name", ALL)
def test_autoencoder(name):
    rng = np.random.default_rng(2)
    x = rng.uniform(0.0, 1.0, (4, 3))
    check_layer(AutoEncoder(n_in=3, n_out=2, activation=name, corruption_level=0.3, sparsity=0.1, loss="mse"),
                3, x, rng=rng)


@pytest.mark.parametrize("name", ALL)
def test_vae_hidden_and_pzx(name):
    rng = np.random.default_rng(3)
    x = _data(rng)
    vae = VariationalAutoencoder(n_in=3, n_out=2, encoder_layer_sizes=(3,), decoder_layer_sizes=(3,),
                                 activation=name, pzx_activation=name if name != "softmax" else "identity",
                                 reconstruction_distribution=GaussianReconstructionDistribution("identity"))
    check_layer(vae, 3, x, rng=rng)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_reconstruction_activation(name):
    rng = np.random.default_rng(4)
    x = _data(rng)
    for dist in (GaussianReconstructionDistribution(name), LossFunctionWrapper(name, "mse")):
        kw = {"loss_function": dist} if isinstance(dist, LossFunctionWrapper) else \
            {"reconstruction_distribution": dist}
        net = make_net([VariationalAutoencoder(n_in=3, n_out=2, encoder_layer_sizes=(3,), decoder_layer_sizes=(3,),
                                               activation="tanh", **kw),
                        OutputLayer(n_out=2, activation="identity", loss="mse")])
        check_pretrain_gradient(net, 0, x, rng, f"{type(dist).__name__}({name})")


def test_user_activation_everywhere(user_act):
    rng = np.random.default_rng(5)
    x = _data(rng)
    assert user_act in ACTIVATIONS
    act = ka.get(user_act)
    z = rng.normal(size=(3, 4))
    out = np.empty_like(z)
    act.map(z, out)
    np.testing.assert_allclose(out, z / (1 + np.abs(z)), rtol=1e-15)
    check_layer(DenseLayer(n_in=3, n_out=4, activation=user_act), 3, x, rng=rng)
    check_layer(AutoEncoder(n_in=3, n_out=2, activation=user_act, corruption_level=0.2), 3,
                rng.uniform(0, 1, (4, 3)), rng=rng)
    check_layer(VariationalAutoencoder(
        n_in=3, n_out=2, encoder_layer_sizes=(3,), decoder_layer_sizes=(3,), activation=user_act,
        pzx_activation=user_act, reconstruction_distribution=GaussianReconstructionDistribution(user_act)),
        3, x, rng=rng)
    net = make_net([DenseLayer(n_in=3, n_out=3, activation="tanh"),
                    OutputLayer(n_out=2, activation=user_act, loss="mse")])
    check_fit_gradient(net, x, rng.normal(size=(4, 2)), rng, "OutputLayer(user)")


def test_user_activation_case_and_aliases(user_act):
    assert DenseLayer(n_out=2, activation="SOFTSIGN_T").activation == user_act


def test_plain_python_functions_are_compiled():
    register_activation("cube_t", lambda v: v * v * v, lambda pre, out: 3.0 * pre * pre)
    try:
        z = np.linspace(-2, 2, 7)[None, :]
        a = np.empty_like(z)
        ka.get("cube_t").map(z, a)
        np.testing.assert_allclose(a, z ** 3)
        d = np.ones_like(z)
        ka.get("cube_t").backward(z, a, d)
        np.testing.assert_allclose(d, 3 * z ** 2)
    finally:
        unregister_activation("cube_t")


def test_register_rejects_bad_input(user_act):
    with pytest.raises(ValueError, match="built-in"):
        register_activation("relu", softsign, softsign_d)
    with pytest.raises(ValueError, match="alias"):
        register_activation("linear", softsign, softsign_d)
    with pytest.raises(ValueError, match="already registered"):
        register_activation(user_act, softsign, softsign_d)
    register_activation(user_act, softsign, softsign_d, overwrite=True)
    with pytest.raises(ValueError, match="lower-case identifier"):
        register_activation("Bad Name", softsign, softsign_d)
    with pytest.raises(TypeError, match="'name'"):
        register_activation(3, softsign, softsign_d)
    with pytest.raises(TypeError, match="'forward' must be a scalar function"):
        register_activation("x_t", 3.0, softsign_d)
    with pytest.raises(TypeError, match="must return scalars"):
        register_activation("x_t", lambda v: {"a": v}, softsign_d)
    with pytest.raises(TypeError, match="must compile with Numba"):
        register_activation("x_t", lambda v: v.nonexistent_attribute, softsign_d)
    with pytest.raises(TypeError, match="must compile with Numba"):
        register_activation("x_t", softsign, lambda pre: pre)   # wrong arity
    with pytest.raises(TypeError, match="'needs_pre'"):
        register_activation("x_t", softsign, softsign_d, needs_pre="yes")
    assert "x_t" not in ACTIVATIONS
    with pytest.raises(ValueError, match="built-in"):
        unregister_activation("tanh")


def test_unregistered_activation_in_config_and_file(user_act, tmp_path):
    net = make_net([DenseLayer(n_in=3, n_out=2, activation=user_act),
                    OutputLayer(n_out=2, activation="identity", loss="mse")])
    path = tmp_path / "user.h5"
    net.save(path)
    back = MultiLayerNetwork.load(path)          # registered here: loads
    x = np.random.default_rng(0).normal(size=(2, 3))
    np.testing.assert_array_equal(back.output(x), net.output(x))
    # another process that has not registered the name: a ModelFormatError saying what to register
    code = textwrap.dedent(f"""
        import numba_ae
        try:
            numba_ae.load_model({str(path)!r})
        except numba_ae.ModelFormatError as e:
            print("MFE", e)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "MFE" in r.stdout, r.stdout + r.stderr
    assert user_act in r.stdout and "register_activation" in r.stdout
    with pytest.raises(ValueError, match="register_activation"):
        DenseLayer(n_out=2, activation="not_registered_anywhere")


def test_new_builtins_match_references():
    z = np.linspace(-6, 6, 49)[None, :]
    for name in ("gelu", "gelu_exact", "silu", "mish"):
        a = np.empty_like(z)
        ka.get(name).map(z, a)
        np.testing.assert_allclose(a, ref_act(name, z), rtol=1e-13, atol=1e-15)
    # gelu (tanh form) is within 1e-3 of the exact form; at 0 both are 0 with slope 1/2
    a1, a2 = np.empty_like(z), np.empty_like(z)
    ka.get("gelu").map(z, a1)
    ka.get("gelu_exact").map(z, a2)
    assert np.max(np.abs(a1 - a2)) < 1e-3
    d = np.ones((1, 1))
    ka.get("gelu_exact").backward(np.zeros((1, 1)), np.zeros((1, 1)), d)
    assert d[0, 0] == pytest.approx(0.5, rel=1e-15)


def test_activation_pickles_by_name(user_act):
    import pickle
    assert pickle.loads(pickle.dumps(ka.get("gelu"))) is ka.get("gelu")
    assert pickle.loads(pickle.dumps(ka.get(user_act))) is ka.get(user_act)
