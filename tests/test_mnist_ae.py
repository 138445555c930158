"""End-to-end: the seed's denoising autoencoder on MNIST (pretrain 1 epoch,
then fit 1 epoch with labels = features) beats the mean-image baseline."""
import time

import numpy as np
import pytest

from numba_ae import (
    Adam,
    ArrayDataSetIterator,
    AutoEncoder,
    MnistDataSetIterator,
    MultiLayerNetwork,
    NeuralNetConfiguration,
    OutputLayer,
    ScoreListener,
)
from numba_ae.data import mnist_arrays


def test_denoising_autoencoder_reconstructs_mnist_better_than_mean_image():
    conf = NeuralNetConfiguration(seed=12345, updater=Adam(1e-3), layers=[
        AutoEncoder(n_in=784, n_out=256, activation="relu", corruption_level=0.3),
        OutputLayer(n_in=256, n_out=784, activation="sigmoid", loss="mse")])
    net = MultiLayerNetwork(conf).init()
    lines = []
    net.add_listener(ScoreListener(100, printer=lines.append))

    train = MnistDataSetIterator(batch_size=128, seed=0)
    assert train.num_examples == 60000 and train.n_features == 784 and len(train) == 469
    x = train.features
    assert x.dtype == np.float32 and x.min() >= 0.0 and x.max() <= 1.0

    t0 = time.perf_counter()
    net.pretrain(train, epochs=1)
    t_pretrain = time.perf_counter() - t0
    assert net.iteration_count == 469
    pretrain_score = net.score()

    t0 = time.perf_counter()
    net.fit(ArrayDataSetIterator(x, x, batch_size=128, shuffle=True, seed=0), epochs=1)
    t_fit = time.perf_counter() - t0
    assert net.iteration_count == 2 * 469
    assert len(lines) == 9  # iterations 100, 200, ..., 900

    x_test, _ = mnist_arrays(train=False)
    assert x_test.shape == (10000, 784)
    recon = net.output(x_test)
    assert recon.shape == x_test.shape and np.isfinite(recon).all()
    mse = float(np.mean((recon.astype(np.float64) - x_test) ** 2))
    baseline = float(np.mean((x.mean(axis=0, dtype=np.float64) - x_test) ** 2))
    print(f"\nMNIST denoising AE: pretrain {t_pretrain:.1f}s (last score {pretrain_score:.5f}), "
          f"fit {t_fit:.1f}s (last score {net.score():.5f})")
    print(f"test reconstruction MSE {mse:.5f} vs mean-image MSE {baseline:.5f}")
    assert np.isfinite(mse) and np.isfinite(baseline)
    assert mse < baseline
    # network score on the test set is the same mean-over-columns MSE (no regularisation)
    assert net.score((x_test, x_test)) == pytest.approx(mse, rel=1e-4)
