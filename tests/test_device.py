"""The ``device`` argument where no GPU is usable (CI's CPU run): validation, the clear
error for ``device="cuda"``, ``"auto"`` falling back to the CPU, ``summary`` naming the
device, and ``import numba_ae`` staying free of numba-cuda.  The CUDA path itself is
tested in ``tests/cuda/`` (simulator or GPU)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from numba_ae import MultiLayerNetwork, NeuralNetConfiguration
from numba_ae.backends import DeviceUnavailableError, cuda_available, get_backend
from numba_ae.config import DenseLayer, OutputLayer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NO_GPU = os.environ.get("NUMBA_ENABLE_CUDASIM") != "1" and not cuda_available()


def _conf():
    return NeuralNetConfiguration(seed=3, layers=[DenseLayer(n_in=4, n_out=3), OutputLayer(n_out=2)])


def test_default_device_is_cpu():
    net = MultiLayerNetwork(_conf()).init()
    assert net.device == "cpu"
    assert "device: cpu" in net.summary()


@pytest.mark.parametrize("bad, exc", [("gpu", ValueError), ("CUDA", ValueError), (0, TypeError), (None, TypeError)])
def test_bad_device_is_rejected(bad, exc):
    with pytest.raises(exc, match="'device' must be one of"):
        MultiLayerNetwork(_conf(), device=bad)


@pytest.mark.skipif(not NO_GPU, reason="this machine has a usable CUDA device")
def test_cuda_without_gpu_says_why():
    with pytest.raises(DeviceUnavailableError, match="device='cuda' is not usable here: .*(GPU|numba-cuda)"):
        MultiLayerNetwork(_conf(), device="cuda")
    with pytest.raises(DeviceUnavailableError):
        MultiLayerNetwork(_conf()).init().to("cuda")


@pytest.mark.skipif(not NO_GPU, reason="this machine has a usable CUDA device")
def test_auto_falls_back_to_cpu_and_trains_like_cpu():
    x = np.random.default_rng(0).random((8, 4))
    y = np.eye(2)[np.arange(8) % 2]
    a = MultiLayerNetwork(_conf(), device="auto").init()
    b = MultiLayerNetwork(_conf()).init()
    assert a.device == "cpu" and get_backend("auto").name == "cpu"
    a.fit(x, y, epochs=2, batch_size=4)
    b.fit(x, y, epochs=2, batch_size=4)
    np.testing.assert_array_equal(a.params(), b.params())


def test_to_cpu_is_a_no_op_and_returns_the_network():
    net = MultiLayerNetwork(_conf()).init()
    p = net.params()
    assert net.to("cpu") is net
    np.testing.assert_array_equal(net.params(), p)


def test_import_does_not_load_numba_cuda():
    code = ("import sys, numba_ae, numba_ae.network, numba_ae.io\n"
            "bad = [m for m in sys.modules if m.startswith(('numba.cuda', 'numba_cuda', 'cuda.'))]\n"
            "print(bad)\nassert not bad, bad\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "cuda" not in out.stderr.lower()
