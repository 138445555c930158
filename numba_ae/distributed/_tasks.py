"""The functions that run on the workers (module level, so tasks pickle by reference;
this module imports nothing from dask: a task needs only ``numba_ae`` and NumPy).

* :func:`prepare_partition` validates one partition once per ``fit``/``pretrain`` call
  (features, labels, the network's dtype), so rounds need no per-batch checks beyond
  the network's own.
* :func:`train_partition` is one task of one round: load the broadcast state into a
  network, run the partition's next minibatches through ``fit_batch`` or
  ``pretrain_batch``, return the trained layers' parameters and updater state.

What travels is plain data only: the broadcast is a dict of a config, arrays and the
network's ``training_state()``; a result is a dict of arrays, floats and ints.
Networks are rebuilt on a worker from the config and kept there, one per config and
concurrent task (``_POOL``), so a round costs a copy of the state into a built
network, not a new network (``MultiLayerNetwork.from_state`` would also re-run the
weight init: ~11 ms for the bundled MNIST VAE).
"""
import collections
import threading
import time

import numpy as np

from ..data import check_features, check_labels
from ..network import MultiLayerNetwork
from ._plan import epoch_order, task_generator

#: Configs whose idle networks a worker process keeps (least recently used dropped first).
POOL_CONFIGS = 4
_POOL = collections.OrderedDict()
_POOL_LOCK = threading.Lock()


def prepare_partition(x, y, n_in, n_out, dtype, partition):
    """One partition as checked arrays in the network's dtype.

    Parameters
    ----------
    x : array [rows, n_in]; y : array [rows, n_out] or None
    n_in, n_out : the network's input width and label width (``n_out`` None: no labels).
    dtype : the network's dtype.
    partition : its index, for the error messages.

    Returns
    -------
    (x, y) : C-contiguous arrays in ``dtype`` (``y`` None when not given).
    """
    x = check_features(x, name=f"features of partition {partition}", n_in=n_in, dtype=dtype)
    if y is not None:
        y = check_labels(y, x.shape[0], name=f"labels of partition {partition}", n_out=n_out, dtype=dtype,
                         features_name=f"features of partition {partition}")
    return x, y


def layer_offsets(net):
    """``[(start, stop)]`` of each layer's segment of the flat parameter vector."""
    bounds = np.cumsum([0] + [layer.num_params() for layer in net.layers])
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def _acquire(conf, nan_guard):
    key = (conf, bool(nan_guard))
    with _POOL_LOCK:
        idle = _POOL.get(key)
        if idle:
            _POOL.move_to_end(key)
            return idle.pop()
    return MultiLayerNetwork(conf, nan_guard=nan_guard).init()


def _release(net):
    key = (net.conf, bool(net.nan_guard))
    with _POOL_LOCK:
        _POOL.setdefault(key, []).append(net)
        _POOL.move_to_end(key)
        while len(_POOL) > POOL_CONFIGS:
            _POOL.popitem(last=False)


def load_broadcast(net, state, rng_state):
    """Copy a round's broadcast ``state`` (see ``DaskTrainer``) into ``net`` (built from the
    same config): parameters, the trained layers' updater state, counters, and
    ``rng_state`` as the generator state."""
    net.set_params(state["params"])
    pretrain = state["phase"] == "pretrain"
    for i, entry in state["updater"].items():
        views = net.updater_state(i, pretrain=pretrain)
        for name, st in entry["state"].items():
            for sname, arr in st.items():
                views[name][sname][...] = arr
    training = dict(state["training_state"])
    training["rng_state"] = rng_state
    net.set_training_state(training)


def train_partition(state, part, spec):
    """One task of one round.

    Parameters
    ----------
    state : dict
        The round's broadcast: ``config``, ``nan_guard``, ``params`` (flat vector),
        ``phase`` (``"fit"``/``"pretrain"``), ``layer`` (pretrain: the layer trained),
        ``updater`` (``{layer: {"step", "state"}}`` of the trained layers, or ``{}``),
        ``training_state`` (the driver network's ``training_state()``).
    part : (x, y)
        The partition from :func:`prepare_partition`.
    spec : dict
        ``partition``, ``first`` (first minibatch), ``count`` (minibatches), ``batch_size``,
        ``own_rng`` (draw from the broadcast RNG state, the one-partition case, instead of
        the per-task generator), ``round_key``, ``shuffle_seed``, ``epoch_key``,
        ``collect_scores``, ``return_updater`` (send the updater state back).

    Returns
    -------
    dict
        ``partition``, ``count``, ``score_sum``, ``last_score``, ``scores`` (list or None),
        ``params`` (``{layer: its segment of the flat vector}`` of the trained layers),
        ``updater`` (``{layer: {"step", "state"}}``), ``training_state`` (after training),
        ``seconds`` (training time), ``setup_seconds`` (loading the state).
    """
    t0 = time.perf_counter()
    x, y = part
    if spec["own_rng"]:
        rng_state = state["training_state"]["rng_state"]
    else:
        seed = state["training_state"]["seed"]
        rng_state = task_generator(seed, spec["round_key"], spec["partition"]).bit_generator.state
    net = _acquire(state["config"], state["nan_guard"])
    try:
        load_broadcast(net, state, rng_state)
        t1 = time.perf_counter()
        scores = _run_batches(net, x, y, state, spec)
        t2 = time.perf_counter()
        return _result(net, state, spec, scores, t2 - t1, t1 - t0)
    finally:
        _release(net)


def _run_batches(net, x, y, state, spec):
    bs, first, count = spec["batch_size"], spec["first"], spec["count"]
    order = epoch_order(x.shape[0], spec["shuffle_seed"], spec["epoch_key"], spec["partition"])
    layer = state["layer"]
    scores = []
    for b in range(first, first + count):
        lo, hi = b * bs, min((b + 1) * bs, x.shape[0])
        if order is None:
            xb, yb = x[lo:hi], None if y is None else y[lo:hi]
        else:
            rows = order[lo:hi]
            xb, yb = x[rows], None if y is None else y[rows]
        if state["phase"] == "fit":
            scores.append(net.fit_batch(xb, yb))
        else:
            scores.append(net.pretrain_batch(layer, xb))
    return scores


def _result(net, state, spec, scores, seconds, setup_seconds):
    pretrain = state["phase"] == "pretrain"
    trained = [state["layer"]] if pretrain else list(range(len(net.layers)))
    flat = net.params()
    offsets = layer_offsets(net)
    params = {i: flat[offsets[i][0]:offsets[i][1]] for i in trained}
    ts = net.training_state()
    steps = ts["pretrain_updater_steps" if pretrain else "updater_steps"]
    updater = {}
    for i in (state["updater"] if spec["return_updater"] else ()):
        views = net.updater_state(i, pretrain=pretrain)
        updater[i] = {"step": int(steps[i]),
                      "state": {name: {k: v.copy() for k, v in st.items()} for name, st in views.items()}}
    return {"partition": spec["partition"], "count": len(scores), "score_sum": float(sum(scores)),
            "last_score": float(scores[-1]), "scores": list(scores) if spec["collect_scores"] else None,
            "params": params, "updater": updater, "training_state": ts,
            "seconds": seconds, "setup_seconds": setup_seconds}
