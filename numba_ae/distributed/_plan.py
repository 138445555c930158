"""Round planning of synchronous parameter averaging (pure Python; no dask).

An epoch of partition ``p`` is its ``ceil(rows_p / batch_size)`` minibatches in order
(the last one may be short, as ``ArrayDataSetIterator`` without ``drop_last`` gives
them).  Rounds never span two epochs: round ``r`` of an epoch gives every partition
its minibatches ``[r*k, min((r+1)*k, n_p))`` (``k = averaging_frequency``), and a
partition whose epoch is already used up sits the round out.  The generators of the
tasks and the per-epoch row orders are seeded from the keys defined here, so a run is
a function of the network seed, the shuffle seed and the partitioning.
"""
import math

import numpy as np


def batches_per_partition(rows, batch_size):
    """Minibatches of one epoch of each partition: ``[ceil(r / batch_size) for r in rows]``."""
    return [math.ceil(r / batch_size) for r in rows]


def epoch_rounds(n_batches, k):
    """The rounds of one epoch.

    Parameters
    ----------
    n_batches : list of int
        Minibatches per epoch of each partition (all >= 1).
    k : int
        The averaging frequency: minibatches per partition per round (>= 1).

    Returns
    -------
    list of list of (int, int, int)
        One list per round of ``(partition, first minibatch, minibatch count)``, partitions
        in order; every minibatch of every partition appears exactly once.
    """
    n_rounds = math.ceil(max(n_batches) / k)
    return [[(p, r * k, min(k, n - r * k)) for p, n in enumerate(n_batches) if n > r * k]
            for r in range(n_rounds)]


def task_generator(seed, round_key, partition):
    """The generator of one task's noise (corruption masks, VAE samples) when there is
    more than one partition: PCG64 seeded by ``SeedSequence([seed, round_key, partition])``.

    ``round_key`` is the network's ``iteration_count`` at the start of the round: it grows
    every round of the network's life (over ``fit`` and ``pretrain`` calls and trainers),
    so no two rounds of one network draw the same noise.
    """
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(round_key),
                                                                        int(partition)])))


def epoch_order(n_rows, shuffle_seed, epoch_key, partition):
    """Row order of one partition in one epoch: ``None`` (rows in order) when
    ``shuffle_seed`` is None, else a permutation drawn from
    ``SeedSequence([shuffle_seed, epoch_key, partition])`` (``epoch_key``: the network's
    ``epoch_count`` at the start of the epoch)."""
    if shuffle_seed is None:
        return None
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(shuffle_seed), int(epoch_key),
                                                                       int(partition)])))
    return rng.permutation(n_rows)
