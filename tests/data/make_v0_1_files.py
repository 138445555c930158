"""Generate the 0.1.x model files that ``tests/test_io_compat.py`` loads.

This script was run ONCE on the 0.1.x code (git commit 99e6760, before the
``numba_ae.io`` split).  Its outputs (``v0_1_*.h5`` model files and, next to
each, ``v0_1_*.npz`` with the inputs, the expected outputs and the expected
state after one more training step) are committed.  Do NOT re-run it on later
code: the point of the files is that they were written by the old writer, so
regenerating them would only test the new code against itself.

Each ``.npz`` holds:

* ``x`` (and ``y`` for supervised nets): the inputs;
* ``output``: ``net.output(x)`` of the saved network;
* ``params``: ``net.params()`` of the saved network;
* ``training_state``: ``json.dumps(net.training_state())`` of the saved network;
* ``upd/<layer>/<fit|pretrain>/<param>/<state>``: its updater state arrays;
* ``next_params`` / ``next_score`` / ``next_output``: the result of ``step`` (below)
  applied to the saved network right after saving (equal to what a loaded copy
  must give, since loading restores the RNG and the updater state);
* ``normalized`` (when a normalizer is stored): ``normalizer.transform(x)``.

Usage (from the repository root, on 0.1.x only)::

    PYTHONPATH=. python tests/data/make_v0_1_files.py
"""
import json
import os

import numpy as np

from numba_ae import (
    Adam,
    AutoEncoder,
    BernoulliReconstructionDistribution,
    CompositeReconstructionDistribution,
    DenseLayer,
    GaussianReconstructionDistribution,
    MultiLayerNetwork,
    NeuralNetConfiguration,
    OutputLayer,
    RmsProp,
    VariationalAutoencoder,
)
from numba_ae.data import NormalizerMinMaxScaler, NormalizerStandardize

HERE = os.path.dirname(os.path.abspath(__file__))


def classifier():
    """DenseLayer + OutputLayer, Adam, float32, trained 4 steps; with a NormalizerStandardize."""
    rng = np.random.default_rng(10)
    x = rng.random((8, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    conf = NeuralNetConfiguration(seed=21, dtype="float32", updater=Adam(0.01), layers=[
        DenseLayer(n_in=4, n_out=5, activation="tanh"),
        OutputLayer(n_out=3, activation="softmax", loss="mcxent")])
    net = MultiLayerNetwork(conf).init()
    net.fit(x, y, epochs=2, batch_size=4)
    norm = NormalizerStandardize()
    norm.fit(x)
    return net, x, y, norm, lambda n: n.fit(x, y)


def autoencoder():
    """AutoEncoder (denoising) + OutputLayer, RmsProp, float64, pretrained then fitted."""
    rng = np.random.default_rng(11)
    x = rng.random((6, 5))
    y = rng.random((6, 2))
    conf = NeuralNetConfiguration(seed=22, dtype="float64", updater=RmsProp(0.01), layers=[
        AutoEncoder(n_in=5, n_out=3, corruption_level=0.3, activation="sigmoid"),
        OutputLayer(n_out=2, activation="sigmoid", loss="mse")])
    net = MultiLayerNetwork(conf).init()
    net.pretrain(x, epochs=2, batch_size=3)
    net.fit(x, y, batch_size=3)

    def step(n):
        n.pretrain_layer(0, x)
        n.fit(x, y)
    return net, x, y, None, step


def vae():
    """VAE 6-[5]-2 with a Gaussian(3)+Bernoulli(3) composite, Adam, float32, pretrained;
    with a NormalizerMinMaxScaler."""
    rng = np.random.default_rng(12)
    x = rng.random((7, 6)).astype(np.float32)
    rd = CompositeReconstructionDistribution(((3, GaussianReconstructionDistribution()),
                                              (3, BernoulliReconstructionDistribution())))
    conf = NeuralNetConfiguration(seed=23, dtype="float32", updater=Adam(0.005), layers=[
        VariationalAutoencoder(n_in=6, n_out=2, encoder_layer_sizes=(5,), decoder_layer_sizes=(5,),
                               activation="tanh", num_samples=1, reconstruction_distribution=rd)])
    net = MultiLayerNetwork(conf).init()
    net.pretrain(x, epochs=3, batch_size=4)
    norm = NormalizerMinMaxScaler()
    norm.fit(x)
    return net, x, None, norm, lambda n: n.pretrain_layer(0, x)


def write(name, net, x, y, norm, step, save_updater=True):
    path = os.path.join(HERE, f"v0_1_{name}.h5")
    net.save(path, save_updater=save_updater, normalizer=norm)
    arrays = {"x": x, "output": net.output(x), "params": net.params(),
              "training_state": np.array(json.dumps(net.training_state()))}
    if y is not None:
        arrays["y"] = y
    if norm is not None:
        arrays["normalized"] = norm.transform(x)
    for i, layer in enumerate(net.layers):
        for pretrain in (False, True) if layer.pretrainable else (False,):
            for pname, states in net.updater_state(i, pretrain=pretrain).items():
                for sname, arr in states.items():
                    arrays[f"upd/{i}/{'pretrain' if pretrain else 'fit'}/{pname}/{sname}"] = arr.copy()
    if not save_updater:  # a loaded copy starts fresh updater state: step a loaded copy
        net = MultiLayerNetwork.load(path)
    step(net)
    arrays["next_params"] = net.params()
    arrays["next_score"] = np.float64(net.score())
    arrays["next_output"] = net.output(x)
    np.savez(os.path.join(HERE, f"v0_1_{name}.npz"), **arrays)
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    write("classifier", *classifier())
    write("autoencoder", *autoencoder())
    write("vae", *vae())
    write("classifier_no_updater", *classifier(), save_updater=False)
