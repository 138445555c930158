"""Concurrent inference is correct: ``output``, ``feed_forward``, ``score`` and the VAE layer
methods called from several threads at once give, call for call, bitwise the result of
the same call made alone (each thread has its own scratch buffers)."""
import sys
import threading

import numpy as np
import pytest

from numba_ae import (AutoEncoder, BernoulliReconstructionDistribution, CompositeReconstructionDistribution,
                      DenseLayer, GaussianReconstructionDistribution, MultiLayerNetwork, NeuralNetConfiguration,
                      OutputLayer, Sgd, VariationalAutoencoder)

N_THREADS, N_CALLS = 4, 200


def _net():
    conf = NeuralNetConfiguration(seed=7, updater=Sgd(0.1), dtype="float32", layers=[
        AutoEncoder(n_in=12, n_out=10, activation="tanh", corruption_level=0.2),
        VariationalAutoencoder(n_out=4, encoder_layer_sizes=(8,), decoder_layer_sizes=(8,), activation="gelu",
                               reconstruction_distribution=CompositeReconstructionDistribution(
                                   [(6, GaussianReconstructionDistribution("tanh")),
                                    (4, BernoulliReconstructionDistribution())])),
        DenseLayer(n_out=6, activation="relu"),
        OutputLayer(n_out=3, activation="softmax", loss="mcxent")])
    return MultiLayerNetwork(conf).init()


@pytest.fixture(autouse=True)
def fast_thread_switching():
    """Switch threads as often as possible, so unsafe sharing shows up in few calls."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _run_concurrently(calls):
    """Run ``calls[t][k]()`` for k in order on thread t, all threads at once; return results."""
    results = [[None] * len(c) for c in calls]
    start = threading.Barrier(len(calls))
    errors = []

    def work(t):
        start.wait()
        try:
            for k, fn in enumerate(calls[t]):
                results[t][k] = fn()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(len(calls))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    return results


def test_concurrent_network_inference_is_bitwise_equal_to_serial():
    net = _net()
    rng = np.random.default_rng(0)
    # the same batch size in every thread: they would share one workspace per size
    xs = [rng.uniform(0, 1, (32, 12)).astype(np.float32) for _ in range(N_THREADS)]
    ys = [np.eye(3, dtype=np.float32)[rng.integers(0, 3, 32)] for _ in range(N_THREADS)]
    ops = [
        lambda x, y: net.output(x),
        lambda x, y: net.feed_forward(x)[-2],
        lambda x, y: np.float64(net.score((x, y))),
    ]
    expected = [[op(xs[t], ys[t]) for op in ops] for t in range(N_THREADS)]
    calls = [[(lambda k=k, t=t: ops[k % len(ops)](xs[t], ys[t])) for k in range(N_CALLS)]
             for t in range(N_THREADS)]
    results = _run_concurrently(calls)
    for t in range(N_THREADS):
        for k in range(N_CALLS):
            np.testing.assert_array_equal(results[t][k], expected[t][k % len(ops)],
                                          err_msg=f"thread {t} call {k}")


def test_concurrent_vae_layer_methods_are_bitwise_equal_to_serial():
    net = _net()
    vae = net.get_layer(1)
    rng = np.random.default_rng(1)
    hs = [net.layers[0].forward(rng.uniform(0, 1, (16, 12)).astype(np.float32)).copy() for _ in range(N_THREADS)]
    xs = [np.concatenate([h[:, :6], (h[:, 6:] > 0).astype(np.float32)], axis=1) for h in hs]
    zs = [rng.normal(size=(16, 4)).astype(np.float32) for _ in range(N_THREADS)]
    ops = [
        lambda t: vae.activate(xs[t]),
        lambda t: vae.generate_at_mean_given_z(zs[t]),
        lambda t: vae.generate_random_given_z(zs[t], rng=np.random.default_rng(t)),
        lambda t: vae.reconstruction_log_probability(xs[t], 3, rng=np.random.default_rng(t)),
        lambda t: vae.log_likelihood_estimate(xs[t], 3, rng=np.random.default_rng(t)),
        lambda t: np.float64(vae.score(xs[t], rng=np.random.default_rng(t))),
    ]
    expected = [[op(t) for op in ops] for t in range(N_THREADS)]
    calls = [[(lambda k=k, t=t: ops[k % len(ops)](t)) for k in range(N_CALLS // 2)] for t in range(N_THREADS)]
    results = _run_concurrently(calls)
    for t in range(N_THREADS):
        for k in range(N_CALLS // 2):
            np.testing.assert_array_equal(results[t][k], expected[t][k % len(ops)],
                                          err_msg=f"thread {t} call {k}")
