"""Runtime layer base: parameters as views into the network's flat vectors,
per-thread, per-batch-size workspaces, and the forward/backward protocol.

Inference (``forward`` with ``training=False`` and the layers' scoring and sampling
methods) may run in several threads at once: every thread gets its own workspaces.
Training (``backward``, ``pretrain_step``) is single-threaded: it keeps the last
forward pass's buffers on the layer.
"""
from collections import OrderedDict
from types import SimpleNamespace

import numpy as np

from .._scratch import PerThreadScratch
from ..backends import CPU
from ..registries import activation
from ..weight_init import init_weights

_EMPTY = {}


class Layer(PerThreadScratch):
    """A layer instance built from a layer config inside a network.

    Attributes
    ----------
    conf : the layer's config dataclass.
    index : position in the network.
    n_in, n_out : effective sizes.
    params, grads : dict name -> array view into the network's flat parameter
        and gradient vectors (DL4J names and shapes).  On a CUDA network they are host
        copies (snapshots: writing them changes nothing; use ``net.set_params``).
    backend : where the layer computes (:mod:`numba_ae.backends`); the layer's math is
        written once against its kernel modules (``self.kd``: dense, ``self.kl``:
        losses, ``self.kv``: VAE, ``self.kc``: corruption, ``self.ka``: activations).
    """

    pretrainable = False
    max_workspaces = 3

    def __init__(self, conf, index, net_conf, backend=CPU):
        self.conf = conf
        self.index = index
        self.n_in = net_conf.n_in_of(index)
        self.n_out = conf.n_out
        self.activation = net_conf.resolved(index, "activation")
        self.act = activation(self.activation)
        self.weight_init = net_conf.resolved(index, "weight_init")
        self.bias_init = net_conf.resolved(index, "bias_init")
        self.dtype = net_conf.np_dtype
        self._params = {}
        self._grads = {}
        self._rng_source = None
        self.use_backend(backend)

    def use_backend(self, backend):
        """Compute on ``backend`` from now on (the network rebinds the parameters to its
        flat vectors on that device with :meth:`bind`); workspaces start anew."""
        self.backend = backend
        self.kd, self.kl, self.kv = backend.dense, backend.losses, backend.vae
        self.kc, self.ka = backend.corruption, backend.activations
        self._init_scratch()   # this thread's workspaces: see _workspace
        self._dummy = backend.empty((0, 0), self.dtype)

    @property
    def params(self):
        """Parameters by DL4J name (views into the network's flat vector on the CPU; host
        copies on a CUDA network)."""
        if self.backend.is_cuda:
            return {k: self.backend.to_host(v) for k, v in self._params.items()}
        return self._params

    @property
    def grads(self):
        """Gradients of the last step by name (views on the CPU; host copies on CUDA)."""
        if self.backend.is_cuda:
            return {k: self.backend.to_host(v) for k, v in self._grads.items()}
        return self._grads

    # ---- parameters ------------------------------------------------------------------------
    def param_specs(self):
        """List of ``(name, shape, is_bias)`` in flattening order."""
        raise NotImplementedError

    def num_params(self):
        return int(sum(int(np.prod(s)) for _, s, _ in self.param_specs()))

    def bind(self, flat_params, flat_grads):
        """Point ``params``/``grads`` at consecutive slices of the given 1-D arrays."""
        self._params, self._grads = {}, {}
        off = 0
        for name, shape, _ in self.param_specs():
            size = int(np.prod(shape))
            self._params[name] = flat_params[off:off + size].reshape(shape)
            self._grads[name] = flat_grads[off:off + size].reshape(shape)
            off += size

    def init_params(self, rng):
        """Weights by the layer's weight-init scheme (fan-in/fan-out of each matrix, drawn from
        ``rng`` in parameter order), every bias (``is_bias``) the constant ``bias_init``
        (no draws)."""
        for name, shape, is_bias in self.param_specs():
            if is_bias:
                self._params[name][...] = self.bias_init
            else:
                init_weights(self.weight_init, self._params[name], rng, shape[0], shape[1])

    # ---- workspaces --------------------------------------------------------------------------
    def _workspace(self, n, key="fwd"):
        """This thread's buffers for minibatch size ``n`` (cached per thread; the oldest
        sizes are evicted; a thread's buffers go when the thread ends)."""
        cache = getattr(self._tls, "ws", None)
        if cache is None:
            cache = self._tls.ws = OrderedDict()
        k = (key, n)
        ws = cache.get(k)
        if ws is None:
            ws = SimpleNamespace(**self._allocate(n, key))
            cache[k] = ws
            while len(cache) > self.max_workspaces * 2:
                cache.popitem(last=False)
        return ws

    # The last forward pass's input and workspace (read by backward / example_scores),
    # per thread like the workspaces themselves.
    @property
    def _x(self):
        return self._tls.x

    @_x.setter
    def _x(self, value):
        self._tls.x = value

    @property
    def _last(self):
        return self._tls.last

    @_last.setter
    def _last(self, value):
        self._tls.last = value

    def _allocate(self, n, key):  # pragma: no cover - abstract
        raise NotImplementedError

    def _empty(self, *shape):
        return self.backend.empty(shape, self.dtype)

    def _host_empty(self, *shape):
        return np.empty(shape, dtype=self.dtype)

    def _input(self, x, check=None):
        """``x`` as a C-contiguous array of the layer's dtype on its device (no copy for
        the network's own minibatches); ``check(host_x)`` runs on host input first."""
        if self.backend.is_device_array(x):
            return x
        if check is not None:
            check(x)
        return self.backend.from_host(x, self.dtype)

    def _pre(self, a, act=None):
        """Buffer for the pre-activation behind the output buffer ``a``: a new one when
        the activation's derivative needs it (``needs_pre``), else ``a`` itself."""
        return self._empty(*a.shape) if (act or self.act).needs_pre else a

    # ---- protocol ------------------------------------------------------------------------------
    def forward(self, x, training=False, rng=None):
        """Output for input ``x`` [n, n_in]; the returned array is a reused buffer."""
        raise NotImplementedError

    def backward(self, delta, need_dx):
        """Given ``delta`` = dLoss/d(output) of the last ``forward`` (overwritten),
        fill ``grads`` and return dLoss/d(input) (or None when not needed)."""
        raise NotImplementedError

    def pretrain_step(self, x, rng, step=None):  # pragma: no cover - only pretrainable layers
        """Pretrainable layers: gradients of the pretrain objective on ``x`` into ``grads``;
        returns it.  ``step`` is the layer's pretrain updater step count before this step
        (``MultiLayerNetwork.pretrain_batch`` passes it, for objectives with a schedule)."""
        raise TypeError(f"layer {self.index} ({type(self.conf).__name__}) is not pretrainable")

    def __repr__(self):
        return f"{type(self).__name__}(index={self.index}, n_in={self.n_in}, n_out={self.n_out})"
