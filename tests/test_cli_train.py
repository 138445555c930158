"""``numba-ae train`` / ``examples`` end to end on tiny data, and ``numba_ae.data.loading``."""
import json
import os

import numpy as np
import pytest

from numba_ae import (Adam, AutoEncoder, GaussianReconstructionDistribution, MultiLayerNetwork,
                      NeuralNetConfiguration, OutputLayer, VariationalAutoencoder, load_model)
from numba_ae import _cli_train
from numba_ae.cli import main
from numba_ae.data.loading import as_targets, load_data, one_hot
from numba_ae.network import MultiLayerNetwork as _Net


@pytest.fixture
def tiny(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((40, 6)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    np.savez(tmp_path / "nolabels.npz", x=x)
    np.savez(tmp_path / "wide.npz", x=np.zeros((4, 7), np.float32), y=np.zeros(4, int))
    sup = NeuralNetConfiguration(seed=1, updater=Adam(1e-2), layers=[
        AutoEncoder(n_in=6, n_out=4, corruption_level=0.2),
        OutputLayer(n_out=3, activation="softmax", loss="mcxent")])
    (tmp_path / "sup.json").write_text(json.dumps({"description": "tiny", "network": sup.to_dict(), "data": {}}))
    vae = NeuralNetConfiguration(seed=2, updater=Adam(1e-2), layers=[
        VariationalAutoencoder(n_in=6, n_out=2, encoder_layer_sizes=(5,), decoder_layer_sizes=(5,),
                               reconstruction_distribution=GaussianReconstructionDistribution("identity"))])
    (tmp_path / "vae.json").write_text(vae.to_json())  # a bare NeuralNetConfiguration JSON
    return tmp_path, x, y


def _run(capsys, argv):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_train_writes_loadable_model(tiny, capsys, monkeypatch):
    import numba_ae._cli_train
    monkeypatch.setattr(numba_ae._cli_train, "_COMPILE_NOTICE_DONE", False)   # once per process
    d, x, _ = tiny
    out = str(d / "m.h5")
    rc, _, err = _run(capsys, ["train", str(d / "sup.json"), "--data", str(d / "d.npz"), "--epochs", "2",
                               "--batch-size", "16", "--out", out])
    assert rc == 0, err
    net = load_model(out)
    assert net.epoch_count == 4 and net.iteration_count == 2 * 2 * 3
    assert net.output(x).shape == (40, 3)
    assert "compiling kernels" in err
    lines = [ln for ln in err.splitlines() if ln.startswith("epoch ")]
    assert len(lines) == 4 and "pretrain[layer 0]" in lines[0] and " fit " in lines[3]
    assert "samples/s" in lines[0] and "score" in lines[0]
    prog = json.loads(open(out + ".progress.json").read())
    assert [p["epochs_done"] for p in prog["phases"]] == [2, 2]


def test_resume_is_bitwise_single_phase(tiny, capsys):
    d, _, _ = tiny
    a, b = str(d / "a.h5"), str(d / "b.h5")
    base = ["train", str(d / "vae.json"), "--data", str(d / "nolabels.npz"), "--batch-size", "8", "--seed", "5"]
    assert main(base + ["--epochs", "2", "--out", a]) == 0
    assert main(base + ["--epochs", "1", "--out", b]) == 0
    assert main(base + ["--epochs", "2", "--resume", b]) == 0
    na, nb = load_model(a), load_model(b)
    assert na.epoch_count == nb.epoch_count == 2
    np.testing.assert_array_equal(na.params(), nb.params())
    assert na.params().tobytes() == nb.params().tobytes()
    capsys.readouterr()


def test_keyboard_interrupt_then_resume_is_bitwise(tiny, capsys, monkeypatch):
    d, _, _ = tiny
    full, part = str(d / "full.h5"), str(d / "part.h5")
    base = ["train", str(d / "sup.json"), "--data", str(d / "d.npz"), "--epochs", "2", "--batch-size", "16"]
    assert main(base + ["--out", full]) == 0
    capsys.readouterr()
    calls = {"n": 0}
    orig = _Net.fit_batch

    def flaky(self, xb, yb):
        calls["n"] += 1
        if calls["n"] == 5:  # inside the second fit epoch
            raise KeyboardInterrupt
        return orig(self, xb, yb)

    monkeypatch.setattr(_Net, "fit_batch", flaky)
    rc, _, err = _run(capsys, base + ["--out", part])
    assert rc == 130
    msg = [ln for ln in err.splitlines() if "interrupted" in ln]
    assert len(msg) == 1 and f"--resume {part}" in msg[0] and "fit 1/2" in msg[0]
    assert load_model(part).epoch_count == 3  # 2 pretrain + 1 fit epoch: the last completed one
    monkeypatch.setattr(_Net, "fit_batch", orig)
    assert main(base + ["--out", part, "--resume", part]) == 0
    assert load_model(full).params().tobytes() == load_model(part).params().tobytes()
    capsys.readouterr()


def test_interrupt_before_first_epoch_leaves_initial_checkpoint(tiny, capsys, monkeypatch):
    d, _, _ = tiny
    out = str(d / "m.h5")

    def boom(self, i, xb):
        raise KeyboardInterrupt

    monkeypatch.setattr(_Net, "pretrain_batch", boom)
    rc, _, err = _run(capsys, ["train", str(d / "sup.json"), "--data", str(d / "d.npz"), "--epochs", "1",
                               "--out", out])
    assert rc == 130 and "resume with: numba-ae train" in err
    assert load_model(out).epoch_count == 0


def test_examples_lists_every_bundled_config(capsys):
    rc, out, _ = _run(capsys, ["examples"])
    assert rc == 0
    names = _cli_train.example_names()
    assert set(names) >= {"denoising_ae_mnist", "vae_gaussian_mnist", "vae_classifier_mnist",
                          "vae_composite_mixed", "vae_bernoulli_mnist"}
    lines = out.strip().splitlines()
    assert len(lines) == len(names)
    for name, line in zip(names, lines):
        assert line.startswith(name + " ") and len(line.split(None, 1)[1]) > 10


@pytest.mark.parametrize("name", _cli_train.example_names())
def test_each_bundled_config_builds_and_inits(name):
    conf, desc, hint = _cli_train.load_config(name)
    assert desc
    net = MultiLayerNetwork(conf).init()
    assert net.num_params() > 0
    assert set(hint) <= {"dataset", "binarize", "targets"}
    if name == "vae_bernoulli_mnist":
        assert hint["binarize"] is True


def test_train_bundled_example_on_a_small_mnist_slice(tmp_path, capsys):
    out = str(tmp_path / "m.h5")
    rc, _, err = _run(capsys, ["train", "vae_bernoulli_mnist", "--epochs", "1", "--limit", "256",
                               "--batch-size", "128", "--out", out])
    assert rc == 0, err
    assert load_model(out).iteration_count == 2


@pytest.mark.parametrize("case", ["missing_config", "unknown_example", "bad_config", "missing_data",
                                  "wrong_width", "no_labels", "unwritable", "bad_resume", "bad_epochs",
                                  "no_default_data", "bad_label_class"])
def test_user_errors_exit_2_with_one_line(tiny, capsys, case):
    d, _, _ = tiny
    (d / "bad.json").write_text(json.dumps({"network": {"layers": [], "seed": 1}}))
    (d / "junk.h5").write_text("not a model")
    np.savez(d / "bigclass.npz", x=np.zeros((4, 6), np.float32), y=np.array([0, 1, 2, 7]))
    sup, data = str(d / "sup.json"), str(d / "d.npz")
    argv = {
        "missing_config": ["train", str(d / "nope.json"), "--data", data, "--epochs", "1"],
        "unknown_example": ["train", "no_such_example", "--data", data, "--epochs", "1"],
        "bad_config": ["train", str(d / "bad.json"), "--data", data, "--epochs", "1"],
        "missing_data": ["train", sup, "--data", str(d / "nope.npz"), "--epochs", "1"],
        "wrong_width": ["train", sup, "--data", str(d / "wide.npz"), "--epochs", "1"],
        "no_labels": ["train", sup, "--data", str(d / "nolabels.npz"), "--epochs", "1", "--out", str(d / "o.h5")],
        "unwritable": ["train", sup, "--data", data, "--epochs", "1", "--out", str(d / "no" / "dir" / "m.h5")],
        "bad_resume": ["train", sup, "--data", data, "--epochs", "1", "--resume", str(d / "junk.h5"),
                       "--out", str(d / "o.h5")],
        "bad_epochs": ["train", sup, "--data", data, "--epochs", "0"],
        "no_default_data": ["train", "vae_composite_mixed", "--epochs", "1", "--out", str(d / "o.h5")],
        "bad_label_class": ["train", sup, "--data", str(d / "bigclass.npz"), "--epochs", "1",
                            "--out", str(d / "o.h5")],
    }[case]
    rc, out, err = _run(capsys, argv)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("numba-ae: error: ") and "Traceback" not in err
    if case == "no_labels":
        assert "no labels" in lines[0]
    if case == "wrong_width":
        assert "7 features" in lines[0] and "n_in=6" in lines[0]


def test_debug_shows_the_exception(tiny):
    d, _, _ = tiny
    with pytest.raises(_cli_train.UsageError):
        main(["--debug", "train", "no_such_example", "--data", str(d / "d.npz"), "--epochs", "1"])


def test_inspect_still_works(tiny, capsys):
    d, _, _ = tiny
    out = str(d / "m.h5")
    assert main(["train", str(d / "vae.json"), "--data", str(d / "d.npz"), "--epochs", "1", "--out", out]) == 0
    capsys.readouterr()
    rc, text, _ = _run(capsys, ["inspect", out])
    assert rc == 0 and "epoch_count:     1" in text


# ---------------------------------------------------------------------------- data loading

def test_load_npz_npy(tmp_path):
    x = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.savez(tmp_path / "a.npz", feats=x, cls=np.array([0, 1, 1, 0]))
    f, y = load_data(str(tmp_path / "a.npz"), features_key="feats", labels_key="cls", n_classes=2)
    assert f.dtype == np.float32 and f.shape == (4, 3)
    np.testing.assert_array_equal(y, one_hot([0, 1, 1, 0], 2))
    with pytest.raises(ValueError, match="no array 'x'"):
        load_data(str(tmp_path / "a.npz"))
    np.save(tmp_path / "b.npy", x)
    f, y = load_data(str(tmp_path / "b.npy"))
    assert y is None and f.shape == (4, 3)
    f, y = load_data(str(tmp_path / "b.npy"), label_column=0)
    assert f.shape == (4, 2) and y.dtype == np.int64 and list(y) == [0, 3, 6, 9]


def test_load_csv_with_and_without_header(tmp_path):
    (tmp_path / "h.csv").write_text("a,b,label\n0.5,1.5,1\n2,3,0\n")
    (tmp_path / "n.csv").write_text("0.5,1.5,1\n2,3,0\n")
    f, y = load_data(str(tmp_path / "h.csv"), label_column="label")
    np.testing.assert_array_equal(f, [[0.5, 1.5], [2, 3]])
    assert list(y) == [1, 0]
    f2, y2 = load_data(str(tmp_path / "n.csv"), label_column=-1, n_classes=2)
    np.testing.assert_array_equal(f2, f)
    np.testing.assert_array_equal(y2, [[0, 1], [1, 0]])
    f3, y3 = load_data(str(tmp_path / "h.csv"), label_column=2)
    assert list(y3) == [1, 0]
    f4, y4 = load_data(str(tmp_path / "n.csv"))
    assert f4.shape == (2, 3) and y4 is None
    with pytest.raises(ValueError, match="no header"):
        load_data(str(tmp_path / "n.csv"), label_column="label")
    with pytest.raises(ValueError, match="no column named 'zz'"):
        load_data(str(tmp_path / "h.csv"), label_column="zz")
    with pytest.raises(ValueError, match="out of range"):
        load_data(str(tmp_path / "n.csv"), label_column=5)
    (tmp_path / "bad.csv").write_text("1,2\n3,x\n")
    with pytest.raises(ValueError, match="not a numeric CSV"):
        load_data(str(tmp_path / "bad.csv"))


def test_load_errors_and_mnist(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_data(str(tmp_path / "none.npz"))
    with pytest.raises(ValueError, match="unknown data spec"):
        load_data("data.parquet")
    with pytest.raises(ValueError, match="unknown MNIST split"):
        load_data("mnist:valid")
    x, y = load_data("mnist:test", limit=10, n_classes=10)
    assert x.shape == (10, 784) and x.dtype == np.float32 and y.shape == (10, 10)
    xb, yb = load_data("mnist", limit=5, binarize_features=True)
    assert set(np.unique(xb)) <= {0.0, 1.0} and yb.shape == (5,)


def test_one_hot_and_targets():
    np.testing.assert_array_equal(as_targets(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"lie in \[0, 3\)"):
        as_targets(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="2 columns but the model's output has 3"):
        as_targets(np.zeros((2, 2)), 3)
    assert as_targets(np.eye(3), 3).dtype == np.float32
