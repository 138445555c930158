"""Detector files (the model file's ``/metadata`` entry plus its normalizer), pickling,
the io ``metadata`` addition, and ``numba-ae score`` on detector files and with the new
``--score`` / ``--estimator`` options."""
import json
import pickle

import h5py
import numpy as np
import pytest

from harness import make_net
from numba_ae import (BernoulliReconstructionDistribution, CompositeReconstructionDistribution,
                      GaussianReconstructionDistribution, ModelFormatError, VariationalAutoencoder, cli)
from numba_ae.anomaly import AutoEncoderAnomalyDetector, VAEAnomalyDetector, load_detector
from numba_ae.anomaly.scoring import vae_scores
from numba_ae.io import load_model, load_model_with_info, save_model
from numba_ae.io.format import set_text

RNG = np.random.default_rng(0)
X = RNG.standard_normal((80, 5)) * [1, 2, 3, 4, 5]
MIXED = np.hstack([RNG.standard_normal((80, 3)), RNG.random((80, 2)) < 0.5])
COMPOSITE = CompositeReconstructionDistribution(((3, GaussianReconstructionDistribution()),
                                                 (2, BernoulliReconstructionDistribution())))


def _detectors():
    return [VAEAnomalyDetector(encoder_layer_sizes=(4,), latent_size=2, epochs=2, num_samples=3, score="iwae",
                               random_state=1),
            VAEAnomalyDetector(encoder_layer_sizes=(4,), latent_size=2, epochs=1, num_samples=2,
                               reconstruction_distribution=COMPOSITE, preprocessing=None,
                               random_state=np.random.default_rng(4)),
            AutoEncoderAnomalyDetector(hidden_layer_sizes=(4, 2), epochs=2, preprocessing="minmax",
                                       corruption_level=0.1, random_state=2)]


def _same(a, b, x):
    assert type(a) is type(b)
    pa, pb = a.get_params(), b.get_params()
    for p in (pa, pb):
        if isinstance(p["random_state"], np.random.Generator):
            p["random_state"] = None   # a Generator is not saved (the seed_ drawn from it is)
    assert pa == pb
    for attr in ("offset_", "threshold_", "n_features_in_", "seed_"):
        assert getattr(a, attr) == getattr(b, attr), attr
    np.testing.assert_array_equal(a.decision_scores_, b.decision_scores_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.network_.params(), b.network_.params())
    assert a.normalizer_ == b.normalizer_
    np.testing.assert_array_equal(a.score_samples(x), b.score_samples(x))
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    np.testing.assert_array_equal(a.feature_scores(x), b.feature_scores(x))


@pytest.mark.parametrize("k", range(3), ids=["vae-iwae", "vae-composite", "dae-minmax"])
def test_save_load_and_pickle_round_trip(tmp_path, k):
    det = _detectors()[k]
    x = MIXED if k == 1 else X
    det.fit(x)
    path = tmp_path / "det.h5"
    det.save(path)
    loaded = type(det).load(path)
    _same(det, loaded, x)
    _same(det, load_detector(str(path)), x)
    _same(det, pickle.loads(pickle.dumps(det)), x)
    # the file is an ordinary model file: the network and its normalizer load as usual
    net, info = load_model_with_info(path)
    np.testing.assert_array_equal(net.params(), det.network_.params())
    assert info["normalizer"] == det.normalizer_ and "anomaly_detector" in info["metadata"]


def test_loading_the_wrong_kind_of_file_is_a_model_format_error(tmp_path):
    det = _detectors()[2].fit(X)
    det.save(tmp_path / "ae.h5")
    with pytest.raises(ModelFormatError, match="holds a AutoEncoderAnomalyDetector, not a VAEAnomalyDetector"):
        VAEAnomalyDetector.load(tmp_path / "ae.h5")
    det.network_.save(tmp_path / "net.h5")
    with pytest.raises(ModelFormatError, match="no anomaly detector"):
        load_detector(tmp_path / "net.h5")
    with pytest.raises(FileNotFoundError):
        load_detector(tmp_path / "missing.h5")


def _tamper(path, edit):
    with h5py.File(path, "a") as f:
        entry = json.loads(f["metadata"].attrs["anomaly_detector"].decode())
        edit(entry)
        del f["metadata"].attrs["anomaly_detector"]
        set_text(f["metadata"], "anomaly_detector", json.dumps(entry))


@pytest.mark.parametrize("edit,match", [
    (lambda e: e.update({"class": "IsolationForest"}), "unknown detector class"),
    (lambda e: e.update({"version": 9}), "version 9"),
    (lambda e: e.pop("offset"), r"missing \['offset'\]"),
    (lambda e: e.update({"offset": "high"}), "'offset' must be a finite number"),
    (lambda e: e["params"].update({"latent_size": 0}), "parameters do not validate.*latent_size"),
    (lambda e: e["params"].update({"latent_size": 3}), "not the one the detector's parameters"),
    (lambda e: e["params"].pop("score"), "'params' must hold exactly"),
    (lambda e: e.update({"seed": e["seed"] + 1}), "not the one the detector's parameters and seed"),
    (lambda e: e.update({"n_features_in": 4}), "'n_features_in' is 4"),
    (lambda e: e.update({"decision_scores": []}), "'decision_scores' must be a non-empty list"),
    (lambda e: e["params"].update({"preprocessing": None}), "preprocessing=None but the file's normalizer"),
])
def test_tampered_detector_entries_are_rejected(tmp_path, edit, match):
    det = _detectors()[0].fit(X)
    path = tmp_path / "det.h5"
    det.save(path)
    _tamper(path, edit)
    with pytest.raises(ModelFormatError, match=match):
        VAEAnomalyDetector.load(path)


def test_io_metadata_round_trip_and_checks(tmp_path):
    net = make_net([VariationalAutoencoder(n_in=3, n_out=2, encoder_layer_sizes=(3,), decoder_layer_sizes=(3,),
                                           reconstruction_distribution=GaussianReconstructionDistribution())])
    meta = {"note": "héllo", "a.b-c": "{\"x\": 1}", "empty": ""}
    save_model(net, tmp_path / "m.h5", metadata=meta)
    loaded, info = load_model_with_info(tmp_path / "m.h5")
    assert info["metadata"] == meta
    np.testing.assert_array_equal(loaded.params(), net.params())
    net.save(tmp_path / "plain.h5")
    assert load_model_with_info(tmp_path / "plain.h5")[1]["metadata"] == {}
    for bad, exc in (({"1x": "a"}, ValueError), ({"x": 1}, TypeError), ("x", TypeError), ({"a/b": "c"}, ValueError)):
        with pytest.raises(exc, match="'metadata'"):
            save_model(net, tmp_path / "bad.h5", metadata=bad)
    with h5py.File(tmp_path / "m.h5", "a") as f:
        f["metadata"].create_group("sub")
    with pytest.raises(ModelFormatError, match="metadata has member"):
        load_model(tmp_path / "m.h5")


# ============================================================================ numba-ae score

def _csv(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
    return header, np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


def test_cli_scores_a_detector_file_with_the_detector(tmp_path, capsys):
    data = tmp_path / "x.npz"
    np.savez(data, x=X)
    for det, name in ((_detectors()[0], "iwae"), (_detectors()[2], "negative_squared_error")):
        det.fit(X)
        det.save(tmp_path / "det.h5")
        assert cli.main(["score", str(tmp_path / "det.h5"), "--data", str(data), "--out", str(tmp_path / "s.csv")]) == 0
        header, rows = _csv(tmp_path / "s.csv")
        assert header == ["index", name, "outlier"]
        x32 = X.astype(np.float32)        # the command reads data in the network's dtype
        np.testing.assert_allclose(rows[:, 1], det.score_samples(x32), rtol=1e-8)
        np.testing.assert_array_equal(rows[:, 2], det.predict(x32) == -1)
        assert "outlier = below its threshold" in capsys.readouterr().err
    # --score re-scores a VAE detector with another of its scores
    vae = _detectors()[0].fit(X)
    vae.save(tmp_path / "vae.h5")
    assert cli.main(["score", str(tmp_path / "vae.h5"), "--data", str(data), "--score", "elbo",
                     "--out", str(tmp_path / "e.csv")]) == 0
    header, rows = _csv(tmp_path / "e.csv")
    assert header[1] == "elbo"
    np.testing.assert_allclose(rows[:, 1], vae.set_params(score="elbo").score_samples(X.astype(np.float32)),
                               rtol=1e-8)
    assert cli.main(["score", str(tmp_path / "det.h5"), "--data", str(data), "--score", "elbo"]) == 2


def test_cli_score_options_on_a_plain_vae_use_the_shared_scoring_functions(tmp_path):
    net = make_net([VariationalAutoencoder(n_in=5, n_out=2, encoder_layer_sizes=(4,), decoder_layer_sizes=(4,),
                                           reconstruction_distribution=GaussianReconstructionDistribution())],
                   dtype="float32")
    net.save(tmp_path / "vae.h5")
    data = tmp_path / "x.npz"
    np.savez(data, x=X)
    x32 = X.astype(np.float32)
    layer = net.get_layer(0)
    for extra, score, est in (([], "reconstruction_log_probability", "mean_log"),
                              (["--estimator", "log_mean_exp"], "reconstruction_log_probability", "log_mean_exp"),
                              (["--score", "elbo"], "elbo", "mean_log"), (["--score", "iwae"], "iwae", "mean_log")):
        out = tmp_path / "s.csv"
        assert cli.main(["score", str(tmp_path / "vae.h5"), "--data", str(data), "--out", str(out),
                         "--num-samples", "4", "--seed", "3"] + extra) == 0
        header, rows = _csv(out)
        assert header == ["index", score]
        np.testing.assert_allclose(rows[:, 1], vae_scores(layer, x32, score, 4, 3, est), rtol=1e-7)
