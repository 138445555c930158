"""The public entry points: :func:`save_model`, :func:`load_model`,
:func:`load_model_with_info`, :func:`load_normalizer`.

They work on a network only through its public state interface
(``net.export_state()``, ``cls.from_state(state)``; see
:mod:`numba_ae.io.format` for the state), the layout in
:mod:`numba_ae.io.format` / :mod:`numba_ae.io.normalizer`, the atomic writer
in :mod:`numba_ae.io.atomic` and the guarded reader in :mod:`numba_ae.io.reader`.
"""
import h5py
import numpy as np

from .atomic import write_atomically
from .factory import network_class as _network_class
from .format import LIBVER, read_config, read_header, read_model, state_has_updater, write_model
from .metadata import check_metadata, read_metadata, write_metadata
from .normalizer import check_normalizer, read_normalizer, write_normalizer
from .reader import guarded

__all__ = ["save_model", "load_model", "load_model_with_info", "load_normalizer"]


def _check_finite(state):
    for layer in state["layers"]:
        for arr in layer["params"].values():
            if not np.all(np.isfinite(arr)):
                raise ValueError("the network has non-finite (NaN/Inf) parameters; refusing to save a file "
                                 "that could not be loaded")
    for i, layer in enumerate(state["layers"]):
        upd = layer["updater"]
        if upd is None:
            continue
        for name, states in upd["state"].items():
            for sname, arr in states.items():
                if not np.all(np.isfinite(arr)):
                    raise ValueError(f"the updater state {sname!r} of layer {i} parameter {name!r} is "
                                     "not finite; refusing to save (use save_updater=False)")


def save_model(net, path, save_updater=True, normalizer=None, metadata=None):
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
    metadata : dict of str -> str, optional
        Application text stored with the network (the ``/metadata`` group; names
        ``[A-Za-z_][A-Za-z0-9_.-]*``); read back as ``info["metadata"]`` of
        :func:`load_model_with_info`.  The anomaly detectors keep their settings and
        threshold there.

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
    base = _network_class()
    if not isinstance(net, base):
        raise TypeError(f"'net' must be a {base.__name__}; got {type(net).__name__}")
    if not isinstance(save_updater, (bool, np.bool_)):
        raise TypeError(f"'save_updater' must be True or False; got {save_updater!r}")
    state = net.export_state(include_updater=bool(save_updater))  # RuntimeError when not initialised
    check_normalizer(normalizer, state["config"].n_in_of(0))
    check_metadata(metadata)
    state_has_updater(state)
    _check_finite(state)

    def write(tmp):
        with h5py.File(tmp, "w", track_order=True, libver=LIBVER) as f:
            write_model(f, state)
            if normalizer is not None:
                write_normalizer(f, normalizer)
            if metadata is not None:
                write_metadata(f, metadata)

    write_atomically(path, write)


def _load(r, cls):
    state, info = read_model(r)
    try:
        net = cls.from_state(state)
    except (ValueError, TypeError, KeyError) as e:
        r.fail(f"the stored network state cannot be applied: {e}")
    conf = state["config"]
    info["normalizer"] = read_normalizer(r, conf.n_in_of(0)) if "normalizer" in r.f else None
    info["metadata"] = read_metadata(r)
    return net, info


def load_model_with_info(path, *, network_class=None):
    """``(net, info)``: the network as :func:`load_model` gives it and what the file
    says about itself, ``info = {"format_version": str, "library_version": str,
    "has_updater": bool, "normalizer": DataNormalizer or None, "metadata": dict of str -> str}``
    (used by ``python -m numba_ae inspect``; ``metadata`` is ``{}`` when none was saved).

    Raises
    ------
    FileNotFoundError, ModelFormatError, TypeError
        As :func:`load_model`.
    """
    cls = _network_class(network_class)
    return guarded(path, lambda r: _load(r, cls))


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
        ``MultiLayerNetwork`` (default; the class registered in
        :mod:`numba_ae.io.factory`) or a subclass to instantiate.

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
    TypeError
        ``network_class`` is not ``MultiLayerNetwork`` or a subclass.
    """
    return load_model_with_info(path, network_class=network_class)[0]


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
        read_header(r)
        conf = read_config(r)
        if "normalizer" not in r.f:
            return None
        return read_normalizer(r, conf.n_in_of(0))
    return guarded(path, read)
