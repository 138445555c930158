"""HDF5 model files: save, load, exact resume, safe against bad files.

Layout (format ``numba_ae`` version ``1.0``; the full description is in
``docs/file-format.md``)::

    /                         attrs: format="numba_ae", format_version="1.0",
                                     library_version, config (JSON), training_state (JSON)
    /params/layer_{i}/{name}  one dataset per parameter (DL4J names, real shapes, net dtype)
                              group attrs: layer_type, n_params, param_names (JSON list)
    /updater/layer_{i}        attrs: updater (JSON), step        [only with save_updater=True]
    /updater/layer_{i}/{name}/{state}   e.g. Adam "m", "v"  (the state ``fit`` uses)
    /pretrain_updater/layer_{i}/...     same, for the state ``pretrain`` uses
                                        (pretrainable layers only)   [only with save_updater=True]
    /normalizer               attrs: type, version, scalars; datasets: arrays   [optional]

Saving is atomic: the file is written to a temporary file in the target's
folder and moved over the target with :func:`os.replace` only when complete,
so a failure mid-save leaves an existing file untouched and no temp file.

Loading never executes anything from the file (no pickle, no eval): string
attributes are parsed as JSON into plain data and configs are rebuilt through
the validated config classes; every dataset's shape, dtype, storage and filters
are checked against the config before anything is read, and values must be
finite.  Any problem raises :class:`ModelFormatError` naming the file and the
problem.
"""
import errno
import json
import math
import os
import re
import tempfile

import h5py
import numpy as np

from .._serial import deserialize, serialize
from .._version import __version__
from ..config import NeuralNetConfiguration
from ..data.normalizers import DataNormalizer, normalizer_from_state
from ..layers import build_layer
from ..network import MultiLayerNetwork
from ..updaters import Updater

__all__ = ["ModelFormatError", "save_model", "load_model", "load_normalizer",
           "FORMAT", "FORMAT_VERSION"]

#: Value of the root attribute ``format``.
FORMAT = "numba_ae"
#: ``major.minor`` written by this library.  Files with a newer *major* are refused;
#: a newer *minor* only adds things this reader may ignore.
FORMAT_VERSION = "1.0"
_MAJOR = 1

#: HDF5 filters a dataset may use (built into every HDF5 build; nothing is loaded
#: from a plugin path): deflate, shuffle, fletcher32.
_ALLOWED_FILTERS = {h5py.h5z.FILTER_DEFLATE: "deflate", h5py.h5z.FILTER_SHUFFLE: "shuffle",
                    h5py.h5z.FILTER_FLETCHER32: "fletcher32"}
#: Worst-case deflate expansion ratio; bounds the memory a small file can make us allocate.
_MAX_DEFLATE_RATIO = 1100

#: Updater states that can only be >= 0 (a negative value would give NaN in a sqrt).
_NON_NEGATIVE_STATES = {("Adam", "v"), ("RmsProp", "cache"), ("AdaGrad", "history")}

#: Non-finite ``last_score`` values are stored as these strings (the JSON stays strict).
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


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


# ============================================================================ saving

#: Target chunk size: whole rows, about 1 MiB (HDF5's default chunk cache size).
_CHUNK_BYTES = 1 << 20

#: HDF5 object format versions written: 1.10 (readable by HDF5 >= 1.10, i.e. any
#: h5py >= 2.8 wheel).  Its compact chunk indexes keep small files small, and
#: attributes may exceed 64 KiB (long configs).
_LIBVER = ("v110", "v110")


def _chunks(shape, itemsize):
    """Whole-row chunks of about ``_CHUNK_BYTES``, split evenly (HDF5 stores edge chunks
    at full size, so equal chunks waste at most one row per chunk)."""
    row = int(np.prod(shape[1:])) * itemsize if len(shape) > 1 else itemsize
    n_chunks = max(1, -(-(shape[0] * row) // _CHUNK_BYTES))
    rows = max(1, -(-shape[0] // n_chunks))
    return (rows,) + tuple(shape[1:])


def _write_array(group, name, arr):
    """One dataset: chunked by whole rows with a Fletcher-32 checksum per chunk (so
    a damaged byte is detected on load), no timestamps (identical networks give
    byte-identical files)."""
    arr = np.ascontiguousarray(arr)
    return group.create_dataset(name, data=arr, chunks=_chunks(arr.shape, arr.itemsize),
                                fletcher32=True, track_times=False)


def _set_text(obj, name, text):
    """A string attribute as a fixed-length UTF-8 string: it is stored inside the
    object header, which HDF5 1.10 checksums (a variable-length string would live
    in the unchecksummed global heap).  h5py reads it back as ``bytes``."""
    data = text.encode("utf-8")
    obj.attrs.create(name, np.bytes_(data), dtype=h5py.string_dtype("utf-8", max(len(data), 1)))


def _score_to_json(score):
    if score is None:
        return None
    score = float(score)
    if math.isfinite(score):
        return score
    return "NaN" if math.isnan(score) else ("Infinity" if score > 0 else "-Infinity")


#: (group, training_state key, pretrain?) of the two updater states: ``fit`` and ``pretrain``
#: keep separate optimizer state (a file without ``pretrain_updater`` loads with fresh pretrain state).
_UPDATER_GROUPS = (("updater", "updater_steps", False), ("pretrain_updater", "pretrain_updater_steps", True))


def _write_model(f, net, save_updater, normalizer):
    """Write the whole layout into the open (empty) h5py file ``f``."""
    ts = net.training_state()
    n = len(net.layers)
    if not save_updater:
        ts["updater_steps"] = [0] * n
        ts["pretrain_updater_steps"] = [0] * n
    ts["last_score"] = _score_to_json(ts.get("last_score"))
    _set_text(f, "format", FORMAT)
    _set_text(f, "format_version", FORMAT_VERSION)
    _set_text(f, "library_version", __version__)
    _set_text(f, "config", net.conf.to_json())
    _set_text(f, "training_state", json.dumps(ts, allow_nan=False))

    pg = f.create_group("params", track_order=True)
    for i, layer in enumerate(net.layers):
        g = pg.create_group(f"layer_{i}", track_order=True)
        specs = layer.param_specs()
        _set_text(g, "layer_type", type(layer.conf).__name__)
        g.attrs["n_params"] = np.int64(layer.num_params())
        _set_text(g, "param_names", json.dumps([name for name, _, _ in specs]))
        for name, _, _ in specs:
            _write_array(g, name, layer.params[name])

    if save_updater:
        for group, steps_key, pretrain in _UPDATER_GROUPS:
            ug = f.create_group(group, track_order=True)
            for i, layer in enumerate(net.layers):
                if pretrain and not layer.pretrainable:
                    continue
                g = ug.create_group(f"layer_{i}", track_order=True)
                _set_text(g, "updater", net.conf.resolved(i, "updater").to_json())
                g.attrs["step"] = np.int64(ts[steps_key][i])
                state = net.updater_state(i, pretrain=pretrain)
                for name, _, _ in layer.param_specs():
                    sg = g.create_group(name, track_order=True)
                    for sname, arr in state[name].items():
                        _write_array(sg, sname, arr)

    if normalizer is not None:
        _write_normalizer(f, normalizer)


def _write_normalizer(f, normalizer):
    g = f.create_group("normalizer", track_order=True)
    for key, value in normalizer.get_state().items():
        if isinstance(value, np.ndarray):
            _write_array(g, key, value)
        elif isinstance(value, str):
            _set_text(g, key, value)
        elif isinstance(value, (bool, np.bool_)):
            raise TypeError(f"normalizer state {key!r}: bool values are not supported")
        elif isinstance(value, (int, np.integer)):
            g.attrs[key] = np.int64(value)
        elif isinstance(value, (float, np.floating)):
            g.attrs[key] = np.float64(value)
        else:
            raise TypeError(f"normalizer state {key!r}: unsupported value type {type(value).__name__}")


def _umask():
    """The process umask, read without changing it where possible (Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # pragma: no cover - non-Linux fallback
    os.umask(mask)
    return mask


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def save_model(net, path, save_updater=True, normalizer=None):
    """Save a network (config, parameters, training state, optionally updater
    state and a data normalizer) to an HDF5 file, atomically.

    Parameters
    ----------
    net : MultiLayerNetwork
        An initialised network whose parameters are finite.
    path : str or os.PathLike
        Target file (conventionally ``*.h5``); replaced if it exists.
    save_updater : bool, default True
        Store the updater state (e.g. Adam ``m``/``v``) and step counters, so
        training resumes exactly.  ``False`` gives a smaller, inference-only file
        (loading it starts fresh updater state with step counters 0).
    normalizer : DataNormalizer, optional
        A fitted :class:`~numba_ae.data.NormalizerStandardize` /
        :class:`~numba_ae.data.NormalizerMinMaxScaler` for the network's input
        (``n_features == n_in``); read back with :func:`load_normalizer`.

    Raises
    ------
    TypeError
        Bad argument types.
    ValueError
        The network has non-finite parameters or updater state (the file could
        not be loaded), or the normalizer does not fit the network.
    RuntimeError
        The network is not initialised.
    OSError
        The file cannot be written; an existing file is then left unchanged.
    """
    if not isinstance(net, MultiLayerNetwork):
        raise TypeError(f"'net' must be a MultiLayerNetwork; got {type(net).__name__}")
    net._check_init()
    if not isinstance(save_updater, (bool, np.bool_)):
        raise TypeError(f"'save_updater' must be True or False; got {save_updater!r}")
    save_updater = bool(save_updater)
    if normalizer is not None:
        if not isinstance(normalizer, DataNormalizer):
            raise TypeError(f"'normalizer' must be a DataNormalizer (e.g. NormalizerStandardize) or None; "
                            f"got {type(normalizer).__name__}")
        if not normalizer.is_fitted:
            raise ValueError("'normalizer' is not fitted; call normalizer.fit(data) before saving it")
        if normalizer.n_features != net.n_in:
            raise ValueError(f"'normalizer' was fitted on {normalizer.n_features} feature column(s) but the "
                             f"network's n_in is {net.n_in}")
    if not np.all(np.isfinite(net._flat)):
        raise ValueError("the network has non-finite (NaN/Inf) parameters; refusing to save a file "
                         "that could not be loaded")
    if save_updater:
        for i in range(len(net.layers)):
            for name, states in net.updater_state(i).items():
                for sname, arr in states.items():
                    if not np.all(np.isfinite(arr)):
                        raise ValueError(f"the updater state {sname!r} of layer {i} parameter {name!r} is "
                                         "not finite; refusing to save (use save_updater=False)")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if os.path.islink(path):
        path = os.path.realpath(path)  # replace the link's target, keep the link
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.exists(path):
        mode = os.stat(path).st_mode & 0o7777
    else:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        os.close(fd)
        with h5py.File(tmp, "w", track_order=True, libver=_LIBVER) as f:
            _write_model(f, net, save_updater, normalizer)
        _fsync(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


# ============================================================================ loading

class _Reader:
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
            if code not in _ALLOWED_FILTERS:
                self.fail(f"{where} uses HDF5 filter id {code}; only "
                          f"{sorted(_ALLOWED_FILTERS.values())} are allowed")
            deflated |= code == h5py.h5z.FILTER_DEFLATE
        nbytes = int(np.prod(shape)) * dtype.itemsize
        stored = int(ds.id.get_storage_size())
        if stored * (_MAX_DEFLATE_RATIO if deflated else 1) < nbytes:
            self.fail(f"{where} has only {stored} bytes of stored data for {nbytes} bytes of values "
                      "(missing or truncated data)")

    def read_into(self, ds, where, out):
        """Read ``ds`` into the C-contiguous array ``out`` and check it is finite."""
        self.at = where
        if out.size:
            ds.read_direct(out)
        if not np.all(np.isfinite(out)):
            bad = tuple(int(v) for v in np.argwhere(~np.isfinite(out))[0])
            self.fail(f"{where} contains non-finite values (first at index {bad}: {out[bad]})")


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def _dtype_name(dt):
    try:
        return np.dtype(dt).name
    except TypeError:  # pragma: no cover
        return str(dt)


def _open(path):
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


def _guarded(path, fn):
    """Run ``fn(reader)`` on the opened file, turning any non-format error into ModelFormatError."""
    f, label = _open(path)
    reader = _Reader(f, label)
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


def _check_header(r):
    f = r.f
    if "format" not in f.attrs:
        r.fail("is an HDF5 file but not a numba_ae model file (the root group is missing the "
               "attribute 'format')")
    fmt = r.attr_str(f, "format", "the root group")
    if fmt != FORMAT:
        r.fail(f"root attribute 'format' is {fmt[:80]!r}, expected {FORMAT!r} (not a numba_ae model file)")
    version = r.attr_str(f, "format_version", "the root group")
    m = re.fullmatch(r"(\d{1,6})\.(\d{1,6})", version)
    if m is None:
        r.fail(f"root attribute 'format_version' is {version[:40]!r}; expected 'major.minor' like "
               f"{FORMAT_VERSION!r}")
    major = int(m.group(1))
    if major > _MAJOR:
        r.fail(f"format_version {version} is newer than this library supports ({_MAJOR}.x); "
               f"upgrade numba_ae (numba_ae {__version__} reads format {_MAJOR}.x)")
    if major < _MAJOR:
        r.fail(f"format_version {version} is not supported (this library reads {_MAJOR}.x)")
    return version


def _read_config(r):
    d = r.attr_json(r.f, "config", "the root group")
    try:
        conf = deserialize(d)
    except RecursionError:
        r.fail("root attribute 'config' is nested too deeply")
    except (ValueError, TypeError) as e:
        r.fail(f"the config does not validate: {e}")
    if not isinstance(conf, NeuralNetConfiguration):
        r.fail(f"root attribute 'config' holds a {type(conf).__name__}, not a NeuralNetConfiguration")
    return conf


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _read_training_state(r, n_layers):
    ts = r.attr_json(r.f, "training_state", "the root group")
    where = "root attribute 'training_state'"
    if not isinstance(ts, dict):
        r.fail(f"{where} must be a JSON object; got {type(ts).__name__}")
    for key in ("iteration_count", "epoch_count", "seed", "updater_steps", "rng_state"):
        if key not in ts:
            r.fail(f"{where} is missing {key!r}")
    for key in ("iteration_count", "epoch_count", "seed"):
        if not _is_int(ts[key]) or ts[key] < 0:
            r.fail(f"{where}: {key!r} must be an int >= 0; got {ts[key]!r:.80}")
    steps = ts["updater_steps"]
    if not isinstance(steps, list) or len(steps) != n_layers or not all(_is_int(t) and t >= 0 for t in steps):
        r.fail(f"{where}: 'updater_steps' must be a list of {n_layers} ints >= 0 (one per layer); "
               f"got {steps!r:.80}")
    psteps = ts.setdefault("pretrain_updater_steps", [0] * n_layers)
    if not isinstance(psteps, list) or len(psteps) != n_layers or not all(_is_int(t) and t >= 0 for t in psteps):
        r.fail(f"{where}: 'pretrain_updater_steps' must be a list of {n_layers} ints >= 0 (one per layer); "
               f"got {psteps!r:.80}")
    rs = ts["rng_state"]
    try:
        if not isinstance(rs, dict) or rs.get("bit_generator") != "PCG64":
            raise ValueError("not a PCG64 state")
        np.random.PCG64().state = rs
    except (ValueError, TypeError, KeyError, OverflowError) as e:
        r.fail(f"{where}: 'rng_state' is not a valid PCG64 state ({e})")
    ls = ts.get("last_score")
    if isinstance(ls, str) and ls in _NONFINITE:
        ts["last_score"] = _NONFINITE[ls]
    elif ls is not None and (isinstance(ls, bool) or not isinstance(ls, (int, float))):
        r.fail(f"{where}: 'last_score' must be a number or null; got {ls!r:.80}")
    return ts


def _check_updater_group(r, group, steps_key, pretrain, conf, layers, specs, ts, dtype):
    """Validate one updater-state group against the config before anything is read;
    returns ``[(layer, pretrain, param, state, dataset, where)]``."""
    f = r.f
    n = len(layers)
    idx = [i for i in range(n) if layers[i].pretrainable or not pretrain]
    ug = r.child(f, group, group, h5py.Group)
    r.exact_members(ug, group, [f"layer_{i}" for i in idx])
    out = []
    for i in idx:
        where = f"{group}/layer_{i}"
        g = r.child(ug, f"layer_{i}", where, h5py.Group)
        expected = conf.resolved(i, "updater")
        d = r.attr_json(g, "updater", where)
        try:
            upd = deserialize(d)
        except (ValueError, TypeError) as e:
            r.fail(f"{where} attribute 'updater' does not validate: {e}")
        if not isinstance(upd, Updater) or serialize(upd) != serialize(expected):
            r.fail(f"{where} attribute 'updater' ({json.dumps(d)[:200]}) does not match the "
                   f"config's updater for layer {i} ({expected.to_json()})")
        step = r.attr_number(g, "step", where, integer=True)
        if step != ts[steps_key][i]:
            r.fail(f"{where} attribute 'step' is {step} but training_state.{steps_key}[{i}] is "
                   f"{ts[steps_key][i]}")
        names = [name for name, _, _ in specs[i]]
        r.exact_members(g, where, names)
        for name, shape, _ in specs[i]:
            pw = f"{where}/{name}"
            sg = r.child(g, name, pw, h5py.Group)
            r.exact_members(sg, pw, list(expected.state_names))
            for sname in expected.state_names:
                ds = r.child(sg, sname, f"{pw}/{sname}", h5py.Dataset)
                r.check_dataset(ds, f"{pw}/{sname}", shape, dtype)
                out.append((i, pretrain, name, sname, ds, f"{pw}/{sname}"))
    return out


def _load(r, cls):
    """The full load; returns ``(net, info)``."""
    version = _check_header(r)
    f = r.f
    library_version = r.attr_str(f, "library_version", "the root group")
    conf = _read_config(r)
    n = len(conf.layers)
    ts = _read_training_state(r, n)
    if conf.seed is not None and ts["seed"] != conf.seed:
        r.fail(f"training_state seed {ts['seed']} differs from the config seed {conf.seed}")
    dtype = conf.np_dtype

    # ---- metadata checks against the config before allocating anything --------------------
    try:
        layers = [build_layer(lc, i, conf) for i, lc in enumerate(conf.layers)]
    except (TypeError, ValueError) as e:
        r.fail(f"the config cannot be built into layers: {e}")
    specs = [layer.param_specs() for layer in layers]
    pg = r.child(f, "params", "params", h5py.Group)
    r.exact_members(pg, "params", [f"layer_{i}" for i in range(n)])
    param_ds = []
    for i, layer in enumerate(layers):
        where = f"params/layer_{i}"
        g = r.child(pg, f"layer_{i}", where, h5py.Group)
        lt = r.attr_str(g, "layer_type", where)
        if lt != type(layer.conf).__name__:
            r.fail(f"{where} attribute 'layer_type' is {lt[:80]!r} but the config's layer {i} is "
                   f"{type(layer.conf).__name__}")
        names = [name for name, _, _ in specs[i]]
        r.exact_members(g, where, names)
        dss = []
        for name, shape, _ in specs[i]:
            ds = r.child(g, name, f"{where}/{name}", h5py.Dataset)
            r.check_dataset(ds, f"{where}/{name}", shape, dtype)
            dss.append(ds)
        param_ds.append(dss)
        npar = r.attr_number(g, "n_params", where, integer=True)
        if npar != layer.num_params():
            r.fail(f"{where} attribute 'n_params' is {npar} but the config gives {layer.num_params()}")
        if "param_names" in g.attrs:
            pn = r.attr_json(g, "param_names", where)
            if pn != names:
                r.fail(f"{where} attribute 'param_names' is {pn!r:.200} but the config expects {names}")

    has_updater = "updater" in f
    upd_ds = []
    if has_updater:
        for group, steps_key, pretrain in _UPDATER_GROUPS:
            if group not in f:
                if pretrain:  # written without it: fresh pretrain state
                    ts[steps_key] = [0] * n
                    continue
            upd_ds += _check_updater_group(r, group, steps_key, pretrain, conf, layers, specs, ts, dtype)
    else:
        if "pretrain_updater" in f:
            r.fail("the file has a 'pretrain_updater' group but no 'updater' group")
        ts["updater_steps"] = [0] * n
        ts["pretrain_updater_steps"] = [0] * n

    # ---- build and fill ---------------------------------------------------------------------
    net = cls(conf)
    net.init()
    for i, layer in enumerate(net.layers):
        for (name, _, _), ds in zip(specs[i], param_ds[i]):
            r.read_into(ds, f"params/layer_{i}/{name}", layer.params[name])
    for i, pretrain, name, sname, ds, where in upd_ds:
        upd_name = type(conf.resolved(i, "updater")).__name__
        out = net.updater_state(i, pretrain=pretrain)[name][sname]
        r.read_into(ds, where, out)
        if (upd_name, sname) in _NON_NEGATIVE_STATES and not np.all(out >= 0):
            r.fail(f"{where} has negative values; {upd_name} state {sname!r} must be >= 0")
    try:
        net.set_training_state(ts)
    except (ValueError, TypeError, KeyError) as e:
        r.fail(f"root attribute 'training_state' cannot be applied: {e}")

    normalizer = _read_normalizer(r, conf.n_in_of(0)) if "normalizer" in f else None
    info = {"format_version": version, "library_version": library_version, "has_updater": has_updater,
            "normalizer": normalizer}
    return net, info


def _read_normalizer(r, n_in):
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
        arr = np.empty(n_in, dtype=np.float64)
        r.read_into(ds, where, arr)
        state[key] = arr
    try:
        return normalizer_from_state(state)
    except (ValueError, TypeError) as e:
        r.fail(f"the normalizer group is invalid: {e}")


def load_model(path, *, network_class=None):
    """Load a network saved by :func:`save_model`.

    Restores the config, parameters, training counters, seed and RNG state and
    (when saved) the updater state, so ``output``/``score``/``params()`` are
    bitwise identical to the saved network and further training continues
    exactly as it would have without the save.

    Parameters
    ----------
    path : str or os.PathLike
    network_class : type, optional
        ``MultiLayerNetwork`` (default) or a subclass to instantiate.

    Returns
    -------
    MultiLayerNetwork

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist (``PermissionError`` likewise passes through).
    ModelFormatError
        Anything wrong with the file: not HDF5, truncated/corrupted, missing or
        unexpected groups/datasets/attributes, wrong ``format``, newer major
        ``format_version``, invalid JSON, a config that does not validate, a
        parameter/state with the wrong shape or dtype, non-finite values, ...
    """
    cls = MultiLayerNetwork if network_class is None else network_class
    if not (isinstance(cls, type) and issubclass(cls, MultiLayerNetwork)):
        raise TypeError(f"'network_class' must be MultiLayerNetwork or a subclass; got {cls!r}")
    net, _ = _guarded(path, lambda r: _load(r, cls))
    return net


def _load_with_info(path):
    """``(net, info)``: the loaded network and ``{format_version, library_version,
    has_updater, normalizer}`` (used by ``python -m numba_ae inspect``)."""
    return _guarded(path, lambda r: _load(r, MultiLayerNetwork))


def load_normalizer(path):
    """The data normalizer stored in a model file, or ``None`` when there is none.

    Only the header, the config (for the input width) and the ``normalizer``
    group are read.

    Raises
    ------
    FileNotFoundError, ModelFormatError
        As :func:`load_model`.
    """
    def read(r):
        _check_header(r)
        conf = _read_config(r)
        if "normalizer" not in r.f:
            return None
        return _read_normalizer(r, conf.n_in_of(0))
    return _guarded(path, read)
