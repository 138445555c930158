"""Model files: HDF5 save/load (see ``docs/file-format.md``).

    from numba_ae.io import save_model, load_model, load_normalizer, ModelFormatError
    save_model(net, "model.h5", normalizer=norm)     # or net.save("model.h5")
    net = load_model("model.h5")                     # or MultiLayerNetwork.load("model.h5")

Modules, by concern: :mod:`~numba_ae.io.atomic` (temp file + fsync + rename),
:mod:`~numba_ae.io.reader` (guarded reading, :class:`ModelFormatError`),
:mod:`~numba_ae.io.format` (the file layout of a network state),
:mod:`~numba_ae.io.normalizer` (the normalizer group),
:mod:`~numba_ae.io.factory` (the default network class) and
:mod:`~numba_ae.io.api` (the functions below).

This subpackage never imports :mod:`numba_ae.network`: it works on the
network's public state (``net.export_state()`` / ``cls.from_state(state)``),
and ``numba_ae.network`` registers ``MultiLayerNetwork`` as the class
:func:`load_model` builds (:func:`register_network_class`).
"""
from .api import load_model, load_model_with_info, load_normalizer, save_model
from .factory import register_network_class
from .format import FORMAT, FORMAT_VERSION
from .reader import ModelFormatError

__all__ = ["save_model", "load_model", "load_model_with_info", "load_normalizer", "ModelFormatError",
           "FORMAT", "FORMAT_VERSION", "register_network_class"]
