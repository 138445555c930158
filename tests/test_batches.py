"""Every minibatch is checked at the boundary, cheaply: an iterator yielding batches of the
wrong width, non-DataSet objects or non-numeric arrays gets a clear error naming the
iterator and the batch; ``labels=`` next to data that holds labels is refused."""
import numpy as np
import pytest

from harness import make_net
from numba_ae import DataSet, DenseLayer, OutputLayer
from numba_ae.data import DataSetIterator

RNG = np.random.default_rng(0)
X = RNG.normal(size=(12, 5))
Y = RNG.normal(size=(12, 2))


class ListIterator(DataSetIterator):
    """A user-written iterator over a fixed list of batches (claims 5 features, 2 labels)."""

    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)

    batch_size = property(lambda self: 4)
    num_examples = property(lambda self: 4 * len(self.batches))
    n_features = property(lambda self: 5)
    n_labels = property(lambda self: 2)


def _net():
    return make_net([DenseLayer(n_in=5, n_out=3, activation="tanh"),
                     OutputLayer(n_out=2, activation="identity", loss="mse")])


def test_wrong_width_batch_names_iterator_and_batch():
    it = ListIterator([DataSet(X[:4], Y[:4]), DataSet(RNG.normal(size=(4, 7)), Y[4:8])])
    net = _net()
    with pytest.raises(ValueError, match=r"features of minibatch 1 of ListIterator has 7 column\(s\) but "
                                         r"the network's first layer expects n_in=5"):
        net.fit(it)
    it = ListIterator([DataSet(X[:4], RNG.normal(size=(4, 3)))])
    with pytest.raises(ValueError, match=r"labels of minibatch 0 of ListIterator has 3 column\(s\) but the output layer has n_out=2"):
        net.fit(it)
    short = DataSet(X[:4], Y[:4])
    short.labels = Y[:3]                      # changed after the DataSet checked it
    it = ListIterator([short])
    with pytest.raises(ValueError, match=r"labels of minibatch 0 of ListIterator has 3 row\(s\)"):
        net.fit(it)


def test_non_dataset_batches_are_a_type_error():
    net = _net()
    with pytest.raises(TypeError, match="minibatch 1 of ListIterator is a tuple; iterators must yield DataSet"):
        net.fit(ListIterator([DataSet(X[:4], Y[:4]), (X[:4], Y[:4])]))
    with pytest.raises(TypeError, match="must yield DataSet objects; got ndarray"):
        net.fit(iter([X[:4]]))
    bad = DataSet(X[:4], Y[:4])
    bad.features = np.array([["a"] * 5] * 4)
    with pytest.raises(TypeError, match="features of minibatch 0 of ListIterator must be a 2-D numeric array"):
        net.fit(ListIterator([bad]))


def test_generic_iterables_are_validated_in_full():
    net = _net()
    x = X[:4].copy()
    x[1, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        net.fit([DataSet(x, Y[:4])])


def test_labels_argument_is_not_silently_ignored():
    net = _net()
    for data in ((X, Y), DataSet(X, Y)):
        with pytest.raises(ValueError, match="'labels' must be None when 'data' is a"):
            net.fit(data, labels=Y * 0)
    net.fit(X, labels=Y)   # features with labels= is the way to pass them separately
