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

    def _batch(self, ds, need_labels, trusted):
        x, y = ds.features, ds.labels
        if trusted:
            x = np.ascontiguousarray(x, dtype=self.dtype)
        else:
            x = self._features(x)
        if need_labels:
            if y is None:
                raise ValueError("a minibatch has no labels; fit needs labels")
            if trusted:
                y = np.ascontiguousarray(y, dtype=self.dtype)
            else:
                y = check_labels(y, x.shape[0], n_out=self._label_width(), dtype=self.dtype)
            if y.shape[1] != self._label_width():
                raise ValueError(f"'labels' have {y.shape[1]} column(s) but the output layer has "
                                 f"n_out={self._label_width()}")
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


def _safe_len(it):
    try:
        return len(it)
    except TypeError:
        return None
