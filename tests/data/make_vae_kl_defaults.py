"""Generate ``vae_kl_defaults.npz``, the stored oracle of ``tests/test_vae_kl_control.py``
for "the KL-control defaults train bitwise like the code before them".

This script was run ONCE on the code before the KL-control fields existed (git commit
e8d9f08).  Do NOT re-run it on later code: the point is that the values come from the
old code path, so regenerating them would only test the new code against itself.

For each case (name -> dtype, distribution, num_samples) the ``.npz`` holds ``<name>/x``
(the data), ``<name>/params`` (after ``STEPS`` pretrain minibatches with Adam),
``<name>/scores`` (the minibatch scores), ``<name>/net_score`` (``net.score(x)`` after
training), ``<name>/layer_score`` (``layer.score(x, rng=5)``) and ``<name>/examples``
(``layer.example_scores_unsupervised(x, rng=np.random.default_rng(6))``).

Usage (from the repository root, on e8d9f08 only)::

    PYTHONPATH=. python tests/data/make_vae_kl_defaults.py
"""
import os

import numpy as np

from numba_ae import (Adam, BernoulliReconstructionDistribution, GaussianReconstructionDistribution,
                      MultiLayerNetwork, NeuralNetConfiguration, VariationalAutoencoder)

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 6
CASES = {
    "gauss64": ("float64", GaussianReconstructionDistribution("tanh"), 2),
    "bern32": ("float32", BernoulliReconstructionDistribution(), 1),
}


def build(dtype, dist, num_samples, **kl):
    """The network of a case (``kl``: KL-control fields, only for the new code)."""
    return MultiLayerNetwork(NeuralNetConfiguration(seed=3, dtype=dtype, updater=Adam(0.02), layers=[
        VariationalAutoencoder(n_in=6, n_out=3, encoder_layer_sizes=(5,), decoder_layer_sizes=(4,),
                               activation="tanh", reconstruction_distribution=dist,
                               num_samples=num_samples, **kl)])).init()


def data(name, dtype):
    rng = np.random.default_rng(12)
    if name.startswith("bern"):
        return (rng.random((16, 6)) < 0.5).astype(dtype)
    return rng.normal(size=(16, 6)).astype(dtype)


def run(name, net):
    """Train and score a case's network; returns the recorded arrays."""
    x = data(name, net.dtype)
    scores = [net.pretrain_batch(0, x[(s % 4) * 4:(s % 4) * 4 + 4]) for s in range(STEPS)]
    layer = net.get_layer(0)
    return {"x": x, "params": net.params(), "scores": np.array(scores), "net_score": np.array(net.score(x)),
            "layer_score": np.array(layer.score(x, rng=5)),
            "examples": layer.example_scores_unsupervised(x, rng=np.random.default_rng(6))}


if __name__ == "__main__":
    out = {}
    for name, (dtype, dist, L) in CASES.items():
        for k, v in run(name, build(dtype, dist, L)).items():
            out[f"{name}/{k}"] = v
    np.savez(os.path.join(HERE, "vae_kl_defaults.npz"), **out)
