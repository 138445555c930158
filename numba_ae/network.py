"""``MultiLayerNetwork``: a stack of layers trained by ``fit`` (supervised)
and ``pretrain`` (layerwise, unsupervised), DL4J semantics.

All parameters live in one flat vector (``params()``); each layer's
``params`` dict holds views into it with DL4J names and shapes.  Gradients
live in a twin flat vector.  A training step: forward, loss, backward (each
kernel writing into preallocated workspaces; in ``fit`` each layer's input
dropped out first when its ``dropout`` > 0), then per layer: normalize the
gradient (``gradient_normalization``, when set), add the l1/l2 gradient and
run the updater over the layer's slice.  All randomness (weight init,
corruption masks, dropout masks, VAE samples) comes from one
``np.random.Generator`` seeded by the config seed, so the same seed trains
bitwise-identically.

The class is split by concern over private mixins that only this module
imports: ``_network_state`` (``export_state``/``from_state``, training and
updater state), ``_network_data`` (turning the accepted inputs into checked
minibatches), ``_network_guard`` (the divergence guard), ``_network_eval`` (the epoch
loop, validation history, early-stop hook, ``predict``/``evaluate``) and
``_network_dropout`` (dropout masks and gradient normalization).
"""
import numpy as np

from . import io as _io
from ._network_data import _NetworkData
from ._network_device import _NetworkDevice
from ._network_dropout import _NetworkDropout
from ._network_eval import _NetworkEval
from ._network_guard import _NetworkGuard
from ._network_state import _NetworkState
from .backends import CPU, get_backend
from .config import NeuralNetConfiguration, OutputLayer as _OutputConf
from .data import DataSetIterator
from .layers import build_layer
from .listeners import TrainingListener
from .validation import check_bool, check_int

#: Rows per chunk in ``output``/``score`` so inference memory stays bounded.
INFERENCE_CHUNK = 4096


class MultiLayerNetwork(_NetworkState, _NetworkData, _NetworkGuard, _NetworkEval, _NetworkDropout,
                        _NetworkDevice):
    """A feed-forward network of Dense/Output/AutoEncoder/VariationalAutoencoder layers.

    Parameters
    ----------
    conf : NeuralNetConfiguration
    nan_guard : bool, default True
        Stop training with :class:`~numba_ae.TrainingDivergedError` at the first non-finite
        score or gradient, before the step that produced it is applied.  ``False`` trains
        on through NaN as DL4J does.
    device : {"cpu", "cuda", "auto"}, default "cpu"
        Where the network computes.  ``"cuda"`` keeps parameters, updater state and
        workspaces on an NVIDIA GPU (needs the ``[cuda]`` extra; raises
        :class:`~numba_ae.backends.DeviceUnavailableError` saying why when no GPU is
        usable); ``"auto"`` picks CUDA when a GPU is usable, else the CPU.  Results are
        host NumPy arrays either way; ``net.to(device)`` moves a network.

    Inference (``output``, ``feed_forward``, ``score``, the layers' scoring and sampling
    methods) may be called from several threads at once; training (``fit``, ``pretrain``
    and their ``*_batch`` steps) is single-threaded: don't train a network while another
    thread uses it.  Copies (``pickle``, ``copy.deepcopy``) are full, independent
    networks (parameters, updater state, counters, RNG state; not the listeners).

    Examples
    --------
    >>> net = MultiLayerNetwork(conf); net.init()
    >>> net.pretrain(train_iter)   # only pretrainable layers learn
    >>> net.fit(train_iter, epochs=1)
    """

    def __init__(self, conf, nan_guard=True, device="cpu"):
        if not isinstance(conf, NeuralNetConfiguration):
            raise TypeError(f"'conf' must be a NeuralNetConfiguration; got {type(conf).__name__}")
        self.conf = conf
        self.nan_guard = check_bool(nan_guard, "nan_guard", "MultiLayerNetwork")
        self._backend = get_backend(device)
        self.dtype = conf.np_dtype
        self.layers = []
        self.listeners = []
        self._initialized = False
        self.iteration_count = 0
        self.epoch_count = 0
        self._last_score = None
        #: One dict per epoch trained by this object (per process: not saved, not copied).
        self.history = []
        #: Set (e.g. by a listener) to end ``fit``/``pretrain_layer`` after the current epoch.
        self.stop_training = False

    # ================================================================== set-up
    def init(self, params=None):
        """Build the layers, allocate the flat parameter vector and initialise it.

        Parameters
        ----------
        params : optional 1-D array of length ``num_params()`` to use instead of a fresh init.
        """
        conf = self.conf
        # built and initialised on the host (the same parameters on every device), then placed
        device, self._backend = self._backend, CPU
        if conf.seed is None:
            self.seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        else:
            self.seed = conf.seed
        self._rng = np.random.Generator(np.random.PCG64(self.seed))
        self.layers = [build_layer(lc, i, conf) for i, lc in enumerate(conf.layers)]
        sizes = [layer.num_params() for layer in self.layers]
        bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        total = int(bounds[-1])
        self._flat = np.zeros(total, dtype=self.dtype)
        self._flat_grad = np.zeros(total, dtype=self.dtype)
        self._slices = [slice(int(bounds[i]), int(bounds[i + 1])) for i in range(len(self.layers))]
        self._updaters = []
        # Two updater states per layer, as in DL4J where a layer pretrains through its own
        # solver: ``_updater_state`` for fit (supervised) and ``_pretrain_state`` for
        # pretrain (pretrainable layers only), each with its own step counter.
        self._updater_state = []
        self._updater_t = []
        self._pretrain_state = []
        self._pretrain_t = []
        self._reg = []
        for i, layer in enumerate(self.layers):
            layer.bind(self._flat[self._slices[i]], self._flat_grad[self._slices[i]])
            layer._rng_source = self._current_rng
            layer.init_params(self._rng)
            upd = conf.resolved(i, "updater")
            self._updaters.append(upd)
            self._updater_state.append(upd.init_state(sizes[i], self.dtype))
            self._updater_t.append(0)
            self._pretrain_state.append(upd.init_state(sizes[i], self.dtype) if layer.pretrainable else None)
            self._pretrain_t.append(0)
            self._reg.append(self._layer_reg(i, layer))
        self._init_layer_params()
        self._initialized = True
        if device.is_cuda:
            self._place(device)
        if params is not None:
            self.set_params(params)
        return self

    def _current_rng(self):
        return self._rng

    def _layer_reg(self, i, layer):
        """``[(name, l1, l2)]`` for the layer's params with a non-zero penalty."""
        conf = self.conf
        l1w, l2w = conf.resolved(i, "l1"), conf.resolved(i, "l2")
        l1b, l2b = conf.resolved(i, "l1_bias"), conf.resolved(i, "l2_bias")
        out = []
        for name, _, is_bias in layer.param_specs():
            l1, l2 = (l1b, l2b) if is_bias else (l1w, l2w)
            if l1 > 0.0 or l2 > 0.0:
                out.append((name, l1, l2))
        return out

    def _check_init(self):
        if not self._initialized:
            raise RuntimeError("call net.init() before using the network")

    # ================================================================== parameters
    def num_params(self):
        """Total number of parameters."""
        self._check_init()
        return int(self._flat.size)

    def params(self):
        """A copy of the flat parameter vector (layer order, DL4J param order within a layer)."""
        self._check_init()
        return self._host_copy(self._flat)

    def set_params(self, flat):
        """Copy ``flat`` (1-D, length ``num_params()``, finite) into the parameters."""
        self._check_init()
        arr = np.asarray(flat)
        if arr.ndim != 1 or arr.size != self._flat.size:
            raise ValueError(f"'flat' must be a 1-D array of length {self._flat.size}; got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
            raise ValueError("'flat' must hold finite numbers")
        self._backend.copy(self._flat, np.asarray(arr, dtype=self.dtype))

    def get_layer(self, i):
        """Layer ``i`` (negative indices count from the end)."""
        self._check_init()
        n = len(self.layers)
        i = check_int(i, "i", "MultiLayerNetwork.get_layer")
        if not -n <= i < n:  # an index out of range is an IndexError, as for a list
            raise IndexError(f"layer index must be an int in [{-n}, {n}); got {i!r}")
        return self.layers[i]

    @property
    def n_layers(self):
        return len(self.conf.layers)

    # ================================================================== listeners
    def add_listener(self, *listeners):
        """Add training listeners (e.g. ``ScoreListener(10)``, ``ProgressBarListener()``)."""
        for ls in listeners:
            if not isinstance(ls, TrainingListener):
                raise TypeError(f"listeners must be TrainingListener instances; got {type(ls).__name__}")
            self.listeners.append(ls)

    def set_listeners(self, *listeners):
        self.listeners = []
        self.add_listener(*listeners)

    @property
    def n_in(self):
        return self.conf.n_in_of(0)

    # ================================================================== training
    def _notify_epoch_start(self, epoch, n):
        for ls in self.listeners:
            ls.on_epoch_start(self, epoch, n)

    def _notify_iter(self, score):
        for ls in self.listeners:
            ls.iteration_done(self, self.iteration_count, self.epoch_count, score)

    def _notify_epoch_end(self):
        for ls in self.listeners:
            ls.on_epoch_end(self, self.epoch_count)

    def _add_regularization(self, i):
        """Add the l1/l2 gradient of layer ``i`` to its gradient; returns its l1/l2 score."""
        reg = 0.0
        layer = self.layers[i]
        ku = self._backend.updaters
        for name, l1, l2 in self._reg[i]:
            p = layer._params[name].reshape(-1)
            reg += ku.regularization_score(p, l1, l2)
            ku.add_regularization_grad(p, layer._grads[name].reshape(-1), l1, l2)
        return reg

    def _step(self, i, pretrain=False):
        """One updater step (the fit or the pretrain state) over layer ``i``'s parameters."""
        s = self._slices[i]
        if pretrain:
            self._pretrain_t[i] += 1
            self._updaters[i].step(self._flat[s], self._flat_grad[s], self._pretrain_state[i], self._pretrain_t[i],
                                   self._backend.updaters)
        else:
            self._updater_t[i] += 1
            self._updaters[i].step(self._flat[s], self._flat_grad[s], self._updater_state[i], self._updater_t[i],
                                   self._backend.updaters)

    def regularization_score(self, layers=None):
        """Sum of ``0.5*l2*||w||^2 + l1*sum|w|`` over the given (default all) layers."""
        self._check_init()
        idx = range(len(self.layers)) if layers is None else layers
        total = 0.0
        for i in idx:
            for name, l1, l2 in self._reg[i]:
                total += self._backend.updaters.regularization_score(
                    self.layers[i]._params[name].reshape(-1), l1, l2)
        return total

    def fit_batch(self, x, y):
        """One supervised step on a minibatch (arrays already validated and in the net's dtype)."""
        layers = self.layers
        x, y = self._backend.from_host(x), self._backend.from_host(y)
        self._forward(x, training=True, dropout=True)
        out = layers[-1]
        scores, delta = out.score_and_backward(y, need_dx=len(layers) > 1)
        score = self._backend.mean(scores)
        for i in range(len(layers) - 2, -1, -1):
            delta = layers[i].backward(self._dropout_backward(i + 1, delta), need_dx=i > 0)
        ids = range(len(layers))
        for i in ids:
            self._normalize_gradient(i)
            score += self._add_regularization(i)
        if self.nan_guard:
            self._guard(score, ids, x, y)
        for i in ids:
            self._step(i)
        self.iteration_count += 1
        self._last_score = score
        self._notify_iter(score)
        return score

    def fit(self, data, labels=None, epochs=1, batch_size=None, validation=None):
        """Supervised training (backprop through all layers; pretrainable layers act as encoders).

        Parameters
        ----------
        data : DataSetIterator, DataSet, ``(features, labels)`` tuple, or a features array
            (then ``labels`` is required).
        epochs : number of passes over the data.
        batch_size : minibatch size when ``data`` is arrays/DataSet (default: all rows at once).
        validation : labelled data (any form ``score`` accepts; re-iterable): ``score(validation)``
            after every epoch, recorded as ``val_score`` in ``history``.

        Returns
        -------
        self
        """
        self._check_init()
        if not isinstance(self.layers[-1].conf, _OutputConf):
            raise ValueError("fit needs an OutputLayer as the last layer; use pretrain for unsupervised layers")
        epochs = check_int(epochs, "epochs", "MultiLayerNetwork.fit", low=1)
        batch_size = check_int(batch_size, "batch_size", "MultiLayerNetwork.fit", low=1, allow_none=True)
        it = self._as_iterator(data, labels, batch_size, need_labels=True)
        self._run_epochs(it, epochs, True, self.fit_batch, self._validation_source(validation))
        return self

    def pretrain_layer(self, i, data, epochs=1, batch_size=None, validation=None):
        """Unsupervised training of pretrainable layer ``i`` on its own input (the
        inference output of the layers below); only layer ``i``'s parameters change.
        ``validation``: features; ``pretrain_score(i, validation)`` after every epoch."""
        self._check_init()
        layer = self.get_layer(i)
        i = layer.index
        if not layer.pretrainable:
            raise ValueError(f"layer {i} ({type(layer.conf).__name__}) is not pretrainable "
                             "(AutoEncoder and VariationalAutoencoder are)")
        epochs = check_int(epochs, "epochs", "MultiLayerNetwork.pretrain_layer", low=1)
        batch_size = check_int(batch_size, "batch_size", "MultiLayerNetwork.pretrain_layer", low=1,
                               allow_none=True)
        it = self._as_iterator(data, None, batch_size, need_labels=False)
        self._run_epochs(it, epochs, False, lambda x, _: self.pretrain_batch(i, x),
                         self._validation_source(validation, i), "pretrain", i)
        return self

    def pretrain_batch(self, i, x):
        """One pretraining step of layer ``i`` on a minibatch ``x`` of network input (already
        validated and in the net's dtype): its input is the inference output of the layers
        below; only layer ``i`` changes (with its pretrain updater state).  Returns the score."""
        layer = self.layers[i]
        x = self._backend.from_host(x)
        score = layer.pretrain_step(self._forward(x, stop=i), self._rng, step=self._pretrain_t[i])
        self._normalize_gradient(i)
        score += self._add_regularization(i)
        if self.nan_guard:
            self._guard(score, (i,), x)
        self._step(i, pretrain=True)
        self.iteration_count += 1
        self._last_score = score
        self._notify_iter(score)
        return score

    def pretrain(self, data, epochs=1, batch_size=None, validation=None):
        """Layerwise pretraining: each pretrainable layer in order, ``epochs`` passes each
        (see ``pretrain_layer`` for ``validation``; early stopping ends one layer's run)."""
        self._check_init()
        epochs = check_int(epochs, "epochs", "MultiLayerNetwork.pretrain", low=1)
        batch_size = check_int(batch_size, "batch_size", "MultiLayerNetwork.pretrain", low=1, allow_none=True)
        idx = [i for i, layer in enumerate(self.layers) if layer.pretrainable]
        if not idx:
            raise ValueError("the network has no pretrainable layer (AutoEncoder or VariationalAutoencoder)")
        for i in idx:
            self.pretrain_layer(i, data, epochs=epochs, batch_size=batch_size, validation=validation)
        return self

    # ================================================================== inference
    def _forward(self, x, training=False, stop=None, keep=False, chunk=None, dropout=False):
        """The one forward pass: layers ``[0, stop)`` (default: all) on ``x`` (validated,
        in the net's dtype).  Serves ``fit_batch``, ``pretrain_batch`` (the input of the
        layer it trains), ``output``, ``feed_forward`` and ``score``.

        Parameters
        ----------
        training : the layers' training flag (corruption, VAE sampling from ``self._rng``).
        stop : run layers ``[0, stop)`` only, giving the input of layer ``stop``.
        keep : return every activation ``[x, a_0, ..., a_{stop-1}]`` (copies of the
            layers' buffers) instead of only the last.
        dropout : apply each layer's dropout to its input (``fit_batch`` only; not with
            ``chunk``): new masks from ``self._rng``, kept for backward.
        chunk : rows per pass, so memory stays bounded; the result is then new arrays
            assembled from the chunks.  ``None``: one pass over all rows, and without
            ``keep`` the result is the last layer's own workspace buffer (the layers
            keep their caches of this pass for backward/scoring).
        """
        layers = self.layers[:stop]
        if chunk is None:
            acts = [x]
            a = self._backend.from_host(x)
            for layer in layers:
                if dropout:
                    a = self._dropout_forward(layer.index, a)
                a = layer.forward(a, training=training, rng=self._rng)
                if keep:
                    acts.append(self._host_copy(a))
            return acts if keep else a
        n = x.shape[0]
        widths = [x.shape[1]] + [layer.n_out for layer in layers]
        outs = [np.empty((n, w), dtype=self.dtype) for w in (widths if keep else widths[-1:])]
        for s in range(0, n, chunk):
            part = self._forward(x[s:s + chunk], training=training, stop=stop, keep=keep)
            for o, p in zip(outs, part if keep else [part]):
                o[s:s + p.shape[0]] = self._to_host(p)
        return outs if keep else outs[0]

    def output(self, x, training=False):
        """Network output for ``x`` [n, n_in] -> [n, n_out of the last layer] (a new array).

        A pretrainable last layer outputs its code (AutoEncoder: hidden
        activation; VariationalAutoencoder: latent mean).
        """
        self._check_init()
        return self._forward(self._features(x, name="x"), training=training, chunk=INFERENCE_CHUNK)

    def feed_forward(self, x, training=False):
        """Activations of every layer: ``[x, a_0, ..., a_last]`` (new arrays)."""
        self._check_init()
        return self._forward(self._features(x, name="x"), training=training, keep=True)

    def score(self, data=None, labels=None):
        """DL4J score: mean over examples of the per-example loss plus l1/l2 terms.

        With no argument: the score of the last minibatch trained on.  With
        data and an OutputLayer last: the supervised loss.  With data and a
        pretrainable last layer: its pretrain objective on its input (for a
        VAE, the negative ELBO; for an AutoEncoder, the uncorrupted loss).
        """
        self._check_init()
        if data is None:
            if self._last_score is None:
                raise ValueError("no minibatch has been trained on yet; pass data to score")
            return self._last_score
        supervised = isinstance(self.layers[-1].conf, _OutputConf)
        if not supervised and not self.layers[-1].pretrainable:
            raise ValueError(f"score(data) needs an OutputLayer (supervised loss) or a pretrainable layer "
                             f"(AutoEncoder, VariationalAutoencoder) last; layer {len(self.layers) - 1} is a "
                             f"{type(self.layers[-1].conf).__name__}")
        it = self._as_iterator(data, labels, INFERENCE_CHUNK, need_labels=supervised)
        return self._mean_example_score(it, supervised, len(self.layers) - 1) + self.regularization_score()

    def _mean_example_score(self, it, supervised, i):
        """Mean over the examples of ``it`` of layer ``i``'s per-example score: the supervised
        loss of the output layer (``supervised``), else the pretrain objective of layer ``i``
        on its input (the inference output of the layers below).  Serves ``score`` and
        ``pretrain_score``."""
        trusted = isinstance(it, DataSetIterator)
        total, count = 0.0, 0
        for k, ds in enumerate(it):
            x, y = self._batch(ds, supervised, trusted, it, k)
            if supervised:
                self._forward(x)
                s = self._to_host(self.layers[-1].example_scores(y))
            else:
                s = self.layers[i].example_scores_unsupervised(self._forward(x, stop=i), self._rng)
            total += float(np.sum(s, dtype=np.float64))
            count += x.shape[0]
        if count == 0:
            raise ValueError("'data' holds no examples")
        return total / count

    def __repr__(self):
        state = f"{self.num_params():,} params" if self._initialized else "not initialised"
        return f"MultiLayerNetwork({len(self.conf.layers)} layers, {state})"

    # ================================================================== model files
    def save(self, path, save_updater=True, normalizer=None):
        """Save to an HDF5 model file; see :func:`numba_ae.io.save_model`."""
        _io.save_model(self, path, save_updater=save_updater, normalizer=normalizer)

    @classmethod
    def load(cls, path, device="cpu"):
        """Load a network from an HDF5 model file onto ``device``; see
        :func:`numba_ae.io.load_model`."""
        return _io.load_model(path, network_class=cls).to(device)


_io.register_network_class(MultiLayerNetwork)
