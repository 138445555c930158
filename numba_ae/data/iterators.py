"""Minibatch iterators over in-memory data (DL4J ``DataSetIterator`` analogue).

* :class:`DataSetIterator` -- the base interface: iterating yields
  :class:`~numba_ae.data.dataset.DataSet` minibatches, one epoch per ``iter()``.
* :class:`ArrayDataSetIterator` -- minibatches over NumPy arrays, optional
  reproducible shuffling and exact resume via :meth:`~ArrayDataSetIterator.get_state`.
* :class:`AsyncDataSetIterator` -- prefetches another iterator's batches in a
  background thread.
* :class:`MnistDataSetIterator` -- :class:`ArrayDataSetIterator` over the
  shipped MNIST copy.
"""

from __future__ import annotations

import copy
import queue
import threading
from collections.abc import Mapping

import numpy as np

from .dataset import DataSet
from .mnist import mnist_arrays
from ..validation import check_bool, check_int, check_seed, entries_of_one_argument
from .validation import check_features, check_labels

__all__ = [
    "DataSetIterator",
    "ArrayDataSetIterator",
    "AsyncDataSetIterator",
    "MnistDataSetIterator",
]

_STATE_VERSION = 1


class DataSetIterator:
    """Base class of minibatch iterators.

    Each call to ``iter(it)`` (e.g. each ``for batch in it:`` loop) starts a new
    epoch and yields :class:`~numba_ae.data.dataset.DataSet` minibatches with
    ``features`` of shape [batch, n_features] and ``labels`` of shape
    [batch, n_labels] (or ``None`` for unlabelled data).

    Subclasses implement ``__iter__``, ``__len__`` and the four properties;
    :meth:`reset` defaults to a no-op.
    """

    def __iter__(self):
        """Start a new epoch.

        Returns
        -------
        iterator of DataSet
            Minibatches; features [batch, n_features], labels
            [batch, n_labels] or None.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __len__(self):
        """Number of minibatches per epoch.

        Returns
        -------
        int
        """
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def reset(self):
        """Abandon the epoch in progress (if any); the next ``iter()`` starts afresh."""

    @property
    def batch_size(self):
        """int: (maximum) number of examples per minibatch."""
        raise NotImplementedError

    @property
    def num_examples(self):
        """int: number of examples per epoch (before ``drop_last``)."""
        raise NotImplementedError

    @property
    def n_features(self):
        """int: number of feature columns."""
        raise NotImplementedError

    @property
    def n_labels(self):
        """int or None: number of label columns, None if unlabelled."""
        raise NotImplementedError

    def __repr__(self):
        try:
            return (
                f"{type(self).__name__}(num_examples={self.num_examples}, "
                f"batch_size={self.batch_size}, n_features={self.n_features}, "
                f"n_labels={self.n_labels}, batches_per_epoch={len(self)})"
            )
        except NotImplementedError:
            return f"{type(self).__name__}()"


class ArrayDataSetIterator(DataSetIterator):
    """Minibatches over in-memory feature (and label) arrays.

    Parameters
    ----------
    features : array_like, shape [n_examples, n_features]
        Numeric, finite, 2-D. Stored C-contiguous (float32/float64 keep their
        dtype, other numeric dtypes become float32). No copy is made when
        the input already qualifies, so the iterator aliases the caller's array.
    labels : array_like, shape [n_examples, n_labels], optional
        Row-aligned targets, validated like ``features``; ``None`` for
        unlabelled data.
    batch_size : int, default 32
        Examples per minibatch (>= 1).
    shuffle : bool, default False
        Visit examples in a fresh random order each epoch.
    seed : int, optional
        Seed of the ``np.random.Generator(np.random.PCG64(seed))`` used for
        shuffling. The generator persists across epochs, so every epoch has a
        new order while the whole sequence of epochs is reproducible.
    drop_last : bool, default False
        Drop the final minibatch if it is shorter than ``batch_size``.

    Raises
    ------
    TypeError
        If the arrays are not numeric, ``batch_size`` is not an int,
        ``shuffle``/``drop_last`` are not bools, or ``seed`` is not None/int.
    ValueError
        If the arrays fail validation, ``batch_size`` < 1, ``seed`` < 0, or
        ``drop_last=True`` with ``batch_size > n_examples`` (no batch at all).

    Notes
    -----
    Unshuffled minibatches are *views* (row slices) of the stored arrays,
    shuffled ones are contiguous copies (fancy indexing); treat batches as
    read-only. Each ``iter()`` call starts a new epoch and invalidates any
    iterator of the previous epoch still in progress (it simply stops).

    Examples
    --------
    >>> it = ArrayDataSetIterator(np.arange(10.0).reshape(5, 2), batch_size=2)
    >>> [len(b) for b in it]
    [2, 2, 1]
    """

    def __init__(self, features, labels=None, batch_size=32, shuffle=False,
                 seed=None, drop_last=False):
        owner = type(self).__name__
        batch_size = check_int(batch_size, "batch_size", owner, low=1)
        shuffle = check_bool(shuffle, "shuffle", owner)
        drop_last = check_bool(drop_last, "drop_last", owner)
        seed = check_seed(seed, "seed", owner)
        self._features = check_features(features, name="features")
        n = int(self._features.shape[0])
        self._labels = None if labels is None else check_labels(labels, n, name="labels")
        if drop_last and batch_size > n:
            raise ValueError(
                f"'batch_size'={batch_size} exceeds the number of examples ({n}) with "
                f"drop_last=True, so no minibatch would ever be produced"
            )
        self._batch_size = batch_size
        self._shuffle = shuffle
        self._drop_last = drop_last
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self._epoch = 0               # epochs started so far
        self._generation = 0          # bumped by reset(); stale generators stop
        self._active = False          # an epoch is in progress
        self._pos = 0                 # batches handed out in the current epoch
        self._epoch_rng_state = None  # RNG state before the current epoch's draw
        self._resume_batch = 0        # batches to skip at the start of the next epoch

    # ------------------------------------------------------------------ info
    @property
    def batch_size(self):
        """int: (maximum) number of examples per minibatch."""
        return self._batch_size

    @property
    def num_examples(self):
        """int: number of examples in the stored arrays."""
        return int(self._features.shape[0])

    @property
    def n_features(self):
        """int: number of feature columns."""
        return int(self._features.shape[1])

    @property
    def n_labels(self):
        """int or None: number of label columns, None if unlabelled."""
        return None if self._labels is None else int(self._labels.shape[1])

    @property
    def features(self):
        """numpy.ndarray, shape [n_examples, n_features]: the stored features."""
        return self._features

    @property
    def labels(self):
        """numpy.ndarray, shape [n_examples, n_labels], or None: the stored labels."""
        return self._labels

    @property
    def shuffle(self):
        """bool: whether each epoch visits the examples in a new random order."""
        return self._shuffle

    @property
    def drop_last(self):
        """bool: whether a final short minibatch is dropped."""
        return self._drop_last

    def __len__(self):
        """Number of minibatches per epoch.

        Returns
        -------
        int
            ``n // batch_size`` with ``drop_last``, else ``ceil(n / batch_size)``.
        """
        n, b = self.num_examples, self._batch_size
        return n // b if self._drop_last else -(-n // b)

    # ------------------------------------------------------------- iteration
    def reset(self):
        """Abandon the epoch in progress; the next ``iter()`` starts a new epoch.

        Does not consume randomness: only starting an epoch draws a permutation.
        """
        self._generation += 1
        self._active = False

    def __iter__(self):
        """Start a new epoch (calls :meth:`reset`) and return its batch iterator.

        Returns
        -------
        iterator of DataSet
            ``len(self)`` minibatches (fewer only after :meth:`set_state`
            restored a mid-epoch position); features [batch, n_features],
            labels [batch, n_labels] or None.
        """
        self.reset()
        gen = self._generation
        pre_state = copy.deepcopy(self._rng.bit_generator.state)
        order = self._rng.permutation(self.num_examples) if self._shuffle else None
        self._epoch += 1
        self._epoch_rng_state = pre_state
        start = self._resume_batch
        self._resume_batch = 0
        self._pos = start
        self._active = True
        return self._batches(gen, order, start)

    def _batches(self, gen, order, start):
        """Generate one epoch's minibatches.

        Parameters
        ----------
        gen : int
            Generation number; the generator stops once :meth:`reset` bumps it.
        order : numpy.ndarray of int, shape [n_examples], or None
            Permutation of the examples (None: natural order, views).
        start : int
            Index of the first minibatch to produce.

        Yields
        ------
        DataSet
            features [batch, n_features], labels [batch, n_labels] or None.
        """
        x, y = self._features, self._labels
        n, bs = self.num_examples, self._batch_size
        for b in range(start, len(self)):
            if self._generation != gen:
                return
            lo, hi = b * bs, min((b + 1) * bs, n)
            if order is None:
                fx = x[lo:hi]
                fy = None if y is None else y[lo:hi]
            else:
                idx = order[lo:hi]
                fx = x[idx]
                fy = None if y is None else y[idx]
            self._pos = b + 1
            yield DataSet._trusted(fx, fy)
        if self._generation == gen:
            self._active = False

    # ---------------------------------------------------------------- resume
    def get_state(self):
        """Snapshot the position in the batch sequence (JSON-serialisable).

        Returns
        -------
        dict
            ``{"version", "epoch", "batch", "num_examples", "batch_size",
            "shuffle", "drop_last", "bit_generator_state"}``: ``epoch`` is the
            number of completed epochs, ``batch`` the number of minibatches
            already handed out in the next one, and ``bit_generator_state``
            the PCG64 state from which that epoch's permutation is drawn.
            Passing it to :meth:`set_state` (of this or an identically
            configured iterator) reproduces exactly the batches that would
            have followed.
        """
        if self._active and self._pos < len(self):
            rng_state = self._epoch_rng_state
            epoch, batch = self._epoch - 1, self._pos
        else:
            rng_state = self._rng.bit_generator.state
            epoch, batch = self._epoch, self._resume_batch
        return {
            "version": _STATE_VERSION,
            "epoch": int(epoch),
            "batch": int(batch),
            "num_examples": self.num_examples,
            "batch_size": self._batch_size,
            "shuffle": self._shuffle,
            "drop_last": self._drop_last,
            "bit_generator_state": copy.deepcopy(rng_state),
        }

    def set_state(self, state):
        """Restore a position saved by :meth:`get_state`.

        Abandons the epoch in progress; the next ``iter()`` continues exactly
        where the saved iterator was (mid-epoch positions included).

        Parameters
        ----------
        state : dict
            As returned by :meth:`get_state` (possibly after a JSON round trip).

        Raises
        ------
        TypeError
            If ``state`` is not a mapping.
        ValueError
            If keys are missing, or it was saved for a different
            ``num_examples``/``batch_size``/``shuffle``/``drop_last``, or the
            RNG state is invalid.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"'state' must be a dict from get_state(); got {type(state).__name__}")
        required = ("epoch", "batch", "num_examples", "batch_size", "shuffle",
                    "drop_last", "bit_generator_state")
        missing = [k for k in required if k not in state]
        if missing:
            raise ValueError(f"'state' is missing key(s) {missing}; expected a dict from get_state()")
        for key, mine in (("num_examples", self.num_examples), ("batch_size", self._batch_size),
                          ("shuffle", self._shuffle), ("drop_last", self._drop_last)):
            if state[key] != mine:
                raise ValueError(
                    f"'state' was saved for {key}={state[key]!r} but this iterator has {key}={mine!r}"
                )
        with entries_of_one_argument():
            epoch = check_int(state["epoch"], "state['epoch']", "ArrayDataSetIterator.set_state", low=0)
            batch = check_int(state["batch"], "state['batch']", "ArrayDataSetIterator.set_state", low=0)
        if batch >= len(self) and batch != 0:
            raise ValueError(f"state['batch'] must be < {len(self)} (batches per epoch); got {batch}")
        rng = np.random.Generator(np.random.PCG64())
        try:
            rng.bit_generator.state = copy.deepcopy(dict(state["bit_generator_state"]))
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"state['bit_generator_state'] is not a valid PCG64 state: {exc}") from None
        self.reset()
        self._rng = rng
        self._epoch = epoch
        self._resume_batch = batch
        self._pos = 0
        self._epoch_rng_state = None


_ITEM, _END, _ERROR = "item", "end", "error"


class AsyncDataSetIterator(DataSetIterator):
    """Prefetch another iterator's minibatches in a background thread.

    Yields the same :class:`~numba_ae.data.dataset.DataSet` objects, in the
    same order, as ``inner`` would, while up to ``prefetch`` of them are
    prepared ahead by a daemon worker thread. An exception raised while
    producing a batch is re-raised in the consumer. If the consumer stops
    early (``break``, generator closed or garbage-collected, :meth:`reset`),
    the worker notices within ~50 ms and exits.

    Parameters
    ----------
    inner : DataSetIterator
        The iterator to prefetch from. It should not be iterated elsewhere
        while this one is in use.
    prefetch : int, default 2
        Maximum number of ready batches kept in the queue (>= 1).

    Raises
    ------
    TypeError
        If ``inner`` is not a :class:`DataSetIterator` or ``prefetch`` is not an int.
    ValueError
        If ``prefetch`` < 1.

    Notes
    -----
    ``__len__``, :meth:`reset` and the ``batch_size``/``num_examples``/
    ``n_features``/``n_labels`` properties delegate to ``inner``. There is no
    ``get_state``: the inner iterator runs ahead of the consumer.
    """

    _POLL_S = 0.05

    def __init__(self, inner, prefetch=2):
        if not isinstance(inner, DataSetIterator):
            raise TypeError(
                f"'inner' must be a DataSetIterator; got {type(inner).__name__}"
            )
        self._inner = inner
        self._prefetch = check_int(prefetch, "prefetch", "AsyncDataSetIterator", low=1)
        self._stop = None
        self._thread = None

    @property
    def inner(self):
        """DataSetIterator: the wrapped iterator."""
        return self._inner

    @property
    def prefetch(self):
        """int: maximum number of batches prepared ahead."""
        return self._prefetch

    @property
    def batch_size(self):
        """int: ``inner.batch_size``."""
        return self._inner.batch_size

    @property
    def num_examples(self):
        """int: ``inner.num_examples``."""
        return self._inner.num_examples

    @property
    def n_features(self):
        """int: ``inner.n_features``."""
        return self._inner.n_features

    @property
    def n_labels(self):
        """int or None: ``inner.n_labels``."""
        return self._inner.n_labels

    def __len__(self):
        """Number of minibatches per epoch (``len(inner)``).

        Returns
        -------
        int
        """
        return len(self._inner)

    def reset(self):
        """Stop the worker of the epoch in progress (if any) and reset ``inner``."""
        stop, thread = self._stop, self._thread
        self._stop = self._thread = None
        if stop is not None:
            stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        self._inner.reset()

    def __iter__(self):
        """Start a new epoch: launch a worker thread over ``iter(inner)``.

        Returns
        -------
        iterator of DataSet
            Same batches as ``iter(inner)``; features [batch, n_features],
            labels [batch, n_labels] or None.
        """
        self.reset()
        stop = threading.Event()
        q = queue.Queue(maxsize=self._prefetch)
        thread = threading.Thread(
            target=self._work, args=(self._inner, q, stop),
            name="AsyncDataSetIterator-worker", daemon=True,
        )
        self._stop, self._thread = stop, thread
        thread.start()
        return self._consume(q, stop, thread)

    @classmethod
    def _work(cls, inner, q, stop):
        """Worker thread body: push ``(kind, payload)`` tuples into ``q``.

        Parameters
        ----------
        inner : DataSetIterator
        q : queue.Queue
        stop : threading.Event
            Set by the consumer to ask the worker to exit.
        """
        def put(item):
            while not stop.is_set():
                try:
                    q.put(item, timeout=cls._POLL_S)
                    return True
                except queue.Full:
                    continue
            return False

        it = None
        try:
            it = iter(inner)
            for ds in it:
                if not put((_ITEM, ds)):
                    return
            put((_END, None))
        except BaseException as exc:  # forwarded to the consumer
            put((_ERROR, exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    pass

    @classmethod
    def _consume(cls, q, stop, thread):
        """Consumer-side generator; always stops the worker when it ends.

        Parameters
        ----------
        q : queue.Queue
        stop : threading.Event
        thread : threading.Thread

        Yields
        ------
        DataSet
        """
        try:
            while True:
                if stop.is_set():  # reset() abandoned this epoch
                    return
                try:
                    kind, payload = q.get(timeout=cls._POLL_S)
                except queue.Empty:
                    if not thread.is_alive():
                        try:
                            kind, payload = q.get_nowait()
                        except queue.Empty:
                            raise RuntimeError(
                                "AsyncDataSetIterator worker thread exited without "
                                "finishing the epoch"
                            ) from None
                    else:
                        continue
                if kind == _ITEM:
                    yield payload
                elif kind == _END:
                    return
                else:
                    raise payload
        finally:
            stop.set()
            if thread is not threading.current_thread():
                thread.join(timeout=1.0)


class MnistDataSetIterator(ArrayDataSetIterator):
    """Minibatches of MNIST from the copy shipped with the package.

    Parameters
    ----------
    batch_size : int
        Examples per minibatch (>= 1).
    train : bool, default True
        Training split (60000 examples) if True, else test split (10000).
    binarize : bool, default False
        Features ``(x / 255 > 0.5)`` as 0/1 instead of ``x / 255`` in [0, 1].
    shuffle : bool, default True
        New random order each epoch.
    seed : int, optional
        Shuffling seed (see :class:`ArrayDataSetIterator`).
    path : str or os.PathLike, optional
        Alternative npz file (see :func:`~numba_ae.data.mnist.load_mnist`).
    num_examples : int, optional
        Use only the first ``num_examples`` examples of the split.
    drop_last : bool, default False
        Drop a final short minibatch.

    Notes
    -----
    Batches have features [batch, 784] float32 and one-hot labels
    [batch, 10] float32.
    """

    def __init__(self, batch_size, train=True, binarize=False, shuffle=True,
                 seed=None, path=None, num_examples=None, drop_last=False):
        # Cheap argument checks before the (larger) data conversion.
        owner = type(self).__name__
        check_int(batch_size, "batch_size", owner, low=1)
        check_int(num_examples, "num_examples", owner, low=1, allow_none=True)
        self.train = check_bool(train, "train", owner)
        self.binarize = check_bool(binarize, "binarize", owner)
        features, labels = mnist_arrays(train=self.train, binarize=self.binarize,
                                        path=path, num_examples=num_examples)
        super().__init__(features, labels, batch_size=batch_size, shuffle=shuffle,
                         seed=seed, drop_last=drop_last)
