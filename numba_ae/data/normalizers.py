"""Feature normalizers (DL4J ``NormalizerStandardize`` / ``NormalizerMinMaxScaler``).

A normalizer learns per-column statistics with :meth:`~DataNormalizer.fit`
(from an array, a :class:`~numba_ae.data.dataset.DataSet`, a
:class:`~numba_ae.data.iterators.DataSetIterator` or any iterable of those)
and maps features with :meth:`~DataNormalizer.transform` /
:meth:`~DataNormalizer.revert`.  Only features are normalized (labels are
left alone).

Statistics are accumulated in float64 (batch by batch with Chan's parallel
update for the variance, so fitting on an iterator needs one pass and O(n
columns) memory).  ``transform``/``revert`` compute in float64 and return an
array of the input's float dtype (float32 stays float32).

The learned state is plain data: :meth:`~DataNormalizer.get_state` returns a
dict of 1-D float64 arrays and scalars (``type``, ``version``, ...), and
:func:`normalizer_from_state` / ``cls.from_state`` validate and rebuild it.
That is how a normalizer is stored in a model file (see
``docs/file-format.md``): no pickle anywhere.

This is the public module: the two normalizers and the ``type`` dispatch here,
:class:`DataNormalizer` (the base, re-exported here) and the state checks in
:mod:`numba_ae.data.normalizer_base`.  It depends on NumPy and
:mod:`numba_ae.validation` only (it sits at the bottom of the import graph).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..validation import check_number
from .normalizer_base import DataNormalizer, _state_array, _state_number

__all__ = [
    "DataNormalizer",
    "NormalizerStandardize",
    "NormalizerMinMaxScaler",
    "normalizer_from_state",
    "NORMALIZERS",
]


def _check_range(owner, min_range, max_range):
    min_range = check_number(min_range, "min_range", owner)
    max_range = check_number(max_range, "max_range", owner)
    if not min_range < max_range:
        raise ValueError(f"{owner}: 'min_range' must be < 'max_range'; got {min_range!r} >= {max_range!r}")
    return min_range, max_range


# --------------------------------------------------------------------------- standardize
class NormalizerStandardize(DataNormalizer):
    """Zero mean, unit variance per column: ``(x - mean) / std``.

    ``std`` is the population standard deviation (ddof=0).  A constant column
    (max == min in the fitted data) gets ``std = 1``, so it maps to 0 instead
    of dividing by zero.

    Attributes (after fit)
    ----------------------
    mean, std : float64 arrays [n_features].
    """

    type_name = "NormalizerStandardize"
    _STATE_KEYS = ("mean", "std")

    def __init__(self):
        super().__init__()
        self.mean = None
        self.std = None

    def _reset(self):
        self._fitted = False
        self._mean = self._m2 = self._min = self._max = None

    def _accumulate(self, x, n_a):
        n_b = x.shape[0]
        mean_b = x.mean(axis=0)
        m2_b = ((x - mean_b) ** 2).sum(axis=0)
        lo, hi = x.min(axis=0), x.max(axis=0)
        if self._mean is None:
            self._mean, self._m2, self._min, self._max = mean_b, m2_b, lo, hi
            return
        n = n_a + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._m2 = self._m2 + m2_b + delta * delta * (n_a * n_b / n)
        self._min = np.minimum(self._min, lo)
        self._max = np.maximum(self._max, hi)

    def _finish(self):
        std = np.sqrt(np.maximum(self._m2, 0.0) / self._n_examples)
        constant = (self._max == self._min) | ~(std > 0.0)
        std[constant] = 1.0
        mean = self._mean.copy()
        mean[self._max == self._min] = self._min[self._max == self._min]  # exact for constant columns
        self.mean, self.std = mean, std
        self._mean = self._m2 = self._min = self._max = None

    def _forward(self, x):
        return (x - self.mean) / self.std

    def _backward(self, x):
        return x * self.std + self.mean

    def _state_items(self):
        return {"mean": self.mean.copy(), "std": self.std.copy()}

    @classmethod
    def _from_items(cls, state, owner):
        mean = _state_array(state, "mean", owner)
        std = _state_array(state, "std", owner, mean.size)
        if not np.all(std > 0.0):
            raise ValueError(f"{owner}: state['std'] must be > 0 everywhere")
        obj = cls()
        obj.mean, obj.std, obj._n_features = mean, std, int(mean.size)
        return obj


# --------------------------------------------------------------------------- min-max
class NormalizerMinMaxScaler(DataNormalizer):
    """Scale each column linearly so the fitted min/max map to ``min_range``/``max_range``.

    ``(x - min) / (max - min) * (max_range - min_range) + min_range``; a
    constant column (max == min) uses a range of 1, so it maps to ``min_range``.

    Parameters
    ----------
    min_range, max_range : finite numbers with ``min_range < max_range`` (default 0, 1).

    Attributes (after fit)
    ----------------------
    min, max : float64 arrays [n_features].
    """

    type_name = "NormalizerMinMaxScaler"
    _STATE_KEYS = ("min_range", "max_range", "min", "max")

    def __init__(self, min_range=0.0, max_range=1.0):
        super().__init__()
        self.min_range, self.max_range = _check_range("NormalizerMinMaxScaler", min_range, max_range)
        self.min = None
        self.max = None

    def _params(self):
        return (self.min_range, self.max_range)

    def _reset(self):
        self._fitted = False
        self._lo = self._hi = None

    def _accumulate(self, x, n_a):
        lo, hi = x.min(axis=0), x.max(axis=0)
        if self._lo is None:
            self._lo, self._hi = lo, hi
        else:
            self._lo, self._hi = np.minimum(self._lo, lo), np.maximum(self._hi, hi)

    def _finish(self):
        self.min, self.max = self._lo, self._hi
        self._lo = self._hi = None

    def _span(self):
        span = self.max - self.min
        span[~(span > 0.0)] = 1.0
        return span

    def _forward(self, x):
        return (x - self.min) / self._span() * (self.max_range - self.min_range) + self.min_range

    def _backward(self, x):
        return (x - self.min_range) / (self.max_range - self.min_range) * self._span() + self.min

    def _state_items(self):
        return {"min_range": self.min_range, "max_range": self.max_range,
                "min": self.min.copy(), "max": self.max.copy()}

    @classmethod
    def _from_items(cls, state, owner):
        lo_r = _state_number(state, "min_range", owner)
        hi_r = _state_number(state, "max_range", owner)
        obj = cls(lo_r, hi_r)
        lo = _state_array(state, "min", owner)
        hi = _state_array(state, "max", owner, lo.size)
        if not np.all(hi >= lo):
            raise ValueError(f"{owner}: state['max'] must be >= state['min'] everywhere")
        obj.min, obj.max, obj._n_features = lo, hi, int(lo.size)
        return obj

    def __repr__(self):
        base = super().__repr__()[:-1]
        return f"{base}, min_range={self.min_range}, max_range={self.max_range})"


NORMALIZERS = {cls.type_name: cls for cls in (NormalizerStandardize, NormalizerMinMaxScaler)}


def normalizer_from_state(state):
    """Rebuild any normalizer from its :meth:`~DataNormalizer.get_state` dict (dispatch on ``type``).

    Raises
    ------
    TypeError
        If ``state`` is not a dict.
    ValueError
        Unknown ``type`` or invalid contents.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"normalizer state must be a dict from get_state(); got {type(state).__name__}")
    kind = state.get("type")
    cls = NORMALIZERS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown normalizer type {kind!r}; known: {sorted(NORMALIZERS)}")
    return cls.from_state(state)
