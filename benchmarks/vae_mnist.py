"""Bernoulli VAE on binarized MNIST: training speed and test likelihood per epoch.

Model: ``VariationalAutoencoder`` 784-[512, 256]-32-[256, 512]-784, leakyrelu
hidden layers, identity pzx activation, ``BernoulliReconstructionDistribution()``
(sigmoid), Adam(1e-3), minibatch 128, seed 0, float32 (the library default).

Per epoch the table shows the training seconds (evaluation excluded), the mean
minibatch training score, and the test negative ELBO ``net.score((x_test,))``
(DL4J's score sign: lower is better, in nats per image).  After the last
epoch it adds an importance-weighted (IWAE) estimate of ``-log p(x)`` on the
first ``--iwae-examples`` test images with ``--iwae-k`` samples, a tighter
bound than the ELBO.

Usage::

    python benchmarks/vae_mnist.py --epochs 10
"""
import argparse
import platform
import time

import numpy as np

from numba_ae import (
    Adam,
    BernoulliReconstructionDistribution,
    MnistDataSetIterator,
    MultiLayerNetwork,
    NeuralNetConfiguration,
    TrainingListener,
    VariationalAutoencoder,
)
from numba_ae.data import mnist_arrays


class _EpochScores(TrainingListener):
    """Collects the minibatch scores of the current epoch."""

    def __init__(self):
        self.scores = []

    def on_epoch_start(self, net, epoch, n_batches):
        self.scores = []

    def iteration_done(self, net, iteration, epoch, score):
        self.scores.append(score)


def build(seed=0, dtype="float32", lr=1e-3):
    conf = NeuralNetConfiguration(seed=seed, dtype=dtype, updater=Adam(lr), activation="leakyrelu", layers=[
        VariationalAutoencoder(n_in=784, n_out=32, encoder_layer_sizes=(512, 256),
                               decoder_layer_sizes=(256, 512), pzx_activation="identity",
                               reconstruction_distribution=BernoulliReconstructionDistribution())])
    return MultiLayerNetwork(conf).init()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    p.add_argument("--batch-size", type=int, default=128, help="minibatch size (default 128)")
    p.add_argument("--seed", type=int, default=0, help="network and shuffling seed (default 0)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--iwae-k", type=int, default=50, help="IWAE samples per image (default 50)")
    p.add_argument("--iwae-examples", type=int, default=1000,
                   help="test images for the IWAE estimate (default 1000)")
    args = p.parse_args(argv)
    for name in ("epochs", "batch_size", "iwae_k", "iwae_examples"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    x_test, _ = mnist_arrays(train=False, binarize=True)
    it = MnistDataSetIterator(args.batch_size, binarize=True, seed=args.seed)
    net = build(args.seed, args.dtype)
    listener = _EpochScores()
    net.add_listener(listener)
    vae = net.get_layer(0)

    print(f"Bernoulli VAE 784-[512,256]-32-[256,512]-784 on binarized MNIST; Adam(1e-3), "
          f"batch {args.batch_size}, seed {args.seed}, {args.dtype}, {net.num_params():,} params")
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"test -ELBO before training: {net.score((x_test,)):.2f} nats\n")
    header = f"{'epoch':>5}  {'seconds':>8}  {'train score':>11}  {'test -ELBO (nats)':>17}"
    print(header)
    print("-" * len(header))
    total = 0.0
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        net.pretrain(it, epochs=1)
        dt = time.perf_counter() - t0
        total += dt
        train = float(np.mean(listener.scores))
        test = net.score((x_test,))
        print(f"{epoch:>5}  {dt:>8.1f}  {train:>11.2f}  {test:>17.2f}", flush=True)
    print("-" * len(header))
    print(f"total training time {total:.1f} s ({total / args.epochs:.1f} s/epoch)")

    xs = x_test[:args.iwae_examples]
    t0 = time.perf_counter()
    ll = vae.log_likelihood_estimate(xs, num_samples=args.iwae_k, rng=np.random.default_rng(args.seed))
    dt = time.perf_counter() - t0
    elbo_sub = net.score((xs,))
    print(f"\nfirst {xs.shape[0]} test images after epoch {args.epochs}:")
    print(f"  test -ELBO                    {elbo_sub:8.2f} nats")
    print(f"  IWAE -log p(x) estimate, K={args.iwae_k:<3} {-float(np.mean(ll)):8.2f} nats  ({dt:.1f} s)")


if __name__ == "__main__":
    main()
