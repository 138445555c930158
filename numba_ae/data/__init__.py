"""Data handling: validation, DataSet, minibatch iterators and MNIST.

This subpackage depends on NumPy only and imports nothing else from
``numba_ae`` except :mod:`numba_ae.validation` (the scalar argument checks,
which import nothing from ``numba_ae``).
"""

from .dataset import DataSet
from .iterators import (
    ArrayDataSetIterator,
    AsyncDataSetIterator,
    DataSetIterator,
    MnistDataSetIterator,
)
from .mnist import load_mnist, mnist_arrays, one_hot
from .normalizers import DataNormalizer, NormalizerMinMaxScaler, NormalizerStandardize, normalizer_from_state
from .validation import check_features, check_labels, check_loss_targets

__all__ = [
    "DataSet",
    "DataSetIterator",
    "ArrayDataSetIterator",
    "AsyncDataSetIterator",
    "MnistDataSetIterator",
    "load_mnist",
    "mnist_arrays",
    "one_hot",
    "check_features",
    "check_labels",
    "check_loss_targets",
    "DataNormalizer",
    "NormalizerStandardize",
    "NormalizerMinMaxScaler",
    "normalizer_from_state",
]
