"""A minimal (features, labels) value class, the unit yielded by iterators."""

from __future__ import annotations

from .validation import check_features, check_labels

__all__ = ["DataSet"]


class DataSet:
    """A feature matrix with an optional, row-aligned label matrix.

    Parameters
    ----------
    features : array_like, shape [n_examples, n_features]
        Numeric, finite, 2-D. Stored C-contiguous; float32/float64 keep their
        dtype, other numeric dtypes become float32 (see
        :func:`~numba_ae.data.validation.check_features`).
    labels : array_like, shape [n_examples, n_labels], optional
        Numeric, finite, 2-D with the same number of rows as ``features``;
        ``None`` for unlabelled data (e.g. autoencoder pre-training).

    Attributes
    ----------
    features : numpy.ndarray, shape [n_examples, n_features]
    labels : numpy.ndarray, shape [n_examples, n_labels], or None

    Raises
    ------
    TypeError, ValueError
        If ``features`` or ``labels`` fail validation.

    Examples
    --------
    >>> ds = DataSet([[0.0, 1.0], [2.0, 3.0]], [[1.0], [0.0]])
    >>> len(ds), ds.n_features, ds.n_labels
    (2, 2, 1)
    """

    __slots__ = ("features", "labels")

    def __init__(self, features, labels=None):
        self.features = check_features(features, name="features")
        self.labels = (
            None
            if labels is None
            else check_labels(labels, self.features.shape[0], name="labels")
        )

    @classmethod
    def _trusted(cls, features, labels=None):
        """Build a DataSet from arrays that are already validated (no checks, no copy).

        Parameters
        ----------
        features : numpy.ndarray, shape [n_examples, n_features]
        labels : numpy.ndarray, shape [n_examples, n_labels], or None

        Returns
        -------
        DataSet
        """
        obj = cls.__new__(cls)
        obj.features = features
        obj.labels = labels
        return obj

    def num_examples(self):
        """Number of examples (rows).

        Returns
        -------
        int
        """
        return int(self.features.shape[0])

    def __len__(self):
        """Number of examples (rows); same as :meth:`num_examples`.

        Returns
        -------
        int
        """
        return int(self.features.shape[0])

    @property
    def n_features(self):
        """int: number of feature columns."""
        return int(self.features.shape[1])

    @property
    def n_labels(self):
        """int or None: number of label columns (None if unlabelled)."""
        return None if self.labels is None else int(self.labels.shape[1])

    def __repr__(self):
        lab = "None" if self.labels is None else f"{self.labels.shape[1]} ({self.labels.dtype})"
        return (
            f"DataSet(num_examples={self.features.shape[0]}, "
            f"n_features={self.features.shape[1]} ({self.features.dtype}), "
            f"n_labels={lab})"
        )
