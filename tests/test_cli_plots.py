"""numba-ae sample / reconstruct / latent / score and train --samples, end to end on small data:
output files are valid (PNG signature and non-blank pixels, CSV rows = examples), and user
errors exit 2 with one line."""
import numpy as np
import pytest

from harness import make_net
from numba_ae import (AutoEncoder, BernoulliReconstructionDistribution, DenseLayer, GaussianReconstructionDistribution,
                      LossFunctionWrapper, OutputLayer, VariationalAutoencoder, cli)

RNG = np.random.default_rng(0)
X = (RNG.uniform(0, 1, (40, 16)) > 0.5).astype(np.float32)     # 4x4 "images"
Y = RNG.integers(0, 3, 40)


def _vae_file(tmp_path, dist=None, **kw):
    kind = {"loss_function": dist} if isinstance(dist, LossFunctionWrapper) else \
        {"reconstruction_distribution": dist or BernoulliReconstructionDistribution()}
    net = make_net([VariationalAutoencoder(n_in=16, n_out=3, encoder_layer_sizes=(8,), decoder_layer_sizes=(8,),
                                           **kind)], dtype="float32")
    net.pretrain(X, batch_size=8)
    path = tmp_path / "vae.h5"
    net.save(path)
    return path


def _data(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=X, y=Y)
    return str(path)


def _png(path):
    import matplotlib.image as mpimg
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert np.std(mpimg.imread(path)[..., :3]) > 0.01


def test_vae_commands(tmp_path, capsys):
    model, data = str(_vae_file(tmp_path)), _data(tmp_path)
    assert cli.main(["sample", model, "--n", "9", "--out", str(tmp_path / "s.png")]) == 0
    _png(tmp_path / "s.png")
    assert cli.main(["sample", model, "--n", "5", "--csv", "--random", "--out", str(tmp_path / "s.csv")]) == 0
    rows = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    assert rows.shape == (5, 16) and set(np.unique(rows)) <= {0.0, 1.0}
    assert cli.main(["reconstruct", model, "--data", data, "--n", "6", "--out", str(tmp_path / "r.png")]) == 0
    _png(tmp_path / "r.png")
    assert cli.main(["latent", model, "--data", data, "--out", str(tmp_path / "l.png")]) == 0
    _png(tmp_path / "l.png")
    assert cli.main(["score", model, "--data", data, "--out", str(tmp_path / "sc.csv"),
                     "--plot", str(tmp_path / "h.png")]) == 0
    sc = np.loadtxt(tmp_path / "sc.csv", delimiter=",", skiprows=1)
    assert sc.shape == (40, 2) and np.array_equal(sc[:, 0], np.arange(40)) and np.all(sc[:, 1] < 0)
    _png(tmp_path / "h.png")
    assert "reconstruction log-probability" in capsys.readouterr().err


def test_score_is_reconstruction_error_for_loss_wrappers_and_autoencoders(tmp_path):
    data = _data(tmp_path)
    model = str(_vae_file(tmp_path, LossFunctionWrapper("sigmoid", "mse")))
    assert cli.main(["score", model, "--data", data, "--out", str(tmp_path / "a.csv")]) == 0
    assert open(tmp_path / "a.csv").readline().strip() == "index,reconstruction_error"
    net = make_net([AutoEncoder(n_in=16, n_out=4, activation="sigmoid"),
                    OutputLayer(n_out=3, activation="softmax", loss="mcxent")], dtype="float32")
    net.save(tmp_path / "ae.h5")
    assert cli.main(["score", str(tmp_path / "ae.h5"), "--data", data, "--out", str(tmp_path / "b.csv")]) == 0
    s = np.loadtxt(tmp_path / "b.csv", delimiter=",", skiprows=1)[:, 1]
    np.testing.assert_allclose(s, net.get_layer(0).example_scores_unsupervised(X), rtol=1e-6)
    assert cli.main(["reconstruct", str(tmp_path / "ae.h5"), "--data", data, "--out", str(tmp_path / "r.png")]) == 0
    _png(tmp_path / "r.png")


@pytest.mark.parametrize("argv,message", [
    (["sample", "{ae}"], "sampling needs a VariationalAutoencoder"),
    (["sample", "{missing}"], "missing.h5"),
    (["score", "{vae}", "--data", "{wide}"], "n_in=16"),
    (["latent", "{dense}", "--data", "{data}"], "needs an AutoEncoder or a VariationalAutoencoder"),
    (["reconstruct", "{vae}", "--data", "{data}", "--out", "{nodir}"], "does not exist"),
])
def test_errors_exit_2_with_one_line(tmp_path, capsys, argv, message):
    paths = {"vae": str(_vae_file(tmp_path)), "data": _data(tmp_path), "missing": str(tmp_path / "missing.h5"),
             "nodir": str(tmp_path / "no" / "r.png")}
    ae = make_net([AutoEncoder(n_in=16, n_out=4), OutputLayer(n_out=3, activation="softmax", loss="mcxent")])
    ae.save(tmp_path / "ae.h5")
    dense = make_net([DenseLayer(n_in=16, n_out=4), OutputLayer(n_out=3, activation="softmax", loss="mcxent")])
    dense.save(tmp_path / "dense.h5")
    np.savez(tmp_path / "wide.npz", x=np.zeros((4, 20), np.float32))
    paths.update(ae=str(tmp_path / "ae.h5"), dense=str(tmp_path / "dense.h5"), wide=str(tmp_path / "wide.npz"))
    assert cli.main([a.format(**paths) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("numba-ae: error:") and message in err[0], err


def test_train_samples(tmp_path, capsys):
    conf = make_net([VariationalAutoencoder(n_in=16, n_out=2, encoder_layer_sizes=(6,), decoder_layer_sizes=(6,),
                                            reconstruction_distribution=BernoulliReconstructionDistribution())]).conf
    (tmp_path / "c.json").write_text(conf.to_json())
    assert cli.main(["train", str(tmp_path / "c.json"), "--data", _data(tmp_path), "--epochs", "1",
                     "--batch-size", "8", "--out", str(tmp_path / "m.h5"),
                     "--samples", str(tmp_path / "s.png")]) == 0
    _png(tmp_path / "s.png")
    assert "64 samples" in capsys.readouterr().err
    conf2 = make_net([AutoEncoder(n_in=16, n_out=4), OutputLayer(n_out=3, activation="softmax",
                                                                 loss="mcxent")]).conf
    (tmp_path / "c2.json").write_text(conf2.to_json())
    assert cli.main(["train", str(tmp_path / "c2.json"), "--data", _data(tmp_path), "--epochs", "1",
                     "--samples", str(tmp_path / "s2.png")]) == 2


def _classifier_file(tmp_path):
    from numba_ae import Adam
    net = make_net([DenseLayer(n_in=16, n_out=8, activation="tanh"),
                    OutputLayer(n_out=3, activation="softmax", loss="mcxent")], dtype="float32", updater=Adam(1e-2))
    net.fit((X, np.eye(3, dtype=np.float32)[Y]), batch_size=8, epochs=3)
    net.save(tmp_path / "clf.h5")
    return net, str(tmp_path / "clf.h5")


def test_evaluate_prints_the_stats_of_net_evaluate(tmp_path, capsys):
    net, model = _classifier_file(tmp_path)
    assert cli.main(["evaluate", model, "--data", _data(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == net.evaluate((X, np.eye(3, dtype=np.float32)[Y])).stats().strip()
    assert "ccuracy" in out
    np.savez(tmp_path / "nolabels.npz", x=X)
    assert cli.main(["evaluate", model, "--data", str(tmp_path / "nolabels.npz")]) == 2
    assert "no labels" in capsys.readouterr().err
    assert cli.main(["evaluate", str(_vae_file(tmp_path)), "--data", _data(tmp_path)]) == 2
    assert "needs a classifier" in capsys.readouterr().err


def test_train_validation_and_patience(tmp_path, capsys):
    from numba_ae import MultiLayerNetwork
    conf = make_net([DenseLayer(n_in=16, n_out=8, activation="tanh"),
                     OutputLayer(n_out=3, activation="softmax", loss="mcxent")]).conf
    (tmp_path / "c.json").write_text(conf.to_json())
    np.savez(tmp_path / "val.npz", x=X[:10], y=Y[:10])
    base = ["train", str(tmp_path / "c.json"), "--data", _data(tmp_path), "--batch-size", "8",
            "--validation", str(tmp_path / "val.npz")]
    assert cli.main(base + ["--epochs", "3", "--out", str(tmp_path / "a.h5")]) == 0
    err = capsys.readouterr().err
    assert err.count(" val ") == 3
    # with patience 1 and a validation set the model fits worse and worse (labels shuffled), it stops
    np.savez(tmp_path / "bad.npz", x=X[:10], y=(Y[:10] + 1) % 3)
    argv = ["train", str(tmp_path / "c.json"), "--data", _data(tmp_path), "--batch-size", "8",
            "--validation", str(tmp_path / "bad.npz"), "--patience", "1", "--epochs", "30",
            "--out", str(tmp_path / "b.h5")]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "early stop of fit" in err
    epochs_run = err.count(" val ")
    assert epochs_run < 30
    net = MultiLayerNetwork.load(tmp_path / "b.h5")
    # the checkpoint holds the best epoch's parameters: its validation score is the best printed one
    vals = [float(line.split(" val ")[1].split()[0]) for line in err.splitlines() if " val " in line]
    assert net.score((X[:10], np.eye(3, dtype=np.float32)[(Y[:10] + 1) % 3])) == pytest.approx(min(vals), rel=1e-5)
    assert cli.main(["train", str(tmp_path / "c.json"), "--data", _data(tmp_path), "--epochs", "1",
                     "--patience", "2", "--out", str(tmp_path / "c.h5")]) == 2
    assert "--patience needs --validation" in capsys.readouterr().err


def test_train_device_flag(tmp_path, capsys):
    conf = make_net([DenseLayer(n_in=16, n_out=4), OutputLayer(n_out=3, activation="softmax", loss="mcxent")]).conf
    (tmp_path / "c.json").write_text(conf.to_json())
    base = ["train", str(tmp_path / "c.json"), "--data", _data(tmp_path), "--epochs", "1", "--out",
            str(tmp_path / "m.h5")]
    assert cli.main(base + ["--device", "auto"]) == 0
    from numba_ae.backends import cuda_available
    if cuda_available():  # pragma: no cover - GPU machines
        assert cli.main(base + ["--device", "cuda"]) == 0
    else:
        assert cli.main(base + ["--device", "cuda"]) == 2
        assert "--device cuda: device='cuda' is not usable here" in capsys.readouterr().err
