"""Where a ``MultiLayerNetwork`` computes (a mixin of it; private: only
``numba_ae.network`` imports this module).

A network is built and initialised on the host exactly as on the CPU (same generator,
same initial parameters); on a CUDA network :meth:`_place` then moves the flat parameter
and gradient vectors and every updater state to the GPU and rebinds the layers' views
there, so parameters, updater state and workspaces stay on the device for the whole of
training.  Minibatches are checked on the host and copied once each; noise (corruption
masks, VAE draws) comes from the network's host generator, so a CUDA network trains
like a CPU one from the same seed, up to floating-point rounding.  Everything public
returns host NumPy arrays.
"""
import numpy as np

from .backends import get_backend


class _NetworkDevice:
    """Mixin of :class:`numba_ae.network.MultiLayerNetwork`: its device."""

    @property
    def device(self):
        """``"cpu"`` or ``"cuda"``: where the network computes."""
        return self._backend.name

    def device_description(self):
        """The device in words (``"cpu"``, ``"cuda (NVIDIA H100 ...)"``, ``"cuda (numba CUDA
        simulator)"``)."""
        return self._backend.describe()

    def to(self, device):
        """Move the network (parameters, gradients, updater state) to ``device``
        (``"cpu"``, ``"cuda"`` or ``"auto"``) and return it; a no-op when already there.
        Training state (counters, generator) is unchanged, so training continues exactly."""
        backend = get_backend(device)
        if backend is self._backend:
            return self
        if self._initialized:
            self._place(backend)
        self._backend = backend
        return self

    def _place(self, backend):
        """Put the flat vectors and updater states on ``backend`` and rebind the layers."""
        old = self._backend

        def move(a):
            host = old.to_host(a)
            if not backend.is_cuda and old.is_cuda:
                return np.ascontiguousarray(host)
            return backend.from_host(host) if backend.is_cuda else host

        self._flat = move(self._flat)
        self._flat_grad = move(self._flat_grad)
        for states in (self._updater_state, self._pretrain_state):
            for k, st in enumerate(states):
                if st is not None:
                    states[k] = {name: move(v) for name, v in st.items()}
        if hasattr(self, "_dropout_ws"):   # dropout buffers live on the old device
            self._dropout_ws = [type(ws)() for ws in self._dropout_ws]
            self._dropout_mask = [None] * len(self._dropout_mask)
        for i, layer in enumerate(self.layers):
            layer.use_backend(backend)
            layer.bind(self._flat[self._slices[i]], self._flat_grad[self._slices[i]])
        self._backend = backend

    def _to_host(self, a):
        """A host array with the values of ``a`` (a new array on CUDA, ``a`` itself on the CPU)."""
        return self._backend.to_host(a)

    def _host_copy(self, a):
        """A new host array with the values of ``a``."""
        h = self._backend.to_host(a)
        return h.copy() if h is a else h
