"""Per-thread scratch space for runtime objects (layers, distributions).

Inference may run in several threads at once, so an object that reuses buffers keeps
them per thread, in ``self._tls`` (a ``threading.local``).  Copies (pickle, deepcopy)
leave the scratch behind: it is rebuilt empty.
"""
import threading


class PerThreadScratch:
    """Mixin: ``self._tls`` holds this thread's scratch; not part of a copy."""

    def _init_scratch(self):
        self._tls = threading.local()

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_tls", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._init_scratch()
