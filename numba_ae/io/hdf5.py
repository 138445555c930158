"""Former home of the HDF5 model file code (0.1.x), kept so its public names
still import from here; the code now lives in :mod:`numba_ae.io.atomic`,
:mod:`~numba_ae.io.reader`, :mod:`~numba_ae.io.format`,
:mod:`~numba_ae.io.normalizer` and :mod:`~numba_ae.io.api`."""
from .api import load_model, load_normalizer, save_model
from .format import FORMAT, FORMAT_VERSION
from .reader import ModelFormatError

__all__ = ["ModelFormatError", "save_model", "load_model", "load_normalizer", "FORMAT", "FORMAT_VERSION"]
