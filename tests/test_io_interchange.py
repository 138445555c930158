"""Model files (``numba_ae.io``): interchange with other tools.

A function using only h5py/json/numpy recomputes the network output / the VAE
latent mean from the file; files edited or written by other tools (newer minor
version, extra members, variable-length strings, big-endian, gzip, no updater)
load.
"""
import h5py
import numpy as np
import pytest

from numba_ae import (
    Adam,
    AutoEncoder,
    DenseLayer,
    GaussianReconstructionDistribution,
    MultiLayerNetwork,
    NeuralNetConfiguration,
    OutputLayer,
    VariationalAutoencoder,
)
from numba_ae.io import load_model

from io_helpers import assert_same_net, bits, data, trained_small


# ============================================================================ interchange (bare h5py)

def _bare_forward_ae_dense(path, x):
    """Network output recomputed with h5py + json + numpy only (no numba_ae)."""
    import json as _json

    import h5py as _h5py
    import numpy as _np
    acts = {"sigmoid": lambda z: 1 / (1 + _np.exp(-z)), "tanh": _np.tanh, "relu": lambda z: _np.maximum(z, 0),
            "identity": lambda z: z,
            "softmax": lambda z: _np.exp(z - z.max(1, keepdims=True)) / _np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)}
    with _h5py.File(path, "r") as f:
        conf = _json.loads(f.attrs["config"])["config"]
        a = _np.asarray(x, dtype=_np.float64)
        for i, layer in enumerate(conf["layers"]):
            lc = layer["config"]
            act = lc["activation"] or conf["activation"]
            W = f[f"params/layer_{i}/W"][()].astype(_np.float64)
            b = f[f"params/layer_{i}/b"][()].astype(_np.float64)
            a = acts[act](a @ W + b)  # AutoEncoder / Dense / Output alike: the encoder in the forward pass
    return a


def _bare_vae_latent_mean(path, x):
    """VAE encoder -> pZXMean recomputed with h5py + json + numpy only (no numba_ae)."""
    import json as _json

    import h5py as _h5py
    import numpy as _np
    acts = {"sigmoid": lambda z: 1 / (1 + _np.exp(-z)), "tanh": _np.tanh, "relu": lambda z: _np.maximum(z, 0),
            "identity": lambda z: z, "softplus": lambda z: _np.logaddexp(0, z)}
    with _h5py.File(path, "r") as f:
        root = _json.loads(f.attrs["config"])
        assert root["class_name"] == "NeuralNetConfiguration"
        conf = root["config"]
        vae = conf["layers"][0]
        assert vae["class_name"] == "VariationalAutoencoder"
        lc = vae["config"]
        act = acts[lc["activation"] or conf["activation"]]
        g = f["params/layer_0"]
        a = _np.asarray(x, dtype=_np.float64)
        for i in range(len(lc["encoder_layer_sizes"])):
            a = act(a @ g[f"e{i}W"][()].astype(_np.float64) + g[f"e{i}b"][()])
        return acts[lc["pzx_activation"]](a @ g["pZXMeanW"][()].astype(_np.float64) + g["pZXMeanb"][()])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bare_h5py_reader_reproduces_autoencoder_dense_output(tmp_path, dtype):
    conf = NeuralNetConfiguration(seed=2, dtype=dtype, updater=Adam(0.05), layers=[
        AutoEncoder(n_in=6, n_out=5, activation="relu"), DenseLayer(n_out=4),
        OutputLayer(n_out=3, activation="softmax")])
    net = MultiLayerNetwork(conf).init()
    x, y = data(n=10, n_in=6, dtype=dtype)
    net.pretrain(x)
    net.fit(x, y, epochs=3)
    net.save(tmp_path / "m.h5")
    ref = _bare_forward_ae_dense(str(tmp_path / "m.h5"), x)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(net.output(x), ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype,pzx,act", [("float32", "identity", "tanh"), ("float64", "sigmoid", "softplus")])
def test_bare_h5py_reader_reproduces_vae_latent_mean(tmp_path, dtype, pzx, act):
    conf = NeuralNetConfiguration(seed=4, dtype=dtype, updater=Adam(0.05), activation=act, layers=[
        VariationalAutoencoder(n_in=7, n_out=3, encoder_layer_sizes=(6, 5), decoder_layer_sizes=(5, 6),
                               pzx_activation=pzx, reconstruction_distribution=GaussianReconstructionDistribution())])
    net = MultiLayerNetwork(conf).init()
    x, _ = data(n=9, n_in=7, dtype=dtype)
    net.pretrain(x, epochs=3)
    net.save(tmp_path / "vae.h5")
    ref = _bare_vae_latent_mean(str(tmp_path / "vae.h5"), x)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(net.get_layer(0).activate(x), ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(net.output(x), ref, rtol=tol, atol=tol)


def test_newer_minor_version_and_unknown_extras_are_accepted(tmp_path):
    net, path, x, y = trained_small(tmp_path)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = "1.7"
        f.attrs["future_attribute"] = "something new"
        f.create_group("future_group").create_dataset("z", data=[1, 2, 3])
    assert_same_net(net, load_model(path), x, y)


def test_files_written_by_other_tools_load(tmp_path):
    """Variable-length string attrs, contiguous big-endian datasets, gzip: all accepted."""
    net, path, x, y = trained_small(tmp_path)
    with h5py.File(path, "r+") as f:
        for key in ("format", "format_version", "config", "training_state"):
            f.attrs[key] = f.attrs[key].decode()
        w = f["params/layer_0/W"][()]
        del f["params/layer_0/W"]
        f.create_dataset("params/layer_0/W", data=w.astype(">f4"))
        b = f["params/layer_1/b"][()]
        del f["params/layer_1/b"]
        f.create_dataset("params/layer_1/b", data=b, compression="gzip", shuffle=True)
        del f["updater"]  # inference-only file from elsewhere
        del f["pretrain_updater"]
    loaded = load_model(path)
    assert bits(loaded.params()) == bits(net.params())
    assert loaded.training_state()["updater_steps"] == [0, 0]
