"""Model files: HDF5 save/load (see ``docs/file-format.md``).

    from numba_ae.io import save_model, load_model, load_normalizer, ModelFormatError
    save_model(net, "model.h5", normalizer=norm)     # or net.save("model.h5")
    net = load_model("model.h5")                     # or MultiLayerNetwork.load("model.h5")

This subpackage sits above :mod:`numba_ae.network` in the import graph.
"""
from .hdf5 import FORMAT, FORMAT_VERSION, ModelFormatError, load_model, load_normalizer, save_model

__all__ = ["save_model", "load_model", "load_normalizer", "ModelFormatError", "FORMAT", "FORMAT_VERSION"]
