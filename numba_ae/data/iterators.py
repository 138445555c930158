"""Minibatch iterators over in-memory data (DL4J ``DataSetIterator`` analogue).

* :class:`DataSetIterator` -- the base interface: iterating yields
  :class:`~numba_ae.data.dataset.DataSet` minibatches, one epoch per ``iter()``.
* :class:`ArrayDataSetIterator` -- minibatches over NumPy arrays, optional
  reproducible shuffling and exact resume via :meth:`~ArrayDataSetIterator.get_state`.
* :class:`AsyncDataSetIterator` -- prefetches another iterator's batches in a
  background thread.
* :class:`MnistDataSetIterator` -- :class:`ArrayDataSetIterator` over the
  shipped MNIST copy.

This is the public module.  The classes live by concern in
:mod:`~numba_ae.data.array_iterator` (the base interface and the array
iterator) and :mod:`~numba_ae.data.async_iterator` (the prefetching thread);
the small MNIST iterator stays here.
"""

from __future__ import annotations

from ..validation import check_bool, check_int
from .array_iterator import ArrayDataSetIterator, DataSetIterator
from .async_iterator import AsyncDataSetIterator
from .mnist import mnist_arrays

__all__ = [
    "DataSetIterator",
    "ArrayDataSetIterator",
    "AsyncDataSetIterator",
    "MnistDataSetIterator",
]


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
