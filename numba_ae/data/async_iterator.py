"""Background prefetching of another iterator's minibatches (:class:`AsyncDataSetIterator`).

Public as :mod:`numba_ae.data.iterators` (import it from there).
"""

from __future__ import annotations

import queue
import threading

from ..validation import check_int
from .array_iterator import DataSetIterator

__all__ = ["AsyncDataSetIterator"]

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
