"""``DaskTrainer``: data-parallel training of a ``MultiLayerNetwork`` on a Dask cluster
by synchronous parameter averaging (DL4J's ``SparkDl4jMultiLayer`` with a
``ParameterAveragingTrainingMaster``).

One round: the driver scatters the network's state once (``broadcast=True``); each
partition's task loads it into a network on its worker and trains on its next
``averaging_frequency`` minibatches; the driver averages the trained layers'
parameters (and updater state) weighted by the minibatches each task ran.  Rounds
repeat until every partition has been used ``epochs`` times.  Dask does the
scheduling and the transport; the tasks are module-level functions of
``numba_ae.distributed._tasks`` and carry configs, arrays and plain dicts only.
"""
import time

from ..config import OutputLayer as _OutputConf
from ..network import MultiLayerNetwork
from ..validation import check_bool, check_int, check_seed
from . import _average, _plan, _tasks
from ._partitions import make_partitions

_OWNER = "DaskTrainer"


class DaskTrainer:
    """Synchronous parameter averaging of ``net`` over the workers of a Dask ``client``.

    Parameters
    ----------
    net : MultiLayerNetwork
        An initialised network; after training it holds the averaged parameters,
        updater state and counters (it is trained in place and can be used and saved
        as any network).
    client : distributed.Client
    averaging_frequency : int, default 5
        Minibatches each partition trains on between two averagings (DL4J's
        ``averagingFrequency``).
    batch_size : int, default 32
        Rows per minibatch (per partition: one synchronous step trains
        ``n_partitions * batch_size`` rows).
    average_updater_state : bool, default True
        Average the updater state (Adam's moments, ...) with the parameters and advance
        its step counters.  ``False``: every round starts from the driver's updater
        state, which training then leaves as it was (DL4J ``averageUpdaters(false)``).
    collect_scores : bool, default True
        Keep every minibatch score in ``history`` (``"scores"``, per task); the round's
        mean score is recorded either way.

    Attributes
    ----------
    history : list of dict
        One record per round: ``round`` (0, 1, ... over this trainer's life), ``phase``
        (``"fit"``/``"pretrain"``), ``layer`` (pretrain: the layer trained, else None),
        ``epoch`` (the ``net.epoch_count`` the round's epoch ends at), ``score`` (mean
        minibatch score), ``n_tasks``, ``n_batches``, ``seconds`` (the round's wall
        time on the driver), ``task_seconds`` (the longest task's training time; the
        difference is the round's overhead: broadcast, scheduling, loading, averaging)
        and ``scores`` (``{partition: [minibatch scores]}``, or None without
        ``collect_scores``).

    Notes
    -----
    *Exactness.*  With one partition and ``average_updater_state=True`` a run equals
    ``net.fit(x, y, batch_size=batch_size, epochs=epochs)`` (``net.pretrain(...)``)
    on the same rows bitwise, for any ``averaging_frequency``: the one task of a round
    draws its noise from the network's own generator state, broadcast with the
    parameters, and the driver takes back that task's parameters, updater state,
    counters and generator state unchanged, so the network's RNG stream and counters
    advance across rounds exactly as in one process.  (That needs the workers to run
    the same numba_ae, NumPy and BLAS build on the same kind of CPU as the driver.)
    With ``P`` partitions of equal size, ``Sgd`` and ``averaging_frequency=1``, a
    round is one step on the ``P`` minibatches concatenated (the average of ``P``
    gradient steps from the same point is the step of the averaged gradient), up to
    rounding.

    *Noise.*  With several partitions, task ``p`` of a round draws from a PCG64
    generator seeded by ``(network seed, round key, p)``, the round key being
    ``net.iteration_count`` at the round's start; the driver's generator is not
    advanced.  A run is thus deterministic given the seed and the partitioning.

    *Counters.*  Each epoch adds 1 to ``net.epoch_count`` and one record to
    ``net.history`` (as ``fit`` does; ``seconds`` is the epoch's wall time).  A round
    of several tasks adds its longest task's minibatch count to
    ``net.iteration_count`` and to the trained layers' updater step counters.

    *Listeners* run on the driver as in ``fit``/``pretrain``, with rounds in place of
    minibatches: ``on_train_start``, ``on_epoch_start``, ``iteration_done`` once per round
    (the round's mean score, at the round's last iteration), ``on_epoch_end``; setting
    ``net.stop_training`` (``EarlyStopping``) ends the phase after the current epoch, and
    ``CheckpointListener`` saves the averaged network.

    Examples
    --------
    >>> from dask.distributed import Client, LocalCluster
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))
    >>> trainer = DaskTrainer(net, client, averaging_frequency=5, batch_size=32)
    >>> trainer.pretrain(x, epochs=2)       # x: NumPy or dask array [rows, n_in]
    >>> net.save("vae.h5")
    """

    def __init__(self, net, client, averaging_frequency=5, batch_size=32, average_updater_state=True,
                 collect_scores=True):
        if not isinstance(net, MultiLayerNetwork):
            raise TypeError(f"{_OWNER}: 'net' must be a MultiLayerNetwork; got {type(net).__name__}")
        net.num_params()  # RuntimeError when not initialised
        from distributed import Client
        if not isinstance(client, Client):
            raise TypeError(f"{_OWNER}: 'client' must be a distributed.Client; got {type(client).__name__}")
        self.net = net
        self.client = client
        self.averaging_frequency = check_int(averaging_frequency, "averaging_frequency", _OWNER, low=1)
        self.batch_size = check_int(batch_size, "batch_size", _OWNER, low=1)
        self.average_updater_state = check_bool(average_updater_state, "average_updater_state", _OWNER)
        self.collect_scores = check_bool(collect_scores, "collect_scores", _OWNER)
        self.history = []

    # ================================================================== public
    def fit(self, x, y=None, epochs=1, *, n_partitions=None, shuffle=False, seed=None):
        """Supervised training of all layers (as ``net.fit``) on the cluster.

        Parameters
        ----------
        x : dask.array.Array or numpy.ndarray, shape [rows, n_in]
            A dask array's row chunks are the partitions (partition ``p`` trains on chunk
            ``p``, rows in order); a NumPy array is split into ``n_partitions`` contiguous
            parts.
        y : same kind as ``x``, shape [rows, n_out]
            Labels (one-hot or probability rows; regression targets).
        epochs : int, default 1
            Passes over every partition.
        n_partitions : int, optional
            NumPy input only; default: the number of workers.
        shuffle : bool, default False
            Visit each partition's rows in a new order every epoch (rows never leave their
            partition), drawn from ``(seed, net.epoch_count, partition)``.
        seed : int, optional
            The shuffle seed (default: the network's seed).

        Returns
        -------
        self
        """
        net = self.net
        if not isinstance(net.conf.layers[-1], _OutputConf):
            raise ValueError(f"{_OWNER}.fit needs an OutputLayer as the network's last layer; use pretrain for "
                             "unsupervised layers")
        epochs = check_int(epochs, "epochs", f"{_OWNER}.fit", low=1)
        shuffle_seed = self._shuffle_seed(shuffle, seed)
        parts = make_partitions(self.client, net, x, y, n_partitions, need_labels=True)
        try:
            self._train(parts, epochs, "fit", None, shuffle_seed)
        finally:
            parts.release()
        return self

    def pretrain(self, x, epochs=1, *, n_partitions=None, shuffle=False, seed=None):
        """Layerwise pretraining (as ``net.pretrain``) on the cluster: each pretrainable
        layer in order, ``epochs`` passes each, only that layer's parameters changing.

        Parameters are those of :meth:`fit` without labels.

        Returns
        -------
        self
        """
        net = self.net
        epochs = check_int(epochs, "epochs", f"{_OWNER}.pretrain", low=1)
        layers = [i for i, layer in enumerate(net.layers) if layer.pretrainable]
        if not layers:
            raise ValueError("the network has no pretrainable layer (AutoEncoder or VariationalAutoencoder)")
        shuffle_seed = self._shuffle_seed(shuffle, seed)
        parts = make_partitions(self.client, net, x, None, n_partitions, need_labels=False)
        try:
            for i in layers:
                self._train(parts, epochs, "pretrain", i, shuffle_seed)
        finally:
            parts.release()
        return self

    # ================================================================== rounds
    def _shuffle_seed(self, shuffle, seed):
        shuffle = check_bool(shuffle, "shuffle", _OWNER)
        seed = check_seed(seed, "seed", _OWNER)
        if not shuffle:
            if seed is not None:
                raise ValueError(f"{_OWNER}: 'seed' is the shuffle seed; it needs shuffle=True")
            return None
        return self.net.seed if seed is None else seed

    def _train(self, parts, epochs, phase, layer, shuffle_seed):
        net = self.net
        n_batches = _plan.batches_per_partition(parts.rows, self.batch_size)
        rounds = _plan.epoch_rounds(n_batches, self.averaging_frequency)
        net.stop_training = False
        for ls in net.listeners:
            ls.on_train_start(net, phase, layer)
        for _ in range(epochs):
            t0 = time.perf_counter()
            epoch_key = net.epoch_count
            net._notify_epoch_start(epoch_key, len(rounds))
            total, count = 0.0, 0
            for tasks in rounds:
                score, n = self._round(parts, tasks, phase, layer, shuffle_seed, epoch_key)
                total += score * n
                count += n
                net._notify_iter(score)
            net.epoch_count += 1
            net.history.append({"phase": phase, "epoch": net.epoch_count, "score": total / count,
                                "val_score": None, "seconds": time.perf_counter() - t0,
                                **({"layer": layer} if phase == "pretrain" else {})})
            net._notify_epoch_end()
            if net.stop_training:
                break

    def _broadcast_state(self, phase, layer):
        """The round's state: parameters, the trained layers' updater state, counters, RNG."""
        net = self.net
        pretrain = phase == "pretrain"
        trained = [layer] if pretrain else range(len(net.layers))
        ts = net.training_state()
        steps = ts["pretrain_updater_steps" if pretrain else "updater_steps"]
        updater = {i: {"step": int(steps[i]),
                       "state": {name: {k: v.copy() for k, v in st.items()}
                                 for name, st in net.updater_state(i, pretrain=pretrain).items()}}
                   for i in trained}
        return {"config": net.conf, "nan_guard": net.nan_guard, "params": net.params(), "phase": phase,
                "layer": layer, "updater": updater, "training_state": ts}

    def _round(self, parts, tasks, phase, layer, shuffle_seed, epoch_key):
        net, client = self.net, self.client
        t0 = time.perf_counter()
        state = self._broadcast_state(phase, layer)
        round_key = net.iteration_count
        sfut = client.scatter([state], broadcast=True, hash=False)[0]
        futures = []
        for p, first, count in tasks:
            spec = {"partition": p, "first": first, "count": count, "batch_size": self.batch_size,
                    "own_rng": len(parts) == 1, "round_key": round_key, "shuffle_seed": shuffle_seed,
                    "epoch_key": epoch_key, "collect_scores": self.collect_scores,
                    "return_updater": self.average_updater_state}
            futures.append(client.submit(_tasks.train_partition, sfut, parts.futures[p], spec,
                                         workers=[parts.workers[p]], allow_other_workers=True, pure=False))
        try:
            results = client.gather(futures)
        finally:
            for f in futures:
                f.release()
            sfut.release()
        score, n = _average.apply_round(net, results, phase, layer, self.average_updater_state)
        self.history.append({
            "round": len(self.history), "phase": phase, "layer": layer, "epoch": net.epoch_count + 1,
            "score": score, "n_tasks": len(results), "n_batches": n,
            "seconds": time.perf_counter() - t0, "task_seconds": max(r["seconds"] for r in results),
            "scores": {r["partition"]: r["scores"] for r in results} if self.collect_scores else None})
        return score, n

    def __repr__(self):
        return (f"DaskTrainer({self.net!r}, averaging_frequency={self.averaging_frequency}, "
                f"batch_size={self.batch_size}, rounds={len(self.history)})")


__all__ = ["DaskTrainer"]
