"""Kernel launches per training step (they do not depend on the sizes, so the simulator
counts them with toy shapes), the benchmark's smoke mode, and -- on a real GPU only -- the
seed's VAE at real shapes against the CPU."""
import os
import subprocess
import sys

import numpy as np
import pytest

from numba_ae import MultiLayerNetwork, NeuralNetConfiguration
from numba_ae import config as C
from numba_ae.kernels.cuda import _launch
from numba_ae.updaters import Adam

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _launches(step, x):
    step(x)
    before = _launch.launches()
    step(x)
    return _launch.launches() - before


def test_launches_per_step():
    x = (np.random.default_rng(0).random((3, 5)) < 0.5).astype(np.float32)
    ae = MultiLayerNetwork(NeuralNetConfiguration(seed=1, updater=Adam(1e-3), layers=[
        C.AutoEncoder(n_in=5, n_out=3, corruption_level=0.3, activation="relu"),
        C.OutputLayer(n_out=5, activation="sigmoid", loss="mse")]), device="cuda").init()
    vae = MultiLayerNetwork(NeuralNetConfiguration(seed=1, updater=Adam(1e-3), layers=[
        C.VariationalAutoencoder(n_in=5, n_out=2, encoder_layer_sizes=(4, 3), decoder_layer_sizes=(3, 4),
                                 activation="leakyrelu",
                                 reconstruction_distribution=C.BernoulliReconstructionDistribution())]),
        device="cuda").init()
    counts = {"ae_pretrain": _launches(lambda b: ae.pretrain_batch(0, b), x),
              "ae_fit": _launches(lambda b: ae.fit_batch(b, b), x),
              "vae_pretrain": _launches(lambda b: vae.pretrain_batch(0, b), x)}
    # the counts benchmarks/gpu.py reports (guard, updater and the score's reduction included);
    # a change that adds launches to a step shows here
    assert counts == {"ae_pretrain": 10, "ae_fit": 13, "vae_pretrain": 38}, counts


def test_benchmark_smoke_runs():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), "--device", "cuda",
                          "--smoke", "--cases", "ae_pretrain"], capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "launches/step" in out.stdout and "ae_pretrain" in out.stdout


@pytest.mark.gpu
def test_seed_vae_at_real_shapes_matches_cpu():
    from numba_ae.data import mnist_arrays
    x, _ = mnist_arrays(train=True, binarize=True, num_examples=512)
    conf = NeuralNetConfiguration(seed=3, updater=Adam(1e-3), layers=[C.VariationalAutoencoder(
        n_in=784, n_out=32, encoder_layer_sizes=(512, 256), decoder_layer_sizes=(256, 512), activation="leakyrelu",
        reconstruction_distribution=C.BernoulliReconstructionDistribution())])
    cpu, gpu = MultiLayerNetwork(conf).init(), MultiLayerNetwork(conf, device="cuda").init()
    for net in (cpu, gpu):
        net.pretrain(x, epochs=1, batch_size=128)
    p, q = cpu.params(), gpu.params()
    assert np.linalg.norm(q - p) <= 1e-4 * np.linalg.norm(p)
    assert gpu.score(x[:256]) == pytest.approx(cpu.score(x[:256]), rel=1e-4)
