"""``numba_ae.distributed.DaskTrainer`` on a real ``LocalCluster`` (2 worker processes of one
thread each, loopback), against single-process oracles built from the public API:

* one partition: bitwise ``net.fit`` / ``net.pretrain`` (parameters, updater state,
  counters, RNG state, the minibatch scores), for several averaging frequencies, NumPy
  and dask input, with and without shuffling;
* 2 and 4 equal partitions, ``Sgd``, ``averaging_frequency=1``: single-process training on
  the concatenated minibatches (the averaged-gradient equivalence), to 1e-10;
* uneven partitions, Adam, several rounds: a round-by-round simulation (copies of the
  network trained on each partition's minibatches, averaged weighted by minibatch
  counts, updater state averaged or left alone);
* pretraining with noise over 2 partitions: copies whose generators are seeded by
  ``SeedSequence([seed, iteration_count at the round start, partition])``;
* argument errors, a diverging worker, and ``import numba_ae`` not importing dask.
"""
import copy
import math
import subprocess
import sys

import numpy as np
import pytest

from harness import make_net
from io_helpers import assert_same_net, bits
from numba_ae import (Adam, AutoEncoder, DataSet, DenseLayer, GaussianReconstructionDistribution,
                      MultiLayerNetwork, OutputLayer, Sgd, TrainingDivergedError, TrainingListener,
                      VariationalAutoencoder)

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
from numba_ae.distributed import DaskTrainer  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=":0")
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


# ---- networks, data, oracles ----------------------------------------------------------------------

def noisy_net(seed=1, updater=None):
    """AE (corruption) -> VAE (sampling) -> softmax output: every kind of noise, two
    pretrainable layers, float64."""
    return make_net([AutoEncoder(n_in=6, n_out=5, corruption_level=0.3, activation="tanh"),
                     VariationalAutoencoder(n_out=2, encoder_layer_sizes=[4], decoder_layer_sizes=[4],
                                            reconstruction_distribution=GaussianReconstructionDistribution()),
                     OutputLayer(n_out=3, activation="softmax", loss="mcxent")],
                    seed=seed, updater=updater or Adam(1e-2))


def dense_net(updater, seed=2):
    return make_net([DenseLayer(n_in=6, n_out=5, activation="tanh"),
                     OutputLayer(n_out=3, activation="softmax", loss="mcxent")],
                    seed=seed, updater=updater, l2=1e-3)


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 6)), np.eye(3)[rng.integers(0, 3, n)]


class Scores(TrainingListener):
    def __init__(self):
        self.scores = []

    def iteration_done(self, net, iteration, epoch, score):
        self.scores.append(score)


def minibatches(x, y, bs, first=0, count=None):
    n = math.ceil(x.shape[0] / bs)
    stop = n if count is None else min(n, first + count)
    return [DataSet(x[b * bs:(b + 1) * bs], None if y is None else y[b * bs:(b + 1) * bs])
            for b in range(first, stop)]


def collected(trainer):
    """The minibatch scores of a one-partition run, in order."""
    return [s for h in trainer.history for s in h["scores"][0]]


def set_rng(net, seed, round_key, partition):
    ts = net.training_state()
    ts["rng_state"] = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        [seed, round_key, partition]))).bit_generator.state
    net.set_training_state(ts)


def average_into(net, copies, weights, trained, pretrain, average_state):
    """The oracle's averaging: parameters (and updater state) of the ``trained`` layers."""
    w = np.asarray(weights, dtype=np.float64) / sum(weights)
    new = net.params()
    start = np.cumsum([0] + [layer.num_params() for layer in net.layers])
    for i in trained:
        lo, hi = start[i], start[i + 1]
        new[lo:hi] = sum(wk * c.params()[lo:hi] for wk, c in zip(w, copies))
        if average_state:
            for name, st in net.updater_state(i, pretrain=pretrain).items():
                for k, view in st.items():
                    view[...] = sum(wk * c.updater_state(i, pretrain=pretrain)[name][k] for wk, c in zip(w, copies))
    net.set_params(new)
    ts = net.training_state()
    ts["iteration_count"] += max(weights)
    if average_state:
        key = "pretrain_updater_steps" if pretrain else "updater_steps"
        for i in trained:
            ts[key][i] += max(weights)
    net.set_training_state(ts)


def simulate(net, parts, bs, k, epochs, phase="fit", average_state=True):
    """Synchronous parameter averaging in one process, round by round, from copies of ``net``
    (``parts``: list of (x, y)); noise from the specified per-task generators."""
    layers = [i for i, l in enumerate(net.layers) if l.pretrainable] if phase == "pretrain" else [None]
    for layer in layers:
        for _ in range(epochs):
            nb = [math.ceil(x.shape[0] / bs) for x, _ in parts]
            for r in range(math.ceil(max(nb) / k)):
                copies, weights = [], []
                for p, (x, y) in enumerate(parts):
                    if nb[p] <= r * k:
                        continue
                    c = copy.deepcopy(net)
                    set_rng(c, net.seed, net.iteration_count, p)
                    batches = minibatches(x, y, bs, r * k, k)
                    if phase == "fit":
                        c.fit(batches)
                    else:
                        c.pretrain_layer(layer, batches)
                    copies.append(c)
                    weights.append(len(batches))
                trained = range(len(net.layers)) if phase == "fit" else [layer]
                average_into(net, copies, weights, trained, phase == "pretrain", average_state)
            net.epoch_count += 1
    return net


def assert_close_nets(a, b, tol):
    np.testing.assert_allclose(a.params(), b.params(), rtol=0, atol=tol)
    ta, tb = a.training_state(), b.training_state()
    for key in ("iteration_count", "epoch_count", "updater_steps", "pretrain_updater_steps", "rng_state"):
        assert ta[key] == tb[key], key
    for i in range(len(a.layers)):
        for pretrain in (False, True) if a.layers[i].pretrainable else (False,):
            sa, sb = a.updater_state(i, pretrain=pretrain), b.updater_state(i, pretrain=pretrain)
            for name in sa:
                for k in sa[name]:
                    np.testing.assert_allclose(sa[name][k], sb[name][k], rtol=0, atol=tol)


# ---- one partition: bitwise the single-process network ---------------------------------------------

@pytest.mark.parametrize("k, kind", [(1, "numpy"), (3, "dask"), (100, "numpy")])
def test_one_partition_pretrain_then_fit_is_bitwise_single_process(client, k, kind, tmp_path):
    x, y = data(23)
    net = noisy_net()
    ref = copy.deepcopy(net)
    listener = Scores()
    ref.add_listener(listener)
    if kind == "dask":
        xs, ys, kw = da.from_array(x, chunks=(23, 3)), da.from_array(y, chunks=(5, 3)), {}
    else:
        xs, ys, kw = x, y, {"n_partitions": 1}
    trainer = DaskTrainer(net, client, averaging_frequency=k, batch_size=4)
    trainer.pretrain(xs, epochs=2, **kw)
    ref.pretrain(x, batch_size=4, epochs=2)
    assert_same_net(net, ref, x, y)
    trainer.fit(xs, ys, epochs=2, **kw)
    ref.fit(x, y, batch_size=4, epochs=2)
    assert_same_net(net, ref, x, y)
    assert collected(trainer) == listener.scores
    # 2 layers x 2 epochs of pretraining and 2 of fit, ceil(6 / k) rounds each
    assert len(trainer.history) == 6 * math.ceil(6 / k)
    assert [(h["phase"], h.get("layer"), h["epoch"]) for h in net.history] == \
        [(h["phase"], h.get("layer"), h["epoch"]) for h in ref.history]
    np.testing.assert_allclose([h["score"] for h in net.history], [h["score"] for h in ref.history], rtol=1e-12)
    path = str(tmp_path / "net.h5")
    net.save(path)
    assert_same_net(MultiLayerNetwork.load(path), ref, x, y)


def test_one_partition_shuffled_is_fit_on_each_epochs_permutation(client):
    x, y = data(13, seed=4)
    net, ref = dense_net(Adam(1e-2)), dense_net(Adam(1e-2))
    trainer = DaskTrainer(net, client, averaging_frequency=2, batch_size=3)
    trainer.fit(x, y, epochs=3, n_partitions=1, shuffle=True, seed=11)
    for _ in range(3):
        perm = np.random.Generator(np.random.PCG64(np.random.SeedSequence([11, ref.epoch_count, 0]))).permutation(13)
        ref.fit(x[perm], y[perm], batch_size=3)
    assert_same_net(net, ref, x, y)
    unshuffled = dense_net(Adam(1e-2))
    DaskTrainer(unshuffled, client, averaging_frequency=2, batch_size=3).fit(x, y, epochs=3, n_partitions=1)
    assert bits(unshuffled.params()) != bits(net.params())


# ---- several partitions --------------------------------------------------------------------------

@pytest.mark.parametrize("n_parts, kind", [(2, "dask"), (4, "numpy")])
def test_sgd_frequency_1_is_the_step_on_concatenated_minibatches(client, n_parts, kind):
    rows, bs = 7, 3            # per partition: minibatches of 3, 3, 1 rows
    x, y = data(rows * n_parts, seed=5)
    net, ref = dense_net(Sgd(0.5)), dense_net(Sgd(0.5))
    if kind == "dask":
        xs, ys, kw = da.from_array(x, chunks=(rows, 6)), da.from_array(y, chunks=(rows, 3)), {}
    else:
        xs, ys, kw = x, y, {"n_partitions": n_parts}
    trainer = DaskTrainer(net, client, averaging_frequency=1, batch_size=bs)
    trainer.fit(xs, ys, epochs=2, **kw)
    parts = [(x[p * rows:(p + 1) * rows], y[p * rows:(p + 1) * rows]) for p in range(n_parts)]
    concat = [DataSet(np.concatenate([minibatches(px, py, bs)[b].features for px, py in parts]),
                      np.concatenate([minibatches(px, py, bs)[b].labels for px, py in parts]))
              for b in range(math.ceil(rows / bs))]
    ref.fit(concat, epochs=2)
    np.testing.assert_allclose(net.params(), ref.params(), rtol=0, atol=1e-10)
    assert net.iteration_count == ref.iteration_count == 6
    assert net.epoch_count == ref.epoch_count == 2
    assert [h["n_tasks"] for h in trainer.history] == [n_parts] * 6
    assert [h["n_batches"] for h in trainer.history] == [n_parts] * 6


@pytest.mark.parametrize("average_state", [True, False])
def test_uneven_partitions_average_weighted_by_minibatches(client, average_state):
    x, y = data(25, seed=6)
    net = dense_net(Adam(5e-2))
    ref = copy.deepcopy(net)
    before = copy.deepcopy(net)
    # array_split: partitions of 13 and 12 rows; batch 2 -> 7 and 6 minibatches; k=4 -> rounds of
    # 4+4 and 3+2 minibatches per epoch
    trainer = DaskTrainer(net, client, averaging_frequency=4, batch_size=2, average_updater_state=average_state,
                          collect_scores=False)
    trainer.fit(x, y, epochs=2, n_partitions=2)
    simulate(ref, [(x[:13], y[:13]), (x[13:], y[13:])], 2, 4, 2, average_state=average_state)
    assert_close_nets(net, ref, 1e-12)
    assert [h["n_batches"] for h in trainer.history] == [8, 5, 8, 5]
    assert all(h["scores"] is None and np.isfinite(h["score"]) for h in trainer.history)
    if not average_state:   # every round started from the driver's updater state, never written
        for i in range(len(net.layers)):
            for name, st in before.updater_state(i).items():
                for k, v in st.items():
                    assert bits(net.updater_state(i)[name][k]) == bits(v)
        assert net.training_state()["updater_steps"] == before.training_state()["updater_steps"]


def test_pretrain_over_two_partitions_draws_noise_per_seed_round_partition(client):
    x, _ = data(18, seed=7)
    net = noisy_net(seed=5)
    ref = copy.deepcopy(net)
    again = copy.deepcopy(net)
    trainer = DaskTrainer(net, client, averaging_frequency=2, batch_size=3)
    trainer.pretrain(da.from_array(x, chunks=(9, 6)), epochs=2)
    simulate(ref, [(x[:9], None), (x[9:], None)], 3, 2, 2, phase="pretrain")
    assert_close_nets(net, ref, 1e-12)
    assert net.training_state()["rng_state"] == again.training_state()["rng_state"]  # not advanced
    DaskTrainer(again, client, averaging_frequency=2, batch_size=3).pretrain(x, epochs=2, n_partitions=2)
    assert_same_net(again, net, x)   # deterministic given the seed and the partitioning
    assert {h["layer"] for h in trainer.history} == {0, 1}


# ---- failures and arguments ------------------------------------------------------------------------

def test_divergence_on_a_worker_leaves_the_last_averaged_round(client):
    x, y = data(12, seed=8)
    net = dense_net(Sgd(1e150))
    trainer = DaskTrainer(net, client, averaging_frequency=1, batch_size=3)
    with pytest.raises(TrainingDivergedError):
        trainer.fit(x, y, epochs=50, n_partitions=2)
    assert np.all(np.isfinite(net.params()))
    assert net.iteration_count == len(trainer.history)


def test_argument_errors(client):
    x, y = data(8)
    net = dense_net(Sgd(0.1))
    with pytest.raises(TypeError, match="'net'"):
        DaskTrainer("net", client)
    with pytest.raises(TypeError, match="'client'"):
        DaskTrainer(net, "client")
    with pytest.raises(RuntimeError, match="init"):
        DaskTrainer(MultiLayerNetwork(net.conf), client)
    for kw, exc, name in [({"averaging_frequency": 0}, ValueError, "averaging_frequency"),
                          ({"batch_size": 2.0}, TypeError, "batch_size"),
                          ({"average_updater_state": 1}, TypeError, "average_updater_state"),
                          ({"collect_scores": None}, TypeError, "collect_scores")]:
        with pytest.raises(exc, match=name):
            DaskTrainer(net, client, **kw)
    t = DaskTrainer(net, client)
    with pytest.raises(ValueError, match="'y'"):
        t.fit(x)
    with pytest.raises(ValueError, match="no pretrainable layer"):
        t.pretrain(x)
    with pytest.raises(ValueError, match="n_in=6"):
        t.fit(x[:, :5], y)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="'x'"):
        t.fit(bad, y)
    with pytest.raises(ValueError, match="n_partitions"):
        t.fit(x, y, n_partitions=9)
    with pytest.raises(ValueError, match="n_partitions"):
        t.fit(da.from_array(x, chunks=4), da.from_array(y, chunks=4), n_partitions=2)
    with pytest.raises(TypeError, match="'y' must be a dask array"):
        t.fit(da.from_array(x, chunks=4), y)
    with pytest.raises(ValueError, match="shuffle"):
        t.fit(x, y, seed=3)
    with pytest.raises(ValueError, match="epochs"):
        t.fit(x, y, epochs=0)
    with pytest.raises(ValueError, match="OutputLayer"):
        DaskTrainer(make_net([AutoEncoder(n_in=6, n_out=3)]), client).fit(x, y)
    with pytest.raises(ValueError, match="partition 1"):   # found by the worker's check of its chunk
        t.fit(da.from_array(bad, chunks=(2, 6)), da.from_array(y, chunks=(2, 3)))
    assert t.history == [] and net.iteration_count == 0


def test_import_numba_ae_does_not_import_dask():
    code = ("import sys, numba_ae; bad = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed') "
            "or m.startswith('numba_ae.distributed')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_listeners_run_per_round_and_stop_training_ends_the_phase(client):
    from numba_ae.listeners import TrainingListener

    class Spy(TrainingListener):
        def __init__(self):
            self.events = []

        def on_train_start(self, net, phase, layer):
            self.events.append(("start", phase))

        def on_epoch_start(self, net, epoch, n_batches):
            self.events.append(("epoch", epoch, n_batches))

        def iteration_done(self, net, iteration, epoch, score):
            self.events.append(("round", iteration, epoch))

        def on_epoch_end(self, net, epoch):
            self.events.append(("end", epoch))
            if epoch == 2:
                net.stop_training = True

    x, y = data(12, seed=8)
    net = dense_net(Sgd(0.1))
    spy = Spy()
    net.add_listener(spy)
    trainer = DaskTrainer(net, client, averaging_frequency=2, batch_size=3)
    trainer.fit(x, y, epochs=5, n_partitions=2)   # 2 minibatches per partition: 1 round per epoch
    assert net.epoch_count == 2 and len(net.history) == 2     # stopped after epoch 2 of 5
    assert spy.events == [("start", "fit"), ("epoch", 0, 1), ("round", 2, 0), ("end", 1),
                          ("epoch", 1, 1), ("round", 4, 1), ("end", 2)]
