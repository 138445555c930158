"""The model file layout (format ``numba_ae`` 1.0; see ``docs/file-format.md``)::

    /                         attrs: format="numba_ae", format_version="1.0",
                                     library_version, config (JSON), training_state (JSON)
    /params/layer_{i}/{name}  one dataset per parameter (DL4J names, real shapes, net dtype)
                              group attrs: layer_type, n_params, param_names (JSON list)
    /updater/layer_{i}        attrs: updater (JSON), step        [only with the updater state]
    /updater/layer_{i}/{name}/{state}   the updater's ``state_names``, e.g. Adam "m", "v"
    /pretrain_updater/layer_{i}/...     same, for the state ``pretrain`` uses
                                        (pretrainable layers only)   [only with the updater state]
    /normalizer               see :mod:`numba_ae.io.normalizer`   [optional]

This module translates between that layout and a network *state*: the plain
dict of ``MultiLayerNetwork.export_state`` / ``MultiLayerNetwork.from_state``
(``config``, ``layers`` with per-layer ``params``, ``updater`` and
``pretrain_updater``, ``iteration_count``, ``epoch_count``, ``seed``,
``rng_state``, ``last_score``).  It knows configs, runtime layers (for the
expected parameter shapes) and updater configs (for their state names), never
the network class.
"""
import json
import math
import re

import h5py
import numpy as np

from .._serial import deserialize, serialize
from .._version import __version__
from ..config import NeuralNetConfiguration
from ..layers import build_layer
from ..updaters import Updater

__all__ = ["FORMAT", "FORMAT_VERSION", "LIBVER", "write_model", "read_model", "read_header", "read_config",
           "write_array", "set_text", "state_has_updater"]

#: Value of the root attribute ``format``.
FORMAT = "numba_ae"
#: ``major.minor`` written by this library.  Files with a newer *major* are refused;
#: a newer *minor* only adds things this reader may ignore.
FORMAT_VERSION = "1.0"
_MAJOR = 1

#: HDF5 object format versions written: 1.10 (readable by HDF5 >= 1.10, i.e. any
#: h5py >= 2.8 wheel).  Its compact chunk indexes keep small files small, and
#: attributes may exceed 64 KiB (long configs).
LIBVER = ("v110", "v110")

#: Target chunk size: whole rows, about 1 MiB (HDF5's default chunk cache size).
_CHUNK_BYTES = 1 << 20

#: Non-finite ``last_score`` values are stored as these strings (the JSON stays strict).
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

#: (group, training_state key, state key) of the two updater states: ``fit`` and ``pretrain``
#: keep separate optimizer state (a file without ``pretrain_updater`` loads with fresh pretrain state).
_UPDATER_GROUPS = (("updater", "updater_steps", "updater"),
                   ("pretrain_updater", "pretrain_updater_steps", "pretrain_updater"))


# ============================================================================ writing

def _chunks(shape, itemsize):
    """Whole-row chunks of about ``_CHUNK_BYTES``, split evenly (HDF5 stores edge chunks
    at full size, so equal chunks waste at most one row per chunk)."""
    row = int(np.prod(shape[1:])) * itemsize if len(shape) > 1 else itemsize
    n_chunks = max(1, -(-(shape[0] * row) // _CHUNK_BYTES))
    rows = max(1, -(-shape[0] // n_chunks))
    return (rows,) + tuple(shape[1:])


def write_array(group, name, arr):
    """One dataset: chunked by whole rows with a Fletcher-32 checksum per chunk (so
    a damaged byte is detected on load), no timestamps (identical networks give
    byte-identical files)."""
    arr = np.ascontiguousarray(arr)
    return group.create_dataset(name, data=arr, chunks=_chunks(arr.shape, arr.itemsize),
                                fletcher32=True, track_times=False)


def set_text(obj, name, text):
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


def state_has_updater(state):
    """Whether a network state carries the updater state (all layers or none)."""
    flags = {layer["updater"] is not None for layer in state["layers"]}
    if len(flags) > 1:
        raise ValueError("the network state has updater state for some layers only")
    return flags == {True}


def _training_state(state, has_updater):
    """The ``training_state`` attribute (key order as written by 0.1.x)."""
    def steps(key):
        return [int(layer[key]["step"]) if has_updater and layer[key] is not None else 0
                for layer in state["layers"]]
    return {"iteration_count": int(state["iteration_count"]), "epoch_count": int(state["epoch_count"]),
            "seed": int(state["seed"]), "updater_steps": steps("updater"),
            "pretrain_updater_steps": steps("pretrain_updater"),
            "rng_state": state["rng_state"], "last_score": _score_to_json(state["last_score"])}


def write_model(f, state):
    """Write the model groups of a network ``state`` into the open (empty) h5py file ``f``."""
    conf = state["config"]
    has_updater = state_has_updater(state)
    set_text(f, "format", FORMAT)
    set_text(f, "format_version", FORMAT_VERSION)
    set_text(f, "library_version", __version__)
    set_text(f, "config", conf.to_json())
    set_text(f, "training_state", json.dumps(_training_state(state, has_updater), allow_nan=False))

    pg = f.create_group("params", track_order=True)
    for i, layer in enumerate(state["layers"]):
        g = pg.create_group(f"layer_{i}", track_order=True)
        params = layer["params"]
        set_text(g, "layer_type", type(conf.layers[i]).__name__)
        g.attrs["n_params"] = np.int64(sum(int(np.size(arr)) for arr in params.values()))
        set_text(g, "param_names", json.dumps(list(params)))
        for name, arr in params.items():
            write_array(g, name, arr)

    if has_updater:
        for group, _, key in _UPDATER_GROUPS:
            ug = f.create_group(group, track_order=True)
            for i, layer in enumerate(state["layers"]):
                upd = layer[key]
                if upd is None:  # pretrain state of a layer that is not pretrainable
                    continue
                g = ug.create_group(f"layer_{i}", track_order=True)
                set_text(g, "updater", conf.resolved(i, "updater").to_json())
                g.attrs["step"] = np.int64(upd["step"])
                for name in layer["params"]:
                    sg = g.create_group(name, track_order=True)
                    for sname, arr in upd["state"][name].items():
                        write_array(sg, sname, arr)


# ============================================================================ reading

def read_header(r):
    """Check ``format`` and ``format_version``; returns the version string."""
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


def read_config(r):
    """The validated :class:`NeuralNetConfiguration` from the root attribute ``config``."""
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
    returns ``(layer indices, [(layer, param, state name, dataset, where)])``."""
    f = r.f
    idx = [i for i in range(len(layers)) if layers[i].pretrainable or not pretrain]
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
                out.append((i, name, sname, ds, f"{pw}/{sname}"))
    return idx, out


def _check_params(r, layers, specs, dtype):
    """Validate ``params`` against the config; returns ``[[dataset per param] per layer]``."""
    pg = r.child(r.f, "params", "params", h5py.Group)
    r.exact_members(pg, "params", [f"layer_{i}" for i in range(len(layers))])
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
    return param_ds


def read_model(r):
    """The network state stored in the file, fully validated (every dataset's
    metadata is checked before anything is allocated), and
    ``info = {format_version, library_version, has_updater}``."""
    version = read_header(r)
    f = r.f
    library_version = r.attr_str(f, "library_version", "the root group")
    conf = read_config(r)
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
    param_ds = _check_params(r, layers, specs, dtype)

    has_updater = "updater" in f
    upd_ds = {}
    if has_updater:
        for group, steps_key, key in _UPDATER_GROUPS:
            pretrain = key == "pretrain_updater"
            if group not in f and pretrain:  # written without it: fresh pretrain state
                continue
            upd_ds[key] = _check_updater_group(r, group, steps_key, pretrain, conf, layers, specs, ts, dtype)
    elif "pretrain_updater" in f:
        r.fail("the file has a 'pretrain_updater' group but no 'updater' group")

    # ---- read ---------------------------------------------------------------------------------
    entries = []
    for i in range(n):
        params = {}
        for (name, shape, _), ds in zip(specs[i], param_ds[i]):
            params[name] = r.read_into(ds, f"params/layer_{i}/{name}", np.empty(shape, dtype=dtype))
        entries.append({"params": params, "updater": None, "pretrain_updater": None})
    for group, steps_key, key in _UPDATER_GROUPS:
        if key not in upd_ds:
            continue
        idx, found = upd_ds[key]
        for i in idx:  # every layer of the group, also those whose updater has no state arrays (Sgd)
            entries[i][key] = {"step": ts[steps_key][i], "state": {name: {} for name, _, _ in specs[i]}}
        for i, name, sname, ds, where in found:
            shape = next(s for nm, s, _ in specs[i] if nm == name)
            out = r.read_into(ds, where, np.empty(shape, dtype=dtype))
            upd = conf.resolved(i, "updater")
            if sname in upd.non_negative_states and not np.all(out >= 0):
                r.fail(f"{where} has negative values; {type(upd).__name__} state {sname!r} must be >= 0")
            entries[i][key]["state"][name][sname] = out
    state = {"config": conf, "layers": entries, "iteration_count": ts["iteration_count"],
             "epoch_count": ts["epoch_count"], "seed": ts["seed"], "rng_state": ts["rng_state"],
             "last_score": ts.get("last_score")}
    info = {"format_version": version, "library_version": library_version, "has_updater": has_updater}
    return state, info
