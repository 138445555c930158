"""Guarded reading of model files: every problem becomes a :class:`ModelFormatError`.

:func:`guarded` opens a file (:func:`open_model_file`) and runs a reading
function on a :class:`Reader`, which gives checked access to groups,
attributes and datasets: only hard-linked members, scalar string/number
attributes, strict JSON (parsed into plain data, never executed), datasets
with the expected shape and a float dtype, plain storage (no virtual or
external data, only built-in filters) and finite values.  Any other error
raised while reading (h5py/HDF5 errors on damaged bytes, ``MemoryError``) is
turned into a :class:`ModelFormatError` naming the file and what was being read.
"""
import errno
import json
import math
import os

import h5py
import numpy as np

__all__ = ["ModelFormatError", "Reader", "open_model_file", "guarded"]

#: HDF5 filters a dataset may use (built into every HDF5 build; nothing is loaded
#: from a plugin path): deflate, shuffle, fletcher32.
ALLOWED_FILTERS = {h5py.h5z.FILTER_DEFLATE: "deflate", h5py.h5z.FILTER_SHUFFLE: "shuffle",
                   h5py.h5z.FILTER_FLETCHER32: "fletcher32"}
#: Worst-case deflate expansion ratio; bounds the memory a small file can make us allocate.
MAX_DEFLATE_RATIO = 1100


class ModelFormatError(ValueError):
    """A model file is not a valid ``numba_ae`` file; ``str(e)`` is ``"<path>: <problem>"``.

    Attributes
    ----------
    path : str
        The file as given to the loader.
    problem : str
        What is wrong, naming the group/dataset/attribute.
    """

    def __init__(self, path, problem):
        super().__init__(path, problem)
        self.path = path
        self.problem = problem

    def __str__(self):
        return f"{self.path}: {self.problem}"


class Reader:
    """Checked access to an open h5py file; every failure is a ModelFormatError."""

    def __init__(self, f, label):
        self.f = f
        self.label = label
        self.at = "the root group"  # what is being read (for messages on HDF5 errors)

    def fail(self, problem):
        raise ModelFormatError(self.label, problem)

    # ---- structure ---------------------------------------------------------------------------
    def child(self, parent, name, where, kind):
        """``parent[name]`` as a hard-linked Group/Dataset (``kind``) or fail."""
        self.at = where
        link = parent.get(name, getlink=True)
        if link is None:
            self.fail(f"{where} is missing")
        if not isinstance(link, h5py.HardLink):
            self.fail(f"{where} is a {type(link).__name__}; only ordinary (hard-linked) objects are allowed")
        obj = parent[name]
        if not isinstance(obj, kind):
            want = "group" if kind is h5py.Group else "dataset"
            self.fail(f"{where} is not a {want}")
        return obj

    def keys(self, group):
        return list(group.keys())

    def exact_members(self, group, where, expected):
        """Fail unless ``group``'s members are exactly ``expected`` (names)."""
        have = self.keys(group)
        extra = [k for k in have if k not in expected]
        missing = [k for k in expected if k not in have]
        if missing:
            self.fail(f"{where}/{missing[0]} is missing" if len(missing) == 1
                      else f"{where} is missing {missing}")
        if extra:
            self.fail(f"{where} has unexpected member(s) {sorted(extra)} (expected exactly {list(expected)})")

    # ---- attributes --------------------------------------------------------------------------
    def _attr(self, obj, name, where):
        self.at = f"{where} attribute {name!r}"
        if name not in obj.attrs:
            self.fail(f"{where} is missing the attribute {name!r}")
        aid = obj.attrs.get_id(name)
        return aid

    def attr_str(self, obj, name, where):
        aid = self._attr(obj, name, where)
        if aid.shape not in ((), None) or (h5py.check_string_dtype(aid.dtype) is None and aid.dtype.kind != "S"):
            self.fail(f"{where} attribute {name!r} must be a scalar string; got dtype {aid.dtype}, "
                      f"shape {aid.shape}")
        value = obj.attrs[name]
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value[()]
        if isinstance(value, (bytes, np.bytes_)):
            try:
                value = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                self.fail(f"{where} attribute {name!r} is not valid UTF-8 text")
        if not isinstance(value, str):
            self.fail(f"{where} attribute {name!r} must be a string; got {type(value).__name__}")
        return value

    def attr_number(self, obj, name, where, integer):
        aid = self._attr(obj, name, where)
        kinds = "iu" if integer else "iuf"
        if aid.shape != () or aid.dtype.kind not in kinds:
            want = "an integer" if integer else "a number"
            self.fail(f"{where} attribute {name!r} must be {want} scalar; got dtype {aid.dtype}, "
                      f"shape {aid.shape}")
        value = obj.attrs[name]
        value = int(value) if integer else float(value)
        if not integer and not math.isfinite(value):
            self.fail(f"{where} attribute {name!r} is not finite ({value})")
        return value

    def attr_json(self, obj, name, where):
        text = self.attr_str(obj, name, where)
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as e:
            self.fail(f"{where} attribute {name!r} is not valid JSON ({e})")

    # ---- datasets ----------------------------------------------------------------------------
    def check_dataset(self, ds, where, shape, dtype, source="the config"):
        """Metadata checks (nothing read): shape, dtype, plain storage, allowed filters."""
        if ds.shape != tuple(shape):
            self.fail(f"{where} has shape {ds.shape} but {source} expects {tuple(shape)}")
        dt = ds.dtype
        if dt.kind != "f" or dt.itemsize != dtype.itemsize or dt.fields is not None:
            self.fail(f"{where} has dtype {_dtype_name(dt)} but {source} expects {dtype.name}")
        if ds.is_virtual:
            self.fail(f"{where} is a virtual dataset (data in other files); not allowed")
        if ds.external:
            self.fail(f"{where} stores its data in external file(s); not allowed")
        plist = ds.id.get_create_plist()
        deflated = False
        for k in range(plist.get_nfilters()):
            code = plist.get_filter(k)[0]
            if code not in ALLOWED_FILTERS:
                self.fail(f"{where} uses HDF5 filter id {code}; only "
                          f"{sorted(ALLOWED_FILTERS.values())} are allowed")
            deflated |= code == h5py.h5z.FILTER_DEFLATE
        nbytes = int(np.prod(shape)) * dtype.itemsize
        stored = int(ds.id.get_storage_size())
        if stored * (MAX_DEFLATE_RATIO if deflated else 1) < nbytes:
            self.fail(f"{where} has only {stored} bytes of stored data for {nbytes} bytes of values "
                      "(missing or truncated data)")

    def read_into(self, ds, where, out):
        """Read ``ds`` into the C-contiguous array ``out``, check it is finite; returns ``out``."""
        self.at = where
        if out.size:
            ds.read_direct(out)
        if not np.all(np.isfinite(out)):
            bad = tuple(int(v) for v in np.argwhere(~np.isfinite(out))[0])
            self.fail(f"{where} contains non-finite values (first at index {bad}: {out[bad]})")
        return out


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def _dtype_name(dt):
    try:
        return np.dtype(dt).name
    except TypeError:  # pragma: no cover
        return str(dt)


def open_model_file(path):
    """``(h5py.File, label)``; FileNotFoundError when missing, ModelFormatError when not HDF5."""
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "No such model file", path)
    if not os.path.isfile(path):
        raise ModelFormatError(path, "is not a regular file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except PermissionError:
        raise
    except OSError as e:
        raise ModelFormatError(path, f"cannot be read ({e})") from None
    if len(head) == 0:
        raise ModelFormatError(path, "is empty (0 bytes); not an HDF5 model file")
    try:
        f = h5py.File(path, "r")
    except Exception as e:  # h5py raises OSError for most problems, others are possible
        msg = str(e)
        if "truncated" in msg:
            problem = f"the file is truncated ({msg})"
        elif "signature" in msg:
            problem = "is not an HDF5 file (no HDF5 signature found)"
        else:
            problem = f"cannot be opened as an HDF5 file ({type(e).__name__}: {msg})"
        raise ModelFormatError(path, problem) from None
    return f, path


def guarded(path, fn):
    """Run ``fn(reader)`` on the opened file, turning any non-format error into ModelFormatError."""
    f, label = open_model_file(path)
    reader = Reader(f, label)
    try:
        with f:
            return fn(reader)
    except ModelFormatError:
        raise
    except MemoryError:
        raise ModelFormatError(label, f"{reader.at} describes more data than fits in memory") from None
    except Exception as e:
        # h5py/HDF5 errors on damaged metadata or data (OSError, KeyError, RuntimeError,
        # ValueError, UnicodeDecodeError, ...): the file is corrupted.
        msg = str(e).strip("'\"")
        if "checksum" in msg.lower():
            what = "a checksum does not match"
        elif "truncated" in msg.lower() or "eof" in msg.lower() or "end of file" in msg.lower():
            what = "it is truncated"
        else:
            what = "it cannot be read"
        raise ModelFormatError(label, f"the file is corrupted: {what} while reading {reader.at} "
                                      f"({type(e).__name__}: {msg})") from None
