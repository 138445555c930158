"""The iterator interface and the in-memory array iterator.

* :class:`DataSetIterator` -- the base interface: iterating yields
  :class:`~numba_ae.data.dataset.DataSet` minibatches, one epoch per ``iter()``.
* :class:`ArrayDataSetIterator` -- minibatches over NumPy arrays, optional
  reproducible shuffling and exact resume via :meth:`~ArrayDataSetIterator.get_state`.

Both are public as :mod:`numba_ae.data.iterators` (import them from there).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np

from .dataset import DataSet
from ..validation import check_bool, check_int, check_seed, entries_of_one_argument
from .validation import check_features, check_labels

__all__ = ["DataSetIterator", "ArrayDataSetIterator"]

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
