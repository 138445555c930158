"""Which network class :func:`numba_ae.io.load_model` builds by default.

``numba_ae.network`` registers ``MultiLayerNetwork`` here when it is imported,
so ``io`` never imports the network module.  A network class only needs the
state interface: ``from_state(state)`` (a classmethod) and ``export_state()``.
"""

__all__ = ["register_network_class", "network_class"]

_DEFAULT = []


def register_network_class(cls):
    """Make ``cls`` the default class of :func:`~numba_ae.io.load_model`; returns ``cls``."""
    if not (isinstance(cls, type) and callable(getattr(cls, "from_state", None))
            and callable(getattr(cls, "export_state", None))):
        raise TypeError(f"a network class needs from_state and export_state; got {cls!r}")
    _DEFAULT[:] = [cls]
    return cls


def network_class(cls=None):
    """``cls`` checked to be the registered class or a subclass of it; the registered
    class when ``cls`` is None."""
    if not _DEFAULT:
        raise RuntimeError("no network class is registered with numba_ae.io; import numba_ae.network")
    base = _DEFAULT[0]
    if cls is None:
        return base
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise TypeError(f"'network_class' must be {base.__name__} or a subclass; got {cls!r}")
    return cls
