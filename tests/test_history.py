"""Training history, validation scores, ``EarlyStopping`` and ``CheckpointListener``."""
import os

import numpy as np
import pytest

from harness import make_net
from numba_ae import (Adam, AutoEncoder, CheckpointListener, DenseLayer, EarlyStopping,
                      GaussianReconstructionDistribution, MultiLayerNetwork,
                      OutputLayer, Sgd, TrainingListener, VariationalAutoencoder)


def classifier(seed=0, updater=None):
    return make_net([DenseLayer(n_in=5, n_out=7, activation="tanh"),
                     OutputLayer(n_out=3, activation="softmax", loss="mcxent")], seed=seed,
                    updater=updater if updater is not None else Adam(1e-2))


def data(n=40, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    return x, np.eye(3)[rng.integers(0, 3, n)]


class Recorder(TrainingListener):
    """Records net.score(val) at each epoch end (the validation pass already restored the RNG)."""

    def __init__(self, val, pretrain_layer=None):
        self.val, self.layer, self.scores, self.starts = val, pretrain_layer, [], []

    def on_train_start(self, net, phase, layer):
        self.starts.append((phase, layer))

    def on_epoch_end(self, net, epoch):
        self.scores.append(net.score(self.val) if self.layer is None else net.pretrain_score(self.layer, self.val))


def test_fit_history_records_each_epoch_and_validation_score():
    net = classifier()
    x, y = data()
    xv, yv = data(20, seed=5)
    rec = Recorder((xv, yv))
    steps = []
    net.add_listener(rec)
    orig = net.fit_batch
    net.fit_batch = lambda a, b: steps.append(orig(a, b)) or steps[-1]
    net.fit((x, y), epochs=3, batch_size=10, validation=(xv, yv))
    assert [h["epoch"] for h in net.history] == [1, 2, 3]
    for k, h in enumerate(net.history):
        assert set(h) == {"phase", "epoch", "score", "val_score", "seconds"} and h["phase"] == "fit"
        assert h["score"] == pytest.approx(np.mean(steps[4 * k:4 * k + 4]), rel=1e-12)
        assert h["val_score"] == rec.scores[k] and h["seconds"] >= 0
    assert net.history[-1]["val_score"] == net.score((xv, yv))
    assert rec.starts == [("fit", None)]
    net.fit((x, y), epochs=1, batch_size=10)
    assert len(net.history) == 4 and net.history[-1]["val_score"] is None


def test_pretrain_history_has_phase_and_layer():
    net = make_net([AutoEncoder(n_in=5, n_out=4, corruption_level=0.2), AutoEncoder(n_out=3),
                    OutputLayer(n_out=3, activation="softmax", loss="mcxent")], seed=0, updater=Adam(1e-2))
    x, y = data()
    xv, _ = data(20, seed=5)
    recs = [Recorder(xv, 0), Recorder(xv, 1)]
    net.add_listener(*recs)
    net.pretrain(x, epochs=2, batch_size=10, validation=xv)
    assert [(h["phase"], h["layer"], h["epoch"]) for h in net.history] == [
        ("pretrain", 0, 1), ("pretrain", 0, 2), ("pretrain", 1, 3), ("pretrain", 1, 4)]
    assert [h["val_score"] for h in net.history[:2]] == recs[0].scores[:2]
    assert [h["val_score"] for h in net.history[2:]] == recs[1].scores[2:]
    assert recs[0].starts == [("pretrain", 0), ("pretrain", 1)]
    net.fit((x, y), epochs=1, validation=data(10, 7))
    assert net.history[-1]["phase"] == "fit" and "layer" not in net.history[-1]


def test_pretrain_score_equals_score_for_last_layer_and_vae_validation():
    net = make_net([VariationalAutoencoder(n_in=5, n_out=2, encoder_layer_sizes=[4], decoder_layer_sizes=[4],
                                          reconstruction_distribution=GaussianReconstructionDistribution())],
                   seed=0, updater=Adam(1e-2))
    x, _ = data()
    xv, _ = data(20, seed=5)
    net.pretrain(x, epochs=2, batch_size=10, validation=xv)
    assert net.history[-1]["val_score"] == net.score(xv)


def test_validation_does_not_change_training():
    x, y = data()
    for build, train in [(classifier, lambda n, v: n.fit((x, y), epochs=3, batch_size=8, validation=v)),
                         (lambda: make_net([VariationalAutoencoder(n_in=5, n_out=2, encoder_layer_sizes=[4],
                                                                   decoder_layer_sizes=[4],
                                          reconstruction_distribution=GaussianReconstructionDistribution())], seed=0),
                          lambda n, v: n.pretrain(x, epochs=3, batch_size=8, validation=v))]:
        a, b = build(), build()
        train(a, None)
        train(b, x if b.layers[-1].pretrainable else (x, y))
        assert np.array_equal(a.params(), b.params())


class FixedScores(TrainingListener):
    """Overwrites each epoch's val_score with a scripted value (runs before EarlyStopping)."""

    def __init__(self, values):
        self.values, self.params = list(values), []

    def on_epoch_end(self, net, epoch):
        net.history[-1]["val_score"] = self.values[epoch - 1]
        self.params.append(net.params())


@pytest.mark.parametrize("restore", [True, False])
def test_early_stopping_stops_at_the_right_epoch_and_restores_best(restore):
    net = classifier()
    x, y = data()
    script = FixedScores([5.0, 4.0, 3.0, 3.05, 2.995, 3.5, 1.0, 1.0, 1.0, 1.0])
    es = EarlyStopping(patience=3, min_delta=0.01, restore_best=restore)
    net.add_listener(script, es)
    net.fit((x, y), epochs=10, batch_size=10, validation=(x, y))
    # best 3.0 at epoch 3; 3.05, 2.995 (not by > 0.01), 3.5 -> stop after epoch 6
    assert len(net.history) == 6 and net.epoch_count == 6
    assert es.best_epoch == 3 and es.best_score == 3.0 and es.stopped_epoch == 6
    expect = script.params[2] if restore else script.params[5]
    assert np.array_equal(net.params(), expect)
    assert not np.array_equal(script.params[2], script.params[5])
    # a new run starts afresh: stop_training and the listener state are reset
    script.values = [9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    net.fit((x, y), epochs=3, batch_size=10, validation=(x, y))
    assert net.epoch_count == 9 and es.best_epoch == 7 and es.stopped_epoch is None


def test_early_stopping_keeps_updater_state_and_real_scores():
    net = classifier(updater=Adam(0.3))
    x, y = data(40)
    xv, yv = data(40, seed=9)
    es = EarlyStopping(patience=2)
    upd = []

    class UpdaterSnap(TrainingListener):
        def on_epoch_end(self, net, epoch):
            upd.append({k: v.copy() for k, v in net._updater_state[0].items()})

    net.add_listener(UpdaterSnap(), es)
    net.fit((x, y), epochs=200, batch_size=40, validation=(xv, yv))
    vals = [h["val_score"] for h in net.history]
    assert len(vals) < 200 and es.stopped_epoch == len(vals)
    assert min(vals) == es.best_score == vals[es.best_epoch - 1]
    assert net.score((xv, yv)) == pytest.approx(es.best_score, rel=1e-12)
    # the updater state is the one of the last epoch trained, not of the best epoch
    assert all(np.array_equal(v, upd[-1][k]) for k, v in net._updater_state[0].items())
    assert not all(np.array_equal(v, upd[es.best_epoch - 1][k]) for k, v in net._updater_state[0].items())


def test_early_stopping_in_pretrain_is_per_layer():
    net = make_net([AutoEncoder(n_in=5, n_out=4), AutoEncoder(n_out=3)], seed=0, updater=Adam(0.5))
    x, _ = data()
    es = EarlyStopping(patience=1, restore_best=False)
    script = FixedScores([3.0, 4.0, 1.0, 1.0, 1.0, 2.0])
    net.add_listener(script, es)
    net.pretrain(x, epochs=3, validation=x)
    assert [(h["layer"], h["epoch"]) for h in net.history] == [(0, 1), (0, 2), (1, 3), (1, 4)]


def test_early_stopping_errors():
    net = classifier()
    x, y = data()
    net.add_listener(EarlyStopping(patience=1))
    with pytest.raises(ValueError, match="validation data"):
        net.fit((x, y), epochs=2)
    assert net.epoch_count == 1
    for kw in ({"patience": -1}, {"patience": 1.5}, {"min_delta": -0.1}, {"restore_best": 1}):
        with pytest.raises((TypeError, ValueError)):
            EarlyStopping(**kw)


def test_validation_data_is_checked_before_training():
    net = classifier()
    x, y = data()
    before = net.params()
    with pytest.raises(ValueError):
        net.fit((x, y), validation=x)  # no labels
    with pytest.raises(ValueError):
        net.fit((x, y), validation=(x[:, :3], y))
    assert np.array_equal(net.params(), before) and net.history == []


def test_checkpoints_written_rotated_and_loadable(tmp_path):
    net = classifier()
    x, y = data()
    ck = CheckpointListener(tmp_path / "ckpt-{epoch:04d}.h5", every_epochs=2, keep_last=2)
    snaps = {}

    class Snap(TrainingListener):
        def on_epoch_end(self, net, epoch):
            snaps[epoch] = net.params()

    net.add_listener(ck, Snap())
    net.fit((x, y), epochs=7, batch_size=10)
    assert sorted(os.listdir(tmp_path)) == ["ckpt-0004.h5", "ckpt-0006.h5"]
    assert ck.saved == [str(tmp_path / "ckpt-0004.h5"), str(tmp_path / "ckpt-0006.h5")]
    loaded = MultiLayerNetwork.load(tmp_path / "ckpt-0006.h5")
    assert np.array_equal(loaded.params(), snaps[6]) and loaded.epoch_count == 6


def test_checkpoint_path_without_epoch_field(tmp_path):
    net = classifier()
    x, y = data()
    ck = CheckpointListener(str(tmp_path / "model.h5"), keep_last=None)
    net.add_listener(ck)
    net.fit((x, y), epochs=3)
    assert sorted(os.listdir(tmp_path)) == ["model-0001.h5", "model-0002.h5", "model-0003.h5"]


@pytest.mark.parametrize("kw, exc", [({"path": "a-{epoch}-{other}.h5"}, ValueError), ({"path": 3}, TypeError),
                                     ({"path": "a.h5", "every_epochs": 0}, ValueError),
                                     ({"path": "a.h5", "keep_last": 0}, ValueError)])
def test_checkpoint_errors(kw, exc):
    with pytest.raises(exc):
        CheckpointListener(**kw)


def test_stop_training_flag_from_any_listener():
    class StopAt(TrainingListener):
        def on_epoch_end(self, net, epoch):
            if epoch == 2:
                net.stop_training = True

    net = classifier(updater=Sgd(0.1))
    x, y = data()
    net.add_listener(StopAt())
    net.fit((x, y), epochs=5)
    assert net.epoch_count == 2 and net.stop_training
    net.fit((x, y), epochs=2)  # reset at the start of a run
    assert net.epoch_count == 4
