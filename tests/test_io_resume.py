"""Model files (``numba_ae.io``): exact resume.

Training N steps, saving, loading and training M more equals training N+M
steps without the save, bitwise (AE corruption and VAE sampling make the RNG
state matter).
"""
import json

import numpy as np
import pytest

from numba_ae import (
    AdaGrad,
    Adam,
    ArrayDataSetIterator,
    AutoEncoder,
    BernoulliReconstructionDistribution,
    DenseLayer,
    GaussianReconstructionDistribution,
    MultiLayerNetwork,
    NeuralNetConfiguration,
    Nesterovs,
    OutputLayer,
    RmsProp,
    Sgd,
    VariationalAutoencoder,
)
from numba_ae.io import load_model, save_model

from io_helpers import assert_same_net, bits, data


# ============================================================================ exact resume

def _copy_state(it):
    return json.loads(json.dumps(it.get_state()))


@pytest.mark.parametrize("updater", [Adam(0.02), Sgd(0.1), Nesterovs(0.05), RmsProp(0.01), AdaGrad(0.05)],
                         ids=lambda u: type(u).__name__)
def test_resume_dense_output_is_exact(tmp_path, updater):
    conf = NeuralNetConfiguration(seed=11, updater=updater, dtype="float32", layers=[
        DenseLayer(n_in=5, n_out=4, activation="tanh"), DenseLayer(n_out=4, activation="relu"),
        OutputLayer(n_out=3, activation="softmax")])
    x, y = data(n=20)

    def it():
        return ArrayDataSetIterator(x, y, batch_size=6, shuffle=True, seed=5)

    straight = MultiLayerNetwork(conf).init()
    it_s = it()
    straight.fit(it_s, epochs=3)

    a = MultiLayerNetwork(conf).init()
    it_a = it()
    a.fit(it_a, epochs=1)
    a.save(tmp_path / "ckpt.h5")
    (tmp_path / "iter.json").write_text(json.dumps(it_a.get_state()))
    del a, it_a
    b = MultiLayerNetwork.load(tmp_path / "ckpt.h5")
    it_b = it()
    it_b.set_state(json.loads((tmp_path / "iter.json").read_text()))
    b.fit(it_b, epochs=2)
    assert_same_net(straight, b, x, y)


def test_resume_denoising_autoencoder_mid_epoch_is_exact(tmp_path):
    """Corruption masks come from the network RNG: the resume must restore it."""
    conf = NeuralNetConfiguration(seed=7, updater=Adam(0.01), dtype="float64", layers=[
        AutoEncoder(n_in=6, n_out=5, corruption_level=0.4, sparsity=0.05, activation="sigmoid"),
        AutoEncoder(n_out=3, corruption_level=0.2, activation="tanh"),
        OutputLayer(n_out=2, activation="sigmoid", loss="xent")])
    rng = np.random.default_rng(1)
    x = rng.random((30, 6))
    y = (rng.random((30, 2)) > 0.5).astype(np.float64)
    batches = [(x[k:k + 5], y[k:k + 5]) for k in range(0, 30, 5)]

    def run(net, steps):
        for xb, yb in steps:
            net.pretrain_layer(0, xb)
            net.pretrain_layer(1, xb)
            net.fit(xb, yb)

    straight = MultiLayerNetwork(conf).init()
    run(straight, batches)
    a = MultiLayerNetwork(conf).init()
    run(a, batches[:4])
    save_model(a, tmp_path / "ae.h5")
    b = load_model(tmp_path / "ae.h5")
    run(b, batches[4:])
    assert_same_net(straight, b, x, y)
    # without restoring the RNG the corruption masks (and so the result) would differ
    c = load_model(tmp_path / "ae.h5")
    c._rng = np.random.Generator(np.random.PCG64(123))
    run(c, batches[4:])
    assert not np.array_equal(c.params(), straight.params())


@pytest.mark.parametrize("dist", ["gaussian", "bernoulli"])
def test_resume_vae_is_exact(tmp_path, dist):
    rd = GaussianReconstructionDistribution() if dist == "gaussian" else BernoulliReconstructionDistribution()
    conf = NeuralNetConfiguration(seed=5, updater=Adam(0.01), dtype="float32", layers=[
        VariationalAutoencoder(n_in=8, n_out=2, encoder_layer_sizes=(6, 5), decoder_layer_sizes=(5,),
                               activation="tanh", num_samples=2, reconstruction_distribution=rd),
        OutputLayer(n_out=3, activation="softmax")])
    x, y = data(n=24, n_in=8)

    def it():
        return ArrayDataSetIterator(x, y, batch_size=5, shuffle=True, seed=9)

    straight = MultiLayerNetwork(conf).init()
    its = it()
    straight.pretrain(its, epochs=3)
    straight.fit(its, epochs=1)

    a = MultiLayerNetwork(conf).init()
    ita = it()
    a.pretrain(ita, epochs=2)
    # mid-epoch: two more batches by hand, then the iterator continues where it stopped
    gen = iter(ita)
    for _ in range(2):
        a.pretrain_layer(0, next(gen).features)
    state = _copy_state(ita)
    a.save(tmp_path / "vae.h5")
    b = MultiLayerNetwork.load(tmp_path / "vae.h5")
    itb = it()
    itb.set_state(state)
    b.pretrain_layer(0, itb, epochs=1)
    # the hand-driven batches counted as extra "epochs"; align the counter with the straight run
    b.epoch_count = straight.epoch_count - 1
    b.fit(itb, epochs=1)
    assert bits(b.params()) == bits(straight.params())
    for i in range(2):
        for name, states in straight.updater_state(i).items():
            for k, arr in states.items():
                assert bits(b.updater_state(i)[name][k]) == bits(arr)
    assert b.training_state()["rng_state"] == straight.training_state()["rng_state"]
    assert b.training_state()["updater_steps"] == straight.training_state()["updater_steps"]
    assert b.score() == straight.score()
    assert bits(b.output(x)) == bits(straight.output(x))
