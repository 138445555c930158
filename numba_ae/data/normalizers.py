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

This module depends on NumPy and :mod:`numba_ae.validation` only (it sits at
the bottom of the import graph).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..validation import check_int, check_number, entries_of_one_argument
from .dataset import DataSet
from .validation import check_features

__all__ = [
    "DataNormalizer",
    "NormalizerStandardize",
    "NormalizerMinMaxScaler",
    "normalizer_from_state",
    "NORMALIZERS",
]

_STATE_VERSION = 1


# --------------------------------------------------------------------------- helpers
def _feature_batches(data):
    """Yield 2-D feature arrays from an array, DataSet, iterator or iterable of those."""
    if isinstance(data, DataSet):
        yield data.features
        return
    if isinstance(data, np.ndarray) or (
        isinstance(data, (list, tuple)) and data and not isinstance(data[0], (DataSet, np.ndarray))
    ):
        yield check_features(data, name="data")
        return
    try:
        it = iter(data)
    except TypeError:
        raise TypeError(
            "'data' must be a 2-D array, a DataSet, a DataSetIterator or an iterable of "
            f"DataSet/arrays; got {type(data).__name__}"
        ) from None
    for k, item in enumerate(it):
        if isinstance(item, DataSet):
            yield item.features
        elif isinstance(item, np.ndarray):
            yield check_features(item, name=f"data[{k}]")
        else:
            raise TypeError(f"'data' must yield DataSet objects or arrays; item {k} is {type(item).__name__}")


def _state_array(state, key, owner, n=None):
    """A finite 1-D float64 array from ``state[key]`` (length ``n`` when given)."""
    if key not in state:
        raise ValueError(f"{owner}: state is missing {key!r}")
    raw = state[key]
    try:
        arr = np.array(raw, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: state[{key!r}] must be a 1-D array of numbers; "
                         f"got {type(raw).__name__}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{owner}: state[{key!r}] must be a non-empty 1-D array; got shape {arr.shape}")
    if n is not None and arr.size != n:
        raise ValueError(f"{owner}: state[{key!r}] has {arr.size} entries but other arrays have {n}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{owner}: state[{key!r}] contains NaN or Inf values")
    return arr


def _state_scalar(state, key, owner):
    if key not in state:
        raise ValueError(f"{owner}: state is missing {key!r}")
    v = state[key]
    return v.item() if isinstance(v, np.ndarray) and v.shape == () else v


def _state_number(state, key, owner):
    # entries of the one 'state' argument: a wrong-typed entry is a ValueError
    with entries_of_one_argument():
        return check_number(_state_scalar(state, key, owner), f"state[{key!r}]", owner)


def _state_int(state, key, owner, minimum):
    with entries_of_one_argument():
        return check_int(_state_scalar(state, key, owner), f"state[{key!r}]", owner, low=minimum)


def _check_range(owner, min_range, max_range):
    min_range = check_number(min_range, "min_range", owner)
    max_range = check_number(max_range, "max_range", owner)
    if not min_range < max_range:
        raise ValueError(f"{owner}: 'min_range' must be < 'max_range'; got {min_range!r} >= {max_range!r}")
    return min_range, max_range


# --------------------------------------------------------------------------- base
class DataNormalizer:
    """Base class: per-column statistics learned by :meth:`fit`.

    Subclasses define ``_reset``, ``_accumulate(batch_float64)``, ``_finish``,
    ``_forward(x64)``, ``_backward(x64)``, ``_state_items`` and ``_from_items``.
    """

    #: the ``type`` written in the state (the class name).
    type_name = None

    def __init__(self):
        self._fitted = False
        self._n_features = None
        self._n_examples = 0

    # ---- info -------------------------------------------------------------------------------
    @property
    def is_fitted(self):
        """bool: whether :meth:`fit` (or :meth:`from_state`) has set the statistics."""
        return self._fitted

    @property
    def n_features(self):
        """int or None: number of feature columns the statistics are for."""
        return self._n_features

    @property
    def n_examples(self):
        """int: number of examples the statistics were computed from (0 before fit)."""
        return self._n_examples

    def _check_fitted(self):
        if not self._fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(data) first")

    # ---- fit ---------------------------------------------------------------------------------
    def fit(self, data):
        """Learn the per-column statistics of ``data``'s features (one pass).

        Parameters
        ----------
        data : array [n_examples, n_features], DataSet, DataSetIterator (one epoch
            is consumed), or an iterable of DataSet / arrays.

        Returns
        -------
        self

        Raises
        ------
        TypeError, ValueError
            Bad data, no examples, or batches with differing column counts.
        """
        self._reset()
        n_features, n = None, 0
        for k, x in enumerate(_feature_batches(data)):
            if n_features is None:
                n_features = int(x.shape[1])
            elif x.shape[1] != n_features:
                raise ValueError(f"'data': batch {k} has {x.shape[1]} column(s) but earlier batches "
                                 f"have {n_features}")
            if x.shape[0] == 0:
                continue
            self._accumulate(np.asarray(x, dtype=np.float64), n)
            n += int(x.shape[0])
        if n == 0:
            raise ValueError("'data' holds no examples; cannot fit a normalizer")
        self._n_features, self._n_examples = n_features, n
        self._finish()
        self._fitted = True
        return self

    # ---- apply -------------------------------------------------------------------------------
    def _prepare(self, x, name):
        self._check_fitted()
        x = check_features(x, name=name, n_in=self._n_features)
        return x, x.dtype

    def transform(self, x):
        """Normalized copy of ``x`` [n, n_features] (float32 input gives float32)."""
        x, dt = self._prepare(x, "x")
        return self._forward(x.astype(np.float64)).astype(dt, copy=False)

    def revert(self, x):
        """Inverse of :meth:`transform`: ``revert(transform(x)) ~= x``."""
        x, dt = self._prepare(x, "x")
        return self._backward(x.astype(np.float64)).astype(dt, copy=False)

    def pre_process(self, ds):
        """A new :class:`DataSet` with normalized features and the same labels (DL4J ``preProcess``)."""
        if not isinstance(ds, DataSet):
            raise TypeError(f"'ds' must be a DataSet; got {type(ds).__name__}")
        return DataSet._trusted(self.transform(ds.features), ds.labels)

    # ---- state -------------------------------------------------------------------------------
    def get_state(self):
        """The learned state as plain data.

        Returns
        -------
        dict
            ``{"type": <class name>, "version": 1, "n_examples": int, ...}`` plus the
            subclass's scalars and 1-D float64 arrays (copies).
        """
        self._check_fitted()
        out = {"type": self.type_name, "version": _STATE_VERSION, "n_examples": int(self._n_examples)}
        out.update(self._state_items())
        return out

    @classmethod
    def from_state(cls, state):
        """Rebuild a fitted normalizer from :meth:`get_state` output (validated)."""
        owner = cls.__name__
        if not isinstance(state, Mapping):
            raise TypeError(f"{owner}.from_state expects a dict from get_state(); got {type(state).__name__}")
        kind = state.get("type")
        if kind != cls.type_name:
            raise ValueError(f"{owner}.from_state: state['type'] is {kind!r}, expected {cls.type_name!r}")
        version = _state_int(state, "version", owner, 1)
        if version > _STATE_VERSION:
            raise ValueError(f"{owner}.from_state: state version {version} is newer than supported "
                             f"({_STATE_VERSION})")
        allowed = {"type", "version", "n_examples"} | set(cls._STATE_KEYS)
        unknown = sorted(set(state) - allowed)
        if unknown:
            raise ValueError(f"{owner}.from_state: unknown state key(s) {unknown}")
        obj = cls._from_items(state, owner)
        obj._n_examples = _state_int(state, "n_examples", owner, 1)
        obj._fitted = True
        return obj

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        if not (self._fitted and other._fitted):
            return self._fitted == other._fitted and self._params() == other._params()
        a, b = self.get_state(), other.get_state()
        return a.keys() == b.keys() and all(
            np.array_equal(a[k], b[k]) if isinstance(a[k], np.ndarray) else a[k] == b[k] for k in a)

    __hash__ = None

    def _params(self):
        return ()

    def __repr__(self):
        fitted = f"n_features={self._n_features}" if self._fitted else "not fitted"
        return f"{type(self).__name__}({fitted})"


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
