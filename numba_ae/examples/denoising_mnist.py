"""The seed's denoising autoencoder on MNIST, end to end.

AutoEncoder 784->256 (relu, corruption 0.3) + OutputLayer 256->784 (sigmoid,
MSE), Adam(1e-3), batch 128: layerwise pretraining of the AutoEncoder, then
supervised fine-tuning of the whole stack to reconstruct its (clean) input.
Prints the score every N iterations and the test reconstruction MSE next to
the MSE of predicting the mean training image.

Run: ``python -m numba_ae.examples.denoising_mnist [--epochs 1] [--every 100]``
"""
import argparse
import time

import numpy as np

from numba_ae import (Adam, ArrayDataSetIterator, AutoEncoder, MnistDataSetIterator, MultiLayerNetwork,
                      NeuralNetConfiguration, OutputLayer, ScoreListener)
from numba_ae.data import mnist_arrays


def build(seed=0):
    """The seed's configuration (DL4J's first Java example)."""
    conf = NeuralNetConfiguration(
        seed=seed,
        updater=Adam(1e-3),
        layers=[
            AutoEncoder(n_in=784, n_out=256, activation="relu", corruption_level=0.3, sparsity=0.0),
            OutputLayer(n_in=256, n_out=784, activation="sigmoid", loss="mse"),
        ],
    )
    return MultiLayerNetwork(conf).init()


def _int_at_least(low):
    """argparse ``type``: an int >= ``low``; anything else is the parser's usage error (exit 2)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an int >= {low}; got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an int >= {low}; got {value}")
        return value
    parse.__name__ = f"int >= {low}"
    return parse


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=_int_at_least(1), default=1)
    ap.add_argument("--batch-size", type=_int_at_least(1), default=128)
    ap.add_argument("--every", type=_int_at_least(1), default=100, help="print the score every N iterations")
    ap.add_argument("--seed", type=_int_at_least(0), default=0)
    args = ap.parse_args(argv)

    net = build(args.seed)
    print(net.summary())
    net.add_listener(ScoreListener(args.every))
    x_train, _ = mnist_arrays(train=True)
    x_test, _ = mnist_arrays(train=False)

    t0 = time.perf_counter()
    net.pretrain(MnistDataSetIterator(args.batch_size, seed=args.seed), epochs=args.epochs)
    t1 = time.perf_counter()
    net.fit(ArrayDataSetIterator(x_train, x_train, batch_size=args.batch_size, shuffle=True, seed=args.seed),
            epochs=args.epochs)
    t2 = time.perf_counter()

    recon = net.output(x_test)
    mse = float(np.mean((recon - x_test) ** 2, dtype=np.float64))
    baseline = float(np.mean((x_train.mean(axis=0) - x_test) ** 2, dtype=np.float64))
    print(f"pretrain: {t1 - t0:.1f} s for {args.epochs} epoch(s); fit: {t2 - t1:.1f} s")
    print(f"test reconstruction MSE: {mse:.5f}  (predicting the mean image: {baseline:.5f})")
    return mse, baseline


if __name__ == "__main__":
    main()
