"""The normalizer base class and the checks of a stored normalizer state.

:class:`DataNormalizer` holds what both normalizers share: fitting batch by
batch (from arrays, ``DataSet``s, iterators), ``transform``/``revert`` in
float64, and the plain-data state (``get_state``/``from_state``) with its
validation helpers.  The concrete normalizers live in
:mod:`numba_ae.data.normalizers`, the public module (import from there).

This module depends on NumPy and :mod:`numba_ae.validation` only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..validation import check_int, check_number, entries_of_one_argument
from .dataset import DataSet
from .validation import check_features

__all__ = ["DataNormalizer"]

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
        x = check_features(x, name=name, n_in=self._n_features,
                           expected_by=f"this {type(self).__name__} (fitted on {self._n_features} features)")
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
