"""Normalizer storage: the optional ``/normalizer`` group of a model file.

The group holds a fitted :class:`~numba_ae.data.DataNormalizer`'s
``get_state()``: strings as (checksummed, fixed-length UTF-8) attributes, ints
as int64 and floats as float64 attributes, arrays as float64 datasets of the
network's input width.  Reading rebuilds it with
:func:`~numba_ae.data.normalizers.normalizer_from_state` (no code from the file
is run).
"""
import h5py
import numpy as np

from ..data.normalizers import DataNormalizer, normalizer_from_state
from .format import set_text, write_array

__all__ = ["check_normalizer", "write_normalizer", "read_normalizer"]


def check_normalizer(normalizer, n_in):
    """Raise ``TypeError``/``ValueError`` unless ``normalizer`` can be saved with a
    network whose input width is ``n_in`` (``None`` passes)."""
    if normalizer is None:
        return
    if not isinstance(normalizer, DataNormalizer):
        raise TypeError(f"'normalizer' must be a DataNormalizer (e.g. NormalizerStandardize) or None; "
                        f"got {type(normalizer).__name__}")
    if not normalizer.is_fitted:
        raise ValueError("'normalizer' is not fitted; call normalizer.fit(data) before saving it")
    if normalizer.n_features != n_in:
        raise ValueError(f"'normalizer' was fitted on {normalizer.n_features} feature column(s) but the "
                         f"network's n_in is {n_in}")


def write_normalizer(f, normalizer):
    """Write the ``normalizer`` group into the open h5py file ``f``."""
    g = f.create_group("normalizer", track_order=True)
    for key, value in normalizer.get_state().items():
        if isinstance(value, np.ndarray):
            write_array(g, key, value)
        elif isinstance(value, str):
            set_text(g, key, value)
        elif isinstance(value, (bool, np.bool_)):
            raise TypeError(f"normalizer state {key!r}: bool values are not supported")
        elif isinstance(value, (int, np.integer)):
            g.attrs[key] = np.int64(value)
        elif isinstance(value, (float, np.floating)):
            g.attrs[key] = np.float64(value)
        else:
            raise TypeError(f"normalizer state {key!r}: unsupported value type {type(value).__name__}")


def read_normalizer(r, n_in):
    """The normalizer in the ``normalizer`` group, read through the :class:`Reader` ``r``."""
    g = r.child(r.f, "normalizer", "normalizer", h5py.Group)
    state = {}
    for key in g.attrs.keys():
        aid = g.attrs.get_id(key)
        if h5py.check_string_dtype(aid.dtype) is not None or aid.dtype.kind == "S":
            state[key] = r.attr_str(g, key, "normalizer")
        elif aid.dtype.kind in "iu":
            state[key] = r.attr_number(g, key, "normalizer", integer=True)
        else:
            state[key] = r.attr_number(g, key, "normalizer", integer=False)
    if "type" not in state:
        r.fail("normalizer is missing the attribute 'type'")
    for key in r.keys(g):
        where = f"normalizer/{key}"
        ds = r.child(g, key, where, h5py.Dataset)
        if ds.ndim != 1 or ds.shape[0] != n_in:
            r.fail(f"{where} has shape {ds.shape} but the network's n_in is {n_in} (expected ({n_in},))")
        r.check_dataset(ds, where, (n_in,), np.dtype(np.float64), source="the format (float64 statistics)")
        state[key] = r.read_into(ds, where, np.empty(n_in, dtype=np.float64))
    try:
        return normalizer_from_state(state)
    except (ValueError, TypeError) as e:
        r.fail(f"the normalizer group is invalid: {e}")
