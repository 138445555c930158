"""Tests of the command line (``python -m numba_ae inspect``, ``numba_ae.cli.main``)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from numba_ae import (
    Adam,
    AutoEncoder,
    GaussianReconstructionDistribution,
    MultiLayerNetwork,
    NeuralNetConfiguration,
    OutputLayer,
    Sgd,
    VariationalAutoencoder,
)
from numba_ae.cli import main
from numba_ae.data import NormalizerStandardize


@pytest.fixture
def model_file(tmp_path):
    conf = NeuralNetConfiguration(seed=4, updater=Adam(0.01), layers=[
        AutoEncoder(n_in=5, n_out=4, corruption_level=0.2),
        OutputLayer(n_out=3, activation="softmax", updater=Sgd(0.1))])
    net = MultiLayerNetwork(conf).init()
    rng = np.random.default_rng(0)
    x = rng.random((6, 5)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 6)]
    net.pretrain(x, batch_size=3)
    net.fit(x, y, batch_size=2)
    path = str(tmp_path / "model.h5")
    net.save(path, normalizer=NormalizerStandardize().fit(x))
    return path, net


def test_inspect_prints_layers_params_and_counters(model_file, capsys):
    path, net = model_file
    assert main(["inspect", path]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert f"File: {path}" in out
    assert "Format: numba_ae 1.0 (written by numba_ae " in out
    assert net.summary() in out  # the layer table
    for line in ["params/layer_0/W   (5, 4)  float32", "params/layer_0/b   (4,)    float32",
                 "params/layer_0/vb  (5,)    float32", "params/layer_1/W   (4, 3)  float32",
                 "params/layer_1/b   (3,)    float32"]:
        assert line in out, line
    assert "Parameters (44, float32):" in out
    assert "layer_0  Adam(learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-08)  3         2              m, v" in out
    assert "layer_1  Sgd(learning_rate=0.1)" in out and "(none)" in out
    assert "iteration_count: 5" in out and "epoch_count:     2" in out
    assert "updater_steps:   [3, 3]" in out and "pretrain_updater_steps: [2, 0]" in out and "seed:            4" in out
    assert f"last_score:      {net.score()!r}" in out
    assert "Normalizer: NormalizerStandardize (5 features, fitted on 6 examples)" in out
    assert "normalizer/mean  (5,)   float64" in out and "normalizer/std   (5,)   float64" in out


def test_inspect_without_updater_and_vae(tmp_path, capsys):
    conf = NeuralNetConfiguration(seed=1, layers=[VariationalAutoencoder(
        n_in=4, n_out=2, encoder_layer_sizes=(3,), decoder_layer_sizes=(3,),
        reconstruction_distribution=GaussianReconstructionDistribution())])
    net = MultiLayerNetwork(conf).init()
    path = str(tmp_path / "vae.h5")
    net.save(path, save_updater=False)
    assert main(["inspect", path]) == 0
    out = capsys.readouterr().out
    assert "VariationalAutoencoder" in out
    for name, shape in [("e0W", "(4, 3)"), ("pZXMeanW", "(3, 2)"), ("pZXLogStd2b", "(2,)"), ("pXZW", "(3, 8)")]:
        assert f"params/layer_0/{name}" in out and shape in out
    assert "Updater state: not saved" in out
    assert "iteration_count: 0" in out and "last_score:      none" in out
    assert "Normalizer: none" in out


@pytest.mark.parametrize("content,expect", [
    (b"garbage" * 20, "is not an HDF5 file"),
    (b"", "is empty"),
])
def test_inspect_bad_file_exit_code_2(tmp_path, capsys, content, expect):
    path = tmp_path / "bad.h5"
    path.write_bytes(content)
    assert main(["inspect", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("numba-ae inspect: error: ")
    assert f"{path}: {expect}" in err


def test_inspect_truncated_and_missing(model_file, tmp_path, capsys):
    path, _ = model_file
    raw = open(path, "rb").read()
    bad = tmp_path / "trunc.h5"
    bad.write_bytes(raw[: len(raw) // 3])
    assert main(["inspect", str(bad)]) == 2
    assert "trunc.h5: the file is truncated" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "missing.h5")]) == 2
    assert "missing.h5: No such model file" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2
    assert main(["inspect"]) == 2
    assert main(["--version"]) == 0
    assert "numba_ae 0." in capsys.readouterr().out


def test_python_dash_m_entry_point(model_file, tmp_path):
    path, _ = model_file
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    ok = subprocess.run([sys.executable, "-m", "numba_ae", "inspect", path], capture_output=True, text=True,
                        env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "AutoEncoder" in ok.stdout and "params/layer_1/W" in ok.stdout
    bad = tmp_path / "bad.h5"
    bad.write_text("nope")
    res = subprocess.run([sys.executable, "-m", "numba_ae", "inspect", str(bad)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert res.returncode == 2
    assert f"{bad}: is not an HDF5 file" in res.stderr and res.stdout == ""
