"""Input plumbing of ``MultiLayerNetwork`` (a mixin of it; private: only
``numba_ae.network`` imports this module): turning arrays, ``DataSet``s, tuples
and iterables into an iterable of ``DataSet`` and each minibatch into arrays
checked against the network (feature count, label width, dtype).
"""
import numpy as np

from .config import OutputLayer as _OutputConf
from .data import ArrayDataSetIterator, DataSet, DataSetIterator, check_features, check_labels


class _NetworkData:
    """Mixin of :class:`numba_ae.network.MultiLayerNetwork`: its input plumbing."""

    def _features(self, x, name="features", n_in=None):
        return check_features(x, name=name, n_in=self.n_in if n_in is None else n_in, dtype=self.dtype)

    def _as_iterator(self, data, labels, batch_size, need_labels):
        """An iterable of DataSet from an iterator, DataSet, (x, y) tuple or arrays."""
        if isinstance(data, DataSetIterator):
            if labels is not None:
                raise ValueError("'labels' must be None when 'data' is an iterator")
            if data.n_features is not None and data.n_features != self.n_in:
                raise ValueError(f"'data' has {data.n_features} feature column(s) but the network's "
                                 f"first layer expects n_in={self.n_in}")
            if need_labels and data.n_labels is None and data.num_examples:
                raise ValueError("'data' has no labels; fit needs labels (use pretrain for unlabelled data)")
            return data
        if isinstance(data, (DataSet, tuple)) and labels is not None:
            raise ValueError(f"'labels' must be None when 'data' is a {type(data).__name__} (it holds its "
                             "own labels); pass (features, labels) or features with labels=")
        if isinstance(data, DataSet):
            x, y = data.features, data.labels
        elif isinstance(data, tuple):
            if len(data) not in (1, 2):
                raise ValueError(f"'data' tuple must be (features,) or (features, labels); got length {len(data)}")
            x, y = data[0], data[1] if len(data) == 2 else None
        elif isinstance(data, np.ndarray) or (isinstance(data, list) and data and not isinstance(data[0], DataSet)):
            x, y = data, labels
        else:
            # any other iterable of DataSet: validated batch by batch
            return _CheckedIterable(data, self, need_labels)
        x = self._features(x)
        if y is not None:
            y = check_labels(y, x.shape[0], n_out=self._label_width(), dtype=self.dtype)
        elif need_labels:
            raise ValueError("'labels' are required by fit (use pretrain for unlabelled data)")
        bs = x.shape[0] if batch_size is None else batch_size
        return ArrayDataSetIterator(x, y, batch_size=bs, shuffle=False)

    def _label_width(self):
        last = self.conf.layers[-1]
        return last.n_out if isinstance(last, _OutputConf) else None

    def _batch(self, ds, need_labels, trusted, source=None, index=None):
        """Minibatch ``ds`` (number ``index`` from ``source``) as arrays in the net's dtype.

        A ``DataSetIterator`` (``trusted``) validated its arrays when it was made: its
        batches get the cheap checks only (a DataSet, 2-D numeric arrays of the right
        widths and matching rows); non-finite values that appear later are caught by the
        divergence guard.  Other iterables are validated in full, batch by batch.
        """
        where = f"minibatch {index} of {type(source).__name__}" if source is not None else "the minibatch"
        if not isinstance(ds, DataSet):
            raise TypeError(f"{where} is a {type(ds).__name__}; iterators must yield DataSet objects")
        x, y = ds.features, ds.labels
        label_width = self._label_width()
        if trusted:
            x = _cheap_check(x, self.n_in, None, self.dtype, f"features of {where}",
                             "the network's first layer expects n_in")
        else:
            x = self._features(x, name=f"features of {where}")
        if need_labels:
            if y is None:
                raise ValueError(f"{where} has no labels; fit needs labels")
            if trusted:
                y = _cheap_check(y, label_width, x.shape[0], self.dtype, f"labels of {where}",
                                 "the output layer has n_out")
            else:
                y = check_labels(y, x.shape[0], name=f"labels of {where}", n_out=label_width, dtype=self.dtype)
        return x, y


class _CheckedIterable:
    """Wraps an arbitrary iterable of DataSet (validated per batch by the network)."""

    def __init__(self, data, net, need_labels):
        try:
            iter(data)
        except TypeError:
            raise TypeError("'data' must be a DataSetIterator, DataSet, (features, labels) tuple, "
                            f"array, or an iterable of DataSet; got {type(data).__name__}") from None
        self.data = data

    def __iter__(self):
        for ds in self.data:
            if not isinstance(ds, DataSet):
                raise TypeError(f"'data' must yield DataSet objects; got {type(ds).__name__}")
            yield ds


def _cheap_check(a, width, rows, dtype, what, expects):
    """Shape and dtype checks of an already validated batch array; returns it contiguous
    in ``dtype``."""
    if not isinstance(a, np.ndarray) or a.ndim != 2 or a.dtype.kind not in "fiub":
        desc = f"{a.dtype} array of shape {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
        raise TypeError(f"{what} must be a 2-D numeric array; got {desc}")
    if width is not None and a.shape[1] != width:
        raise ValueError(f"{what} has {a.shape[1]} column(s) but {expects}={width}")
    if rows is not None and a.shape[0] != rows:
        raise ValueError(f"{what} has {a.shape[0]} row(s) but the features have {rows}")
    return np.ascontiguousarray(a, dtype=dtype)


def _safe_len(it):
    try:
        return len(it)
    except TypeError:
        return None
