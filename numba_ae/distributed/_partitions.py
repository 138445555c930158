"""Training data as partitions on the workers: one future of ``(x, y)`` per partition,
placed round-robin over the workers and validated once (``_tasks.prepare_partition``).

* a ``dask.array`` (and its labels): its row chunks are the partitions, in order
  (column chunks are merged; labels are rechunked to the features' row chunks);
* a NumPy array (or anything ``numpy.asarray`` takes): validated on the driver, split
  into ``n_partitions`` contiguous parts (``numpy.array_split``: sizes differ by at most
  one row, the first parts are the larger) and scattered, one part per worker in turn.
"""
import numpy as np

from ..data import check_features, check_labels
from ..validation import check_int
from . import _tasks

_OWNER = "DaskTrainer"


class Partitions:
    """The partitions of one training call: ``futures`` (one ``(x, y)`` future each),
    ``rows`` (their row counts) and ``workers`` (the worker each was placed on)."""

    def __init__(self, futures, rows, workers):
        self.futures = futures
        self.rows = rows
        self.workers = workers

    def __len__(self):
        return len(self.futures)

    def release(self):
        for f in self.futures:
            f.release()
        self.futures = []


def worker_addresses(client):
    """The client's workers, sorted by address (``ValueError`` when there is none)."""
    workers = sorted(client.nthreads())
    if not workers:
        raise ValueError(f"{_OWNER}: the client's cluster has no workers")
    return workers


def is_dask_array(a):
    try:
        import dask.array as da
    except ImportError:  # pragma: no cover - dask is a dependency of this package
        return False
    return isinstance(a, da.Array)


def make_partitions(client, net, x, y, n_partitions, need_labels):
    """Partitions of ``x`` (and labels ``y``) for ``net`` on ``client``'s workers.

    Raises
    ------
    TypeError, ValueError
        Bad data (named ``x``/``y``, a partition by its index), ``n_partitions`` given with
        a dask array or out of range, labels missing where ``fit`` needs them.
    """
    n_out = net.conf.layers[-1].n_out if need_labels else None
    if need_labels and y is None:
        raise ValueError(f"{_OWNER}.fit: 'y' (labels) is required (use pretrain for unlabelled data)")
    workers = worker_addresses(client)
    if is_dask_array(x):
        if n_partitions is not None:
            raise ValueError(f"{_OWNER}: 'n_partitions' must be None when 'x' is a dask array (its row chunks "
                             f"are the partitions; rechunk it to change them); got {n_partitions!r}")
        return _from_dask(client, net, x, y, n_out, workers)
    if is_dask_array(y):
        raise TypeError(f"{_OWNER}: 'y' is a dask array but 'x' is not; pass both as dask arrays or both as "
                        "NumPy arrays")
    return _from_numpy(client, net, x, y, n_out, n_partitions, workers)


def _from_numpy(client, net, x, y, n_out, n_partitions, workers):
    x = check_features(x, name="x", n_in=net.n_in, dtype=net.dtype)
    if y is not None:
        y = check_labels(y, x.shape[0], name="y", n_out=n_out, dtype=net.dtype, features_name="x")
    n = check_int(len(workers) if n_partitions is None else n_partitions, "n_partitions", _OWNER, low=1)
    if n > x.shape[0]:
        raise ValueError(f"{_OWNER}: 'n_partitions' must be <= the {x.shape[0]} rows of 'x'; got {n}")
    bounds = [int(b[0]) for b in np.array_split(np.arange(x.shape[0]), n)]
    bounds.append(x.shape[0])
    futures, rows, placed = [], [], []
    for p in range(n):
        lo, hi = bounds[p], bounds[p + 1]
        w = workers[p % len(workers)]
        part = (x[lo:hi], None if y is None else y[lo:hi])
        futures.append(client.scatter([part], workers=[w], hash=False)[0])
        rows.append(hi - lo)
        placed.append(w)
    return Partitions(futures, rows, placed)


def _from_dask(client, net, x, y, n_out, workers):
    if x.ndim != 2:
        raise ValueError(f"{_OWNER}: 'x' must be a 2-D dask array [rows, n_in]; got {x.ndim}-D")
    if any(np.isnan(c) for c in x.chunks[0]):
        raise ValueError(f"{_OWNER}: 'x' has unknown chunk sizes; call x.compute_chunk_sizes() first")
    if x.shape[1] != net.n_in:
        raise ValueError(f"{_OWNER}: 'x' has {x.shape[1]} column(s) but the network's first layer expects "
                         f"n_in={net.n_in}")
    rows = [int(c) for c in x.chunks[0]]
    empty = [p for p, r in enumerate(rows) if r == 0]
    if empty:
        raise ValueError(f"{_OWNER}: 'x' has empty row chunks (partitions {empty}); rechunk it")
    x = x.rechunk({1: -1})
    ys = [None] * len(rows)
    if y is not None:
        if not is_dask_array(y):
            raise TypeError(f"{_OWNER}: 'y' must be a dask array when 'x' is one; got {type(y).__name__}")
        if y.ndim != 2 or y.shape[0] != x.shape[0]:
            raise ValueError(f"{_OWNER}: 'y' must be a 2-D dask array with the {x.shape[0]} rows of 'x'; "
                             f"got shape {y.shape}")
        ys = list(y.rechunk((x.chunks[0], -1)).to_delayed().ravel())
    xs = list(x.to_delayed().ravel())
    futures, placed = [], []
    for p, (xd, yd) in enumerate(zip(xs, ys)):
        w = workers[p % len(workers)]
        xf = client.compute(xd, workers=[w], allow_other_workers=True)
        yf = None if yd is None else client.compute(yd, workers=[w], allow_other_workers=True)
        futures.append(client.submit(_tasks.prepare_partition, xf, yf, net.n_in, n_out, net.dtype, p,
                                     workers=[w], allow_other_workers=True, pure=False))
        placed.append(w)
    return Partitions(futures, rows, placed)
