"""Application metadata: the optional ``/metadata`` group of a model file.

A flat mapping of names to text that an application keeps with a network (the
anomaly detectors store their parameters and threshold there as JSON text).  Each
entry is one fixed-length UTF-8 attribute of the group (checksummed with the object
header, as the root attributes are).  The library never interprets the text: reading
returns it as ``str`` and the application validates it.
"""
import re

import h5py

from .format import set_text

__all__ = ["check_metadata", "write_metadata", "read_metadata"]

#: Entry names: identifiers, so that they are valid HDF5 attribute names everywhere.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,127}")


def check_metadata(metadata):
    """Raise ``TypeError``/``ValueError`` unless ``metadata`` is None or a mapping of
    names (``[A-Za-z_][A-Za-z0-9_.-]*``, at most 128 characters) to ``str``."""
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise TypeError(f"'metadata' must be a dict of str -> str or None; got {type(metadata).__name__}")
    for key, value in metadata.items():
        if not isinstance(key, str) or _NAME.fullmatch(key) is None:
            raise ValueError(f"'metadata' keys must be names matching [A-Za-z_][A-Za-z0-9_.-]* "
                             f"(at most 128 characters); got {key!r:.80}")
        if not isinstance(value, str):
            raise TypeError(f"'metadata'[{key!r}] must be a str; got {type(value).__name__}")


def write_metadata(f, metadata):
    """Write the ``metadata`` group into the open h5py file ``f``."""
    g = f.create_group("metadata", track_order=True)
    for key, value in metadata.items():
        set_text(g, key, value)


def read_metadata(r):
    """``{name: str}`` from the ``metadata`` group, read through the :class:`Reader` ``r``
    (``{}`` when the file has none)."""
    if "metadata" not in r.f:
        return {}
    g = r.child(r.f, "metadata", "metadata", h5py.Group)
    if len(g):
        r.fail(f"metadata has member(s) {sorted(g)[:5]}; it holds attributes only")
    return {key: r.attr_str(g, key, "metadata") for key in g.attrs.keys()}
